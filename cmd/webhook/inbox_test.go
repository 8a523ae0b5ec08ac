package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/testfs"
	"github.com/inhook/webhook/redisstore"
	"github.com/inhook/webhook/sqlitestore"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // to make and read fixtures as no command would
)

// inboxFixture is a SQLite inbox holding a pending, a dead and a done
// delivery (fillFixture's).
func inboxFixture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inbox.db")
	now := time.Now().Add(-time.Hour)
	ib, err := sqlitestore.Open(path, sqlitestore.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	defer func() { require.NoError(t, ib.Close()) }()
	fillFixture(t, ib, &now)
	return path
}

// fillFixture stores a dead, a done and a pending delivery in ib, whose
// clock reads *now: an hour ago, a millisecond later for each delivery,
// so that they are received in that order whatever breaks ties.
func fillFixture(t *testing.T, ib webhook.Inbox, now *time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, k := range []string{"standard:msg_dead", "standard:msg_done", "intercom:notif_pending"} {
		_, err := ib.Store(ctx, &webhook.InboxEntry{
			Key: k, Source: event.Source(strings.Split(k, ":")[0]), ID: strings.Split(k, ":")[1],
			Header: http.Header{"Webhook-Id": {strings.Split(k, ":")[1]}},
			Body:   []byte(`{"type":"jam.created"}`), Meta: map[string]string{"traceparent": "00-1-2-01"},
		})
		require.NoError(t, err)
		*now = now.Add(time.Millisecond)
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
}

// fixture is fillFixture's inbox of one kind, as a command names it.
type fixture struct {
	flags   []string                         // the flags naming it
	env     string                           // the variable that may name it instead,
	value   string                           // with this value,
	envArgs []string                         // and these flags beside it
	path    string                           // the SQLite file; "" on Redis
	open    func(t *testing.T) webhook.Inbox // opens it as a receiver would, until the test ends
}

// inboxKinds are the kinds of inbox the commands take: a SQLite file and
// a redisstore inbox (whose tests fail in CI without a Redis, and are
// skipped elsewhere).
var inboxKinds = []struct {
	name    string
	fixture func(t *testing.T) fixture
	// empty is a new inbox, open until the test ends, and the flags
	// naming it.
	empty func(t *testing.T) (webhook.Inbox, []string)
}{
	{"sqlite", func(t *testing.T) fixture {
		path := inboxFixture(t)
		return fixture{flags: []string{"--inbox", path}, env: envInbox, value: path, path: path,
			open: func(t *testing.T) webhook.Inbox {
				ib, err := sqlitestore.Open(path)
				require.NoError(t, err)
				t.Cleanup(func() { ib.Close() })
				return ib
			}}
	}, func(t *testing.T) (webhook.Inbox, []string) {
		path := filepath.Join(t.TempDir(), "inbox.db")
		ib, err := sqlitestore.Open(path)
		require.NoError(t, err)
		t.Cleanup(func() { ib.Close() })
		return ib, []string{"--inbox", path}
	}},
	{"redis", func(t *testing.T) fixture {
		client := redisClient(t)
		prefix := redisPrefix(t, client)
		now := time.Now().Add(-time.Hour)
		fillFixture(t, openTestRedisInbox(t, client, prefix, redisstore.WithInboxClock(func() time.Time { return now })), &now)
		url := redisURL(t)
		return fixture{flags: []string{"--redis", url, "--redis-prefix", prefix}, env: envRedisURL, value: url, envArgs: []string{"--redis-prefix", prefix},
			open: func(t *testing.T) webhook.Inbox { return openTestRedisInbox(t, client, prefix) }}
	}, func(t *testing.T) (webhook.Inbox, []string) {
		client := redisClient(t)
		prefix := redisPrefix(t, client)
		return openTestRedisInbox(t, client, prefix), []string{"--redis", redisURL(t), "--redis-prefix", prefix}
	}},
}

// TestInboxShowRedacts stores a delivery with credential-bearing headers,
// as code other than the handler (which keeps none of them) may store in
// a sqlitestore file or a redisstore inbox, and checks that show names
// them without their values.
func TestInboxShowRedacts(t *testing.T) {
	for _, kind := range inboxKinds {
		t.Run(kind.name, func(t *testing.T) { showRedacts(t, kind.empty) })
	}
}

func showRedacts(t *testing.T, empty func(*testing.T) (webhook.Inbox, []string)) {
	ib, flags := empty(t)
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
	_, err := ib.Store(context.Background(), &webhook.InboxEntry{Key: "standard:msg_1", Source: event.SourceStandard, ID: "msg_1",
		Header: h, Body: []byte(`{}`)})
	require.NoError(t, err)

	code, stdout, stderr := runCLI(t, append([]string{"inbox", "show", "standard:msg_1"}, flags...)...)
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
	r := runCmd(t, "", args...)
	return r.code, r.stdout, r.stderr
}

// inboxCase is a command of TestInboxCommands and what it must do.
type inboxCase struct {
	name     string
	args     []string // after "inbox"; "--inbox FILE" is replaced by the flags naming the fixture
	code     int
	stdout   []string // substrings
	notOut   []string
	match    []string // regular expressions
	stderr   string
	after    func(t *testing.T, ib webhook.Inbox)
	fromEnv  bool // the fixture is named by its variable
	noSuffix bool // FILE is missing (SQLite only)
	empty    bool // FILE is an empty file (SQLite only)
	noteless bool // nothing on stderr
	noDead   bool // the dead delivery is purged first

}

func TestInboxCommands(t *testing.T) {
	tests := []inboxCase{
		{name: "list", args: []string{"list", "--inbox", "FILE"}, match: []string{
			`KEY +STATE +ATTEMPTS +RECEIVED +UPDATED +LAST ERROR\n`,
			`\nstandard:msg_dead +dead +1 +\S+ +\S+ +callback: upstream said no\n`,
			`\nstandard:msg_done +done +1 `, `\nintercom:notif_pending +pending +0 `}},
		{name: "list by state, flags after the subcommand in any order", args: []string{"list", "--state", "dead", "--inbox", "FILE"},
			stdout: []string{"standard:msg_dead"}, notOut: []string{"msg_done", "notif_pending"}},
		{name: "list from the environment", args: []string{"list", "--state=done"}, fromEnv: true,
			stdout: []string{"standard:msg_done"}, notOut: []string{"msg_dead"}},
		{name: "list json", args: []string{"list", "--json", "--limit", "1", "--inbox", "FILE"},
			stdout: []string{`"key":"standard:msg_dead"`, `"state":"dead"`, `"attempts":1`, `"bytes":22`}, notOut: []string{"msg_done", "jam.created"},
			stderr: "webhook inbox list: 1 shown of 3 deliveries; the next page: --after "},
		// The first page of a backlog does not pass for the whole of it.
		{name: "list says it shows a part", args: []string{"list", "--limit", "2", "--inbox", "FILE"},
			stdout: []string{"standard:msg_dead", "standard:msg_done"}, notOut: []string{"notif_pending"},
			stderr: "webhook inbox list: 2 shown of 3 deliveries; the next page: --after "},
		{name: "list by update order", args: []string{"list", "--state", "dead", "--order", "updated", "--inbox", "FILE"},
			stdout: []string{"standard:msg_dead"}, noteless: true},
		{name: "list by update order, not done or dead", args: []string{"list", "--order", "updated", "--inbox", "FILE"}, code: exitUsage,
			stderr: "--order updated goes with --state done or dead"},
		{name: "list in an unknown order", args: []string{"list", "--order", "newest", "--inbox", "FILE"}, code: exitUsage,
			stderr: `unknown order "newest" (received or updated)`},
		{name: "list after a bad cursor", args: []string{"list", "--after", "nonsense", "--inbox", "FILE"}, code: exitUsage,
			stderr: "--after nonsense is not a cursor of this list: give the one list printed for its next page"},
		{name: "list after a bad cursor, escaped", args: []string{"list", "--state", "done", "--after", "Z\x1bZ", "--inbox", "FILE"}, code: exitUsage,
			stderr: `--after Z\x1bZ is not a cursor of this list`},
		{name: "replay takes no cursor", args: []string{"replay", "--state", "dead", "--after", "x", "--inbox", "FILE"}, code: exitUsage,
			stderr: "replay does not take --after"},
		{name: "replay takes no order", args: []string{"replay", "--state", "dead", "--order", "updated", "--inbox", "FILE"}, code: exitUsage,
			stderr: "replay does not take --order"},
		{name: "list of one state, all shown", args: []string{"list", "--limit", "1", "--state", "done", "--inbox", "FILE"},
			stdout: []string{"standard:msg_done"}, noteless: true},
		{name: "list all says nothing more", args: []string{"list", "--limit", "3", "--inbox", "FILE"}, stdout: []string{"notif_pending"}, noteless: true},
		{name: "list with the largest limit", args: []string{"list", "--limit", "9223372036854775807", "--inbox", "FILE"}, stdout: []string{"notif_pending"}, noteless: true},
		{name: "show", args: []string{"show", "standard:msg_dead", "--inbox", "FILE"},
			stdout: []string{"state:", "dead", "attempts:", "last error:", "header:", "Webhook-Id: msg_dead", "meta:", "traceparent=00-1-2-01",
				"body:", "22 bytes\n{\"type\":\"jam.created\"}\n"}},
		{name: "show unknown", args: []string{"show", "--inbox", "FILE", "standard:nope"}, code: exitFail,
			stderr: "no such delivery; a KEY is as list prints it: SOURCE:ID, or SOURCE@TENANT:ID for a tenant of a multi-tenant receiver\n"},
		// A message id alone, or a tenant's key without its tenant: the
		// error says what a key is.
		{name: "show a message id alone", args: []string{"show", "--inbox", "FILE", "msg_dead"}, code: exitFail,
			stderr: "a KEY is as list prints it: SOURCE:ID, or SOURCE@TENANT:ID"},
		{name: "replay", args: []string{"replay", "--inbox", "FILE", "standard:msg_dead", "standard:msg_done"},
			stdout: []string{"replayed standard:msg_dead\nreplayed standard:msg_done\n"},
			after: func(t *testing.T, ib webhook.Inbox) {
				st, err := ib.Stats(context.Background())
				require.NoError(t, err)
				require.Equal(t, 3, st.Pending)
				e, err := ib.Get(context.Background(), "standard:msg_dead")
				require.NoError(t, err)
				require.Zero(t, e.Attempts)
			}},
		// After an outage: every dead delivery, without a KEY each.
		{name: "replay the dead", args: []string{"replay", "--state", "dead", "--inbox", "FILE"},
			stdout: []string{"replayed standard:msg_dead\n"}, notOut: []string{"msg_done", "notif_pending"}, noteless: true,
			after: func(t *testing.T, ib webhook.Inbox) {
				st, err := ib.Stats(context.Background())
				require.NoError(t, err)
				require.Equal(t, webhook.InboxStats{Pending: 2, Done: 1, OldestPending: st.OldestPending}, st)
			}},
		{name: "replay the dead when none", args: []string{"replay", "--state", "dead", "--inbox", "FILE"}, noDead: true,
			stderr: "webhook inbox replay: no dead deliveries\n"},
		{name: "replay done by state", args: []string{"replay", "--state", "done", "--inbox", "FILE"}, code: exitUsage, stderr: "replay takes --state dead"},
		{name: "replay a key with a limit", args: []string{"replay", "--limit", "1", "--inbox", "FILE", "standard:msg_dead"}, code: exitUsage,
			stderr: "--limit goes with --state dead"},
		{name: "replay the dead, limit 0", args: []string{"replay", "--state", "dead", "--limit", "0", "--inbox", "FILE"}, code: exitUsage,
			stderr: "--limit must be at least 1"},
		{name: "replay unknown", args: []string{"replay", "--inbox", "FILE", "standard:nope"}, code: exitFail,
			stderr: "no such delivery; a KEY is as list prints it: SOURCE:ID, or SOURCE@TENANT:ID"},
		{name: "replay goes on past a key it cannot replay", args: []string{"replay", "--inbox", "FILE", "standard:nope", "standard:msg_dead"},
			code: exitFail, stderr: "no such delivery", stdout: []string{"replayed standard:msg_dead\n"},
			after: func(t *testing.T, ib webhook.Inbox) {
				e, err := ib.Get(context.Background(), "standard:msg_dead")
				require.NoError(t, err)
				require.Equal(t, webhook.InboxPending, e.State)
			}},
		// A 0 says why, and what to give to purge the younger ones.
		{name: "purge spares the recent", args: []string{"purge", "--inbox", "FILE"},
			stdout: []string{"purged 0: no done delivery was updated more than 72h0m0s ago (--older-than)\n"}},
		{name: "purge spares the recent dead", args: []string{"purge", "--inbox", "FILE", "--state", "dead"},
			stdout: []string{"purged 0: no dead delivery was updated more than 72h0m0s ago (--older-than)\n"}},
		{name: "purge dead", args: []string{"purge", "--inbox", "FILE", "--state", "dead", "--older-than", "1m"}, stdout: []string{"purged 1\n"},
			after: func(t *testing.T, ib webhook.Inbox) {
				st, err := ib.Stats(context.Background())
				require.NoError(t, err)
				require.Equal(t, webhook.InboxStats{Pending: 1, Done: 1, OldestPending: st.OldestPending}, st)
			}},
		// A dead delivery was never processed: purged only by name.
		{name: "purge all spares the dead", args: []string{"purge", "--inbox", "FILE", "--older-than", "0s"}, stdout: []string{"purged 1\n"},
			after: func(t *testing.T, ib webhook.Inbox) {
				st, err := ib.Stats(context.Background())
				require.NoError(t, err)
				require.Equal(t, webhook.InboxStats{Pending: 1, Dead: 1, OldestPending: st.OldestPending}, st)
			}},
		{name: "purge done", args: []string{"purge", "--inbox", "FILE", "--state", "done", "--older-than", "0s"}, stdout: []string{"purged 1\n"}},
		{name: "purge all dead", args: []string{"purge", "--inbox", "FILE", "--state", "dead", "--older-than", "0s"}, stdout: []string{"purged 1\n"}},
		{name: "stats", args: []string{"stats", "--inbox", "FILE"}, match: []string{`pending: +1\n`, `dead: +1\n`, `done: +1\n`, `oldest pending: +\S+ \(1h0m\ds ago\)`}},
		{name: "stats json", args: []string{"stats", "--json", "--inbox", "FILE"}, stdout: []string{`"pending":1,"retrying":0,"in_flight":0,"done":1,"dead":1,"oldest_pending_age_seconds":36`}},
		{name: "help", args: []string{"--help"}, stdout: []string{"webhook inbox list"}},

		{name: "no subcommand", args: nil, code: exitUsage, stderr: "Usage:"},
		{name: "unknown subcommand", args: []string{"drop"}, code: exitUsage, stderr: `unknown subcommand "drop"`},
		{name: "no inbox", args: []string{"list"}, code: exitUsage, stderr: "no inbox: give --inbox FILE or --redis URL"},
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
			stderr: "purge does not take --limit", after: func(t *testing.T, ib webhook.Inbox) {
				st, err := ib.Stats(context.Background())
				require.NoError(t, err)
				require.Equal(t, webhook.InboxStats{Pending: 1, Done: 1, Dead: 1, OldestPending: st.OldestPending}, st)
			}},
		{name: "replay with a state and a key", args: []string{"replay", "--inbox", "FILE", "--state", "dead", "standard:msg_done"}, code: exitUsage,
			stderr: "give KEYs or --state dead, not both", after: func(t *testing.T, ib webhook.Inbox) {
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
	for _, kind := range inboxKinds {
		t.Run(kind.name, func(t *testing.T) {
			for _, tt := range tests {
				if kind.name != "sqlite" && (tt.noSuffix || tt.empty) {
					continue // a file's own failures
				}
				t.Run(tt.name, func(t *testing.T) { runInboxCase(t, kind.fixture(t), tt) })
			}
		})
	}
}

// runInboxCase runs tt's command on fx and checks what it does.
func runInboxCase(t *testing.T, fx fixture, tt inboxCase) {
	if tt.noDead {
		n, err := fx.open(t).Purge(context.Background(), webhook.InboxDead, time.Now())
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
	flags := fx.flags
	path := fx.path
	if tt.noSuffix {
		path += ".missing"
		flags = []string{"--inbox", path}
	}
	if tt.empty {
		path += ".empty"
		flags = []string{"--inbox", path}
		require.NoError(t, os.WriteFile(path, nil, 0o600))
		defer func() {
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.Zero(t, fi.Size(), "left empty")
		}()
	}
	args := []string{"inbox"}
	for i := 0; i < len(tt.args); i++ {
		if tt.args[i] == "--inbox" && i+1 < len(tt.args) && tt.args[i+1] == "FILE" {
			args = append(args, flags...)
			i++
			continue
		}
		args = append(args, tt.args[i])
	}
	t.Setenv(envInbox, "")
	t.Setenv(envRedisURL, "")
	if tt.fromEnv {
		t.Setenv(fx.env, fx.value)
		args = append(args, fx.envArgs...)
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
	if tt.noteless {
		require.Empty(t, stderr)
	}
	if strings.Contains(strings.Join(tt.args, " "), "--json") && tt.code == exitOK {
		for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
			require.True(t, json.Valid([]byte(line)), line)
		}
	}
	if tt.after != nil {
		tt.after(t, fx.open(t))
	}
}

// fileBytes is the bytes of an inbox file and of its log, nil for a
// missing one.
func fileBytes(t *testing.T, path string) (db, wal []byte) {
	t.Helper()
	db, err := os.ReadFile(path)
	require.NoError(t, err)
	wal, err = os.ReadFile(path + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return db, nil
	}
	require.NoError(t, err)
	return db, wal
}

// crashedInbox is the fixture as a receiver that crashed leaves it: its
// last commit, a pending standard:msg_late, in the log only, which
// opening it read-write would copy into the file and remove on Close.
func crashedInbox(t *testing.T) string {
	t.Helper()
	path := inboxFixture(t)
	ib, err := sqlitestore.Open(path)
	require.NoError(t, err)
	_, err = ib.Store(context.Background(), &webhook.InboxEntry{Key: "standard:msg_late", Source: event.SourceStandard,
		ID: "msg_late", Body: []byte(`{}`)})
	require.NoError(t, err)
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(crashed+suffix, b, 0o600))
	}
	require.NoError(t, ib.Close())
	_, wal := fileBytes(t, crashed)
	require.NotEmpty(t, wal, "the last commit is in the log")
	return crashed
}

// olderInbox is the fixture as an older receiver left it: schema
// version 1.
func olderInbox(t *testing.T) string {
	t.Helper()
	path := inboxFixture(t)
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE schema_version SET version = 1`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	return path
}

func inboxSchemaVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	var v int
	require.NoError(t, db.QueryRow(`SELECT version FROM schema_version`).Scan(&v))
	return v
}

// TestInboxReadCommandsLeaveFile runs list, show and stats on files a
// receiver may be running on: one with its last commits in the log, one
// of an older schema (an older receiver may still be running on it, and
// may not read a migrated file). They must leave both byte for byte as
// they were, the log too; on the older file they refuse, saying what to
// do. replay and purge still open the file read-write, migrating it.
func TestInboxReadCommandsLeaveFile(t *testing.T) {
	for _, tt := range []struct {
		name    string
		file    func(t *testing.T) string
		args    []string // after "inbox"; FILE is replaced by the file's path
		code    int
		stdout  string
		stderr  string
		changed bool // the command writes: the file is migrated
	}{
		{name: "list", file: crashedInbox, args: []string{"list"}, stdout: "standard:msg_late"},
		{name: "list json", file: crashedInbox, args: []string{"list", "--json"}, stdout: `"key":"standard:msg_late"`},
		{name: "show", file: crashedInbox, args: []string{"show", "standard:msg_late"}, stdout: "id:"},
		{name: "stats", file: crashedInbox, args: []string{"stats"}, stdout: "pending:"},
		{name: "stats json", file: crashedInbox, args: []string{"stats", "--json"}, stdout: `"pending":2`},
		{name: "list older", file: olderInbox, args: []string{"list"}, code: exitFail, stderr: "schema version 1, older"},
		{name: "list json older", file: olderInbox, args: []string{"list", "--json"}, code: exitFail, stderr: "open it read-write once"},
		{name: "show older", file: olderInbox, args: []string{"show", "standard:msg_dead"}, code: exitFail, stderr: "older"},
		{name: "stats older", file: olderInbox, args: []string{"stats"}, code: exitFail, stderr: "older"},
		{name: "replay migrates an older file", file: olderInbox, args: []string{"replay", "standard:msg_dead"},
			stdout: "replayed standard:msg_dead", changed: true},
		{name: "purge migrates an older file", file: olderInbox, args: []string{"purge"}, stdout: "purged 0", changed: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.file(t)
			version := inboxSchemaVersion(t, path)
			db, wal := fileBytes(t, path)
			t.Setenv(envInbox, path)
			code, stdout, stderr := runCLI(t, append([]string{"inbox"}, tt.args...)...)
			require.Equal(t, tt.code, code, "stdout: %s\nstderr: %s", stdout, stderr)
			require.Contains(t, stdout, tt.stdout)
			require.Contains(t, stderr, tt.stderr)
			if tt.changed {
				require.Equal(t, sqlitestore.SchemaVersion, inboxSchemaVersion(t, path))
				return
			}
			require.Equal(t, version, inboxSchemaVersion(t, path), "not migrated")
			dbAfter, walAfter := fileBytes(t, path)
			require.Equal(t, db, dbAfter, "the file is unchanged")
			if wal != nil {
				require.Equal(t, wal, walAfter, "the log is unchanged")
			}
		})
	}
}

// requirePrintable fails if out holds a character a terminal could take
// for a command: anything but printable characters, spaces and newlines,
// or bytes that are not UTF-8.
func requirePrintable(t *testing.T, out string) {
	t.Helper()
	require.True(t, utf8.ValidString(out), "not UTF-8: %q", out)
	for _, r := range out {
		if r != '\n' && !unicode.IsPrint(r) {
			require.Failf(t, "a control character reaches the terminal", "%U in %q", r, out)
		}
	}
}

// TestInboxTextEscapes stores a delivery whose every field a sender or a
// callback chose carries control characters, terminal escapes and a
// bidirectional override, and checks that list and show print them
// escaped, and show's body as stored only when it is text, on either kind
// of inbox.
func TestInboxTextEscapes(t *testing.T) {
	const key = "standard:msg_\x1b[31mred\r"
	for _, tt := range []struct {
		name    string
		body    string
		escaped bool
		want    string // in the body as printed
	}{
		{name: "text", body: "{\"a\":1,\r\n\t\"b\":\"é\"}", want: "{\"a\":1,\r\n\t\"b\":\"é\"}\n"},
		{name: "escape sequence", body: "{\"a\":\"\x1b[2J\"}", escaped: true, want: `{"a":"\x1b[2J"}`},
		{name: "not UTF-8", body: "{\"a\":\"\xff\xfe\"}", escaped: true, want: `{"a":"\xff\xfe"}`},
		{name: "C1 control", body: "\u009b31m", escaped: true, want: `\u009b31m`},
		{name: "NUL", body: "a\x00b", escaped: true, want: `a\x00b`},
		// A Jam title is anyone's text, signed all the same: an override
		// in it would reorder the lines around it on the screen.
		{name: "bidirectional override", body: "{\"title\":\"abc\u202edef\"}", escaped: true, want: `{"title":"abc\u202edef"}`},
		{name: "bidirectional isolate", body: "{\"title\":\"\u2067abc\u2069\"}", escaped: true, want: `{"title":"\u2067abc\u2069"}`},
		{name: "emoji with joiners", body: "{\"title\":\"\U0001F468\u200d\U0001F469\u200d\U0001F467\"}", want: "{\"title\":\"\U0001F468\u200d\U0001F469\u200d\U0001F467\"}"},
	} {
		for _, kind := range inboxKinds {
			t.Run(kind.name+"/"+tt.name, func(t *testing.T) {
				ib, flags := kind.empty(t)
				ctx := context.Background()
				_, err := ib.Store(ctx, &webhook.InboxEntry{
					Key: key, Source: "standard\x07", ID: "msg_\x1b]0;title\x07",
					Header: http.Header{"X-Evil\x1b[2J": {"v\x1b[1mbold\u202e"}, "Webhook-Signature\x1b": {"v1,c2VjcmV0LXNpZ25hdHVyZQ=="}},
					Meta:   map[string]string{"k\x1b": "v\r\u009b"},
					Body:   []byte(tt.body),
				})
				require.NoError(t, err)
				ls, err := ib.Lease(ctx, 1, time.Minute)
				require.NoError(t, err)
				require.Len(t, ls, 1)
				require.NoError(t, ib.Kill(ctx, key, ls[0].Token, "boom\x1b[0m\rover\x00\u202e"))

				code, stdout, stderr := runCLI(t, append([]string{"inbox", "list"}, flags...)...)
				require.Equal(t, exitOK, code, stderr)
				requirePrintable(t, stdout)
				require.Contains(t, stdout, `standard:msg_\x1b[31mred\r`)
				require.Contains(t, stdout, `boom\x1b[0m over\x00\u202e`)

				code, stdout, stderr = runCLI(t, append([]string{"inbox", "show", key}, flags...)...)
				require.Equal(t, exitOK, code, stderr)
				fields, body, ok := strings.Cut(stdout, " bytes")
				require.True(t, ok, stdout)
				bodyLine, body, _ := strings.Cut(body, "\n")
				requirePrintable(t, fields+bodyLine)
				for _, s := range []string{
					`standard:msg_\x1b[31mred\r`, `standard\a`, `msg_\x1b]0;title\a`, `boom\x1b[0m\rover\x00\u202e`,
					`X-Evil\x1b[2J: v\x1b[1mbold\u202e`, `Webhook-Signature\x1b: [redacted]`, `k\x1b=v\r\u009b`,
				} {
					require.Contains(t, fields, s)
				}
				require.NotContains(t, stdout, "c2VjcmV0LXNpZ25hdHVyZQ")
				if tt.escaped {
					require.Contains(t, bodyLine, "escaped")
					requirePrintable(t, body)
				} else {
					require.NotContains(t, bodyLine, "escaped")
				}
				require.Contains(t, body, tt.want)
			})
		}
	}
}

// TestInboxReplayDeadInPages: "replay --state dead" replays the --limit
// deliveries dead the longest, says how many there were when it left some, and
// prints their keys, a sender's ids, escaped.
func TestInboxReplayDeadInPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inbox.db")
	clock := time.Now().Add(-time.Hour)
	ib, err := sqlitestore.Open(path, sqlitestore.WithClock(func() time.Time { return clock }))
	require.NoError(t, err)
	ctx := context.Background()
	keys := []string{"standard:msg_1", "standard:msg_\x1b[31m", "standard:msg_3"}
	for _, k := range keys {
		_, err := ib.Store(ctx, &webhook.InboxEntry{Key: k, Source: event.SourceStandard, ID: strings.TrimPrefix(k, "standard:"), Body: []byte(`{}`)})
		require.NoError(t, err)
		ls, err := ib.Lease(ctx, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, ls, 1)
		require.NoError(t, ib.Kill(ctx, ls[0].Entry.Key, ls[0].Token, "the CRM is down"))
		clock = clock.Add(time.Second)
	}
	require.NoError(t, ib.Close())
	t.Setenv(envInbox, path)

	code, stdout, stderr := runCLI(t, "inbox", "replay", "--state", "dead", "--limit", "2")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "replayed standard:msg_1\nreplayed standard:msg_\\x1b[31m\n", stdout)
	require.Equal(t, "webhook inbox replay: 2 of 3 dead deliveries, those dead the longest; run it again for the next ones (any that die again come after them)\n", stderr)

	code, stdout, stderr = runCLI(t, "inbox", "replay", "--state", "dead", "--limit", "2")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "replayed standard:msg_3\n", stdout)
	require.Empty(t, stderr)

	code, stdout, stderr = runCLI(t, "inbox", "replay", "--state", "dead")
	require.Equal(t, exitOK, code)
	require.Empty(t, stdout)
	require.Equal(t, "webhook inbox replay: no dead deliveries\n", stderr)

	ro, err := sqlitestore.Open(path, sqlitestore.WithReadOnly())
	require.NoError(t, err)
	defer ro.Close()
	st, err := ro.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, st.Pending, "all three replayed")
}

// TestInboxListPages: list's note names the cursor of the next page, and
// --after it lists the next ones, to the end, in text and --json, in
// received order and by update, while deliveries arrive between the
// pages.
func TestInboxListPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inbox.db")
	clock := time.Now().Add(-time.Hour)
	ib, err := sqlitestore.Open(path, sqlitestore.WithClock(func() time.Time { return clock }))
	require.NoError(t, err)
	defer ib.Close()
	ctx := context.Background()
	store := func(k string) {
		t.Helper()
		_, err := ib.Store(ctx, &webhook.InboxEntry{Key: k, Source: event.SourceStandard, ID: strings.TrimPrefix(k, "standard:"), Body: []byte(`{}`)})
		require.NoError(t, err)
		clock = clock.Add(time.Second)
	}
	// Received in the reverse order of their death.
	for i := range 7 {
		store(fmt.Sprintf("standard:msg_%d", i))
	}
	for i := 6; i >= 0; i-- {
		ls, err := ib.Lease(ctx, 7, time.Minute)
		require.NoError(t, err)
		for _, l := range ls {
			if l.Entry.Key == fmt.Sprintf("standard:msg_%d", i) {
				require.NoError(t, ib.Kill(ctx, l.Entry.Key, l.Token, "gone"))
			} else {
				require.NoError(t, ib.Retry(ctx, l.Entry.Key, l.Token, clock, "again"))
			}
		}
		clock = clock.Add(time.Second)
	}
	t.Setenv(envInbox, path)
	next := regexp.MustCompile(`; the next page: --after (\S+)\n$`)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"received", []string{"--state", "dead"}, []string{"msg_0", "msg_1", "msg_2", "msg_3", "msg_4", "msg_5", "msg_6"}},
		{"updated", []string{"--state", "dead", "--order", "updated"}, []string{"msg_6", "msg_5", "msg_4", "msg_3", "msg_2", "msg_1", "msg_0"}},
		{"json", []string{"--order", "updated", "--state", "dead", "--json"}, []string{"msg_6", "msg_5", "msg_4", "msg_3", "msg_2", "msg_1", "msg_0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			args := append([]string{"inbox", "list", "--limit", "3"}, tc.args...)
			for page := 0; ; page++ {
				require.Less(t, page, 5, "the pages do not end")
				code, stdout, stderr := runCLI(t, args...)
				require.Equal(t, exitOK, code, stderr)
				for _, m := range regexp.MustCompile(`standard:(msg_\d)`).FindAllStringSubmatch(stdout, -1) {
					got = append(got, m[1])
				}
				m := next.FindStringSubmatch(stderr)
				if m == nil {
					require.Empty(t, stderr, "the last page says nothing")
					break
				}
				require.Contains(t, stderr, "3 shown of 7 dead deliveries")
				args = append(append([]string{"inbox", "list", "--limit", "3"}, tc.args...), "--after", m[1])
				if page == 0 {
					store("standard:msg_late") // pending: no page of the dead shows it
				}
			}
			require.Equal(t, tc.want, got)
		})
	}
	// A cursor of the dead by update order is no cursor of the done.
	code, stdout, stderr := runCLI(t, "inbox", "list", "--state", "dead", "--order", "updated", "--limit", "1")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stdout, "msg_6")
	m := next.FindStringSubmatch(stderr)
	require.NotNil(t, m, stderr)
	code, _, stderr = runCLI(t, "inbox", "list", "--state", "done", "--order", "updated", "--after", m[1])
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "is not a cursor of this list")
}

// TestInboxReplayDeadReadsPages: replay --state dead reads the dead in
// pages by update order, without their bodies, instead of every dead
// delivery: the List calls it makes are bounded by --limit, however many
// are dead.
func TestInboxReplayDeadReadsPages(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	clock := func() time.Time { return now }
	mem := webhook.NewMemoryInbox(0, clock)
	const dead = 400
	for i := range dead {
		_, err := mem.Store(ctx, &webhook.InboxEntry{Key: fmt.Sprintf("standard:msg_%04d", i), Source: event.SourceStandard, Body: []byte(`{"big":"body"}`)})
		require.NoError(t, err)
	}
	// They die in the reverse order of their keys, one a second.
	for left := dead; left > 0; left-- {
		ls, err := mem.Lease(ctx, dead, time.Minute)
		require.NoError(t, err)
		slices.SortFunc(ls, func(a, b webhook.InboxLease) int { return strings.Compare(b.Entry.Key, a.Entry.Key) })
		for i, l := range ls {
			if i == 0 {
				require.NoError(t, mem.Kill(ctx, l.Entry.Key, l.Token, "gone"))
			} else {
				require.NoError(t, mem.Retry(ctx, l.Entry.Key, l.Token, now, "again"))
			}
		}
		now = now.Add(time.Second)
	}
	ib := &listCounter{Inbox: mem}
	var stdout, stderr bytes.Buffer
	require.False(t, replayDead(ctx, ib, 25, &stdout, &stderr))
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 25)
	for i, l := range lines {
		require.Equal(t, fmt.Sprintf("replayed standard:msg_%04d", dead-1-i), l, "the longest dead first")
	}
	require.Equal(t, "webhook inbox replay: 25 of 400 dead deliveries, those dead the longest; run it again for the next ones (any that die again come after them)\n", stderr.String())
	require.NotZero(t, ib.calls)
	require.LessOrEqual(t, ib.listed, 25, "replay read more than it replayed")
	require.True(t, ib.allOmitBody, "replay read the bodies")

	// More than a page: 250 of the 375 left.
	ib.listed = 0
	stdout.Reset()
	stderr.Reset()
	require.False(t, replayDead(ctx, ib, 250, &stdout, &stderr))
	lines = strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 250)
	require.Equal(t, fmt.Sprintf("replayed standard:msg_%04d", dead-1-25), lines[0])
	require.Equal(t, fmt.Sprintf("replayed standard:msg_%04d", dead-25-250), lines[249])
	require.LessOrEqual(t, ib.listed, 250)
	require.Contains(t, stderr.String(), "250 of 375 dead deliveries")
}

// TestInboxReplayDeadDyingDuringTheRun: deliveries replay --state dead
// replays may die again while it runs, a running receiver's workers
// being quick; they come again in its later pages, after the ones not
// yet replayed, and it replays each once, then stops.
func TestInboxReplayDeadDyingDuringTheRun(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func() { mu.Lock(); defer mu.Unlock(); now = now.Add(time.Second) }
	mem := webhook.NewMemoryInbox(0, clock)
	const dead = 150
	for i := range dead {
		_, err := mem.Store(ctx, &webhook.InboxEntry{Key: fmt.Sprintf("standard:msg_%03d", i), Source: event.SourceStandard, Body: []byte(`{}`)})
		require.NoError(t, err)
		ls, err := mem.Lease(ctx, 1, time.Minute)
		require.NoError(t, err)
		require.NoError(t, mem.Kill(ctx, ls[0].Entry.Key, ls[0].Token, "gone"))
		advance()
	}
	ib := &dyingAgain{MemoryInbox: mem, advance: advance}
	var stdout, stderr bytes.Buffer
	require.False(t, replayDead(ctx, ib, 2*dead, &stdout, &stderr))
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, dead, "each once")
	for i, l := range lines {
		require.Equal(t, fmt.Sprintf("replayed standard:msg_%03d", i), l)
	}
	require.Empty(t, stderr.String())
	require.Equal(t, dead, ib.replays)
}

// dyingAgain is an inbox whose deliveries die again as soon as they are
// replayed.
type dyingAgain struct {
	*webhook.MemoryInbox
	advance func()
	replays int
}

func (d *dyingAgain) Replay(ctx context.Context, key string) error {
	d.replays++
	if err := d.MemoryInbox.Replay(ctx, key); err != nil {
		return err
	}
	d.advance()
	ls, err := d.Lease(ctx, 10, time.Minute)
	if err != nil {
		return err
	}
	for _, l := range ls {
		if err := d.Kill(ctx, l.Entry.Key, l.Token, "gone again"); err != nil {
			return err
		}
	}
	return nil
}

// listCounter counts what List hands out.
type listCounter struct {
	webhook.Inbox
	calls, listed int
	allOmitBody   bool
}

func (c *listCounter) List(ctx context.Context, q webhook.InboxQuery) (webhook.InboxPage, error) {
	if c.calls == 0 {
		c.allOmitBody = true
	}
	c.calls++
	c.allOmitBody = c.allOmitBody && q.OmitBody
	p, err := c.Inbox.List(ctx, q)
	c.listed += len(p.Entries)
	return p, err
}

// TestInboxReplayDeadDyingAgain: the deliveries "replay --state dead"
// replays may die again before the next run, as when the outage that
// killed them is not over; they keep their ReceivedAt, so the next run
// must not take them again before the dead deliveries not yet replayed.
// Two runs of --limit 2 replay all four.
func TestInboxReplayDeadDyingAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inbox.db")
	clock := time.Now().Add(-time.Hour)
	ib, err := sqlitestore.Open(path, sqlitestore.WithClock(func() time.Time { return clock }))
	require.NoError(t, err)
	ctx := context.Background()
	kill := func(n int) []string {
		t.Helper()
		ls, err := ib.Lease(ctx, n, time.Minute)
		require.NoError(t, err)
		require.Len(t, ls, n)
		var keys []string
		for _, l := range ls {
			require.NoError(t, ib.Kill(ctx, l.Entry.Key, l.Token, "the CRM is down"))
			keys = append(keys, l.Entry.Key)
		}
		return keys
	}
	for i := 1; i <= 4; i++ {
		_, err := ib.Store(ctx, &webhook.InboxEntry{Key: "standard:msg_" + strconv.Itoa(i), Source: event.SourceStandard,
			ID: "msg_" + strconv.Itoa(i), Body: []byte(`{}`)})
		require.NoError(t, err)
		kill(1)
		clock = clock.Add(time.Second)
	}
	t.Setenv(envInbox, path)

	code, stdout, stderr := runCLI(t, "inbox", "replay", "--state", "dead", "--limit", "2")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "replayed standard:msg_1\nreplayed standard:msg_2\n", stdout)
	require.Contains(t, stderr, "2 of 4 dead deliveries")
	require.Contains(t, stderr, "run it again for the next ones")

	// The receiver's workers run them again, and they fail again.
	clock = time.Now()
	require.ElementsMatch(t, []string{"standard:msg_1", "standard:msg_2"}, kill(2))

	code, stdout, stderr = runCLI(t, "inbox", "replay", "--state", "dead", "--limit", "2")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "replayed standard:msg_3\nreplayed standard:msg_4\n", stdout)
	require.Contains(t, stderr, "2 of 4 dead deliveries")
	require.NoError(t, ib.Close())
}

// TestInboxFileModes: as a user whom file modes bind (an operator other
// than the receiver's user), an inbox file they may not read is said to
// be so, by the flag, for every subcommand; and one in a directory they
// may not write in, which SQLite needs to create the file's -wal and
// -shm in even to read it when no receiver has it open, gets the hint
// that says so, for the read-only subcommands too: SQLite's own words
// were "attempt to write a readonly database", of a list that writes
// nothing.
func TestInboxFileModes(t *testing.T) {
	if testfs.Unprivileged(t) {
		return
	}
	clearEnv(t)
	t.Setenv("WEBHOOK_INBOX", "")
	t.Setenv("WEBHOOK_REDIS_URL", "")
	newInbox := func(t *testing.T) (dir, path string) {
		dir = t.TempDir()
		path = filepath.Join(dir, "inbox.db")
		ib, err := sqlitestore.Open(path)
		require.NoError(t, err)
		require.NoError(t, ib.Close())
		return dir, path
	}
	subs := [][]string{{"list"}, {"show", "standard:msg_1"}, {"stats"}, {"replay", "standard:msg_1"}, {"purge"}}
	t.Run("file not readable", func(t *testing.T) {
		_, path := newInbox(t)
		require.NoError(t, os.Chmod(path, 0o200))
		for _, sub := range subs {
			r := runCmd(t, "", append(append([]string{"inbox"}, sub...), "--inbox", path)...)
			require.Equal(t, exitFail, r.code, r.stderr)
			require.Equal(t, "webhook inbox "+sub[0]+": --inbox "+path+": open "+path+": permission denied\n", r.stderr)
		}
	})
	t.Run("directory not writable", func(t *testing.T) {
		dir, path := newInbox(t)
		require.NoError(t, os.Chmod(dir, 0o555))
		t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
		for _, sub := range subs {
			r := runCmd(t, "", append(append([]string{"inbox"}, sub...), "--inbox", path)...)
			require.Equal(t, exitFail, r.code, r.stderr)
			require.Contains(t, r.stderr, "webhook inbox "+sub[0]+": --inbox "+path+": ")
			require.Contains(t, r.stderr, "inbox.db-wal and inbox.db-shm beside it: are they and their directory writable?")
		}
	})
}

// TestRedisNoAnswer: a --redis address that takes the connection and
// never answers (not Redis, or TLS spoken to one that speaks none, or the
// reverse) is said to give no answer within the time given, with what to
// check, not as "context deadline exceeded" alone; the password unshown.
func TestRedisNoAnswer(t *testing.T) {
	clearEnv(t)
	t.Setenv("WEBHOOK_INBOX", "")
	t.Setenv("WEBHOOK_REDIS_URL", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	url := "redis://:hunter2-redis-pw@" + ln.Addr().String() + "/0"
	for _, args := range [][]string{
		{"inbox", "stats", "--redis", url},
		{"serve", "--test-keys", "--addr", "127.0.0.1:0", "--redis", url},
	} {
		t.Run(args[0], func(t *testing.T) {
			t.Parallel()
			r := runCmd(t, "", args...)
			require.Equal(t, exitFail, r.code, r.stderr)
			require.Contains(t, r.stderr, "--redis redis://:xxxxx@"+ln.Addr().String()+"/0: no answer within 5s")
			require.Contains(t, r.stderr, "rediss://")
			require.NotContains(t, r.stderr, "hunter2")
		})
	}
}
