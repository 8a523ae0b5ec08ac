package webhook_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// claimLedger is a Deduper around a MemoryStore that keeps the claims it
// handed out and not yet committed or released, and notes a Commit or a
// Release given a context already done, which a store on the network
// would refuse.
type claimLedger struct {
	*webhook.MemoryStore
	mu      sync.Mutex
	open    map[string]string // token → key
	settled []string          // "commit" or "release", in order
	deadCtx int               // settles given a done context
}

func newClaimLedger() *claimLedger {
	return &claimLedger{MemoryStore: webhook.NewMemoryStore(0, nil), open: map[string]string{}}
}

func (l *claimLedger) Claim(ctx context.Context, key string, lease time.Duration) (string, webhook.ClaimStatus, error) {
	token, status, err := l.MemoryStore.Claim(ctx, key, lease)
	if status == webhook.ClaimAcquired {
		l.mu.Lock()
		l.open[token] = key
		l.mu.Unlock()
	}
	return token, status, err
}

func (l *claimLedger) Commit(ctx context.Context, key, token string, retention time.Duration) error {
	l.note(ctx, token, "commit")
	return l.MemoryStore.Commit(ctx, key, token, retention)
}

func (l *claimLedger) Release(ctx context.Context, key, token string) error {
	l.note(ctx, token, "release")
	return l.MemoryStore.Release(ctx, key, token)
}

func (l *claimLedger) note(ctx context.Context, token, op string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ctx.Err() != nil {
		l.deadCtx++
	}
	delete(l.open, token)
	l.settled = append(l.settled, op)
}

func (l *claimLedger) state() (open int, settled []string, deadCtx int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open), append([]string(nil), l.settled...), l.deadCtx
}

