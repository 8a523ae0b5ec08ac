package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/testwait"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// A drainStep advances the clock, then drains, and says what Drain and
// the inbox should show.
type drainStep struct {
	advance  time.Duration
	runs     int
	outcome  webhook.Outcome // of the step's run, when it has one
	state    webhook.InboxState
	attempts int
	lastErr  string // contained in the entry's LastError
}

// TestDrain: Drain runs what is due, as Run's workers do, and has every
// outcome recorded when it returns: a test needs no goroutine, channel or
// wait.
func TestDrain(t *testing.T) {
	minute := webhook.WorkerConfig{MinBackoff: time.Minute, MaxBackoff: time.Minute}
	for _, tc := range []struct {
		name     string
		wc       webhook.WorkerConfig
		callback func(attempt int) error
		steps    []drainStep
	}{{
		name:     "done",
		callback: func(int) error { return nil },
		steps: []drainStep{
			{runs: 1, outcome: webhook.OutcomeSuccess, state: webhook.InboxDone, attempts: 1},
			{runs: 0, state: webhook.InboxDone, attempts: 1},
		},
	}, {
		name: "retry then done",
		wc:   minute,
		callback: func(attempt int) error {
			if attempt == 1 {
				return errors.New("CRM timed out")
			}
			return nil
		},
		steps: []drainStep{
			{runs: 1, outcome: webhook.OutcomeRetry, state: webhook.InboxPending, attempts: 1, lastErr: "CRM timed out"},
			{advance: time.Minute - time.Second, runs: 0, state: webhook.InboxPending, attempts: 1, lastErr: "CRM timed out"},
			{advance: time.Second, runs: 1, outcome: webhook.OutcomeSuccess, state: webhook.InboxDone, attempts: 2},
		},
	}, {
		name:     "dead after the policy",
		wc:       webhook.WorkerConfig{MaxAttempts: 2, MinBackoff: time.Minute, MaxBackoff: time.Minute},
		callback: func(int) error { return errors.New("down") },
		steps: []drainStep{
			{runs: 1, outcome: webhook.OutcomeRetry, state: webhook.InboxPending, attempts: 1, lastErr: "down"},
			{advance: time.Minute, runs: 1, outcome: webhook.OutcomeDead, state: webhook.InboxDead, attempts: 2, lastErr: "down"},
			{advance: time.Hour, runs: 0, state: webhook.InboxDead, attempts: 2, lastErr: "down"},
		},
	}, {
		name:     "permanent",
		callback: func(int) error { return webhook.Permanent(errors.New("no such account")) },
		steps: []drainStep{
			{runs: 1, outcome: webhook.OutcomeDead, state: webhook.InboxDead, attempts: 1, lastErr: "no such account"},
		},
	}, {
		name: "panic",
		wc:   minute,
		callback: func(attempt int) error {
			if attempt == 1 {
				panic("boom")
			}
			return nil
		},
		steps: []drainStep{
			{runs: 1, outcome: webhook.OutcomeRetry, state: webhook.InboxPending, attempts: 1, lastErr: "panicked: boom"},
			{advance: time.Minute, runs: 1, outcome: webhook.OutcomeSuccess, state: webhook.InboxDone, attempts: 2},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu   sync.Mutex
				runs []webhook.Dispatched
			)
			obs := &webhook.Observer{Dispatch: func(ctx context.Context, d *webhook.Delivery, _ map[string]string) (context.Context, func(webhook.Dispatched)) {
				return ctx, func(r webhook.Dispatched) { mu.Lock(); runs = append(runs, r); mu.Unlock() }
			}}
			r := newInboxRig(t, 0, tc.wc, webhook.WithObserver(obs))
			var attempts []int
			r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				require.Equal(t, "team_8Hq2", e.TeamID)
				require.Equal(t, "standard:msg_drain", d.Key)
				attempts = append(attempts, d.InboxAttempt) // Drain waits for the run: no race
				return tc.callback(d.InboxAttempt)
			})
			require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("msg_drain"))).Code)
			require.Equal(t, webhook.InboxPending, r.get(t, "standard:msg_drain").State, "stored, not run")
			total := 0
			for i, s := range tc.steps {
				r.clock.Advance(s.advance)
				n, err := r.h.Drain(context.Background())
				require.NoError(t, err, "step %d", i)
				require.Equal(t, s.runs, n, "step %d: runs", i)
				total += n
				// Recorded in the inbox, and reported to the observer,
				// by the time Drain returns.
				e := r.get(t, "standard:msg_drain")
				require.Equal(t, s.state, e.State, "step %d", i)
				require.Equal(t, s.attempts, e.Attempts, "step %d", i)
				require.Contains(t, e.LastError, s.lastErr, "step %d", i)
				mu.Lock()
				require.Len(t, runs, total, "step %d: observer's done calls", i)
				if s.runs > 0 {
					require.Equal(t, s.outcome, runs[len(runs)-1].Outcome, "step %d", i)
					require.Equal(t, e.Attempts, runs[len(runs)-1].Attempt, "step %d", i)
				}
				mu.Unlock()
			}
			require.Len(t, attempts, total)
			for i, a := range attempts {
				require.Equal(t, i+1, a, "InboxAttempt of run %d", i+1)
			}
		})
	}
}

