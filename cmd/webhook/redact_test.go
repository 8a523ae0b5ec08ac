package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedacted(t *testing.T) {
	for _, tt := range []struct{ raw, want string }{
		{"redis://u:hunter2@h:6379/0", "redis://u:xxxxx@h:6379/0"},
		{"redis://:hunter2@h:6379/0", "redis://:xxxxx@h:6379/0"},
		{"redis://hunter2@h:6379/0", "redis://xxxxx@h:6379/0"},
		{"https://tok3n@example.com/hook", "https://xxxxx@example.com/hook"},
		{"redis://h:6379/0", "redis://h:6379/0"},
		{"redis://@h:6379/0", "redis://@h:6379/0"},
	} {
		u, err := url.Parse(tt.raw)
		require.NoError(t, err)
		require.Equal(t, tt.want, redacted(u), tt.raw)
	}
}

// TestRedisURLPiecesHidden: two kinds of --redis URL that parsers read
// otherwise than written are usage errors that show none of them, for
// inbox and serve, with --redis-cluster too.
//
// A password written without the colon before it (redis://PASSWORD@host)
// that holds a /, ? or # is cut there by every URL parser: what follows
// is read as the path, the query or the fragment, and what precedes as
// the host. Its pieces were shown, as the host Redis was dialled at, an
// invalid path, database or option, or the /DB Redis Cluster refuses.
//
// A URL without the // after its scheme (redis:user:PASSWORD@host,
// redis:/…) has no host to url.Parse, and go-redis dialled
// localhost:6379 without the password, ignoring all that followed; the
// error then showed the URL whole, the password with it, or quoted it as
// an invalid database.
func TestRedisURLPiecesHidden(t *testing.T) {
	clearEnv(t)
	t.Setenv("WEBHOOK_INBOX", "")
	t.Setenv(envRedisURL, "")
	for _, tt := range []struct {
		raws   []string
		says   string
		hidden []string
	}{
		{[]string{
			"redis://hunter2/x-Pa55@127.0.0.1:1/0",
			"redis://hunter2?x-Pa55@127.0.0.1:1/0",
			"redis://hunter2#x-Pa55@127.0.0.1:1/0",
			"rediss://user/hunter2-Pa55@127.0.0.1:1",
		}, "percent-encode", []string{"hunter2", "Pa55"}},
		{[]string{
			"redis:user:hunter2@127.0.0.1:1",
			"redis:hunter2@127.0.0.1:1",
			"redis:/user:hunter2@127.0.0.1:1",
			"rediss:user:hunter2@127.0.0.1:1/0",
			"unix:user:hunter2@/run/redis.sock",
			"unix:/user:hunter2@/run/redis.sock",
		}, "needs // after its scheme", []string{"hunter2"}},
	} {
		for _, raw := range tt.raws {
			for _, cluster := range []bool{false, true} {
				for _, cmd := range [][]string{{"inbox", "stats"}, {"serve", "--test-keys", "--addr", "127.0.0.1:0"}} {
					args := append(append([]string(nil), cmd...), "--redis", raw)
					if cluster {
						args = append(args, "--redis-cluster")
					}
					t.Run(strings.Join(args, " "), func(t *testing.T) {
						r := runCmd(t, "", args...)
						require.Equal(t, exitUsage, r.code, r.stderr)
						require.Contains(t, r.stderr, tt.says)
						for _, h := range tt.hidden {
							require.NotContains(t, r.stdout+r.stderr, h)
						}
					})
				}
			}
		}
	}
}

// TestInboxFileNotURL: a URL given as the SQLite file (--inbox for
// --redis, WEBHOOK_INBOX for WEBHOOK_REDIS_URL, an easy slip) is a usage
// error naming the flag to use, and shows none of the URL: it was taken
// for a path, and the error quoted it, password and all ("directory
// redis:/:PASSWORD@host:6379 does not exist").
func TestInboxFileNotURL(t *testing.T) {
	clearEnv(t)
	for _, tt := range []struct {
		name string
		env  string // WEBHOOK_INBOX
		args []string
		want string
	}{
		{"inbox --inbox", "", []string{"inbox", "stats", "--inbox", "redis://:hunter2@127.0.0.1:1/0"}, "webhook inbox stats: --inbox takes a SQLite file, not a URL (not shown): give a Redis URL with --redis"},
		{"inbox $WEBHOOK_INBOX", "rediss://ops:hunter2@127.0.0.1:1/0", []string{"inbox", "list"}, "webhook inbox list: $WEBHOOK_INBOX takes a SQLite file, not a URL (not shown): give a Redis URL with --redis"},
		{"serve --inbox", "", []string{"serve", "--test-keys", "--addr", "127.0.0.1:0", "--inbox", "unix://:hunter2@/run/redis.sock"}, "webhook serve: --inbox takes a SQLite file, not a URL (not shown): give a Redis URL with --redis"},
		{"inbox --inbox, no //", "", []string{"inbox", "stats", "--inbox", "redis:u:hunter2@127.0.0.1:1"}, "webhook inbox stats: --inbox takes a SQLite file, not a URL (not shown): give a Redis URL with --redis"},
		{"inbox $WEBHOOK_INBOX, one /", "redis:/u:hunter2@127.0.0.1:1/0", []string{"inbox", "list"}, "webhook inbox list: $WEBHOOK_INBOX takes a SQLite file, not a URL (not shown): give a Redis URL with --redis"},
		{"serve --inbox, no //", "", []string{"serve", "--test-keys", "--addr", "127.0.0.1:0", "--inbox", "rediss:hunter2@127.0.0.1:1"}, "webhook serve: --inbox takes a SQLite file, not a URL (not shown): give a Redis URL with --redis"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envInbox, tt.env)
			t.Setenv(envRedisURL, "")
			r := runCmd(t, "", tt.args...)
			require.Equal(t, exitUsage, r.code, r.stderr)
			require.Contains(t, r.stderr, tt.want)
			require.NotContains(t, r.stdout+r.stderr, "hunter2")
		})
	}
}