// TestHandlerClaimSettledOnEveryPath: outside inbox mode a delivery's
// claim on its message id ends with the request on every path the
// callbacks can take: committed when they succeed (the sender's retry is
// then a duplicate, 200 without running them), released when they fail
// by an error, a panic, panic(nil), runtime.Goexit, a StatusError, or
// the lease's margin running out, the sender having hung up or not, and
// when the
// observer's Dispatch hook panics before them (the retry runs them). The
// store is given a live context even when the request's is done. A claim
// left behind would answer the sender's retries 409 until the lease ran
// out, and a sender that stops retrying before then would lose the
// delivery.
func TestHandlerClaimSettledOnEveryPath(t *testing.T) {
	const lease = 500 * time.Millisecond
	for _, tt := range []struct {
		name string
		// callback is the first attempt's; cancel is the sender
		// hanging up, called once the callback has begun.
		callback func(ctx context.Context, cancel func()) error
		observer *webhook.Observer
		first    int    // the first attempt's status; 0: net/http's recovery of a panic
		settled  string // what the store was told
		rerun    bool   // the retry runs the callbacks again
	}{
		{name: "success", callback: func(context.Context, func()) error { return nil },
			first: http.StatusOK, settled: "commit"},
		{name: "error", callback: func(context.Context, func()) error { return errors.New("db down") },
			first: http.StatusInternalServerError, settled: "release", rerun: true},
		{name: "status error", callback: func(context.Context, func()) error {
			return &webhook.StatusError{Code: http.StatusServiceUnavailable, RetryAfter: time.Second}
		}, first: http.StatusServiceUnavailable, settled: "release", rerun: true},
		{name: "panic", callback: func(context.Context, func()) error { panic("boom") },
			first: http.StatusInternalServerError, settled: "release", rerun: true},
		{name: "panic(nil)", callback: func(context.Context, func()) error { panic(nil) },
			first: http.StatusInternalServerError, settled: "release", rerun: true},
		{name: "Goexit", callback: func(context.Context, func()) error { runtime.Goexit(); return nil },
			first: 0, settled: "release", rerun: true},
		{name: "sender hung up, callback failed", callback: func(ctx context.Context, cancel func()) error {
			cancel()
			return errors.New("db down")
		}, first: http.StatusInternalServerError, settled: "release", rerun: true},
		{name: "sender hung up, callback succeeded", callback: func(ctx context.Context, cancel func()) error {
			cancel()
			return nil
		}, first: http.StatusOK, settled: "commit"},
		{name: "lease margin ran out", callback: func(ctx context.Context, _ func()) error {
			<-ctx.Done()
			return ctx.Err()
		}, first: http.StatusInternalServerError, settled: "release", rerun: true},
		{name: "observer's Dispatch panicked", callback: func(context.Context, func()) error { return nil },
			observer: panicOnce(), first: 0, settled: "release", rerun: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := newClaimLedger()
			opts := []webhook.Option{webhook.WithSecrets(webhooktest.Secret), webhook.WithDeduper(store),
				webhook.WithDedupeTimes(lease, time.Hour), webhook.WithClock(webhooktest.NewClock(webhooktest.Time()).Now),
				webhook.WithLogger(slog.New(slog.DiscardHandler))}
			if tt.observer != nil {
				opts = append(opts, webhook.WithObserver(tt.observer))
			}
			h, err := webhook.NewHandler(opts...)
			require.NoError(t, err)
			var mu sync.Mutex
			runs := 0
			var cancel context.CancelFunc
			h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				mu.Lock()
				runs++
				n := runs
				mu.Unlock()
				if n == 1 {
					return tt.callback(ctx, cancel)
				}
				return nil
			})

			ctx, c := context.WithCancel(context.Background())
			cancel = c
			defer cancel()
			w := httptest.NewRecorder()
			done := make(chan struct{})
			go func() {
				defer close(done)
				defer func() { _ = recover() }() // as net/http recovers a handler's panic
				h.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody).WithContext(ctx))
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the first attempt was not answered")
			}
			if tt.first != 0 {
				require.Equal(t, tt.first, w.Code)
			}
			open, settled, deadCtx := store.state()
			require.Zero(t, open, "a claim was left held")
			require.Equal(t, []string{tt.settled}, settled)
			require.Zero(t, deadCtx, "the store was given the request's done context")

			// The sender's retry, at once: never 409.
			mu.Lock()
			before := runs
			mu.Unlock()
			w = httptest.NewRecorder()
			h.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody))
			require.Equal(t, http.StatusOK, w.Code)
			mu.Lock()
			defer mu.Unlock()
			want := before
			if tt.rerun {
				want++
			}
			require.Equal(t, want, runs, "the retry ran the callbacks %d times", runs-before)
		})
	}
}

// panicOnce is an observer whose Dispatch panics the first time only.
func panicOnce() *webhook.Observer {
	var once sync.Once
	return &webhook.Observer{Dispatch: func(ctx context.Context, _ *webhook.Delivery, _ map[string]string) (context.Context, func(webhook.Dispatched)) {
		once.Do(func() { panic("observer bug") })
		return ctx, nil
	}}
}