// dueAtOnce is an inbox whose retries are due at once, whatever the wait
// the handler asks for: as with a clock the inbox does not share, or a
// backoff shorter than a Drain.
type dueAtOnce struct{ *webhook.MemoryInbox }

func (ib dueAtOnce) Retry(ctx context.Context, key, token string, _ time.Time, lastErr string) error {
	return ib.MemoryInbox.Retry(ctx, key, token, time.Time{}, lastErr)
}

// TestDrainEnds: a delivery due again as soon as it has run, or
// deliveries stored faster than they run, do not keep Drain going: it
// leases until a Lease brings nothing it has not run already that was
// received before it started. Run would run the first until the policy's
// MaxAttempts (25) made it dead.
func TestDrainEnds(t *testing.T) {
	t.Run("due again at once", func(t *testing.T) {
		for _, workers := range []int{1, 8} {
			t.Run(fmt.Sprint(workers, " workers"), func(t *testing.T) {
				var clock *webhooktest.Clock
				mem := webhook.NewMemoryInbox(0, func() time.Time { return clock.Now() })
				r := newRig(t, webhook.WithInbox(dueAtOnce{mem}), webhook.WithWorkers(webhook.WorkerConfig{Workers: workers}))
				clock = r.clock
				var calls atomic.Int32
				r.h.OnJamCreated(func(context.Context, *webhook.Delivery, *event.JamCreated) error {
					calls.Add(1)
					return errors.New("down")
				})
				require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("again"))).Code)
				n, err := r.h.Drain(context.Background())
				require.NoError(t, err)
				// One worker leases again only once the run is recorded,
				// and finds it due; eight may lease again while it runs.
				if workers == 1 {
					require.Equal(t, 2, n)
				} else {
					require.Contains(t, []int{1, 2}, n)
				}
				require.EqualValues(t, n, calls.Load())
				e, err := mem.Get(context.Background(), "standard:again")
				require.NoError(t, err)
				require.Equal(t, webhook.InboxPending, e.State)
				require.Equal(t, n, e.Attempts, "every lease was a run")
				require.True(t, e.NextAttempt.IsZero(), "due at once, for the next Drain")
			})
		}
	})
	t.Run("a delivery stored by each run", func(t *testing.T) {
		r := newInboxRig(t, 0, webhook.WorkerConfig{Workers: 1})
		var calls atomic.Int32
		r.h.OnJamCreated(func(context.Context, *webhook.Delivery, *event.JamCreated) error {
			c := calls.Add(1)
			r.clock.Advance(time.Second) // received after Drain started
			w := r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID(fmt.Sprint("next-", c))))
			require.Equal(t, http.StatusOK, w.Code)
			return nil
		})
		require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("first"))).Code)
		n, err := r.h.Drain(context.Background())
		require.NoError(t, err)
		// The first Lease brought "first"; the second, next-1 only, which
		// it ran, and no more.
		require.Equal(t, 2, n)
		require.Equal(t, webhook.InboxDone, r.get(t, "standard:next-1").State)
		require.Equal(t, webhook.InboxPending, r.get(t, "standard:next-2").State)
	})
	t.Run("a run cut short is run once", func(t *testing.T) {
		// A shutdown cut its last run short: it is due at once.
		r := newInboxRig(t, 0, webhook.WorkerConfig{ShutdownTimeout: time.Millisecond})
		started := make(chan struct{}, 1)
		var cut atomic.Bool
		cut.Store(true)
		r.h.OnJamCreated(func(ctx context.Context, _ *webhook.Delivery, _ *event.JamCreated) error {
			if cut.Load() {
				started <- struct{}{}
				<-ctx.Done()
			}
			return nil
		})
		require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("cut"))).Code)
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan error, 1)
		go func() { ran <- r.h.Run(ctx) }()
		testwait.Closed(t, started, "the callback to start")
		cancel()
		require.ErrorIs(t, testwait.Recv(t, ran, "Run's return"), context.DeadlineExceeded)
		e := r.get(t, "standard:cut")
		require.Equal(t, webhook.InboxPending, e.State)
		require.Contains(t, e.LastError, "cut short by the shutdown")
		cut.Store(false)
		n, err := r.h.Drain(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, n)
		e = r.get(t, "standard:cut")
		require.Equal(t, webhook.InboxDone, e.State)
		require.Equal(t, 2, e.Attempts)
	})
}

