package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
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

// inboxRig is a handler in inbox mode on a MemoryInbox, both on one fake
// clock, with workers that poll often so tests need not wait.
type inboxRig struct {
	*rig
	ib *webhook.MemoryInbox
}

func newInboxRig(t *testing.T, capacity int, wc webhook.WorkerConfig, opts ...webhook.Option) *inboxRig {
	t.Helper()
	var clock *webhooktest.Clock // newRig's, set before the inbox is used
	ib := webhook.NewMemoryInbox(capacity, func() time.Time { return clock.Now() })
	if wc.Poll == 0 {
		wc.Poll = time.Millisecond
	}
	r := newRig(t, append([]webhook.Option{webhook.WithInbox(ib), webhook.WithWorkers(wc)}, opts...)...)
	clock = r.clock
	return &inboxRig{rig: r, ib: ib}
}

// run runs the workers until the test ends, and fails it if Run fails.
func (r *inboxRig) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, testwait.Recv(t, done, "Run's return once the test ended"))
	})
}

func (r *inboxRig) get(t *testing.T, key string) webhook.InboxEntry {
	t.Helper()
	e, err := r.ib.Get(context.Background(), key)
	require.NoError(t, err)
	return e
}

// waitState waits for key to reach state; for InboxPending, to be
// pending after a failed attempt.
func (r *inboxRig) waitState(t *testing.T, key string, state webhook.InboxState) webhook.InboxEntry {
	t.Helper()
	var e webhook.InboxEntry
	require.Eventually(t, func() bool {
		var err error
		e, err = r.ib.Get(context.Background(), key)
		return err == nil && e.State == state && (state != webhook.InboxPending || e.Attempts > 0)
	}, 10*time.Second, time.Millisecond, "%s never became %s", key, state)
	return e
}

func TestInboxModeStores(t *testing.T) {
	r := newInboxRig(t, 0, webhook.WorkerConfig{})
	ctx := context.Background()

	req := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("msg_inbox1"),
		webhooktest.WithHeader("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
		webhooktest.WithHeader("Authorization", "Bearer not-to-be-kept"))
	w := r.serve(req)
	require.Equal(t, http.StatusOK, w.Code)
	require.Zero(t, r.calls.Load(), "inbox mode runs no callback in the request")
	e := r.get(t, "standard:msg_inbox1")
	require.Equal(t, webhook.InboxPending, e.State)
	require.Equal(t, event.SourceStandard, e.Source)
	require.Equal(t, "msg_inbox1", e.ID)
	require.Equal(t, jamBody, e.Body)
	require.True(t, e.ReceivedAt.Equal(r.clock.Now()))
	require.True(t, e.Timestamp.Equal(webhooktest.Time()))
	require.Equal(t, "msg_inbox1", e.Header.Get("Webhook-Id"))
	require.Equal(t, "application/json", e.Header.Get("Content-Type"))
	for _, k := range []string{"Webhook-Signature", "Authorization", "Traceparent"} {
		require.Empty(t, e.Header.Values(k), "header %s kept", k)
	}
	require.Empty(t, e.Meta, "the sender's unsigned trace context kept for the workers")

	// A retry of the same message: 200, no second copy.
	w = r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("msg_inbox1"),
		webhooktest.WithTime(webhooktest.Time().Add(time.Second))))
	require.Equal(t, http.StatusOK, w.Code)
	st, err := r.ib.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.Pending)

	// Intercom: keyed by the notification id; the ping, without one, by
	// a generated key, as Series is, so each is stored.
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, intercomBody)).Code)
	r.get(t, "intercom:notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c")
	for range 2 {
		require.Equal(t, http.StatusOK, r.serve(webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, pingBody)).Code)
		require.Equal(t, http.StatusOK, r.serve(webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, seriesJSON)).Code)
	}
	// Unknown events are stored too: OnUnknown runs in the worker.
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, unknownBody)).Code)
	page, err := r.ib.List(ctx, webhook.InboxQuery{})
	require.NoError(t, err)
	all := page.Entries
	require.Len(t, all, 7)
	gen := map[event.Source]int{}
	for _, e := range all {
		if strings.Contains(e.Key, ":gen-") {
			gen[e.Source]++
			require.Empty(t, e.ID)
		}
		// The Series token is a credential: never stored.
		require.Empty(t, e.Header.Values(webhooktest.SeriesHeader))
	}
	require.Equal(t, map[event.Source]int{event.SourceIntercom: 2, event.SourceSeries: 2}, gen)
	// The request's hooks see the generated key too.
	var hookKey string
	full := newInboxRig(t, 1, webhook.WorkerConfig{})
	full.h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) { hookKey = d.Key })
	require.Equal(t, http.StatusOK, full.serve(webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, seriesJSON)).Code)
	require.Equal(t, http.StatusServiceUnavailable, full.serve(webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, seriesJSON)).Code)
	require.Regexp(t, `^series:gen-[A-Z2-7]{26}$`, hookKey)

	// Rejections are as outside inbox mode, and store nothing.
	bad := webhooktest.NewStandardRequest("whsec_"+"b3RoZXItc2VjcmV0LW5vdC1jb25maWd1cmVkLWhlcmU=", jamBody)
	require.Equal(t, http.StatusUnauthorized, r.serve(bad).Code)
	require.Equal(t, http.StatusBadRequest, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, []byte(`{"jamId":`))).Code)
	st, err = r.ib.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, 7, st.Pending)
	require.Zero(t, r.calls.Load())
}

