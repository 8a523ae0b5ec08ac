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
