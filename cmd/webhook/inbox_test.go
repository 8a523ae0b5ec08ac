package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/sqlitestore"
	"github.com/stretchr/testify/require"
)

// inboxFixture is a SQLite inbox holding a pending, a dead and a done
// delivery, all updated an hour ago.
func inboxFixture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inbox.db")
	ago := time.Now().Add(-time.Hour)
	ib, err := sqlitestore.Open(path, sqlitestore.WithClock(func() time.Time { return ago }))
	require.NoError(t, err)
	defer func() { require.NoError(t, ib.Close()) }()
	ctx := context.Background()
	for _, k := range []string{"standard:msg_dead", "standard:msg_done", "intercom:notif_pending"} {
		_, err := ib.Store(ctx, &webhook.InboxEntry{
			Key: k, Source: event.Source(strings.Split(k, ":")[0]), ID: strings.Split(k, ":")[1],
			Header: http.Header{"Webhook-Id": {strings.Split(k, ":")[1]}},
			Body:   []byte(`{"type":"jam.created"}`), Meta: map[string]string{"traceparent": "00-1-2-01"},
		})
		require.NoError(t, err)
	}
	ls, err := ib.Lease(ctx, 2, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 2)
	for _, l := range ls {
		switch l.Entry.Key {
		case "standard:msg_dead":
			require.NoError(t, ib.Kill(ctx, l.Entry.Key, l.Token, "callback: upstream said\nno"))
		case "standard:msg_done":
			require.NoError(t, ib.Complete(ctx, l.Entry.Key, l.Token))
		}
	}
	return path
}

