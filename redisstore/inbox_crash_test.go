package redisstore

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// A redisServer is a redis-server process of the test's own, which the
// test can kill and start again on the same port and directory.
type redisServer struct {
	t    *testing.T
	bin  string
	args []string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedisServer(t *testing.T, persistence ...string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server not found: CI must have it (scripts/redis-test.sh installs it)")
		}
		t.Skip("redis-server not found; scripts/redis-test.sh installs it")
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	s := &redisServer{t: t, bin: bin, addr: addr, args: append([]string{
		"--port", port, "--bind", "127.0.0.1", "--dir", dir, "--save", "",
		"--logfile", filepath.Join(dir, "redis.log"), "--maxmemory-policy", "noeviction",
	}, persistence...)}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, s.args...)
	require.NoError(s.t, s.cmd.Start())
	done := make(chan struct{})
	go func(cmd *exec.Cmd) { cmd.Wait(); close(done) }(s.cmd)
	s.done = done
	c := redis.NewClient(&redis.Options{Addr: s.addr})
	defer c.Close()
	require.Eventually(s.t, func() bool { return c.Ping(context.Background()).Err() == nil },
		10*time.Second, 20*time.Millisecond, "redis-server on %s", s.addr)
}

// kill stops the server with SIGKILL, as a crash would.
func (s *redisServer) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.done
	}
}

// TestInboxRedisCrash: a handler in inbox mode acknowledges deliveries
// that no worker has run yet, then Redis is killed with SIGKILL and
// started again. While it is down the handler answers 503 with
// Retry-After; once it is back, the deliveries it acknowledged are there
// to run, as far as Redis's persistence kept them: all of them with the
// append-only file (fsync always, or every second once Redis has written
// its buffer: the process died, not the machine), none without it. The
// README's table says the same.
func TestInboxRedisCrash(t *testing.T) {
	const acked = 200
	for _, tc := range []struct {
		name        string
		persistence []string
		wantKept    int
		// written: wait, before the kill, for Redis to have handed its
		// append-only buffer to the OS. With everysec it does so before
		// replying, except while a slow background fsync holds the write
		// back, for up to 2 s (the README's table: "as a rule"); a busy
		// machine's disk made that happen in this test.
		written bool
	}{
		{"appendfsync always", []string{"--appendonly", "yes", "--appendfsync", "always"}, acked, false},
		{"appendfsync everysec", []string{"--appendonly", "yes", "--appendfsync", "everysec"}, acked, true},
		{"no persistence", []string{"--appendonly", "no"}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startRedisServer(t, tc.persistence...)
			client := redis.NewClient(fastFailing(srv.addr))
			t.Cleanup(func() { client.Close() })
			ib, err := NewInbox(client)
			require.NoError(t, err)
			h, err := webhook.NewHandler(
				webhook.WithSecrets(webhooktest.Secret),
				webhook.WithInbox(ib),
				webhook.WithLogger(slog.New(slog.DiscardHandler)),
				webhook.WithWorkers(webhook.WorkerConfig{Poll: 10 * time.Millisecond}),
			)
			require.NoError(t, err)
			var mu sync.Mutex
			processed := map[string]int{}
			h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				mu.Lock()
				defer mu.Unlock()
				processed[d.ID]++
				return nil
			})
			send := func(id int) *httptest.ResponseRecorder {
				r := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody(id),
					webhooktest.WithID(msgID(id)), webhooktest.WithTime(time.Now()))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}

			// Acknowledged, and not yet run: no worker is running.
			for id := range acked {
				require.Equal(t, http.StatusOK, send(id).Code, "message %d", id)
			}
			if tc.written {
				require.Eventually(t, func() bool {
					info, err := client.InfoMap(context.Background(), "persistence").Result()
					return err == nil && info["Persistence"]["aof_buffer_length"] == "0"
				}, 10*time.Second, 5*time.Millisecond, "the append-only buffer never reached the OS")
			}
			srv.kill()
			w := send(acked)
			require.Equal(t, http.StatusServiceUnavailable, w.Code, "while Redis is down")
			require.NotEmpty(t, w.Header().Get("Retry-After"))
			srv.start()

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			runCtx, stop := context.WithCancel(ctx)
			ran := make(chan error, 1)
			go func() { ran <- h.Run(runCtx) }()
			require.Equal(t, http.StatusOK, send(acked).Code, "the sender's retry, Redis back")
			var stats webhook.InboxStats
			require.Eventually(t, func() bool {
				stats, err = ib.Stats(ctx)
				return err == nil && stats.Pending+stats.Retrying+stats.InFlight == 0
			}, 20*time.Second, 10*time.Millisecond, "not drained: %+v", stats)
			stop()
			require.NoError(t, <-ran)

			mu.Lock()
			defer mu.Unlock()
			kept := 0
			for id := range acked {
				if processed[msgID(id)] > 0 {
					kept++
				}
			}
			require.Equal(t, tc.wantKept, kept, "acknowledged deliveries processed after the crash")
			require.Equal(t, 1, processed[msgID(acked)], "the delivery retried after the outage")
			t.Logf("%s: %d of %d acknowledged deliveries survived SIGKILL of redis-server and ran", tc.name, kept, acked)
		})
	}
}

