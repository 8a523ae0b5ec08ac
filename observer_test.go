package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/testwait"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// eventLog is an Observer that writes each hook's call as a line, so a
// test states the whole sequence a request produces.
type eventLog struct {
	mu    sync.Mutex
	lines []string
	runs  []webhook.Dispatched
}

func (l *eventLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines
	l.lines = nil
	return lines
}

type ctxKey struct{}

func (l *eventLog) observer() *webhook.Observer {
	return &webhook.Observer{
		Rejected: func(ctx context.Context, r webhook.Rejection) {
			l.add("rejected %s %d %s", r.Delivery.Source, r.Status, r.Reason)
		},
		Verified:  func(ctx context.Context, d *webhook.Delivery) { l.add("verified %s", d.Source) },
		Decoded:   func(ctx context.Context, d *webhook.Delivery) { l.add("decoded %s %s", d.Event.EventType(), d.ID) },
		Duplicate: func(ctx context.Context, d *webhook.Delivery) { l.add("duplicate %s", d.ID) },
		Storing: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) {
			l.add("storing %s", d.ID)
			meta["traceparent"] = "trace-of-" + d.ID
		},
		Stored: func(ctx context.Context, d *webhook.Delivery) { l.add("stored %s", d.ID) },
		Dead:   func(ctx context.Context, dl webhook.DeadLetter) { l.add("dead %s %v", dl.Delivery.ID, dl.Err) },
		Inbox:  func(ib webhook.Inbox) { l.add("inbox %T", ib) },
		Dispatch: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
			l.add("dispatch %s meta=%v", d.ID, meta)
			return context.WithValue(ctx, ctxKey{}, "observed"), func(r webhook.Dispatched) {
				l.mu.Lock()
				l.runs = append(l.runs, r)
				l.mu.Unlock()
				l.add("done %s attempt=%d %s err=%t", d.ID, r.Attempt, r.Outcome, r.Err != nil)
			}
		},
	}
}

func TestObserverSequences(t *testing.T) {
	jamID := webhooktest.MessageID(jamBody)
	intercomID := "notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c"
	old := webhooktest.Time().Add(-time.Hour)
	tests := []struct {
		name string
		req  func(t *testing.T) *http.Request
		want []string
	}{
		{"delivered", func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)
		}, []string{
			"verified standard",
			"decoded jam.created " + jamID,
			"dispatch " + jamID + " meta=map[]",
			"done " + jamID + " attempt=1 success err=false",
		}},
		{"intercom, id from the body", func(t *testing.T) *http.Request {
			return webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, intercomBody)
		}, []string{
			"verified intercom",
			"decoded conversation.user.replied " + intercomID,
			"dispatch " + intercomID + " meta=map[]",
			"done " + intercomID + " attempt=1 success err=false",
		}},
		{"bad signature", func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest("whsec_"+strings.Repeat("QUJD", 8), jamBody)
		}, []string{"rejected standard 401 signature"}},
		{"too old", func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithTime(old))
		}, []string{"rejected standard 401 too_old"}},
		{"no signature headers", func(t *testing.T) *http.Request {
			r := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)
			r.Header = http.Header{"Content-Type": {"application/json"}}
			return r
		}, []string{"rejected  401 missing_headers"}},
		{"method", func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithMethod(http.MethodGet))
		}, []string{"rejected  405 method"}},
		{"media type", func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithContentType("text/plain"))
		}, []string{"rejected standard 415 media_type"}},
		{"not JSON", func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, []byte("[1,2]"))
		}, []string{"verified standard", "rejected standard 400 decode"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log eventLog
			r := newRig(t, webhook.WithObserver(log.observer()))
			r.serve(tt.req(t))
			require.Equal(t, tt.want, log.take())
		})
	}
}

func TestObserverDuplicateAndFailure(t *testing.T) {
	var log eventLog
	r := newRig(t, webhook.WithObserver(log.observer()))
	var seen any
	fail := true
	r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		seen = ctx.Value(ctxKey{})
		time.Sleep(time.Millisecond)
		if fail {
			return errors.New("downstream is down")
		}
		return nil
	})
	id := webhooktest.MessageID(jamBody)

	require.Equal(t, http.StatusInternalServerError, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)).Code)
	require.Equal(t, "observed", seen, "the callbacks did not get the context Dispatch returned")
	require.Equal(t, []string{
		"verified standard",
		"decoded jam.created " + id,
		"dispatch " + id + " meta=map[]",
		"done " + id + " attempt=1 failure err=true",
		"rejected standard 500 callback",
	}, log.take())
	require.GreaterOrEqual(t, log.runs[0].Duration, time.Millisecond)

	fail = false
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)).Code)
	log.take()
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)).Code)
	require.Equal(t, []string{"verified standard", "decoded jam.created " + id, "duplicate " + id}, log.take())
}