// TestInboxKeepsNoSeriesToken: the Series token is a credential, kept out
// of the inbox also when the admin carries it in a header the inbox keeps
// for callbacks (User-Agent): the inbox, its listings and the CLI's show
// would hold it, durably.
func TestInboxKeepsNoSeriesToken(t *testing.T) {
	r := newInboxRig(t, 0, webhook.WorkerConfig{}, webhook.WithSeries("User-Agent", webhooktest.SeriesToken))
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewSeriesRequest("User-Agent", webhooktest.SeriesToken, seriesJSON)).Code)
	page, err := r.ib.List(context.Background(), webhook.InboxQuery{})
	require.NoError(t, err)
	require.Len(t, page.Entries, 1)
	e := page.Entries[0]
	require.Equal(t, event.SourceSeries, e.Source)
	require.Empty(t, e.Header.Values("User-Agent"))
	require.Equal(t, []string{"application/json"}, e.Header.Values("Content-Type"), "the other kept headers stay")
}

// brokenInbox fails every call.
type brokenInbox struct{ webhook.Inbox }

func (brokenInbox) Store(context.Context, *webhook.InboxEntry) (bool, error) {
	return false, errStoreDown
}

func TestInboxModeFullOrDown(t *testing.T) {
	r := newInboxRig(t, 1, webhook.WorkerConfig{})
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("a"))).Code)
	w := r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("b")))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, "5", w.Header().Get("Retry-After"))
	require.EqualValues(t, 1, r.errs.Load(), "the error hook hears of it")
	require.Contains(t, r.logs.String(), "inbox full")
	// The one already stored is still acknowledged.
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("a"))).Code)

	down := newRig(t, webhook.WithInbox(brokenInbox{}))
	w = down.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, "5", w.Header().Get("Retry-After"))
	require.Zero(t, down.calls.Load())
}

func TestInboxModeOptions(t *testing.T) {
	ib := webhook.NewMemoryInbox(0, nil)
	for _, opts := range [][]webhook.Option{
		{webhook.WithInbox(nil)},
		{webhook.WithInbox(ib), webhook.WithDeduper(webhook.NewMemoryStore(0, nil))},
		{webhook.WithInbox(ib), webhook.WithoutDedupe()},
	} {
		_, err := webhook.NewHandler(append([]webhook.Option{webhook.WithSecrets(webhooktest.Secret)}, opts...)...)
		require.Error(t, err)
	}
	h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret))
	require.NoError(t, err)
	require.Error(t, h.Run(context.Background()), "Run without an inbox")
}

func TestInboxWorkerRuns(t *testing.T) {
	r := newInboxRig(t, 0, webhook.WorkerConfig{})
	var got atomic.Pointer[webhook.Delivery]
	r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		require.Equal(t, "team_8Hq2", e.TeamID)
		got.Store(d)
		return nil
	})
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("msg_run"))).Code)
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, unknownBody, webhooktest.WithID("msg_unknown"))).Code)
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, intercomBody)).Code)
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, seriesForm,
		webhooktest.WithContentType("application/x-www-form-urlencoded"))).Code)
	r.run(t)
	e := r.waitState(t, "standard:msg_run", webhook.InboxDone)
	require.Equal(t, 1, e.Attempts)
	r.waitState(t, "standard:msg_unknown", webhook.InboxDone)
	r.waitState(t, "intercom:notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c", webhook.InboxDone)
	require.Eventually(t, func() bool { return r.calls.Load() == 4 }, 5*time.Second, time.Millisecond)

	d := got.Load()
	require.NotNil(t, d)
	require.Equal(t, "standard:msg_run", d.Key)
	require.Equal(t, 1, d.InboxAttempt)
	require.Equal(t, "msg_run", d.ID)
	require.Equal(t, event.SourceStandard, d.Source)
	require.Equal(t, jamBody, d.Body)
	require.True(t, d.Timestamp.Equal(webhooktest.Time()))
	require.Equal(t, "msg_run", d.Header.Get("Webhook-Id"))
	st, err := r.ib.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, webhook.InboxStats{Done: 4}, st, "the unknown event and the form-encoded Series one included")
}

