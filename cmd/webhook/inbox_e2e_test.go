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
	"github.com/inhook/webhook/sqlitestore"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// cli runs the binary with args and returns its standard output.
func cli(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), envInbox+"=")
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
// replay KEY" has the receiver's workers process it.
func TestInboxDeadAndReplayEndToEnd(t *testing.T) {
	bin := buildCLI(t)
	path := filepath.Join(t.TempDir(), "inbox.db")
	ib, err := sqlitestore.Open(path)
	require.NoError(t, err)
	defer ib.Close()
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

	out := cli(t, bin, "inbox", "list", "--state", "dead", "--inbox", path)
	require.Regexp(t, `\n`+key+` +dead +3 +\S+ +\S+ +.*the CRM is down\n`, out)
	require.Contains(t, cli(t, bin, "inbox", "stats", "--inbox", path), "dead:       1")
	require.Equal(t, 1, strings.Count(cli(t, bin, "inbox", "list", "--state", "pending", "--inbox", path), "\n"),
		"nothing pending: the header line only")

	fixed.Store(true)
	require.Equal(t, "replayed "+key+"\n", cli(t, bin, "inbox", "replay", "--inbox", path, key))
	require.Eventually(t, func() bool { return successes.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		e, err := ib.Get(context.Background(), key)
		return err == nil && e.State == webhook.InboxDone
	}, 10*time.Second, 10*time.Millisecond)
	show := cli(t, bin, "inbox", "show", key, "--inbox", path)
	require.Regexp(t, `state: +done\n`, show)
	require.Regexp(t, `attempts: +1\n`, show, "replay resets the attempts; one run succeeded")
	require.Regexp(t, `last error: +.*the CRM is down\n`, show, "the last error is kept")
	require.EqualValues(t, 4, runs.Load())
}

// TestServeInboxEndToEnd runs "webhook serve --inbox": deliveries are
// stored in the SQLite file and printed by the workers, "webhook inbox"
// sees them done, and SIGTERM stops both cleanly.
func TestServeInboxEndToEnd(t *testing.T) {
	bin := buildCLI(t)
	path := filepath.Join(t.TempDir(), "inbox.db")
	serve := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--test-keys", "--inbox", path)
	serve.Env = os.Environ()
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
		return strings.Contains(cli(t, bin, "inbox", "stats", "--json", "--inbox", path), `"pending":0,"retrying":0,"in_flight":0,"done":2,"dead":0`)
	}, 10*time.Second, 10*time.Millisecond)

	srv.stop(t)
	require.Equal(t, 2, strings.Count(stdout.String(), "\n"), "each delivery printed once: %s", stdout.String())
}
