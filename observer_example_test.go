package webhook_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

// An observer that counts verification failures by reason and times the
// callbacks, the kind of thing a metrics library would be fed. Set only
// the hooks you need; package otelwebhook fills them all for
// OpenTelemetry.
func ExampleWithObserver() {
	failures := map[webhook.Reason]int{}
	obs := &webhook.Observer{
		Rejected: func(ctx context.Context, r webhook.Rejection) {
			if r.Reason.Verification() {
				failures[r.Reason]++
			}
		},
		Dispatch: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
			return ctx, func(r webhook.Dispatched) {
				fmt.Println("ran", d.Event.EventType(), "attempt", r.Attempt, r.Outcome)
			}
		},
	}
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithObserver(obs),
	)
	if err != nil {
		panic(err)
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error { return nil })

	body := []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","type":"video"}`)
	good := webhooktest.NewStandardRequest(webhooktest.Secret, body)
	forged := webhooktest.NewStandardRequest("whsec_Zm9yZ2VkLWtleS1mb3JnZWQta2V5LWZvcmdlZA==", body)
	stale := webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithTime(webhooktest.Time().Add(-time.Hour)))
	for _, r := range []*http.Request{good, forged, stale} {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	fmt.Println("signature:", failures[webhook.ReasonSignature], "too old:", failures[webhook.ReasonTooOld])
	// Output:
	// ran jam.created attempt 1 success
	// signature: 1 too old: 1
}

// Two observers on one handler: metrics of your own beside a tracer (here
// a stand-in for otelwebhook's). Each Dispatch gets the context the one
// before it returned, so the tracer's span covers the callbacks, and the
// done funcs run in reverse: the first observer's last, once the tracer
// has ended its span. Put first the observer a test waits on.
func ExampleJoinObservers() {
	metrics := &webhook.Observer{
		Dispatch: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
			fmt.Println("metrics: start")
			return ctx, func(r webhook.Dispatched) { fmt.Println("metrics: done,", r.Outcome) }
		},
	}
	type spanKey struct{}
	tracer := &webhook.Observer{
		Dispatch: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
			fmt.Println("tracer: span started")
			return context.WithValue(ctx, spanKey{}, "span"), func(webhook.Dispatched) { fmt.Println("tracer: span ended") }
		},
	}
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(webhooktest.Time),
		webhook.WithObserver(webhook.JoinObservers(metrics, nil, tracer)), // nil observers are skipped
	)
	if err != nil {
		panic(err)
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		fmt.Println("callback in", ctx.Value(spanKey{}))
		return nil
	})

	body := []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","type":"video"}`)
	h.ServeHTTP(httptest.NewRecorder(), webhooktest.NewStandardRequest(webhooktest.Secret, body))
	// Output:
	// metrics: start
	// tracer: span started
	// callback in span
	// tracer: span ended
	// metrics: done, success
}