func TestInboxWorkerRetries(t *testing.T) {
	wc := webhook.WorkerConfig{MinBackoff: 10 * time.Second, MaxBackoff: time.Hour, MaxAttempts: 4}
	// The lease outlasts the clock's steps below by far: with the default
	// minute, a two-minute step taken while a callback runs expires its
	// lease, another worker runs the delivery at once, and the runs
	// counted are no longer the policy's.
	r := newInboxRig(t, 0, wc, webhook.WithDedupeTimes(time.Hour, webhook.DefaultRetention))
	var (
		mu   sync.Mutex
		runs = map[string][]int{} // key → InboxAttempt of each run
	)
	failures := map[string]func(n int) error{
		"standard:ok-2nd": func(n int) error {
			if n == 1 {
				return errors.New("transient")
			}
			return nil
		},
		"standard:panics-1st": func(n int) error {
			if n == 1 {
				panic("boom")
			}
			return nil
		},
		"standard:retry-after": func(n int) error {
			if n == 1 {
				return &webhook.StatusError{Code: http.StatusServiceUnavailable, RetryAfter: 3 * time.Hour}
			}
			return nil
		},
		"standard:permanent": func(int) error { return webhook.Permanent(errors.New("no such account")) },
		"standard:always":    func(n int) error { return errors.New("still failing") },
		"standard:gone-2xx":  func(int) error { return &webhook.StatusError{Code: http.StatusAccepted} },
	}
	r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		mu.Lock()
		runs[d.Key] = append(runs[d.Key], d.InboxAttempt)
		fail := failures[d.Key]
		mu.Unlock()
		return fail(d.InboxAttempt)
	})
	start := r.clock.Now()
	for key := range failures {
		id := strings.TrimPrefix(key, "standard:")
		require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID(id))).Code)
	}
	r.run(t)
	r.waitState(t, "standard:gone-2xx", webhook.InboxDone)
	dead := r.waitState(t, "standard:permanent", webhook.InboxDead)
	require.Equal(t, 1, dead.Attempts, "a permanent error is dead at once")
	require.Equal(t, "no such account", dead.LastError)

	// First failures: due again within the backoff bounds, or after the
	// RetryAfter asked for.
	for key, bounds := range map[string][2]time.Duration{
		"standard:ok-2nd":      {10 * time.Second, 20 * time.Second},
		"standard:panics-1st":  {10 * time.Second, 20 * time.Second},
		"standard:always":      {10 * time.Second, 20 * time.Second},
		"standard:retry-after": {3 * time.Hour, 3 * time.Hour},
	} {
		e := r.waitState(t, key, webhook.InboxPending)
		require.Equal(t, 1, e.Attempts, key)
		wait := e.NextAttempt.Sub(start)
		require.True(t, wait >= bounds[0] && wait <= bounds[1], "%s: retry after %v, want %v", key, wait, bounds)
	}
	require.Contains(t, r.get(t, "standard:panics-1st").LastError, "panicked: boom")
	require.Contains(t, r.get(t, "standard:retry-after").LastError, "respond 503")

	r.clock.Advance(20 * time.Second)
	r.waitState(t, "standard:ok-2nd", webhook.InboxDone)
	r.waitState(t, "standard:panics-1st", webhook.InboxDone)
	require.Equal(t, webhook.InboxPending, r.get(t, "standard:retry-after").State, "RetryAfter honoured")
	// "always" came due in the same step: its second run must have
	// settled before the clock passes its lease, or another worker runs
	// it again while the first still holds it.
	require.Eventually(t, func() bool {
		e := r.get(t, "standard:always")
		return e.State == webhook.InboxPending && e.Attempts == 2
	}, 10*time.Second, time.Millisecond)
	r.clock.Advance(3 * time.Hour)
	r.waitState(t, "standard:retry-after", webhook.InboxDone)
	// "always" has run twice by now; two more (the 4 of MaxAttempts) and
	// it is dead.
	// The clock moves in steps well inside MaxAge (72 hours from receipt),
	// and only while no run holds the delivery: a slow one must not
	// outlast its lease on the test's clock.
	require.Eventually(t, func() bool {
		e := r.get(t, "standard:always")
		if e.State == webhook.InboxPending {
			r.clock.Advance(2 * time.Minute)
		}
		return e.State == webhook.InboxDead
	}, 10*time.Second, 5*time.Millisecond)
	e := r.get(t, "standard:always")
	require.Equal(t, 4, e.Attempts)
	require.Equal(t, "still failing", e.LastError)

	for key, want := range map[string][]int{
		"standard:ok-2nd": {1, 2}, "standard:panics-1st": {1, 2}, "standard:retry-after": {1, 2},
		"standard:permanent": {1}, "standard:always": {1, 2, 3, 4}, "standard:gone-2xx": {1},
	} {
		mu.Lock()
		got := runs[key]
		mu.Unlock()
		require.Equal(t, want, got, key)
	}

	// Replay: a dead delivery runs again, once fixed.
	mu.Lock()
	failures["standard:always"] = func(int) error { return nil }
	mu.Unlock()
	require.NoError(t, r.ib.Replay(context.Background(), "standard:always"))
	e = r.waitState(t, "standard:always", webhook.InboxDone)
	require.Equal(t, 1, e.Attempts)
}