// TestInboxOutOfMemory: a Redis at its maxmemory (noeviction) refuses
// new deliveries, so the handler answers 503, but the workers go on
// leasing and settling the ones it acknowledged, a retry falling due
// among them. Redis refuses a script's first write that may take memory
// and lets the rest of a script that has written run; the Lease script
// began with one (moving a due retry onto the stream), so while any
// retry was due no worker could lease anything until memory was freed,
// which for an inbox whose done deliveries are kept for days meant days.
func TestInboxOutOfMemory(t *testing.T) {
	ctx := context.Background()
	srv := startRedisServer(t)
	client := redis.NewClient(&redis.Options{Addr: srv.addr})
	t.Cleanup(func() { client.Close() })
	clock := webhooktest.NewClock(webhooktest.Time())
	ib, err := NewInbox(client, WithInboxClock(clock.Now))
	require.NoError(t, err)
	storeKeys(ctx, t, ib, "standard:a", "standard:b", "standard:c")
	ls, err := ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	require.NoError(t, ib.Retry(ctx, ls[0].Entry.Key, ls[0].Token, clock.Now().Add(time.Second), "boom"))

	// Redis past its maxmemory: every write that may take memory, as a
	// script's first, is refused.
	require.NoError(t, client.ConfigSet(ctx, "maxmemory", "1").Err())
	_, err = ib.Store(ctx, entry("standard:d"))
	require.ErrorContains(t, err, "OOM", "a Store while Redis is out of memory")

	clock.Advance(2 * time.Second) // the retry is due
	ls, err = ib.Lease(ctx, 10, time.Minute)
	require.NoError(t, err, "a Lease while Redis is out of memory")
	require.ElementsMatch(t, []string{"standard:a", "standard:b", "standard:c"}, leaseKeys(ls))
	// Every other operation a worker or an operator makes goes on too.
	tokens := map[string]string{}
	for _, l := range ls {
		tokens[l.Entry.Key] = l.Token
	}
	require.NoError(t, ib.Complete(ctx, "standard:a", tokens["standard:a"]))
	require.NoError(t, ib.Retry(ctx, "standard:b", tokens["standard:b"], clock.Now(), "boom"))
	require.NoError(t, ib.Kill(ctx, "standard:c", tokens["standard:c"], "boom"))
	require.NoError(t, ib.Replay(ctx, "standard:c"))
	ls, err = ib.Lease(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"standard:b", "standard:c"}, leaseKeys(ls))
	for _, l := range ls {
		require.NoError(t, ib.Complete(ctx, l.Entry.Key, l.Token))
	}
	st, err := ib.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, webhook.InboxStats{Done: 3}, st)
	n, err := ib.Purge(ctx, webhook.InboxDone, clock.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 3, n)
}

func leaseKeys(ls []webhook.InboxLease) []string {
	var keys []string
	for _, l := range ls {
		keys = append(keys, l.Entry.Key)
	}
	return keys
}
