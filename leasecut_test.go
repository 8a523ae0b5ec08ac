package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/testwait"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// TestRunPastLease: a run whose lease ended the callback's context before
// it returned was cut short, whatever the callback then returns: nil may
// be a callback giving up on its context without an error, and a
// Permanent error may be about the deadline. The delivery is never done
// on such a run, nor dead for its Permanent error: it is retried under the
// policy (the run counts, so a callback slower than its lease does not
// run for ever), and runs again. It was done for nil, and dead for a
// Permanent error.
func TestRunPastLease(t *testing.T) {
	const lease = 100 * time.Millisecond // the callback's context ends 10 ms before
	tests := []struct {
		name string
		cut  func(ctx context.Context) error
		// lastErr is in the run's LastError.
		lastErr string
	}{
		{name: "returns nil once its context ended", lastErr: "lease had ended", cut: func(ctx context.Context) error {
			<-ctx.Done()
			return nil
		}},
		{name: "ignores its context, returns nil past the lease", lastErr: "lease had ended", cut: func(ctx context.Context) error {
			time.Sleep(lease + 20*time.Millisecond)
			return nil
		}},
		{name: "returns a permanent error once its context ended", lastErr: "saving: context deadline exceeded", cut: func(ctx context.Context) error {
			<-ctx.Done()
			return webhook.Permanent(fmt.Errorf("saving: %w", ctx.Err()))
		}},
		{name: "returns its context's error", lastErr: "saving: context deadline exceeded", cut: func(ctx context.Context) error {
			<-ctx.Done()
			return fmt.Errorf("saving: %w", ctx.Err())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newInboxRig(t, 0, webhook.WorkerConfig{MinBackoff: time.Hour, MaxAttempts: 2}, webhook.WithDedupeTimes(lease, time.Hour))
			var runs atomic.Int32
			r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				if runs.Add(1) > 1 {
					return nil
				}
				return tt.cut(ctx)
			})
			require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("slow"))).Code)
			r.run(t)
			e := r.waitState(t, "standard:slow", webhook.InboxPending)
			require.Equal(t, 1, e.Attempts)
			require.Contains(t, e.LastError, tt.lastErr)
			require.Equal(t, r.clock.Now().Add(time.Hour), e.NextAttempt, "backed off under the policy")
			r.clock.Advance(time.Hour)
			e = r.waitState(t, "standard:slow", webhook.InboxDone)
			require.EqualValues(t, 2, runs.Load())
			require.Equal(t, 2, e.Attempts)
		})
	}
}

// TestRunPastLeaseLost: a callback that returns nil after its lease ran
// out and another worker leased the delivery settles nothing, and its run
// is reported retried, not a success: the other worker's run decides.
func TestRunPastLeaseLost(t *testing.T) {
	const lease = 100 * time.Millisecond
	outcomes := make(chan webhook.Outcome, 4)
	obs := &webhook.Observer{Dispatch: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
		return ctx, func(r webhook.Dispatched) { outcomes <- r.Outcome }
	}}
	var hooked atomic.Value
	r := newInboxRig(t, 0, webhook.WorkerConfig{Workers: 1, MinBackoff: time.Hour}, webhook.WithDedupeTimes(lease, time.Hour), webhook.WithObserver(obs))
	r.h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) { hooked.Store(err.Err) })
	ended, release := make(chan struct{}), make(chan struct{})
	r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		<-ctx.Done()
		close(ended)
		<-release
		return nil
	})
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("lost"))).Code)
	r.run(t)
	testwait.Closed(t, ended, "the callback's context to end with its lease")
	r.clock.Advance(lease + time.Millisecond)
	ctx := context.Background()
	ls, err := r.ib.Lease(ctx, 1, time.Hour)
	require.NoError(t, err)
	require.Len(t, ls, 1, "the lease ran out: another worker takes it")
	close(release)
	require.Equal(t, webhook.OutcomeRetry, testwait.Recv(t, outcomes, "the cut run's outcome"))
	e := r.get(t, "standard:lost")
	require.Equal(t, webhook.InboxLeased, e.State, "the other worker holds it")
	require.Equal(t, 2, e.Attempts)
	require.True(t, errors.Is(hooked.Load().(error), context.DeadlineExceeded), "OnError hears of the cut run: %v", hooked.Load())
	require.NoError(t, r.ib.Complete(ctx, ls[0].Entry.Key, ls[0].Token), "the other worker's token still holds it")
}