// TestInboxShowRedacts stores a delivery with credential-bearing headers,
// as code other than the handler (which keeps none of them) may store in
// a sqlitestore file, and checks that show names them without their
// values.
func TestInboxShowRedacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inbox.db")
	ib, err := sqlitestore.Open(path)
	require.NoError(t, err)
	secrets := map[string]string{
		"Webhook-Signature": "v1,c2lnbmF0dXJlLXNlY3JldA==",
		"Svix-Signature":    "v1,c3ZpeC1zaWduYXR1cmU=",
		"X-Hub-Signature":   "sha1=0123456789abcdef0123456789abcdef01234567",
		"X-Series-Token":    "series-token-value",
		"Authorization":     "Bearer bearer-token-value",
		"Cookie":            "session=cookie-value",
		"X-Api-Key":         "api-key-value",
	}
	h := http.Header{"Webhook-Id": {"msg_1"}, "Content-Type": {"application/json"}}
	for k, v := range secrets {
		h.Set(k, v)
	}
	_, err = ib.Store(context.Background(), &webhook.InboxEntry{Key: "standard:msg_1", Source: event.SourceStandard, ID: "msg_1",
		Header: h, Body: []byte(`{}`)})
	require.NoError(t, err)
	require.NoError(t, ib.Close())

	code, stdout, stderr := runCLI(t, "inbox", "show", "--inbox", path, "standard:msg_1")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "Webhook-Id: msg_1")
	require.Contains(t, stdout, "Content-Type: application/json")
	for k, v := range secrets {
		require.Contains(t, stdout, k+": [redacted]")
		require.NotContains(t, stdout, v)
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(",= ", r) }) {
			if len(part) > 6 {
				require.NotContains(t, stdout, part, k)
			}
		}
	}
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestInboxCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string // after "inbox"; FILE is replaced by the fixture's path
		code     int
		stdout   []string // substrings
		notOut   []string
		match    []string // regular expressions
		stderr   string
		after    func(t *testing.T, ib *sqlitestore.Store)
		fromEnv  bool
		noSuffix bool
		empty    bool // FILE is an empty file
	}{
		{name: "list", args: []string{"list", "--inbox", "FILE"}, match: []string{
			`KEY +STATE +ATTEMPTS +RECEIVED +UPDATED +LAST ERROR\n`,
			`\nstandard:msg_dead +dead +1 +\S+ +\S+ +callback: upstream said no\n`,
			`\nstandard:msg_done +done +1 `, `\nintercom:notif_pending +pending +0 `}},
		{name: "list by state, flags after the subcommand in any order", args: []string{"list", "--state", "dead", "--inbox", "FILE"},
			stdout: []string{"standard:msg_dead"}, notOut: []string{"msg_done", "notif_pending"}},
		{name: "list from the environment", args: []string{"list", "--state=done"}, fromEnv: true,
			stdout: []string{"standard:msg_done"}, notOut: []string{"msg_dead"}},
		{name: "list json", args: []string{"list", "--json", "--limit", "1", "--inbox", "FILE"},
			stdout: []string{`"key":"standard:msg_dead"`, `"state":"dead"`, `"attempts":1`, `"bytes":22`}, notOut: []string{"msg_done", "jam.created"}},
		{name: "show", args: []string{"show", "standard:msg_dead", "--inbox", "FILE"},
			stdout: []string{"state:", "dead", "attempts:", "last error:", "header:", "Webhook-Id: msg_dead", "meta:", "traceparent=00-1-2-01",
				"body:", "22 bytes\n{\"type\":\"jam.created\"}\n"}},
		{name: "show unknown", args: []string{"show", "--inbox", "FILE", "standard:nope"}, code: exitFail, stderr: "no such delivery"},
		{name: "replay", args: []string{"replay", "--inbox", "FILE", "standard:msg_dead", "standard:msg_done"},
			stdout: []string{"replayed standard:msg_dead\nreplayed standard:msg_done\n"},
			after: func(t *testing.T, ib *sqlitestore.Store) {
				st, err := ib.Stats(context.Background())
				require.NoError(t, err)
				require.Equal(t, 3, st.Pending)
				e, err := ib.Get(context.Background(), "standard:msg_dead")
				require.NoError(t, err)
				require.Zero(t, e.Attempts)
			}},
		{name: "replay unknown", args: []string{"replay", "--inbox", "FILE", "standard:nope"}, code: exitFail, stderr: "no such delivery"},
		{name: "replay goes on past a key it cannot replay", args: []string{"replay", "--inbox", "FILE", "standard:nope", "standard:msg_dead"},
			code: exitFail, stderr: "no such delivery", stdout: []string{"replayed standard:msg_dead\n"},
			after: func(t *testing.T, ib *sqlitestore.Store) {
				e, err := ib.Get(context.Background(), "standard:msg_dead")
				require.NoError(t, err)
				require.Equal(t, webhook.InboxPending, e.State)
			}},
		{name: "purge spares the recent", args: []string{"purge", "--inbox", "FILE"}, stdout: []string{"purged 0\n"}},
		{name: "purge dead", args: []string{"purge", "--inbox", "FILE", "--state", "dead", "--older-than", "1m"}, stdout: []string{"purged 1\n"},
			after: func(t *testing.T, ib *sqlitestore.Store) {
				st, err := ib.Stats(context.Background())
				require.NoError(t, err)
				require.Equal(t, webhook.InboxStats{Pending: 1, Done: 1, OldestPending: st.OldestPending}, st)
			}},
		{name: "purge all", args: []string{"purge", "--inbox", "FILE", "--older-than", "0s"}, stdout: []string{"purged 2\n"}},
		{name: "stats", args: []string{"stats", "--inbox", "FILE"}, match: []string{`pending: +1\n`, `dead: +1\n`, `done: +1\n`, `oldest pending: +\S+ \(1h0m\ds ago\)`}},
		{name: "stats json", args: []string{"stats", "--json", "--inbox", "FILE"}, stdout: []string{`"pending":1,"retrying":0,"in_flight":0,"done":1,"dead":1,"oldest_pending_age_seconds":36`}},
		{name: "help", args: []string{"--help"}, stdout: []string{"webhook inbox list"}},

		{name: "no subcommand", args: nil, code: exitUsage, stderr: "Usage:"},
		{name: "unknown subcommand", args: []string{"drop"}, code: exitUsage, stderr: `unknown subcommand "drop"`},
		{name: "no file", args: []string{"list"}, code: exitUsage, stderr: "no inbox file"},
		{name: "missing file is not created", args: []string{"stats", "--inbox", "FILE"}, noSuffix: true, code: exitFail, stderr: "no such file"},
		{name: "an empty file is not made an inbox", args: []string{"stats", "--inbox", "FILE"}, empty: true, code: exitFail, stderr: "no inbox"},
		{name: "bad state", args: []string{"list", "--state", "gone", "--inbox", "FILE"}, code: exitUsage, stderr: "unknown state"},
		{name: "purge pending", args: []string{"purge", "--state", "pending", "--inbox", "FILE"}, code: exitUsage, stderr: "done or dead"},
		{name: "show without key", args: []string{"show", "--inbox", "FILE"}, code: exitUsage, stderr: "one KEY"},
		{name: "replay without key", args: []string{"replay", "--inbox", "FILE"}, code: exitUsage, stderr: "at least one KEY"},
		{name: "list with an argument", args: []string{"list", "--inbox", "FILE", "x"}, code: exitUsage, stderr: "unexpected argument"},
		// A flag another subcommand takes is refused, not ignored: "purge
		// --limit 1" must not purge everything.
		{name: "purge with list's limit", args: []string{"purge", "--inbox", "FILE", "--older-than", "0s", "--limit", "1"}, code: exitUsage,
			stderr: "purge does not take --limit", after: func(t *testing.T, ib *sqlitestore.Store) {
				st, err := ib.Stats(context.Background())
				require.NoError(t, err)
				require.Equal(t, webhook.InboxStats{Pending: 1, Done: 1, Dead: 1, OldestPending: st.OldestPending}, st)
			}},
		{name: "replay with a state", args: []string{"replay", "--inbox", "FILE", "--state", "dead", "standard:msg_done"}, code: exitUsage,
			stderr: "replay does not take --state", after: func(t *testing.T, ib *sqlitestore.Store) {
				e, err := ib.Get(context.Background(), "standard:msg_done")
				require.NoError(t, err)
				require.Equal(t, webhook.InboxDone, e.State)
			}},
		{name: "list with purge's age", args: []string{"list", "--inbox", "FILE", "--older-than", "1h"}, code: exitUsage, stderr: "list does not take --older-than"},
		{name: "stats with a state", args: []string{"stats", "--inbox", "FILE", "--state", "dead"}, code: exitUsage, stderr: "stats does not take --state"},
		{name: "show json", args: []string{"show", "--inbox", "FILE", "--json", "standard:msg_dead"}, code: exitUsage, stderr: "show does not take --json"},
		{name: "list limit 0", args: []string{"list", "--inbox", "FILE", "--limit", "0"}, code: exitUsage, stderr: "--limit must be at least 1"},
		{name: "list negative limit", args: []string{"list", "--inbox", "FILE", "--limit=-3"}, code: exitUsage, stderr: "--limit must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := inboxFixture(t)
			if tt.noSuffix {
				path += ".missing"
			}
			if tt.empty {
				path += ".empty"
				require.NoError(t, os.WriteFile(path, nil, 0o600))
				defer func() {
					fi, err := os.Stat(path)
					require.NoError(t, err)
					require.Zero(t, fi.Size(), "left empty")
				}()
			}
			args := []string{"inbox"}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "FILE", path))
			}
			t.Setenv(envInbox, "")
			if tt.fromEnv {
				t.Setenv(envInbox, path)
			}
			code, stdout, stderr := runCLI(t, args...)
			require.Equal(t, tt.code, code, "stdout: %s\nstderr: %s", stdout, stderr)
			for _, s := range tt.stdout {
				require.Contains(t, stdout, s)
			}
			for _, re := range tt.match {
				require.Regexp(t, re, stdout)
			}
			for _, s := range tt.notOut {
				require.NotContains(t, stdout, s)
			}
			if tt.stderr != "" {
				require.Contains(t, stderr, tt.stderr)
			}
			if strings.Contains(strings.Join(tt.args, " "), "--json") && tt.code == exitOK {
				for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
					require.True(t, json.Valid([]byte(line)), line)
				}
			}
			if tt.after != nil {
				ib, err := sqlitestore.Open(path)
				require.NoError(t, err)
				defer ib.Close()
				tt.after(t, ib)
			}
		})
	}
}
