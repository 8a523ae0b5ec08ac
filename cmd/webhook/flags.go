package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const exitHelp = `Exit status: 0 ok; 1 verification failed, a non-2xx response, or a run-time
failure; 2 usage error.`

// newFlagSet returns a FlagSet whose usage text starts with synopsis and
// ends with the exit statuses.
func newFlagSet(name, synopsis string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("webhook "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "%s\nFlags:\n", strings.TrimSpace(synopsis))
		fs.PrintDefaults()
		fmt.Fprintf(out, "\n%s\n", exitHelp)
	}
	return fs
}

// parseFlags parses args, flags and arguments in any order (flags after
// a file name are still flags; "--" ends them), and returns the
// arguments. stop reports that the command should exit with code: 0 for
// --help, 2 for a usage error.
func parseFlags(fs *flag.FlagSet, args []string) (pos []string, code int, stop bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, true
			}
			return nil, exitUsage, true
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, false
		}
		if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
			return append(pos, rest...), 0, false
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// isSet reports whether the flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// usageErr reports a usage error for a command and returns exitUsage.
func usageErr(stderr io.Writer, cmd, format string, args ...any) int {
	fmt.Fprintf(stderr, "webhook %s: %s\nRun \"webhook %s --help\" for usage.\n", cmd, fmt.Sprintf(format, args...), cmd)
	return exitUsage
}

// parseWhen parses unix seconds or an RFC 3339 time.
func parseWhen(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q is neither unix seconds nor RFC 3339", s)
	}
	return t, nil
}
