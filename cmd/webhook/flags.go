package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inhook/webhook"
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
		fmt.Fprintf(out, "%s\n", strings.TrimSpace(synopsis))
		has := false
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprint(out, "\nFlags:\n")
			fs.PrintDefaults()
		}
		fmt.Fprintf(out, "\n%s\n", exitHelp)
	}
	return fs
}

// parseFlags parses args, flags and arguments in any order (flags after
// a file name are still flags; "--" ends them), and returns the
// arguments. stop reports that the command should exit with code: 0 for
// --help, 2 for a usage error.
//
// A parse error is said as usageErr says one, in two lines: the flag
// package's own report is its error followed by the whole help, which
// scrolls the error away.
func parseFlags(fs *flag.FlagSet, args []string) (pos []string, code int, stop bool) {
	usage, out := fs.Usage, fs.Output()
	restore := func() { fs.Usage = usage; fs.SetOutput(out) }
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	defer restore()
	for {
		if err := fs.Parse(args); err != nil {
			restore()
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return nil, exitOK, true
			}
			cmd := strings.TrimPrefix(fs.Name(), "webhook ")
			return nil, usageErr(out, cmd, "%v", err), true
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

// keyFlagNames are the flags whose values are keys.
var keyFlagNames = []string{"secret", "intercom-secret", "series-token", "forward-secret", "forward-intercom-secret"}

// keyPrefixes begin Standard Webhooks keys: secrets, signing keys and
// public keys.
var keyPrefixes = []string{"whsec_", prefixSigningKey, "whpk_"}

// mayBeKey reports whether a, an argument on the command line args, may
// be a key, so that no error shows it: it has a Standard Webhooks key's
// prefix, or it comes right after a key flag's value, as the second key
// of "--secret A B", given without its flag.
func mayBeKey(args []string, a string) bool {
	for _, p := range keyPrefixes {
		if strings.HasPrefix(a, p) {
			return true
		}
	}
	keyFlag := func(tok string) (ok, withValue bool) {
		name, _, eq := strings.Cut(strings.TrimLeft(tok, "-"), "=")
		return strings.HasPrefix(tok, "-") && slices.Contains(keyFlagNames, name), eq
	}
	for i, tok := range args {
		if tok != a {
			continue
		}
		if i >= 1 {
			if ok, _ := keyFlag(args[i-1]); ok {
				return true // a key flag's value, or the argument after it
			}
		}
		if i >= 2 {
			if ok, eq := keyFlag(args[i-2]); ok && !eq {
				return true
			}
		}
	}
	return false
}

// argText is how an error shows the argument a of the command line args:
// quoted, or not at all when it may be a key.
func argText(args []string, a string) string {
	if mayHoldPassword(a) {
		return "(not shown: it may hold a password; give a URL with --redis, or in " + envRedisURL + ")"
	}
	if mayBeKey(args, a) {
		return "(not shown: it may be a key; give each key its own flag)"
	}
	return strconv.Quote(a)
}

// usageErr reports a usage error for a command and returns exitUsage.
func usageErr(stderr io.Writer, cmd, format string, args ...any) int {
	fmt.Fprintf(stderr, "webhook %s: %s\nRun \"webhook %s --help\" for usage.\n", cmd, fmt.Sprintf(format, args...), cmd)
	return exitUsage
}

// minIntercomMaxAge is the shortest Intercom max age NewHandler accepts:
// Intercom retries a failed notification once, a minute later, with the
// same created_at, and a shorter max age would refuse the retry.
const minIntercomMaxAge = 5 * time.Minute

// intercomMaxAgeFlag registers --intercom-max-age on fs. serve and verify
// share it, so that verify judges a notification's age as serve given
// the same flag does.
func intercomMaxAgeFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("intercom-max-age", webhook.DefaultRetention,
		"Intercom: how old a notification may be, by its signed created_at, before it is refused (at least "+minIntercomMaxAge.String()+"; by default a handler's, the dedupe retention)")
}

// checkIntercomMaxAge refuses an --intercom-max-age under the library's
// floor with a message naming the flag; the library's names its option.
func checkIntercomMaxAge(d time.Duration) error {
	if d < minIntercomMaxAge {
		return fmt.Errorf("--intercom-max-age must be at least %v: Intercom retries a failed notification a minute later, with the same created_at, and a shorter max age would refuse that retry", minIntercomMaxAge)
	}
	return nil
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