func TestInboxWorkerMaxAge(t *testing.T) {
	// Past MaxAge a failing delivery is dead, however few its attempts.
	r := newInboxRig(t, 0, webhook.WorkerConfig{MinBackoff: time.Minute, MaxBackoff: time.Minute, MaxAge: 90 * time.Second})
	r.h.OnJamCreated(func(context.Context, *webhook.Delivery, *event.JamCreated) error { return errors.New("down") })
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("old"))).Code)
	r.run(t)
	e := r.waitState(t, "standard:old", webhook.InboxPending)
	require.Equal(t, 1, e.Attempts, "the retry a minute later is inside MaxAge")
	r.clock.Advance(time.Minute)
	e = r.waitState(t, "standard:old", webhook.InboxDead)
	require.Equal(t, 2, e.Attempts, "the next one, two minutes after receipt, would not be")
}

func TestInboxWorkerLeaseEndsContext(t *testing.T) {
	// The callback's context ends with the lease; the run counts as failed.
	r := newInboxRig(t, 0, webhook.WorkerConfig{MinBackoff: time.Hour}, webhook.WithDedupeTimes(50*time.Millisecond, time.Hour))
	var ctxErr atomic.Value
	r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		<-ctx.Done()
		ctxErr.Store(ctx.Err())
		return ctx.Err()
	})
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("slow"))).Code)
	r.run(t)
	e := r.waitState(t, "standard:slow", webhook.InboxPending)
	require.Equal(t, 1, e.Attempts)
	require.ErrorIs(t, ctxErr.Load().(error), context.DeadlineExceeded)
	require.Contains(t, e.LastError, "deadline exceeded")
}

func TestInboxWorkerShutdown(t *testing.T) {
	t.Run("waits for callbacks in flight", func(t *testing.T) {
		r := newInboxRig(t, 0, webhook.WorkerConfig{Workers: 2})
		started, release := make(chan struct{}, 2), make(chan struct{})
		var ctxLive atomic.Int32
		r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
			started <- struct{}{}
			<-release
			if ctx.Err() == nil {
				ctxLive.Add(1)
			}
			return nil
		})
		for _, id := range []string{"a", "b", "c"} {
			require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID(id))).Code)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.h.Run(ctx) }()
		testwait.Closed(t, started, "the first callback to start")
		testwait.Closed(t, started, "the second callback to start")
		cancel()
		select {
		case err := <-done:
			t.Fatalf("Run returned %v with callbacks in flight", err)
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		require.NoError(t, testwait.Recv(t, done, "Run's return once the callbacks were released"))
		require.EqualValues(t, 2, ctxLive.Load(), "callbacks keep their context until the timeout")
		st, err := r.ib.Stats(context.Background())
		require.NoError(t, err)
		require.Equal(t, webhook.InboxStats{Pending: 1, Done: 2, OldestPending: st.OldestPending}, st, "the third was never leased")
	})
	t.Run("gives up after the timeout", func(t *testing.T) {
		r := newInboxRig(t, 0, webhook.WorkerConfig{ShutdownTimeout: 30 * time.Millisecond})
		started := make(chan struct{})
		r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		})
		require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("stuck"))).Code)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.h.Run(ctx) }()
		testwait.Closed(t, started, "the callback to start")
		cancel()
		err := testwait.Recv(t, done, "Run's return past its shutdown timeout")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		// Its context was cancelled: it fails and is retried.
		e := r.waitState(t, "standard:stuck", webhook.InboxPending)
		require.Equal(t, 1, e.Attempts)
	})
}

func TestInboxWorkerPurgesDone(t *testing.T) {
	r := newInboxRig(t, 0, webhook.WorkerConfig{}, webhook.WithDedupeTimes(time.Minute, time.Hour))
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("p"))).Code)
	r.run(t)
	r.waitState(t, "standard:p", webhook.InboxDone)
	// Within the retention the done record dedupes a retry.
	r.clock.Advance(30 * time.Minute)
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("p"), webhooktest.WithTime(r.clock.Now()))).Code)
	require.EqualValues(t, 1, r.calls.Load())
	r.clock.Advance(31 * time.Minute)
	require.Eventually(t, func() bool {
		_, err := r.ib.Get(context.Background(), "standard:p")
		return errors.Is(err, webhook.ErrNotFound)
	}, 5*time.Second, time.Millisecond, "done past the retention is purged")
}

// nilErr is an error type whose Error method needs a non-nil receiver.
type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg }

func TestInboxWorkerBrokenError(t *testing.T) {
	// A callback that returns a typed nil error (a nil pointer in a
	// non-nil interface) has failed, and its delivery is retried as
	// after any failure: not left leased until its lease runs out, as if
	// it had crashed, because the error's message could not be read.
	tests := []struct {
		name string
		err  func() error
	}{
		{name: "typed nil *StatusError", err: func() error { var se *webhook.StatusError; return se }},
		{name: "typed nil of another type", err: func() error { var e *nilErr; return e }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newInboxRig(t, 0, webhook.WorkerConfig{MinBackoff: time.Hour}, webhook.WithDedupeTimes(time.Hour, webhook.DefaultRetention))
			r.h.OnJamCreated(func(context.Context, *webhook.Delivery, *event.JamCreated) error { return tt.err() })
			require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("broken"))).Code)
			r.run(t)
			e := r.waitState(t, "standard:broken", webhook.InboxPending)
			require.Equal(t, 1, e.Attempts)
			require.Contains(t, e.LastError, "Error method panicked")
			require.True(t, e.NextAttempt.After(r.clock.Now().Add(59*time.Minute)), "backed off: %v", e.NextAttempt)
		})
	}
}

