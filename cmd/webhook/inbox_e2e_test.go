package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/redisstore"
	"github.com/inhook/webhook/sqlitestore"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// cli runs the binary with args and returns its standard output.
func cli(t *testing.T, bin string, args ...string) string {
	t.Helper()
	return cliEnv(t, bin, nil, args...)
}

// cliEnv is cli with the variables env (NAME=value) set.
func cliEnv(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), envInbox+"=", envRedisURL+"="), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "webhook %s: %s", strings.Join(args, " "), stderr.String())
	return string(out)
}

// TestInboxDeadAndReplayEndToEnd is issue 16's "done when 5": a receiver
// (the user's program, here in the test process) on a SQLite inbox whose
// callback always fails makes a delivery dead after the policy's three
// attempts; the webhook binary, a process of its own on the same file,
// lists it among the dead, and once the callback is fixed, "webhook inbox
// replay KEY" has the receiver's workers process it. The same on a
// redisstore inbox (--redis), as for a receiver of several replicas.
func TestInboxDeadAndReplayEndToEnd(t *testing.T) {
	bin := buildCLI(t)
	for _, kind := range []struct {
		name string
		open func(t *testing.T) (webhook.Inbox, []string) // the inbox, and the flags naming it
	}{
		{"sqlite", func(t *testing.T) (webhook.Inbox, []string) {
			path := filepath.Join(t.TempDir(), "inbox.db")
			ib, err := sqlitestore.Open(path)
			require.NoError(t, err)
			t.Cleanup(func() { ib.Close() })
			return ib, []string{"--inbox", path}
		}},
		// The replicas' inbox, with the URL from the environment once,
		// as an operator keeping its password off the command line.
		{"redis", func(t *testing.T) (webhook.Inbox, []string) {
			client := redisClient(t)
			prefix := redisPrefix(t, client)
			return openTestRedisInbox(t, client, prefix, redisstore.WithInboxName("replicas")),
				[]string{"--redis", redisURL(t), "--redis-prefix", prefix, "--redis-name", "replicas"}
		}},
		// The same Redis by its unix socket (unix://PATH?db=N).
		{"redis unix socket", func(t *testing.T) (webhook.Inbox, []string) {
			client := redisClient(t)
			prefix := redisPrefix(t, client)
			return openTestRedisInbox(t, client, prefix, redisstore.WithInboxName("replicas")),
				[]string{"--redis", redisSocketURL(t), "--redis-prefix", prefix, "--redis-name", "replicas"}
		}},
		// A Redis speaking TLS only (rediss://), as managed ones do, whose
		// certificate's authority the binary is told of by SSL_CERT_FILE.
		{"redis tls", func(t *testing.T) (webhook.Inbox, []string) {
			client := redisTLSClient(t)
			prefix := redisPrefix(t, client)
			url, ca := redisTLS(t)
			t.Setenv("SSL_CERT_FILE", ca)
			return openTestRedisInbox(t, client, prefix, redisstore.WithInboxName("replicas")),
				[]string{"--redis", url, "--redis-prefix", prefix, "--redis-name", "replicas"}
		}},
		// The replicas' inbox on Redis Cluster.
		{"redis cluster", func(t *testing.T) (webhook.Inbox, []string) {
			client := clusterClient(t)
			prefix := clusterPrefix(t, client)
			return openTestRedisInbox(t, client, prefix, redisstore.WithInboxName("replicas")),
				[]string{"--redis", "redis://" + testClusterAddr, "--redis-cluster", "--redis-prefix", prefix, "--redis-name", "replicas"}
		}},
	} {
		t.Run(kind.name, func(t *testing.T) {
			ib, flags := kind.open(t)
			deadAndReplay(t, bin, ib, flags)
		})
	}
}

