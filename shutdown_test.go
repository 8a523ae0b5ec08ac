package webhook_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/testwait"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// TestRunPastShutdownTimeout: once Run's shutdown timeout passes with a
// callback still running, Run returns, and the delivery goes back to the
// inbox due at once, whatever the callback then returns: neither done (a
// callback that returns nil once cancelled may have given up half way)
// nor dead (a Permanent error it returns once cancelled is about the
// cancellation, not the delivery), nor backed off. It was done for nil,
// and dead for a Permanent error.
func TestRunPastShutdownTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	tests := []struct {
		name string
		// cut is the first run's callback: it runs past the timeout
		// and returns what it returns once release is closed.
		cut func(ctx context.Context, release <-chan struct{}) error
		// held: the callback is still running when Run returns.
		held bool
		// maxAttempts is the policy's, 1 if zero.
		maxAttempts int
	}{
		{name: "returns its context's error", cut: func(ctx context.Context, _ <-chan struct{}) error {
			<-ctx.Done()
			return fmt.Errorf("saving: %w", ctx.Err())
		}},
		// The cut-short run is not held against a policy of unbounded
		// runs either: adding it to MaxAttempts wrapped to a negative,
		// and the next lease found the delivery past the policy, dead.
		{name: "returns its context's error, runs unbounded", maxAttempts: math.MaxInt, cut: func(ctx context.Context, _ <-chan struct{}) error {
			<-ctx.Done()
			return fmt.Errorf("saving: %w", ctx.Err())
		}},
		// Run waits a moment past the timeout for a callback that returns
		// once cancelled to record it: returning at once left the
		// delivery leased (due again only when its lease ran out) when
		// the inbox was closed after Run, as the README says to.
		{name: "returns its context's error a little later", cut: func(ctx context.Context, _ <-chan struct{}) error {
			<-ctx.Done()
			time.Sleep(100 * time.Millisecond)
			return fmt.Errorf("saving: %w", ctx.Err())
		}},
		{name: "returns nil once cancelled", cut: func(ctx context.Context, _ <-chan struct{}) error {
			<-ctx.Done()
			return nil
		}},
		{name: "returns a permanent error once cancelled", cut: func(ctx context.Context, _ <-chan struct{}) error {
			<-ctx.Done()
			return webhook.Permanent(fmt.Errorf("saving: %w", ctx.Err()))
		}},
		{name: "returns a status once cancelled", cut: func(ctx context.Context, _ <-chan struct{}) error {
			<-ctx.Done()
			return &webhook.StatusError{Code: http.StatusServiceUnavailable, RetryAfter: time.Hour}
		}},
		{name: "ignores its context, returns nil later", held: true, cut: func(ctx context.Context, release <-chan struct{}) error {
			<-release
			return nil
		}},
		{name: "ignores its context, fails later", held: true, cut: func(ctx context.Context, release <-chan struct{}) error {
			<-release
			return errors.New("downstream is down")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// MaxAge a minute and backoff an hour: a failure judged by
			// the policy would be dead.
			r := newInboxRig(t, 0, webhook.WorkerConfig{ShutdownTimeout: timeout, MinBackoff: time.Hour, MaxAge: time.Minute, MaxAttempts: cmp.Or(tt.maxAttempts, 1)})
			var runs atomic.Int32
			release := make(chan struct{})
			returned := make(chan struct{})
			r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				if runs.Add(1) > 1 {
					return nil
				}
				defer close(returned)
				return tt.cut(ctx, release)
			})
			require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("cut"))).Code)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.h.Run(ctx) }()
			require.Eventually(t, func() bool { return runs.Load() == 1 }, 5*time.Second, time.Millisecond)
			// Before the cancel: Run times its timeout from the moment it
			// sees ctx end, which may come before a stamp taken after.
			stopped := time.Now()
			cancel()
			select {
			case err := <-done:
				require.ErrorIs(t, err, context.DeadlineExceeded)
				require.GreaterOrEqual(t, time.Since(stopped), timeout)
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return past its shutdown timeout")
			}
			if tt.held {
				require.Equal(t, webhook.InboxLeased, r.get(t, "standard:cut").State, "settled before the callback returned")
				close(release)
			} else {
				e := r.get(t, "standard:cut")
				require.Equal(t, webhook.InboxPending, e.State, "Run returned before the cut-short run was recorded")
				require.Equal(t, 1, e.Attempts)
			}
			testwait.Closed(t, returned, "the cut-short callback to return once released")
			e := r.waitState(t, "standard:cut", webhook.InboxPending)
			require.Equal(t, 1, e.Attempts)
			require.False(t, e.NextAttempt.After(r.clock.Now()), "due at once, not backed off: %v", e.NextAttempt)
			require.True(t, strings.HasPrefix(e.LastError, "webhook: run cut short by the shutdown (1): "), e.LastError)
			// The next Run runs it, though the policy allows one run.
			r.run(t)
			e = r.waitState(t, "standard:cut", webhook.InboxDone)
			require.EqualValues(t, 2, runs.Load())
			require.Equal(t, 2, e.Attempts)
		})
	}
}