func TestInboxWorkerNoReturn(t *testing.T) {
	// A callback that does not return counts as failed: one that exits
	// its goroutine (t.FailNow), or panics with nil where recover cannot
	// tell that from no panic (GODEBUG=panicnil=1, the default of a main
	// module declaring go 1.20 or older).
	tests := []struct {
		name    string
		fn      func()
		godebug string
		lastErr string
	}{
		{name: "Goexit", fn: runtime.Goexit, lastErr: "Goexit"},
		{name: "panic(nil) under panicnil=1", fn: func() { panic(nil) }, godebug: "panicnil=1", lastErr: "panicked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.godebug != "" {
				t.Setenv("GODEBUG", tt.godebug)
			}
			r := newInboxRig(t, 0, webhook.WorkerConfig{MinBackoff: time.Hour})
			r.h.OnJamCreated(func(context.Context, *webhook.Delivery, *event.JamCreated) error {
				tt.fn()
				return nil
			})
			require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("exits"))).Code)
			r.run(t)
			e := r.waitState(t, "standard:exits", webhook.InboxPending)
			require.Contains(t, e.LastError, tt.lastErr)
			require.Equal(t, 1, e.Attempts)
		})
	}
}

func TestInboxModeObserver(t *testing.T) {
	type ctxKey struct{}
	var mu sync.Mutex
	var events []string
	note := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, fmt.Sprintf(format, args...))
	}
	var seen webhook.Inbox
	obs := &webhook.Observer{
		Storing: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) {
			meta["traceparent"] = "00-11111111111111111111111111111111-2222222222222222-01"
			note("storing %s", d.Key)
		},
		Stored:    func(ctx context.Context, d *webhook.Delivery) { note("stored %s", d.Key) },
		Duplicate: func(ctx context.Context, d *webhook.Delivery) { note("duplicate %s", d.Key) },
		Dispatch: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
			note("dispatch %s run %d meta %s", d.Key, d.InboxAttempt, meta["traceparent"])
			return context.WithValue(ctx, ctxKey{}, "span"), func(r webhook.Dispatched) {
				note("done %s run %d %s", d.Key, r.Attempt, r.Outcome)
			}
		},
		Dead:     func(ctx context.Context, dl webhook.DeadLetter) { note("dead %s: %v", dl.Delivery.Key, dl.Err) },
		Rejected: func(ctx context.Context, r webhook.Rejection) { note("rejected %d %s", r.Status, r.Reason) },
		Inbox:    func(ib webhook.Inbox) { seen = ib },
	}
	r := newInboxRig(t, 2, webhook.WorkerConfig{MaxAttempts: 2, MinBackoff: time.Second, MaxBackoff: time.Second}, webhook.WithObserver(obs))
	require.Same(t, r.ib, seen.(*webhook.MemoryInbox), "the observer is given the inbox")
	var spanSeen atomic.Int32
	r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		if ctx.Value(ctxKey{}) == "span" {
			spanSeen.Add(1)
		}
		return errors.New("fails")
	})
	send := func(id string) int {
		return r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID(id))).Code
	}
	require.Equal(t, http.StatusOK, send("obs"))
	require.Equal(t, http.StatusOK, send("obs"))
	require.Equal(t, http.StatusOK, send("other"))
	require.Equal(t, http.StatusServiceUnavailable, send("third")) // capacity 2
	require.Equal(t, "00-11111111111111111111111111111111-2222222222222222-01", r.get(t, "standard:obs").Meta["traceparent"])
	r.run(t)
	r.waitState(t, "standard:obs", webhook.InboxPending)
	r.waitState(t, "standard:other", webhook.InboxPending)
	r.clock.Advance(time.Second)
	r.waitState(t, "standard:obs", webhook.InboxDead)
	r.waitState(t, "standard:other", webhook.InboxDead)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		// The hooks run after the inbox has the delivery dead.
		return slices.Contains(events, "done standard:other run 2 dead") && slices.Contains(events, "done standard:obs run 2 dead")
	}, 5*time.Second, time.Millisecond)
	require.EqualValues(t, 4, spanSeen.Load(), "the callbacks get Dispatch's context")

	mu.Lock()
	defer mu.Unlock()
	var obsEvents []string
	for _, e := range events {
		if strings.Contains(e, "standard:obs") || strings.HasPrefix(e, "rejected") {
			obsEvents = append(obsEvents, e)
		}
	}
	require.Equal(t, []string{
		"storing standard:obs", "stored standard:obs",
		"storing standard:obs", "duplicate standard:obs",
		"rejected 503 inbox_full",
		"dispatch standard:obs run 1 meta 00-11111111111111111111111111111111-2222222222222222-01",
		"done standard:obs run 1 retry",
		"dispatch standard:obs run 2 meta 00-11111111111111111111111111111111-2222222222222222-01",
		"dead standard:obs: fails",
		"done standard:obs run 2 dead",
	}, obsEvents)
}