// TestHandlerCallbackOutlivesSenderHangingUp: a claimed delivery's
// callbacks keep their context when the sender hangs up, until the
// margin before the claim's lease: the delivery was delivered, and a
// sender that gave up may not retry (Intercom waits 5 s, then retries
// once, a minute later: a callback of 6 s, cancelled at 5 s on both
// attempts, lost the notification). Run to the end, the callbacks' success
// is committed, and the retry is a duplicate. Without a claim (no message
// id, or no dedupe) nothing bounds the callbacks but the request, whose
// context they keep, hanging up included.
func TestHandlerCallbackOutlivesSenderHangingUp(t *testing.T) {
	const lease = 2 * time.Second
	for _, tt := range []struct {
		name    string
		opts    []webhook.Option
		claimed bool
	}{
		{name: "claimed", claimed: true},
		{name: "without dedupe", opts: []webhook.Option{webhook.WithoutDedupe()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := newClaimLedger()
			dedupe := []webhook.Option{webhook.WithDeduper(store)}
			if !tt.claimed {
				dedupe = nil
			}
			h, err := webhook.NewHandler(append(append([]webhook.Option{webhook.WithSecrets(webhooktest.Secret),
				webhook.WithDedupeTimes(lease, time.Hour), webhook.WithClock(webhooktest.NewClock(webhooktest.Time()).Now),
				webhook.WithLogger(slog.New(slog.DiscardHandler))}, dedupe...), tt.opts...)...)
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.WithValue(context.Background(), requestKey{}, "request value"))
			defer cancel()
			var mu sync.Mutex
			runs := 0
			var afterHangUp error
			var value any
			h.OnJamCreated(func(cctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				mu.Lock()
				defer mu.Unlock()
				runs++
				if runs > 1 {
					return nil
				}
				cancel() // the sender gives up
				select {
				case <-cctx.Done():
				case <-time.After(100 * time.Millisecond): // the callback's remaining work
				}
				afterHangUp, value = cctx.Err(), cctx.Value(requestKey{})
				return afterHangUp
			})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody).WithContext(ctx))
			require.Equal(t, "request value", value, "the request's values are the callbacks'")
			w = httptest.NewRecorder()
			h.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody))
			require.Equal(t, http.StatusOK, w.Code)
			mu.Lock()
			defer mu.Unlock()
			if tt.claimed {
				require.NoError(t, afterHangUp, "the sender hanging up ended the claimed callbacks' context")
				require.Equal(t, 1, runs, "the retry ran the callbacks again")
				_, settled, _ := store.state()
				require.Equal(t, []string{"commit"}, settled)
			} else {
				require.ErrorIs(t, afterHangUp, context.Canceled)
				require.Equal(t, 2, runs)
			}
		})
	}
}

type requestKey struct{}

// ctxStore is a claimLedger that, as a store on the network does, fails
// every call given a context already done.
type ctxStore struct{ *claimLedger }

func (s ctxStore) Claim(ctx context.Context, key string, lease time.Duration) (string, webhook.ClaimStatus, error) {
	if err := ctx.Err(); err != nil {
		return "", 0, err
	}
	return s.claimLedger.Claim(ctx, key, lease)
}

// TestHandlerClaimOutlivesSenderHangingUp: a verified delivery whose
// sender hung up before its claim (while it was read, verified or its
// keys looked up) is claimed all the same, and its callbacks run, as they
// would had it hung up a moment later: the store is not given the
// request's ended context, which a store on the network refuses. Given it,
// the claim failed: WithDedupeFailClosed answered 500 and ran nothing, and
// failing open ran the callbacks unclaimed on a context already ended.
func TestHandlerClaimOutlivesSenderHangingUp(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []webhook.Option
	}{
		{name: "failing open"},
		{name: "failing closed", opts: []webhook.Option{webhook.WithDedupeFailClosed()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := ctxStore{newClaimLedger()}
			h, err := webhook.NewHandler(append([]webhook.Option{webhook.WithSecrets(webhooktest.Secret), webhook.WithDeduper(store),
				webhook.WithClock(webhooktest.NewClock(webhooktest.Time()).Now), webhook.WithLogger(slog.New(slog.DiscardHandler))}, tt.opts...)...)
			require.NoError(t, err)
			runs := 0
			var cbErr error
			h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				runs++
				cbErr = ctx.Err()
				return cbErr
			})
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // the sender hung up before the claim
			w := httptest.NewRecorder()
			h.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody).WithContext(ctx))
			require.Equal(t, http.StatusOK, w.Code)
			require.Equal(t, 1, runs)
			require.NoError(t, cbErr, "the callbacks ran on an ended context")
			open, settled, _ := store.state()
			require.Zero(t, open)
			require.Equal(t, []string{"commit"}, settled)
		})
	}
}
