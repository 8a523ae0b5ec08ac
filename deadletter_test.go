package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// TestInboxDeadLetter: the Dead hook hears of every delivery a worker
// marks dead with what an observer needs to report it, the callbacks run
// or not: the stored meta (where the request's trace context is), the
// key, the runs and the error the inbox keeps. A delivery dead without a
// run (its runs crashed, or its body no longer decodes) reached the hook
// without its meta, and an observer had no run's span to report it on.
func TestInboxDeadLetter(t *testing.T) {
	tests := []struct {
		name string
		// store puts the delivery "standard:dying" in the inbox, through
		// the handler or by hand, and may lease it as crashed workers do.
		store    func(t *testing.T, r *inboxRig)
		meta     map[string]string // the stored meta, as the hook must see it
		attempts int
		ran      bool
		sentinel error // the error wraps it
		decodes  bool
	}{
		{
			name: "callback failed for good", ran: true, attempts: 1, decodes: true,
			meta:  map[string]string{"trace": "request of dying"},
			store: func(t *testing.T, r *inboxRig) { r.serveDying(t) },
		},
		{
			name: "runs crashed past MaxAttempts", attempts: 3, decodes: true, sentinel: webhook.ErrUnfinishedRuns,
			meta: map[string]string{"trace": "request of dying"},
			store: func(t *testing.T, r *inboxRig) {
				r.serveDying(t)
				for range 2 { // two runs, each crashed holding its lease
					ls, err := r.ib.Lease(context.Background(), 1, webhook.DefaultLease)
					require.NoError(t, err)
					require.Len(t, ls, 1)
					r.clock.Advance(webhook.DefaultLease + time.Millisecond)
				}
			},
		},
		{
			name: "stored body no longer decodes", attempts: 1, sentinel: webhook.ErrUndecodable,
			meta: map[string]string{"trace": "stored by hand"},
			store: func(t *testing.T, r *inboxRig) {
				ok, err := r.ib.Store(context.Background(), &webhook.InboxEntry{Key: "standard:dying", Source: event.SourceStandard, ID: "dying",
					Body: []byte(`{"jamId":`), Header: http.Header{"Content-Type": {"application/json"}}, Meta: map[string]string{"trace": "stored by hand"}})
				require.NoError(t, err)
				require.True(t, ok)
			},
		},
		{
			name: "stored without meta, does not decode", attempts: 1, sentinel: webhook.ErrUndecodable, meta: map[string]string{},
			store: func(t *testing.T, r *inboxRig) {
				ok, err := r.ib.Store(context.Background(), &webhook.InboxEntry{Key: "standard:dying", Source: "pigeon", Body: jamBody})
				require.NoError(t, err)
				require.True(t, ok)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string // the hooks called, in order
			var dead []webhook.DeadLetter
			obs := &webhook.Observer{
				Storing: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) {
					meta["trace"] = "request of " + d.ID
				},
				Dispatch: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
					return ctx, func(r webhook.Dispatched) {
						mu.Lock()
						defer mu.Unlock()
						seen = append(seen, "done "+string(r.Outcome))
					}
				},
				Dead: func(ctx context.Context, dl webhook.DeadLetter) {
					mu.Lock()
					defer mu.Unlock()
					seen = append(seen, "dead")
					dead = append(dead, dl)
				},
			}
			r := newInboxRig(t, 0, webhook.WorkerConfig{MaxAttempts: 2}, webhook.WithObserver(obs))
			r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				return webhook.Permanent(errors.New("no such account"))
			})
			tt.store(t, r)
			r.run(t)
			e := r.waitState(t, "standard:dying", webhook.InboxDead)
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(dead) == 1 && (!tt.ran || len(seen) == 2)
			}, 5*time.Second, time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			dl := dead[0]
			require.Equal(t, "standard:dying", dl.Delivery.Key)
			require.Equal(t, tt.attempts, dl.Delivery.InboxAttempt)
			require.Equal(t, e.Attempts, dl.Delivery.InboxAttempt)
			require.NotNil(t, dl.Meta)
			require.Equal(t, tt.meta, dl.Meta)
			require.Equal(t, tt.ran, dl.Ran)
			require.Error(t, dl.Err)
			require.Equal(t, e.LastError, dl.Err.Error(), "the error is not the one the inbox keeps")
			if tt.sentinel != nil {
				require.ErrorIs(t, dl.Err, tt.sentinel)
			}
			require.Equal(t, tt.decodes, dl.Delivery.Event != nil)
			if tt.ran {
				require.Equal(t, []string{"dead", "done dead"}, seen, "the run's done hears of its death after the Dead hook")
			} else {
				require.Equal(t, []string{"dead"}, seen, "a Dispatch without a run")
				require.Zero(t, r.calls.Load())
			}
		})
	}
}

// serveDying delivers the jam.created "dying" through the handler.
func (r *inboxRig) serveDying(t *testing.T) {
	t.Helper()
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("dying"))).Code)
}
