package inboxtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/testwait"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// The subtests below run the inbox under a Handler in inbox mode and its
// workers (Handler.Run), as a receiver does.

// workerRig is a handler in inbox mode on the suite's inbox and clock,
// whose jam.created callback is fn.
type workerRig struct {
	s  *suite
	h  *webhook.Handler
	mu sync.Mutex
	// runs counts the callback runs per message id.
	runs map[string]int
}

func newWorkerRig(t *testing.T, s *suite, wc webhook.WorkerConfig, fn func(d *webhook.Delivery) error) *workerRig {
	t.Helper()
	if wc.Poll == 0 {
		wc.Poll = time.Millisecond
	}
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(s.clock.Now),
		webhook.WithInbox(s.ib),
		webhook.WithWorkers(wc),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	require.NoError(t, err)
	r := &workerRig{s: s, h: h, runs: map[string]int{}}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		r.mu.Lock()
		r.runs[d.ID]++
		r.mu.Unlock()
		return fn(d)
	})
	return r
}

// send delivers a signed jam.created with message id id, at the clock's
// time, and returns the status.
func (r *workerRig) send(t *testing.T, id string) int {
	t.Helper()
	body := fmt.Appendf(nil, `{"jamId":"jam-%s","teamId":"team_1","type":"video","title":"conformance"}`, id)
	req := webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithID(id), webhooktest.WithTime(r.s.now()))
	w := httptest.NewRecorder()
	r.h.ServeHTTP(w, req)
	return w.Code
}

// run runs the workers until stop is called, which returns Run's error.
func (r *workerRig) run() (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.h.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

// waitSettled waits until nothing is pending or in flight, moving the
// clock on by step whenever nothing is in flight, so retries come due.
func (r *workerRig) waitSettled(t *testing.T, step time.Duration) webhook.InboxStats {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := r.s.stats(t)
		if st.Pending+st.Retrying+st.InFlight == 0 {
			return st
		}
		require.True(t, time.Now().Before(deadline), "the workers did not settle the inbox: %+v", st)
		if st.InFlight == 0 {
			r.s.clock.Advance(step)
		}
		time.Sleep(time.Millisecond)
	}
}

func testHandlerWorkers(t *testing.T, s *suite) {
	// Concurrent senders, each message sent twice; a third of the
	// callbacks fail on their first run, a tenth fail permanently.
	const n = 60
	r := newWorkerRig(t, s, webhook.WorkerConfig{Workers: 4, MinBackoff: time.Second, MaxBackoff: 2 * time.Second, MaxAttempts: 5},
		func(d *webhook.Delivery) error {
			var i int
			fmt.Sscanf(d.ID, "msg_%d", &i)
			switch {
			case i%10 == 0:
				return webhook.Permanent(errors.New("permanent"))
			case i%3 == 0 && d.InboxAttempt == 1:
				return errors.New("transient")
			}
			return nil
		})
	stop := r.run()
	var wg sync.WaitGroup
	codes := make([]int, 2*n)
	for i := range 2 * n {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i] = r.send(t, fmt.Sprintf("msg_%03d", i%n)) }()
	}
	testwait.For(t, "the deliveries to be answered", wg.Wait)
	for i, c := range codes {
		require.Equal(t, http.StatusOK, c, "send %d", i)
	}
	st := r.waitSettled(t, time.Second)
	require.NoError(t, testwait.Call(t, "Run's return once stopped", stop))

	var want webhook.InboxStats
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range n {
		id := fmt.Sprintf("msg_%03d", i)
		e := s.get(t, "standard:"+id)
		require.Equal(t, []byte(fmt.Sprintf(`{"jamId":"jam-%s","teamId":"team_1","type":"video","title":"conformance"}`, id)), e.Body, id)
		require.Equal(t, id, e.Header.Get("Webhook-Id"), id)
		switch {
		case i%10 == 0:
			want.Dead++
			require.Equal(t, webhook.InboxDead, e.State, id)
			require.Equal(t, 1, e.Attempts, id)
			require.Equal(t, "permanent", e.LastError, id)
		case i%3 == 0:
			want.Done++
			require.Equal(t, webhook.InboxDone, e.State, id)
			require.Equal(t, 2, e.Attempts, id)
		default:
			want.Done++
			require.Equal(t, webhook.InboxDone, e.State, id)
			require.Equal(t, 1, e.Attempts, id)
		}
		require.Equal(t, e.Attempts, r.runs[id], "%s: callback runs, though sent twice", id)
	}
	require.Equal(t, want, st)
}