// ctxInbox honours its context as sqlitestore and redisstore do: a Store
// whose context has ended stores nothing.
type ctxInbox struct{ *webhook.MemoryInbox }

func (ib ctxInbox) Store(ctx context.Context, e *webhook.InboxEntry) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return ib.MemoryInbox.Store(ctx, e)
}

func TestInboxModeClientGone(t *testing.T) {
	// A sender that hangs up once its delivery is read and verified (a
	// timeout, as Intercom's 5 s) delivered it all the same: it is
	// stored, not dropped as an inbox failure. Intercom may not retry.
	ib := webhook.NewMemoryInbox(0, nil)
	r := newRig(t, webhook.WithInbox(ctxInbox{ib}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("msg_gone")).WithContext(ctx)
	w := r.serve(req)
	e, err := ib.Get(context.Background(), "standard:msg_gone")
	require.NoError(t, err, "the delivery of a sender that hung up was not stored")
	require.Equal(t, webhook.InboxPending, e.State)
	require.Equal(t, http.StatusOK, w.Code)
	require.Zero(t, r.errs.Load(), "reported as a failure")
	require.NotContains(t, r.logs.String(), "inbox store")
}

func TestInboxWorkerCrashLoopDead(t *testing.T) {
	// A delivery whose callback crashes the process (an out-of-memory, a
	// log.Fatal) settles no run: each restart leases it again once the
	// lease runs out. Past MaxAttempts runs it is dead, not run forever.
	// A run cut short by a shutdown before them is not held against it,
	// and opens no endless loop either.
	for _, cutShort := range []bool{false, true} {
		t.Run(fmt.Sprint("after a run cut short: ", cutShort), func(t *testing.T) {
			r := newInboxRig(t, 0, webhook.WorkerConfig{MaxAttempts: 3})
			var dead atomic.Value
			r.h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) { dead.Store(err) })
			require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("poison"))).Code)
			ctx := context.Background()
			runs := 3
			if cutShort {
				ls, err := r.ib.Lease(ctx, 1, webhook.DefaultLease)
				require.NoError(t, err)
				require.NoError(t, r.ib.Retry(ctx, ls[0].Entry.Key, ls[0].Token, r.clock.Now(), "webhook: run cut short by the shutdown (1): context canceled"))
				runs++
			}
			for range 3 { // three runs, each crashed holding the lease
				ls, err := r.ib.Lease(ctx, 1, webhook.DefaultLease)
				require.NoError(t, err)
				require.Len(t, ls, 1)
				r.clock.Advance(webhook.DefaultLease + time.Millisecond)
			}
			r.run(t)
			e := r.waitState(t, "standard:poison", webhook.InboxDead)
			require.Equal(t, runs+1, e.Attempts, "the lease that found it past the policy counts")
			require.Contains(t, e.LastError, fmt.Sprint(runs, " runs"))
			require.Zero(t, r.calls.Load(), "a fourth run of a policy of three")
			require.Eventually(t, func() bool { return dead.Load() != nil }, 5*time.Second, time.Millisecond, "the error hook hears of it")
		})
	}
}

func TestInboxWorkerShutdownIsNoFailure(t *testing.T) {
	// A callback cancelled by Run's shutdown timeout did not fail: its
	// delivery runs again, due at once, however the policy would judge a
	// failure (here past MaxAge by the backoff, so dead), also when the
	// run cut short was the last the policy allows.
	for _, maxAttempts := range []int{0, 1} {
		t.Run(fmt.Sprint("MaxAttempts=", maxAttempts), func(t *testing.T) {
			r := newInboxRig(t, 0, webhook.WorkerConfig{ShutdownTimeout: 30 * time.Millisecond, MinBackoff: time.Hour, MaxAge: time.Minute, MaxAttempts: maxAttempts})
			var runs atomic.Int32
			r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				if runs.Add(1) == 1 {
					<-ctx.Done()
					return fmt.Errorf("saving: %w", ctx.Err())
				}
				return nil
			})
			require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("cut"))).Code)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.h.Run(ctx) }()
			require.Eventually(t, func() bool { return runs.Load() == 1 }, 5*time.Second, time.Millisecond)
			cancel()
			require.ErrorIs(t, testwait.Recv(t, done, "Run's return past its shutdown timeout"), context.DeadlineExceeded)
			e := r.waitState(t, "standard:cut", webhook.InboxPending)
			require.Equal(t, 1, e.Attempts)
			require.False(t, e.NextAttempt.After(r.clock.Now()), "due at once, not backed off: %v", e.NextAttempt)
			require.Equal(t, "webhook: run cut short by the shutdown (1): saving: context canceled", e.LastError)
			// The next Run runs it.
			r.run(t)
			e = r.waitState(t, "standard:cut", webhook.InboxDone)
			require.EqualValues(t, 2, runs.Load())
			require.Equal(t, 2, e.Attempts)
		})
	}
}