func TestObserverPartialAndNil(t *testing.T) {
	// Only one hook set: the others are skipped, and a nil observer is none.
	var rejected int
	for _, o := range []*webhook.Observer{nil, {}, {Rejected: func(context.Context, webhook.Rejection) { rejected++ }}} {
		r := newRig(t, webhook.WithObserver(o))
		require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)).Code)
		require.Equal(t, http.StatusMethodNotAllowed, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithMethod(http.MethodGet))).Code)
	}
	require.Equal(t, 1, rejected)

	// The handler keeps a copy: changing the struct afterwards does nothing.
	var calls int
	o := &webhook.Observer{Verified: func(context.Context, *webhook.Delivery) { calls++ }}
	r := newRig(t, webhook.WithObserver(o))
	o.Verified = func(context.Context, *webhook.Delivery) { calls += 100 }
	r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody))
	require.Equal(t, 1, calls)
}

func TestReasonOf(t *testing.T) {
	tests := []struct {
		err    error
		reason webhook.Reason
		verify bool
	}{
		{&webhook.VerifyError{Source: event.SourceStandard, Err: webhook.ErrRequiredHeaders}, webhook.ReasonMissingHeaders, true},
		{&webhook.VerifyError{Source: event.SourceStandard, Err: webhook.ErrInvalidHeaders, Reason: "bad timestamp"}, webhook.ReasonInvalidHeaders, true},
		{&webhook.VerifyError{Source: event.SourceIntercom, Err: webhook.ErrNoMatchingSignature}, webhook.ReasonSignature, true},
		{webhook.ErrMessageTooOld, webhook.ReasonTooOld, true},
		{fmt.Errorf("wrapped: %w", webhook.ErrMessageTooNew), webhook.ReasonTooNew, true},
		{webhook.ErrMethodNotAllowed, webhook.ReasonMethod, false},
		{webhook.ErrUnsupportedMediaType, webhook.ReasonMediaType, false},
		{webhook.ErrBodyTooLarge, webhook.ReasonBodyTooLarge, false},
		{webhook.ErrBodyMemory, webhook.ReasonBodyMemory, false},
		{fmt.Errorf("x: %w", event.ErrInvalidJSON), webhook.ReasonDecode, false},
		{event.ErrWrongShape, webhook.ReasonDecode, false},
		{&event.DecodeError{Err: event.ErrInvalidForm, Fault: "bad escape"}, webhook.ReasonDecode, false},
		{webhook.ErrIDTooLong, webhook.ReasonDecode, false},
		{webhook.ErrInFlight, webhook.ReasonInFlight, false},
		{fmt.Errorf("store: %w", webhook.ErrInboxFull), webhook.ReasonInboxFull, false},
		{errors.Join(errors.New("a"), &webhook.PanicError{Value: "boom"}), webhook.ReasonCallback, false},
		{&webhook.StatusError{Code: http.StatusGone}, webhook.ReasonCallback, false},
		{fmt.Errorf("%w: %w", webhook.ErrKeyFunc, errors.New("tenants: connection reset")), webhook.ReasonKeyFunc, false},
		// A key function's error is its own, whatever it wraps.
		{fmt.Errorf("%w: %w", webhook.ErrKeyFunc, webhook.ErrInboxFull), webhook.ReasonKeyFunc, false},
		{fmt.Errorf("%w: %w", webhook.ErrKeyFunc, &webhook.PanicError{Value: "nil map"}), webhook.ReasonKeyFunc, false},
		{errors.New("connection reset"), webhook.ReasonOther, false},
		{nil, webhook.ReasonOther, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.reason, webhook.ReasonOf(tt.err), "%v", tt.err)
		require.Equal(t, tt.verify, webhook.ReasonOf(tt.err).Verification(), "%v", tt.err)
	}
}

// linesOf returns the lines about id, in order.
func (l *eventLog) linesOf(id string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if f := strings.Fields(line); len(f) > 1 && (f[1] == id || len(f) > 2 && f[2] == id) {
			out = append(out, line)
		}
	}
	return out
}