// TestDrainContext: once its context is done Drain leases nothing more
// and ends as Run does: the callbacks in flight finish within the
// shutdown timeout, or are cut short past it (due again at once); it
// returns the context's error.
func TestDrainContext(t *testing.T) {
	t.Run("done before", func(t *testing.T) {
		r := newInboxRig(t, 0, webhook.WorkerConfig{})
		require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("never"))).Code)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		n, err := r.h.Drain(ctx)
		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, n)
		require.Zero(t, r.calls.Load())
		e := r.get(t, "standard:never")
		require.Equal(t, webhook.InboxPending, e.State)
		require.Zero(t, e.Attempts, "not leased")
	})
	t.Run("during a run", func(t *testing.T) {
		r := newInboxRig(t, 0, webhook.WorkerConfig{Workers: 1})
		started, release := make(chan struct{}), make(chan struct{})
		var ctxLive atomic.Bool
		r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, _ *event.JamCreated) error {
			if d.Key == "standard:a" {
				close(started)
				<-release
				ctxLive.Store(ctx.Err() == nil)
			}
			return nil
		})
		for _, id := range []string{"a", "b"} {
			require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID(id))).Code)
			r.clock.Advance(time.Millisecond) // leased in this order
		}
		ctx, cancel := context.WithCancel(context.Background())
		type result struct {
			n   int
			err error
		}
		done := make(chan result, 1)
		go func() { n, err := r.h.Drain(ctx); done <- result{n, err} }()
		testwait.Closed(t, started, "the callback to start")
		cancel()
		select {
		case res := <-done:
			t.Fatalf("Drain returned %v with a callback in flight", res)
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		res := testwait.Recv(t, done, "Drain's return once the callback was released")
		require.ErrorIs(t, res.err, context.Canceled)
		require.NotErrorIs(t, res.err, context.DeadlineExceeded)
		require.Equal(t, 1, res.n)
		require.True(t, ctxLive.Load(), "the callback keeps its context until the shutdown timeout")
		require.Equal(t, webhook.InboxDone, r.get(t, "standard:a").State)
		e := r.get(t, "standard:b")
		require.Equal(t, webhook.InboxPending, e.State)
		require.Zero(t, e.Attempts, "not leased once the context was done")
	})
	t.Run("past the shutdown timeout", func(t *testing.T) {
		r := newInboxRig(t, 0, webhook.WorkerConfig{ShutdownTimeout: 20 * time.Millisecond})
		started := make(chan struct{})
		var stuck atomic.Bool
		stuck.Store(true)
		r.h.OnJamCreated(func(ctx context.Context, _ *webhook.Delivery, _ *event.JamCreated) error {
			if stuck.Load() {
				close(started)
				<-ctx.Done()
				return webhook.Permanent(ctx.Err()) // about the cancellation: not held against it
			}
			return nil
		})
		require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("stuck"))).Code)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-started; cancel() }()
		n, err := r.h.Drain(ctx)
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Contains(t, err.Error(), "callbacks still running after the shutdown timeout")
		require.Equal(t, 1, n)
		// Recorded by the time Drain returned: cut short, due at once.
		e := r.get(t, "standard:stuck")
		require.Equal(t, webhook.InboxPending, e.State)
		require.Contains(t, e.LastError, "cut short by the shutdown")
		require.True(t, e.NextAttempt.Equal(r.clock.Now()))
		stuck.Store(false)
		n, err = r.h.Drain(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, webhook.InboxDone, r.get(t, "standard:stuck").State)
	})
}

