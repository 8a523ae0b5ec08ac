package webhook_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

func TestHandlerCallbackFailures(t *testing.T) {
	tests := []struct {
		name       string
		fn         func() error
		status     int
		retryAfter string
		is         any
		godebug    string // GODEBUG while the row runs
	}{
		{name: "error", fn: func() error { return errors.New("linear is down") }, status: 500},
		{name: "panic", fn: func() error { panic("nil map") }, status: 500, is: new(*webhook.PanicError)},
		// A panic's value is reachable as errors reach a cause, but never
		// chooses the status or the Retry-After: a panic is a failure.
		{name: "panic with a status", fn: func() error {
			panic(&webhook.StatusError{Code: http.StatusAccepted, RetryAfter: time.Minute})
		}, status: 500, is: new(*webhook.StatusError)},
		// Under panicnil=1 (the default of a main module declaring go
		// 1.20 or older) recover returns nil for panic(nil): the panic is
		// still no success.
		{name: "panic(nil) under panicnil=1", fn: func() error { panic(nil) }, status: 500, is: new(*webhook.PanicError), godebug: "panicnil=1"},
		// A typed nil whose Error method dereferences it (as a nil
		// *StatusError's does) is a failure, not a panic out of
		// ServeHTTP that drops the connection.
		{name: "typed nil *StatusError", fn: func() error { var se *webhook.StatusError; return se }, status: 500},
		{name: "410 unsubscribes", fn: func() error { return &webhook.StatusError{Code: http.StatusGone} }, status: 410},
		{name: "503 with Retry-After", fn: func() error {
			return &webhook.StatusError{Code: http.StatusServiceUnavailable, RetryAfter: 1500 * time.Millisecond}
		}, status: 503, retryAfter: "2"},
		// Rounded up to whole seconds without passing through a negative:
		// a RetryAfter meant as "a long time" must not read as "-9223372036".
		{name: "503 with the longest Retry-After", fn: func() error {
			return &webhook.StatusError{Code: http.StatusServiceUnavailable, RetryAfter: math.MaxInt64}
		}, status: 503, retryAfter: "9223372037"},
		{name: "202 counts as success", fn: func() error { return &webhook.StatusError{Code: http.StatusAccepted} }, status: 202},
		// A 1xx would reach the sender as success while the claim is
		// released: the event would be lost.
		{name: "1xx answers 500", fn: func() error { return &webhook.StatusError{Code: http.StatusProcessing} }, status: 500},
		{name: "600 answers 500", fn: func() error { return &webhook.StatusError{Code: 600} }, status: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.godebug != "" {
				t.Setenv("GODEBUG", tt.godebug)
			}
			r := newRig(t)
			var fail atomic.Bool
			fail.Store(true)
			r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
				if fail.Load() {
					return tt.fn()
				}
				return nil
			})
			var hookErr *webhook.HandlerError
			r.h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) { hookErr = err })
			w := r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody))
			require.Equal(t, tt.status, w.Code)
			require.Equal(t, tt.retryAfter, w.Header().Get("Retry-After"))
			require.Equal(t, int64(1), r.calls.Load(), "the other callback still ran")
			if tt.status < 300 {
				require.Nil(t, hookErr)
				return
			}
			require.NotNil(t, hookErr)
			require.Equal(t, tt.status, hookErr.Status)
			if tt.is != nil {
				require.ErrorAs(t, hookErr, tt.is)
			}
			// The failure released the claim: the sender's retry runs
			// the callbacks again and succeeds.
			fail.Store(false)
			r.clock.Advance(5 * time.Second)
			w = r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithTime(r.clock.Now())))
			require.Equal(t, http.StatusOK, w.Code)
			require.Equal(t, int64(2), r.calls.Load())
		})
	}
}

// TestHandlerCallbackOrderNotRegistration: OnUnknown and OnAny run after
// an event's own callbacks even when registered before them, as the
// Handler's doc and the README say.
func TestHandlerCallbackOrderNotRegistration(t *testing.T) {
	h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(webhooktest.Time))
	require.NoError(t, err)
	var order []string
	h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error {
		order = append(order, "any")
		return nil
	})
	h.OnUnknown(func(ctx context.Context, d *webhook.Delivery, e *event.UnknownEvent) error {
		order = append(order, "unknown")
		return nil
	})
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		order = append(order, "jam.created")
		return nil
	})
	tests := []struct {
		fixture string
		want    []string
	}{
		{"jam/jam.created.minimal.json", []string{"jam.created", "any"}},
		{"jam/jam.updated.envelope.json", []string{"unknown", "any"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			order = nil
			w := httptest.NewRecorder()
			h.ServeHTTP(w, webhooktest.NewFixtureRequest(tt.fixture))
			require.Equal(t, http.StatusOK, w.Code)
			require.Equal(t, tt.want, order)
		})
	}
}

func TestHandlerCallbackOrderAndDelivery(t *testing.T) {
	r := newRig(t)
	var order []string
	var got *webhook.Delivery
	r.h.OnIntercom("*", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		order = append(order, "*")
		return nil
	})
	r.h.OnIntercom("conversation.user.replied", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		order = append(order, "exact")
		got = d
		return nil
	})
	r.h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error {
		order = append(order, "any")
		return nil
	})
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, intercomBody)).Code)
	// Exact topics, then patterns in registration order, then OnAny.
	require.Equal(t, []string{"exact", "*", "any"}, order)
	require.Equal(t, event.SourceIntercom, got.Source)
	require.Equal(t, "notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c", got.ID)
	require.Equal(t, 1, got.Attempt)
	require.Equal(t, intercomBody, got.Body)

	got = nil
	r.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error { got = d; return nil })
	require.Equal(t, http.StatusOK, r.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("msg_2pQx"))).Code)
	require.Equal(t, event.SourceStandard, got.Source)
	require.Equal(t, "msg_2pQx", got.ID)
	require.True(t, got.Timestamp.Equal(webhooktest.Time()))
	require.Equal(t, jamBody, got.Body)
}

func TestOnIntercomBadPattern(t *testing.T) {
	h, err := webhook.NewHandler(webhook.WithIntercomSecrets(webhooktest.IntercomSecret))
	require.NoError(t, err)
	noop := func(context.Context, *webhook.Delivery, *event.IntercomNotification) error { return nil }
	for _, p := range []string{"", "conversation*", "*.replied", "conversation.*.*", ".*"} {
		require.Panics(t, func() { h.OnIntercom(p, noop) }, p)
	}
}
