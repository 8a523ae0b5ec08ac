package main

import (
	"go/parser"
	"go/token"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// helpFlags returns a command's --help text and the flags it lists
// ("  -name …" lines after "Flags:").
func helpFlags(t *testing.T, args ...string) (text string, flags map[string]bool) {
	t.Helper()
	r := runCmd(t, "", append(args, "--help")...)
	require.Equal(t, exitOK, r.code, "%v --help: %s", args, r.stderr)
	out := r.stdout + r.stderr
	_, list, _ := strings.Cut(out, "\nFlags:\n")
	flags = map[string]bool{"help": true}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`).FindAllStringSubmatch(list, -1) {
		flags[m[1]] = true
	}
	return out, flags
}

// inboxHelpFlags is helpFlags for inbox: the text of list's help (the
// prose every subcommand shares) and the flags of every subcommand, of
// which that prose speaks.
func inboxHelpFlags(t *testing.T) (text string, flags map[string]bool) {
	t.Helper()
	flags = map[string]bool{}
	for sub := range inboxFlags {
		out, fl := helpFlags(t, "inbox", sub)
		if sub == "list" {
			text = out
		}
		for f := range fl {
			flags[f] = true
		}
	}
	return text, flags
}

// TestHelpNamesRealFlags: every --flag the help texts (their prose and the
// flags' own descriptions) and the package doc speak of is a flag
// of the command they speak of it for (the command's own, or the one named
// just before it, as in "webhook serve --test-keys"), so the prose cannot
// drift from the flags.
func TestHelpNamesRealFlags(t *testing.T) {
	clearEnv(t)
	commands := map[string][]string{
		"serve": {"serve"}, "send": {"send"}, "sign": {"sign"}, "verify": {"verify"},
		"version": {"version"},
	}
	flags := map[string]map[string]bool{}
	prose := map[string]string{}
	for name, args := range commands {
		prose[name], flags[name] = helpFlags(t, args...)
	}
	prose["inbox"], flags["inbox"] = inboxHelpFlags(t)
	top := runCmd(t, "", "--help")
	prose[""], flags[""] = top.stdout+top.stderr, map[string]bool{"help": true} // webhook <command> --help
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.PackageClauseOnly|parser.ParseComments)
	require.NoError(t, err)
	require.NotNil(t, f.Doc)
	// Its usage lines list several flags after one command: there a flag
	// need only be some command's.
	prose["go doc"], flags["go doc"] = f.Doc.Text(), map[string]bool{}
	for name := range flags {
		for fl := range flags[name] {
			flags["go doc"][fl] = true
		}
	}
	mention := regexp.MustCompile(`(?:\b(serve|send|sign|verify|inbox)(?: [a-z]+)? )?--([a-z][a-z0-9-]*)`)
	for name, text := range prose {
		for _, m := range mention.FindAllStringSubmatch(text, -1) {
			of := name
			if m[1] != "" {
				of = m[1]
			}
			require.True(t, flags[of][m[2]], "%q --help speaks of --%s, which %s does not take", name, m[2], of)
		}
	}
}

// TestInboxHelpListsItsFlags: "webhook inbox SUB --help" lists the flags
// SUB takes and no other: every subcommand's listed them all, so show's
// help offered --json, --limit and --older-than, which show then refused
// ("show does not take --json").
func TestInboxHelpListsItsFlags(t *testing.T) {
	clearEnv(t)
	for sub, takes := range inboxFlags {
		t.Run(sub, func(t *testing.T) {
			want := map[string]bool{"help": true}
			for _, f := range takes {
				want[f] = true
			}
			_, got := helpFlags(t, "inbox", sub)
			require.Equal(t, want, got)
		})
	}
}

// TestHelpSaysExitStatusOnce: each help text ends with the exit statuses,
// once; a subcommand of inbox printed them twice, the inbox text's and
// its flags'.
func TestHelpSaysExitStatusOnce(t *testing.T) {
	clearEnv(t)
	for _, args := range [][]string{
		{"--help"}, {"serve", "--help"}, {"send", "--help"}, {"sign", "--help"}, {"verify", "--help"}, {"version", "--help"},
		{"inbox", "--help"}, {"inbox", "list", "--help"}, {"inbox", "show", "--help"}, {"inbox", "replay", "--help"},
		{"inbox", "purge", "--help"}, {"inbox", "stats", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runCmd(t, "", args...)
			require.Equal(t, exitOK, r.code)
			require.Equal(t, 1, strings.Count(r.stdout+r.stderr, "Exit status:"), r.stdout+r.stderr)
		})
	}
}

// TestHelpLayout: a help text's prose and its flags are apart, a blank
// line between them, and a command without flags lists none: "Flags:"
// stood right under the prose's last line, and alone under version's.
func TestHelpLayout(t *testing.T) {
	clearEnv(t)
	for _, args := range [][]string{
		{"serve"}, {"send"}, {"sign"}, {"verify"}, {"inbox", "list"}, {"inbox", "stats"}, {"version"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runCmd(t, "", append(args, "--help")...)
			require.Equal(t, exitOK, r.code)
			out := r.stdout + r.stderr
			if args[0] == "version" {
				require.NotContains(t, out, "Flags:", out)
				return
			}
			require.Equal(t, 1, strings.Count(out, "\n\nFlags:\n"), out)
			require.Equal(t, 1, strings.Count(out, "Flags:"), out)
		})
	}
}

// TestHelpNamesRedisSocket: the --redis flag's help, the prose of serve
// and inbox, and the error of a URL go-redis refuses name the unix
// socket form go-redis takes (unix://[USER:PASSWORD@]PATH[?db=N]),
// which worked but no help text said.
func TestHelpNamesRedisSocket(t *testing.T) {
	clearEnv(t)
	t.Setenv(envInbox, "")
	t.Setenv(envRedisURL, "")
	const form = "unix://[USER:PASSWORD@]/PATH/TO/SOCKET[?db=N]"
	for _, args := range [][]string{{"serve"}, {"inbox"}, {"inbox", "stats"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			text, _ := helpFlags(t, args...)
			require.Contains(t, text, form)
		})
	}
	for _, args := range [][]string{
		{"inbox", "stats", "--redis", "unix://"},
		{"serve", "--test-keys", "--addr", "127.0.0.1:0", "--redis", "unix://"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runCmd(t, "", args...)
			require.Equal(t, exitUsage, r.code, r.stderr)
			require.Contains(t, r.stderr, "redis: empty unix socket path")
			require.Contains(t, r.stderr, form)
		})
	}
}

// TestFlagErrorsAreShort: a flag the command does not take, or a value
// its flag cannot read, is said in two lines, the error named by the
// command and where to find its help, as every other usage error is:
// the flag package printed the whole help after its error, which a
// terminal scrolled away (serve's is over a hundred lines).
func TestFlagErrorsAreShort(t *testing.T) {
	clearEnv(t)
	t.Setenv(envInbox, "")
	t.Setenv(envRedisURL, "")
	for _, tt := range []struct {
		args      []string
		cmd, want string
	}{
		{[]string{"serve", "--no-such-flag"}, "serve", "flag provided but not defined: -no-such-flag"},
		{[]string{"serve", "--shutdown-timeout", "soon"}, "serve", `invalid value "soon" for flag -shutdown-timeout: parse error`},
		{[]string{"serve", "--secret", ""}, "serve", `invalid value "" for flag -secret: empty value`},
		{[]string{"send", "--all", "--no-such-flag"}, "send", "flag provided but not defined: -no-such-flag"},
		{[]string{"sign", "--url"}, "sign", "flag needs an argument: -url"},
		{[]string{"verify", "--now"}, "verify", "flag needs an argument: -now"},
		{[]string{"version", "--short"}, "version", "flag provided but not defined: -short"},
		{[]string{"inbox", "list", "--limit", "many"}, "inbox list", `invalid value "many" for flag -limit: parse error`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCmd(t, "", tt.args...)
			require.Equal(t, exitUsage, r.code, r.stderr)
			require.Empty(t, r.stdout)
			require.Equal(t, "webhook "+tt.cmd+": "+tt.want+"\nRun \"webhook "+tt.cmd+" --help\" for usage.\n", r.stderr)
		})
	}
}

// TestSignCurlFlags: sign's --url and --method are for --curl: given
// without it they are a usage error, not ignored (the headers printed
// are the same whatever the URL), and with it a --url that is no http://
// or https:// URL with a host, or a method that is none, is refused as
// send refuses it, the URL not shown; sign printed a curl command no
// curl could run.
func TestSignCurlFlags(t *testing.T) {
	clearEnv(t)
	body := writeFile(t, "body.json", `{"jamId":"j1"}`)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "http://127.0.0.1:9000/"}, "webhook sign: --url and --method go with --curl"},
		{[]string{"--method", "PUT"}, "webhook sign: --url and --method go with --curl"},
		{[]string{"--curl", "--url", "127.0.0.1:8080/hook?token=hunter2"}, "webhook sign: --url has no scheme"},
		{[]string{"--curl", "--url", "ftp://127.0.0.1/?token=hunter2"}, "webhook sign: --url ftp://127.0.0.1/ is not an http:// or https:// URL"},
		{[]string{"--curl", "--url", "http://u:hunter2@127.0.0.1:80x/"}, "webhook sign: --url does not parse as a URL"},
		{[]string{"--curl", "--method", "PO ST"}, `webhook sign: --method "PO ST" is not an HTTP method`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCmd(t, "", append(append([]string{"sign"}, tt.args...), body)...)
			require.Equal(t, exitUsage, r.code, r.stdout+r.stderr)
			require.Contains(t, r.stderr, tt.want)
			require.Empty(t, r.stdout)
			require.NotContains(t, r.stderr, "hunter2")
		})
	}
	r := runCmd(t, "", "sign", "--curl", "--method", "PUT", "--url", "https://example.com/hook", body)
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "curl -sS -i -X 'PUT' 'https://example.com/hook'")
}