// failingLease is an inbox whose Lease fails.
type failingLease struct{ *webhook.MemoryInbox }

var errLeaseDown = errors.New("inbox unreachable")

func (failingLease) Lease(context.Context, int, time.Duration) ([]webhook.InboxLease, error) {
	return nil, errLeaseDown
}

// TestDrainErrors: without an inbox Drain is an error at once, as Run is;
// an inbox that fails to lease is Drain's error, where Run logs it and
// tries again.
func TestDrainErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []webhook.Option
		want string
		is   error
	}{
		{name: "no inbox", want: "webhook: Drain needs a handler built WithInbox"},
		{name: "lease fails", opts: []webhook.Option{webhook.WithInbox(failingLease{webhook.NewMemoryInbox(0, nil)})}, want: "inbox unreachable", is: errLeaseDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.opts...)
			n, err := r.h.Drain(context.Background())
			require.Zero(t, n)
			require.ErrorContains(t, err, tc.want)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
		})
	}
}

// TestDrainBesideRun: Drain calls and Run share one inbox, leases keeping
// them apart: each delivery runs once, by one of them.
func TestDrainBesideRun(t *testing.T) {
	const deliveries = 60
	r := newInboxRig(t, 0, webhook.WorkerConfig{Workers: 3})
	var (
		mu   sync.Mutex
		runs = map[string]int{}
	)
	r.h.OnJamCreated(func(_ context.Context, d *webhook.Delivery, _ *event.JamCreated) error {
		mu.Lock()
		runs[d.Key]++
		mu.Unlock()
		time.Sleep(time.Millisecond) // so that the three overlap
		return nil
	})
	for i := range deliveries {
		require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID(fmt.Sprint("m", i)))).Code)
	}
	var drained [2]int
	var wg sync.WaitGroup
	for i := range drained {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := r.h.Drain(context.Background())
			require.NoError(t, err)
			drained[i] = n
		}()
	}
	r.run(t)
	testwait.For(t, "both Drains to return", wg.Wait)
	require.Eventually(t, func() bool {
		st, err := r.ib.Stats(context.Background())
		return err == nil && st.Done == deliveries
	}, 10*time.Second, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, runs, deliveries)
	for key, n := range runs {
		require.Equal(t, 1, n, key)
	}
	require.LessOrEqual(t, drained[0]+drained[1], deliveries)
	t.Logf("Drain ran %d and %d, Run %d", drained[0], drained[1], deliveries-drained[0]-drained[1])
}

// TestDrainPurgesDone: like Run, Drain purges the done deliveries past the
// retention, so a process that only ever drains keeps the inbox bounded.
func TestDrainPurgesDone(t *testing.T) {
	r := newInboxRig(t, 0, webhook.WorkerConfig{}, webhook.WithDedupeTimes(time.Minute, time.Hour))
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("p"))).Code)
	n, err := r.h.Drain(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	r.clock.Advance(30 * time.Minute)
	n, err = r.h.Drain(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, webhook.InboxDone, r.get(t, "standard:p").State, "kept within the retention")
	r.clock.Advance(31 * time.Minute)
	n, err = r.h.Drain(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	_, err = r.ib.Get(context.Background(), "standard:p")
	require.ErrorIs(t, err, webhook.ErrNotFound, "done past the retention is purged")
}

// TestDrainWarnsInboxClock: a MemoryInbox on a clock of its own, the
// mistake that makes retries due at once or never, is logged, as by Run.
func TestDrainWarnsInboxClock(t *testing.T) {
	var logs strings.Builder
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(webhooktest.Time),
		webhook.WithInbox(webhook.NewMemoryInbox(0, nil)),
		webhook.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
	)
	require.NoError(t, err)
	n, err := h.Drain(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	require.Contains(t, logs.String(), `level=WARN msg="webhook MemoryInbox runs on another clock than the handler's; give NewMemoryInbox the clock given to WithClock"`)
}