// slowPurge is an inbox whose Purge takes until its context ends.
type slowPurge struct {
	*webhook.MemoryInbox
	purging chan struct{}
}

func (ib slowPurge) Purge(ctx context.Context, _ webhook.InboxState, _ time.Time) (int, error) {
	ib.purging <- struct{}{}
	<-ctx.Done()
	return 0, ctx.Err()
}

func TestInboxWorkerLeasesNothingOnceDone(t *testing.T) {
	// Run's context ends while it purges, with workers free: it leases
	// nothing more, every time (a select between a free worker and the
	// end picks either at random).
	for range 30 {
		ib := slowPurge{webhook.NewMemoryInbox(0, nil), make(chan struct{}, 1)}
		r := newRig(t, webhook.WithInbox(ib), webhook.WithWorkers(webhook.WorkerConfig{Poll: time.Millisecond}))
		require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("late"))).Code)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.h.Run(ctx) }()
		testwait.Closed(t, ib.purging, "the Purge call")
		cancel()
		require.NoError(t, testwait.Recv(t, done, "Run's return"))
		e, err := ib.Get(context.Background(), "standard:late")
		require.NoError(t, err)
		require.Zero(t, e.Attempts, "leased after Run's context ended")
	}
}

func TestInboxWorkerUndecodableDead(t *testing.T) {
	// What an inbox hands back that no longer decodes (a body cut short,
	// a source this version does not know, no headers at all) reaches no
	// callback, panics nothing, and is dead at once, for the observer
	// too.
	var deadKeys sync.Map
	obs := &webhook.Observer{Dead: func(ctx context.Context, dl webhook.DeadLetter) {
		require.Nil(t, dl.Delivery.Event)
		require.ErrorIs(t, dl.Err, webhook.ErrUndecodable)
		deadKeys.Store(dl.Delivery.Key, dl.Err.Error())
	}}
	r := newInboxRig(t, 0, webhook.WorkerConfig{}, webhook.WithObserver(obs))
	ctx := context.Background()
	for _, e := range []*webhook.InboxEntry{
		{Key: "standard:cut", Source: event.SourceStandard, Body: []byte(`{"jamId":`), Header: http.Header{"Content-Type": {"application/json"}}},
		{Key: "pigeon:1", Source: "pigeon", Body: jamBody},
		{Key: "series:form", Source: event.SourceSeries, Body: []byte("%zz=1"), Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}},
		{Key: "intercom:empty", Source: event.SourceIntercom},
	} {
		ok, err := r.ib.Store(ctx, e)
		require.NoError(t, err)
		require.True(t, ok)
	}
	r.run(t)
	for _, key := range []string{"standard:cut", "pigeon:1", "series:form", "intercom:empty"} {
		e := r.waitState(t, key, webhook.InboxDead)
		require.Equal(t, 1, e.Attempts, key)
		require.Contains(t, e.LastError, "decoding a stored delivery", key)
		require.Eventually(t, func() bool { _, ok := deadKeys.Load(key); return ok }, 5*time.Second, time.Millisecond, key)
	}
	require.Zero(t, r.calls.Load())
}

