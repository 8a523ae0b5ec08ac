package redisstore

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestInboxHandlerRedisOutage: a handler in inbox mode on the Redis inbox,
// reaching Redis through a proxy the test cuts. While Redis is away the
// handler answers 503 with Retry-After and acknowledges nothing; the
// deliveries it had acknowledged before, some of them in the middle of
// their callbacks when Redis went, all run to success once it is back,
// and so do the ones the senders retry.
func TestInboxHandlerRedisOutage(t *testing.T) {
	const before, during = 40, 40
	target := redisOptions(t)
	direct := newClient(t)
	prefix := testPrefix(t, direct)
	p := startProxy(t, "127.0.0.1:0", target.Addr)
	o := fastFailing(p.addr)
	o.Username, o.Password, o.DB = target.Username, target.Password, target.DB
	client := redis.NewClient(o)
	t.Cleanup(func() { client.Close() })
	ib, err := NewInbox(client, WithInboxPrefix(prefix))
	require.NoError(t, err)

	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithInbox(ib),
		webhook.WithDedupeTimes(time.Second, time.Hour),
		webhook.WithLogger(slog.New(slog.DiscardHandler)), // a failed lease every poll while Redis is away
		webhook.WithWorkers(webhook.WorkerConfig{
			Workers: 4, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
			Poll: 10 * time.Millisecond, ShutdownTimeout: 2 * time.Second,
		}),
	)
	require.NoError(t, err)
	var (
		cut       = make(chan struct{})
		succeeded sync.Map // message id → *atomic.Int32
		inCut     atomic.Int32
		waiting   atomic.Int32
	)
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		// The first runs hold on until Redis is gone, so their Complete
		// fails and their deliveries must survive on their lease.
		select {
		case <-cut:
		default:
			waiting.Add(1)
			select {
			case <-cut:
				inCut.Add(1)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		v, _ := succeeded.LoadOrStore(d.ID, new(atomic.Int32))
		v.(*atomic.Int32).Add(1)
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- h.Run(runCtx) }()

	send := func(id int) *httptest.ResponseRecorder {
		r := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody(id),
			webhooktest.WithID(msgID(id)), webhooktest.WithTime(time.Now()))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for id := range before {
		require.Equal(t, http.StatusOK, send(id).Code, "message %d before the outage", id)
	}
	// Every worker is in a callback when Redis goes.
	require.Eventually(t, func() bool { return waiting.Load() == 4 }, 5*time.Second, time.Millisecond)

	p.stop()
	close(cut)
	for id := before; id < before+during; id++ {
		w := send(id)
		require.Equal(t, http.StatusServiceUnavailable, w.Code, "message %d during the outage", id)
		require.NotEmpty(t, w.Header().Get("Retry-After"), "message %d during the outage", id)
	}
	time.Sleep(1500 * time.Millisecond) // past the lease of the runs Redis cut off

	startProxy(t, p.addr, target.Addr)
	require.Eventually(t, func() bool { return client.Ping(ctx).Err() == nil }, 5*time.Second, 10*time.Millisecond)
	for id := before; id < before+during; id++ { // the senders' retries
		require.Equal(t, http.StatusOK, send(id).Code, "message %d after the outage", id)
	}
	var stats webhook.InboxStats
	require.Eventually(t, func() bool {
		stats, err = ib.Stats(ctx)
		return err == nil && stats.Done == before+during
	}, 20*time.Second, 10*time.Millisecond, "not all done: %+v", stats)
	require.Equal(t, webhook.InboxStats{Done: before + during}, stats)
	for id := range before + during {
		v, ok := succeeded.Load(msgID(id))
		require.True(t, ok, "message %d acknowledged but never processed", id)
		require.GreaterOrEqual(t, v.(*atomic.Int32).Load(), int32(1))
	}
	require.NotZero(t, inCut.Load(), "no callback was running when Redis went away")
	stopRun()
	require.NoError(t, <-ran)
	t.Logf("%d acknowledged before the outage (%d of them in their callbacks when it began), %d answered 503 during it and 200 after; all %d done",
		before, inCut.Load(), during, before+during)
}