func TestObserverInbox(t *testing.T) {
	var log eventLog
	r := newInboxRig(t, 0, webhook.WorkerConfig{MinBackoff: time.Second, MaxBackoff: time.Second, MaxAttempts: 2},
		webhook.WithObserver(log.observer()))
	require.Equal(t, []string{"inbox *webhook.MemoryInbox"}, log.take(), "the observer was not given the inbox")
	r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		if ctx.Value(ctxKey{}) != "observed" {
			return webhook.Permanent(errors.New("the callback did not get the context Dispatch returned"))
		}
		if d.ID == "msg_flaky" && d.InboxAttempt == 1 || d.ID == "msg_bad" {
			return errors.New("downstream is down")
		}
		return nil
	})
	for _, id := range []string{"msg_flaky", "msg_bad", "msg_flaky"} {
		require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID(id))).Code)
	}
	require.Equal(t, map[string]string{"traceparent": "trace-of-msg_flaky"}, r.get(t, "standard:msg_flaky").Meta,
		"Storing's meta was not stored")
	r.run(t)
	r.waitState(t, "standard:msg_flaky", webhook.InboxPending)
	r.waitState(t, "standard:msg_bad", webhook.InboxPending)
	r.clock.Advance(2 * time.Second)
	r.waitState(t, "standard:msg_flaky", webhook.InboxDone)
	r.waitState(t, "standard:msg_bad", webhook.InboxDead)
	require.Eventually(t, func() bool { return len(log.linesOf("msg_bad")) == 8 }, 5*time.Second, time.Millisecond)

	require.Equal(t, []string{
		"decoded jam.created msg_flaky",
		"storing msg_flaky",
		"stored msg_flaky",
		"decoded jam.created msg_flaky",
		"storing msg_flaky", // the inbox tells a duplicate only on Store
		"duplicate msg_flaky",
		"dispatch msg_flaky meta=map[traceparent:trace-of-msg_flaky]",
		"done msg_flaky attempt=1 retry err=true",
		"dispatch msg_flaky meta=map[traceparent:trace-of-msg_flaky]",
		"done msg_flaky attempt=2 success err=false",
	}, log.linesOf("msg_flaky"))
	require.Equal(t, []string{
		"decoded jam.created msg_bad",
		"storing msg_bad",
		"stored msg_bad",
		"dispatch msg_bad meta=map[traceparent:trace-of-msg_bad]",
		"done msg_bad attempt=1 retry err=true",
		"dispatch msg_bad meta=map[traceparent:trace-of-msg_bad]",
		"dead msg_bad downstream is down",
		"done msg_bad attempt=2 dead err=true",
	}, log.linesOf("msg_bad"))
	require.GreaterOrEqual(t, len(log.runs), 4)
}

// TestObserverWorkerMeta: a worker's Dispatch gets a non-nil meta even
// for an entry stored without any (no Storing hook, or one that wrote
// nothing), since nil tells a hook the run is on the request.
func TestObserverWorkerMeta(t *testing.T) {
	tests := []struct {
		name    string
		storing func(ctx context.Context, d *webhook.Delivery, meta map[string]string)
	}{
		{"no Storing hook", nil},
		{"Storing wrote nothing", func(context.Context, *webhook.Delivery, map[string]string) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			metas := make(chan map[string]string, 1)
			obs := &webhook.Observer{
				Storing: tt.storing,
				Dispatch: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
					metas <- meta
					return ctx, nil
				},
			}
			r := newInboxRig(t, 0, webhook.WorkerConfig{}, webhook.WithObserver(obs))
			r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error { return nil })
			require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)).Code)
			require.Nil(t, r.get(t, "standard:"+webhooktest.MessageID(jamBody)).Meta)
			r.run(t)
			meta := testwait.Recv(t, metas, "the worker's run to reach the observer")
			require.NotNil(t, meta, "a worker's run looks like one on the request")
			require.Empty(t, meta)
		})
	}
}

func TestJoinObservers(t *testing.T) {
	var first, second eventLog
	var order []string
	a, b := first.observer(), second.observer()
	// Nesting: the second observer's Dispatch sees the first's context,
	// and the done funcs run innermost first.
	aDispatch, bDispatch := a.Dispatch, b.Dispatch
	a.Dispatch = func(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
		ctx, done := aDispatch(ctx, d, meta)
		return context.WithValue(ctx, ctxKey2{}, "first"), func(r webhook.Dispatched) { order = append(order, "first"); done(r) }
	}
	b.Dispatch = func(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
		require.Equal(t, "first", ctx.Value(ctxKey2{}))
		ctx, done := bDispatch(ctx, d, meta)
		return ctx, func(r webhook.Dispatched) { order = append(order, "second"); done(r) }
	}
	b.Verified = nil // a hook only one of them sets
	r := newRig(t, webhook.WithObserver(webhook.JoinObservers(nil, a, b)))
	id := webhooktest.MessageID(jamBody)
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)).Code)
	require.Equal(t, http.StatusUnauthorized, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithTime(time.Unix(0, 0)))).Code)
	require.Equal(t, []string{
		"verified standard",
		"decoded jam.created " + id,
		"dispatch " + id + " meta=map[]",
		"done " + id + " attempt=1 success err=false",
		"rejected standard 401 too_old",
	}, first.take())
	require.Equal(t, []string{
		"decoded jam.created " + id,
		"dispatch " + id + " meta=map[]",
		"done " + id + " attempt=1 success err=false",
		"rejected standard 401 too_old",
	}, second.take())
	require.Equal(t, []string{"second", "first"}, order)

	none := webhook.JoinObservers(nil, &webhook.Observer{})
	require.Nil(t, none.Dispatch)
	require.Nil(t, none.Rejected)
}