func TestInboxWorkerHookPanics(t *testing.T) {
	// A panic in a hook on a worker's goroutine would end the process
	// and every delivery in flight with it. Before the delivery is
	// settled it is a failed run, retried; after, it changes nothing.
	// Either way the workers go on.
	type hooks struct {
		obs     *webhook.Observer
		onError func(*webhook.HandlerError)
	}
	var once sync.Map // row name: the first panic has happened
	first := func(name string) bool { _, done := once.LoadOrStore(name, true); return !done }
	tests := []struct {
		name    string
		hooks   func(name string) hooks
		fail    error              // the callback's first run's error
		settled webhook.InboxState // the state after the panicking run
		lastErr string             // in the entry after it
		logLine string
	}{
		{name: "dispatch", hooks: func(name string) hooks {
			return hooks{obs: &webhook.Observer{Dispatch: func(ctx context.Context, d *webhook.Delivery, _ map[string]string) (context.Context, func(webhook.Dispatched)) {
				if first(name) {
					panic("dispatch hook")
				}
				return ctx, nil
			}}}
		}, settled: webhook.InboxPending, lastErr: "panic outside the callbacks", logLine: "panicked outside the callbacks"},
		{name: "done", hooks: func(name string) hooks {
			return hooks{obs: &webhook.Observer{Dispatch: func(ctx context.Context, d *webhook.Delivery, _ map[string]string) (context.Context, func(webhook.Dispatched)) {
				return ctx, func(webhook.Dispatched) {
					if first(name) {
						panic("done hook")
					}
				}
			}}}
		}, settled: webhook.InboxDone, logLine: "panicked after settling"},
		{name: "dead", hooks: func(name string) hooks {
			return hooks{obs: &webhook.Observer{Dead: func(ctx context.Context, dl webhook.DeadLetter) {
				if first(name) {
					panic("dead hook")
				}
			}}}
		}, fail: webhook.Permanent(errors.New("no such account")), settled: webhook.InboxDead, lastErr: "no such account", logLine: "panicked after settling"},
		{name: "onerror", hooks: func(name string) hooks {
			return hooks{onError: func(*webhook.HandlerError) {
				if first(name) {
					panic("error hook")
				}
			}}
		}, fail: errors.New("database down"), settled: webhook.InboxPending, lastErr: "database down", logLine: "error hook panicked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hk := tt.hooks(tt.name)
			var opts []webhook.Option
			if hk.obs != nil {
				opts = append(opts, webhook.WithObserver(hk.obs))
			}
			r := newInboxRig(t, 0, webhook.WorkerConfig{MinBackoff: time.Minute, MaxBackoff: time.Minute}, opts...)
			if hk.onError != nil {
				r.h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) { hk.onError(err) })
			}
			var runs atomic.Int32
			r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				if runs.Add(1) == 1 && d.Key == "standard:a" {
					return tt.fail
				}
				return nil
			})
			require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("a"))).Code)
			r.run(t)
			e := r.waitState(t, "standard:a", tt.settled)
			require.Contains(t, e.LastError, tt.lastErr)
			require.Eventually(t, func() bool { return strings.Contains(r.logs.String(), tt.logLine) }, 5*time.Second, time.Millisecond)
			// The workers go on: a new delivery runs, and a retried one
			// runs again once due.
			require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("b"))).Code)
			r.waitState(t, "standard:b", webhook.InboxDone)
			if tt.settled == webhook.InboxPending {
				r.clock.Advance(time.Minute + time.Second)
				r.waitState(t, "standard:a", webhook.InboxDone)
			}
		})
	}
}

// TestInboxWorkerPurgesAfterClockStepsBack: a clock stepped back (a
// correction of one run ahead) does not stop Run's purges until it has
// caught up with the last one: done records past the retention still go.
// Before, Run purged only once its
// clock read a minute past the last purge: a clock stepped back a day
// stopped purging for a day.
func TestInboxWorkerPurgesAfterClockStepsBack(t *testing.T) {
	r := newInboxRig(t, 2, webhook.WorkerConfig{}, webhook.WithDedupeTimes(time.Minute, time.Hour))
	send := func(id string) int {
		return r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID(id), webhooktest.WithTime(r.clock.Now()))).Code
	}
	require.Equal(t, http.StatusOK, send("p"))
	r.run(t)
	r.waitState(t, "standard:p", webhook.InboxDone)
	r.clock.Set(r.clock.Now().Add(-24 * time.Hour))
	require.Equal(t, http.StatusOK, send("q"))
	r.waitState(t, "standard:q", webhook.InboxDone)
	r.clock.Advance(2 * time.Hour) // q is past the retention; p, done "later", is not
	require.Eventually(t, func() bool {
		_, err := r.ib.Get(context.Background(), "standard:q")
		return errors.Is(err, webhook.ErrNotFound)
	}, 5*time.Second, time.Millisecond, "done past the retention is purged")
	require.Equal(t, http.StatusOK, send("r"))
	r.get(t, "standard:p") // the inbox was not full: r forgot nothing
}

// TestRunWarnsInboxClock: Run warns when its handler's clock and its
// MemoryInbox's read far apart, as when a test gives NewHandler
// WithClock(webhooktest.Time) and NewMemoryInbox a nil clock; retries were
// then due at once, silently (the README's inbox test failed so).
func TestRunWarnsInboxClock(t *testing.T) {
	fixed := webhooktest.Time
	tests := []struct {
		name          string
		handler, ibox func() time.Time // nil: the default, time.Now
		warns         bool
	}{
		{"fixed handler clock, inbox on time.Now", fixed, nil, true},
		{"inbox on a fixed clock, handler on time.Now", nil, fixed, true},
		{"one fixed clock for both", fixed, fixed, false},
		{"both on time.Now", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			opts := []webhook.Option{
				webhook.WithSecrets(webhooktest.Secret),
				webhook.WithInbox(webhook.NewMemoryInbox(0, tt.ibox)),
				webhook.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
			}
			if tt.handler != nil {
				opts = append(opts, webhook.WithClock(tt.handler))
			}
			h, err := webhook.NewHandler(opts...)
			require.NoError(t, err)
			require.NotContains(t, logs.String(), "another clock", "NewHandler reads no clock: a test may set its own later")
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			require.NoError(t, h.Run(ctx))
			if tt.warns {
				require.Contains(t, logs.String(), `level=WARN msg="webhook MemoryInbox runs on another clock than the handler's; give NewMemoryInbox the clock given to WithClock" inbox_ahead_by=`)
			} else {
				require.NotContains(t, logs.String(), "another clock")
			}
		})
	}
}