// TestRunFinishedBeforeTimeoutIsDone: a callback that returns before the
// shutdown timeout is settled as it says, though Run is stopping: done for
// nil, and judged by the policy for an error.
func TestRunFinishedBeforeTimeoutIsDone(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprint("fails: ", fail), func(t *testing.T) {
			r := newInboxRig(t, 0, webhook.WorkerConfig{ShutdownTimeout: 10 * time.Second, MinBackoff: time.Hour, MaxAttempts: 1})
			started, release := make(chan struct{}), make(chan struct{})
			r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				close(started)
				<-release
				if fail {
					return errors.New("downstream is down")
				}
				return nil
			})
			require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("late"))).Code)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.h.Run(ctx) }()
			testwait.Closed(t, started, "the callback to start")
			cancel()
			close(release)
			require.NoError(t, testwait.Recv(t, done, "Run's return"))
			want := webhook.InboxDone
			if fail {
				want = webhook.InboxDead
			}
			require.Equal(t, want, r.get(t, "standard:late").State)
		})
	}
}

// heldLease is an inbox whose Lease calls after the first return only
// once hold is closed, their context or not, as one over a network may
// not return while Run stops.
type heldLease struct {
	*webhook.MemoryInbox
	calls   atomic.Int32
	leasing chan struct{} // told of each held call
	hold    chan struct{}
}

func (ib *heldLease) Lease(ctx context.Context, n int, lease time.Duration) ([]webhook.InboxLease, error) {
	if ib.calls.Add(1) == 1 {
		return ib.MemoryInbox.Lease(ctx, n, lease)
	}
	select {
	case ib.leasing <- struct{}{}:
	default:
	}
	<-ib.hold
	return nil, nil
}

// TestRunShutdownTimeoutFromTheEnd: the shutdown timeout runs from the end
// of Run's context, not from the end of the Lease call in progress then:
// Run returns once the later of the two is over, not their sum later. The
// Lease is held past the timeout, and the callback returns once cut, so
// Run has nothing left to wait for once the Lease returns; timed from
// there, the timeout would keep it a whole timeout more. Measured from the
// Lease's end against the timeout itself: a loaded machine can only make
// Run late by a stall as long as the timeout.
func TestRunShutdownTimeoutFromTheEnd(t *testing.T) {
	const timeout = 2 * time.Second
	ib := &heldLease{MemoryInbox: webhook.NewMemoryInbox(0, nil), leasing: make(chan struct{}, 1), hold: make(chan struct{})}
	r := newRig(t, webhook.WithInbox(ib), webhook.WithWorkers(webhook.WorkerConfig{ShutdownTimeout: timeout, Poll: time.Millisecond}))
	started := make(chan struct{})
	r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		close(started)
		<-ctx.Done() // cut once the timeout is past
		return nil
	})
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("held"))).Code)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.h.Run(ctx) }()
	testwait.Closed(t, started, "the callback to start")
	testwait.Closed(t, ib.leasing, "the second Lease call")
	cancel()
	time.Sleep(timeout) // the Lease in progress outlasts the timeout
	released := time.Now()
	close(ib.hold)
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Less(t, time.Since(released), timeout, "the timeout ran from the end of the Lease in progress")
	case <-time.After(2*timeout + webhook.CutGrace + 10*time.Second):
		t.Fatal("Run did not return")
	}
}