func testWorkerCrash(t *testing.T, s *suite) {
	// A worker that leases deliveries and dies holding them: once their
	// leases run out, Run's workers run them.
	r := newWorkerRig(t, s, webhook.WorkerConfig{Workers: 2}, func(*webhook.Delivery) error { return nil })
	for i := range 5 {
		require.Equal(t, http.StatusOK, r.send(t, fmt.Sprintf("msg_%d", i)))
	}
	crashed := s.lease(t, 3, time.Minute)
	require.Len(t, crashed, 3)
	stop := r.run()
	// The two not held run at once; the three held wait for their leases.
	require.Eventually(t, func() bool { return s.stats(t).Done == 2 }, 10*time.Second, time.Millisecond)
	require.Equal(t, 3, s.stats(t).InFlight)
	s.clock.Advance(time.Minute + time.Millisecond)
	require.Eventually(t, func() bool { return s.stats(t).Done == 5 }, 10*time.Second, time.Millisecond)
	require.NoError(t, testwait.Call(t, "Run's return once stopped", stop))
	for _, l := range crashed {
		e := s.get(t, l.Entry.Key)
		require.Equal(t, 2, e.Attempts, "%s: the crashed lease counts", l.Entry.Key)
		require.ErrorIs(t, s.ib.Complete(s.ctx, l.Entry.Key, l.Token), webhook.ErrLeaseLost, "the crashed worker's token")
	}
}

func testWorkerCrashLoop(t *testing.T, s *suite) {
	// A delivery whose every run crashes its worker (the process dies
	// holding the lease) is dead once leased past MaxAttempts runs, and
	// does not run again: the inbox counts the expired leases' runs.
	r := newWorkerRig(t, s, webhook.WorkerConfig{MaxAttempts: 2}, func(*webhook.Delivery) error { return nil })
	require.Equal(t, http.StatusOK, r.send(t, "msg_poison"))
	for range 2 {
		s.leaseOne(t, "standard:msg_poison", time.Minute)
		s.clock.Advance(time.Minute + time.Millisecond)
	}
	stop := r.run()
	require.Eventually(t, func() bool { return s.stats(t).Dead == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, testwait.Call(t, "Run's return once stopped", stop))
	e := s.get(t, "standard:msg_poison")
	require.Equal(t, webhook.InboxDead, e.State)
	require.Equal(t, 3, e.Attempts)
	require.NotEmpty(t, e.LastError)
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Zero(t, r.runs["msg_poison"], "run past MaxAttempts")
}

func testWorkerShutdown(t *testing.T, s *suite) {
	// Run returns once the callbacks in flight finish, and the deliveries
	// they finished are done; those never started stay pending.
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	r := newWorkerRig(t, s, webhook.WorkerConfig{Workers: 2}, func(*webhook.Delivery) error {
		started <- struct{}{}
		<-release
		return nil
	})
	for i := range 4 {
		require.Equal(t, http.StatusOK, r.send(t, fmt.Sprintf("msg_%d", i)))
	}
	stop := r.run()
	testwait.Closed(t, started, "the first callback to start")
	testwait.Closed(t, started, "the second callback to start")
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) with callbacks in flight", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	require.NoError(t, testwait.Recv(t, stopped, "Run's return once the callbacks were released"))
	st := s.stats(t)
	require.Equal(t, 2, st.Done, "%+v", st)
	require.Equal(t, 2, st.Pending, "%+v", st)
	require.Zero(t, st.InFlight, "%+v", st)
}