// deadAndReplay is TestInboxDeadAndReplayEndToEnd on ib, which flags
// name on the command line.
func deadAndReplay(t *testing.T, bin string, ib webhook.Inbox, flags []string) {
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithInbox(ib),
		webhook.WithWorkers(webhook.WorkerConfig{
			MaxAttempts: 3, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
			Poll: 20 * time.Millisecond, // to see the replay, which another process writes
		}),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	require.NoError(t, err)
	var fixed atomic.Bool
	var runs, successes atomic.Int32
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		runs.Add(1)
		if !fixed.Load() {
			return errors.New("the CRM is down")
		}
		successes.Add(1)
		return nil
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-ran) }()

	req := webhooktest.NewFixtureRequest("jam/jam.created.maximal.json", webhooktest.WithID("msg_e2e_dead"), webhooktest.WithTime(time.Now()))
	post, err := http.NewRequest(http.MethodPost, srv.URL, req.Body)
	require.NoError(t, err)
	post.Header = req.Header
	resp, err := http.DefaultClient.Do(post)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	key := "standard:msg_e2e_dead"

	require.Eventually(t, func() bool {
		e, err := ib.Get(context.Background(), key)
		return err == nil && e.State == webhook.InboxDead
	}, 10*time.Second, 10*time.Millisecond)
	require.EqualValues(t, 3, runs.Load(), "the policy's attempts")

	inbox := func(args ...string) []string { return append(append([]string{"inbox"}, args...), flags...) }
	out := cli(t, bin, inbox("list", "--state", "dead")...)
	require.Regexp(t, `\n`+key+` +dead +3 +\S+ +\S+ +.*the CRM is down\n`, out)
	require.Contains(t, cli(t, bin, inbox("stats")...), "dead:       1")
	require.Equal(t, 1, strings.Count(cli(t, bin, inbox("list", "--state", "pending")...), "\n"),
		"nothing pending: the header line only")

	fixed.Store(true)
	var env []string
	if flags[0] == "--redis" {
		env, flags = []string{envRedisURL + "=" + flags[1]}, flags[2:]
	}
	require.Equal(t, "replayed "+key+"\n", cliEnv(t, bin, env, inbox("replay", key)...))
	require.Eventually(t, func() bool { return successes.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		e, err := ib.Get(context.Background(), key)
		return err == nil && e.State == webhook.InboxDone
	}, 10*time.Second, 10*time.Millisecond)
	show := cliEnv(t, bin, env, inbox("show", key)...)
	require.Regexp(t, `state: +done\n`, show)
	require.Regexp(t, `attempts: +1\n`, show, "replay resets the attempts; one run succeeded")
	require.Regexp(t, `last error: +.*the CRM is down\n`, show, "the last error is kept")
	require.EqualValues(t, 4, runs.Load())
}

// TestServeInboxEndToEnd runs "webhook serve --inbox": deliveries are
// stored in the SQLite file and printed by the workers, "webhook inbox"
// sees them done, and SIGTERM stops both cleanly; and the same with
// "webhook serve --redis" on a redisstore inbox.
func TestServeInboxEndToEnd(t *testing.T) {
	bin := buildCLI(t)
	for _, kind := range []struct {
		name  string
		flags func(t *testing.T) (flags, env []string) // naming a new inbox
	}{
		{"sqlite", func(t *testing.T) ([]string, []string) {
			return []string{"--inbox", filepath.Join(t.TempDir(), "inbox.db")}, nil
		}},
		// serve --redis: the receiver as one of several replicas.
		{"redis", func(t *testing.T) ([]string, []string) {
			return []string{"--redis", redisURL(t), "--redis-prefix", redisPrefix(t, redisClient(t)), "--redis-name", "serve"}, nil
		}},
		// serve --redis unix://PATH: a Redis on this machine by its socket.
		{"redis unix socket", func(t *testing.T) ([]string, []string) {
			return []string{"--redis", redisSocketURL(t), "--redis-prefix", redisPrefix(t, redisClient(t)), "--redis-name", "serve"}, nil
		}},
		// serve --redis rediss://: a Redis speaking TLS only, as managed
		// ones do, whose certificate's authority SSL_CERT_FILE names.
		{"redis tls", func(t *testing.T) ([]string, []string) {
			url, ca := redisTLS(t)
			return []string{"--redis", url, "--redis-prefix", redisPrefix(t, redisTLSClient(t)), "--redis-name", "serve"},
				[]string{"SSL_CERT_FILE=" + ca}
		}},
		// The same with the authority in a directory SSL_CERT_DIR names:
		// a copy of its certificate alone (the server's beside it would be
		// trusted as such).
		{"redis tls, SSL_CERT_DIR", func(t *testing.T) ([]string, []string) {
			url, ca := redisTLS(t)
			pem, err := os.ReadFile(ca)
			require.NoError(t, err)
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "redis-ca.pem"), pem, 0o600))
			return []string{"--redis", url, "--redis-prefix", redisPrefix(t, redisTLSClient(t)), "--redis-name", "serve"},
				[]string{"SSL_CERT_DIR=" + dir}
		}},
		// serve --redis --redis-cluster: the replicas on Redis Cluster.
		{"redis cluster", func(t *testing.T) ([]string, []string) {
			return []string{"--redis", "redis://" + testClusterAddr, "--redis-cluster", "--redis-prefix", clusterPrefix(t, clusterClient(t)), "--redis-name", "serve"}, nil
		}},
		// serve --redis env: the URL in the environment, out of ps.
		{"redis env", func(t *testing.T) ([]string, []string) {
			return []string{"--redis", "env", "--redis-prefix", redisPrefix(t, redisClient(t)), "--redis-name", "serve"},
				[]string{envRedisURL + "=" + redisURL(t)}
		}},
	} {
		t.Run(kind.name, func(t *testing.T) {
			flags, env := kind.flags(t)
			serveInbox(t, bin, flags, env)
		})
	}
}

