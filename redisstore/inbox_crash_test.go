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
// append-only file (fsync always or every second: the process died, not
// the machine), none without it. The README's table says the same.
func TestInboxRedisCrash(t *testing.T) {
	const acked = 200
	for _, tc := range []struct {
		name        string
		persistence []string
		wantKept    int
	}{
		{"appendfsync always", []string{"--appendonly", "yes", "--appendfsync", "always"}, acked},
		{"appendfsync everysec", []string{"--appendonly", "yes", "--appendfsync", "everysec"}, acked},
		{"no persistence", []string{"--appendonly", "no"}, 0},
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