type ctxKey2 struct{}

// TestObserverDoneAfterSettle: on a worker, Dispatch's done learns a run's
// outcome once the inbox has recorded it, so a test can wait on done and
// then read the inbox without polling (the Observer doc promises it, and
// webhooktest's ExampleClock relies on it).
func TestObserverDoneAfterSettle(t *testing.T) {
	var r *inboxRig
	type seen struct {
		outcome webhook.Outcome
		state   webhook.InboxState
		lastErr string
		err     error
	}
	runs := make(chan seen, 4)
	obs := &webhook.Observer{
		Dispatch: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
			return ctx, func(dd webhook.Dispatched) {
				e, err := r.ib.Get(context.Background(), d.Key)
				runs <- seen{dd.Outcome, e.State, e.LastError, err}
			}
		},
	}
	r = newInboxRig(t, 0, webhook.WorkerConfig{MinBackoff: time.Second, MaxBackoff: time.Second, MaxAttempts: 3}, webhook.WithObserver(obs))
	fails := map[string]int{"msg_flaky": 1, "msg_bad": 3}
	var mu sync.Mutex
	r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		mu.Lock()
		defer mu.Unlock()
		if fails[d.ID] > 0 {
			fails[d.ID]--
			return errors.New("downstream is down")
		}
		return nil
	})
	r.run(t)
	tests := []struct {
		id   string
		want []seen
	}{
		{"msg_ok", []seen{{webhook.OutcomeSuccess, webhook.InboxDone, "", nil}}},
		{"msg_flaky", []seen{{webhook.OutcomeRetry, webhook.InboxPending, "downstream is down", nil}, {webhook.OutcomeSuccess, webhook.InboxDone, "downstream is down", nil}}},
		{"msg_bad", []seen{
			{webhook.OutcomeRetry, webhook.InboxPending, "downstream is down", nil},
			{webhook.OutcomeRetry, webhook.InboxPending, "downstream is down", nil},
			{webhook.OutcomeDead, webhook.InboxDead, "downstream is down", nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID(tt.id))).Code)
			for i, want := range tt.want {
				if i > 0 {
					r.clock.Advance(time.Second) // the retry is due
				}
				select {
				case got := <-runs:
					require.Equal(t, want, got, "run %d", i+1)
				case <-time.After(10 * time.Second):
					t.Fatalf("run %d never reported", i+1)
				}
			}
		})
	}
}

// TestObserverDonePanicSettlesClaim: a Dispatch done hook that panics on
// the request (net/http recovers it, dropping the connection) finds the
// claim settled already, as a worker's finds the inbox: the sender's retry
// of a delivery whose callbacks succeeded is a duplicate, of one whose
// callbacks failed runs them again. The claim was left held, and the
// retry answered 409 until its lease ran out.
func TestObserverDonePanicSettlesClaim(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprint("callback fails: ", fail), func(t *testing.T) {
			panicky := true
			obs := &webhook.Observer{Dispatch: func(ctx context.Context, d *webhook.Delivery, _ map[string]string) (context.Context, func(webhook.Dispatched)) {
				return ctx, func(webhook.Dispatched) {
					if panicky {
						panic("observer bug")
					}
				}
			}}
			r := newRig(t, webhook.WithObserver(obs))
			runs := 0
			r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				runs++
				if fail && runs == 1 {
					return errors.New("downstream is down")
				}
				return nil
			})
			require.PanicsWithValue(t, "observer bug", func() { r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)) })
			require.Equal(t, 1, runs)
			panicky = false
			require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)).Code)
			if fail {
				require.Equal(t, 2, runs, "the retry of a failed delivery runs it again")
			} else {
				require.Equal(t, 1, runs, "the retry of a processed delivery is a duplicate")
			}
		})
	}
}