// serveInbox is TestServeInboxEndToEnd on the inbox flags and the
// variables env (NAME=value) name.
func serveInbox(t *testing.T, bin string, flags, env []string) {
	serve := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--test-keys"}, flags...)...)
	serve.Env = append(append(os.Environ(), envInbox+"=", envRedisURL+"="), env...)
	var stdout syncBuffer
	serve.Stdout = &stdout
	srv := startServe(t, serve)
	logs, url := srv.logs, srv.url

	// The Intercom notification twice (send gives a Jam delivery a new
	// id each time, the notification keeps the fixture's): the second is
	// a duplicate, acknowledged without a second copy.
	out := cli(t, bin, "send", "--url", url+"/", "jam/jam.created.maximal.json", "intercom/conversation.admin.closed.json")
	require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 2, out)
	out = cli(t, bin, "send", "--url", url+"/", "intercom/conversation.admin.closed.json")
	require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 1, out)
	require.Eventually(t, func() bool { return strings.Count(stdout.String(), "\n") == 2 }, 10*time.Second, 10*time.Millisecond,
		"stdout: %s\nstderr: %s", stdout.String(), logs.String())
	require.Contains(t, stdout.String(), `"type":"jam.created"`)
	require.Contains(t, stdout.String(), `"source":"intercom"`)
	require.Eventually(t, func() bool {
		return strings.Contains(cliEnv(t, bin, env, append([]string{"inbox", "stats", "--json"}, flags...)...), `"pending":0,"retrying":0,"in_flight":0,"done":2,"dead":0`)
	}, 10*time.Second, 10*time.Millisecond)

	srv.stop(t)
	require.Equal(t, 2, strings.Count(stdout.String(), "\n"), "each delivery printed once: %s", stdout.String())
}

// TestInboxRedisUnreachableEndToEnd: the binary against a Redis that is
// not there says so in one line, quickly, without the URL's password
// (go-redis's own log of each failed dial silenced), and exits 1.
func TestInboxRedisUnreachableEndToEnd(t *testing.T) {
	bin := buildCLI(t)
	url := "redis://ops:" + testPassword + "@" + closedAddr(t) + "/0"
	for _, tc := range []struct {
		name string
		args []string
		env  []string
	}{
		{"flag", []string{"inbox", "list", "--state", "dead", "--redis", url}, nil},
		{"environment", []string{"inbox", "replay", "--state", "dead"}, []string{envRedisURL + "=" + url}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr := failsFast(t, bin, 5*time.Second, append([]string{envInbox + "=", envRedisURL + "="}, tc.env...), tc.args...)
			require.Regexp(t, `^webhook inbox (list|replay): --redis redis://ops:xxxxx@127\.0\.0\.1:\d+/0: dial tcp 127\.0\.0\.1:\d+: connect: connection refused\n$`, stderr)
			require.NotContains(t, stderr, testPassword)
		})
	}
}
