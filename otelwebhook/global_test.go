package otelwebhook_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/otelwebhook"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// TestGlobalProviders: New without providers reports to the global ones,
// no-op until a program sets them (no test here sets them), and a
// handler and its workers run with it as without an observer: a
// delivery stored, its duplicate, a forged one refused, and the stored
// one's runs, a retry then a success, which an observer of the test's,
// joined before otelwebhook's, hears.
func TestGlobalProviders(t *testing.T) {
	obs, err := otelwebhook.New()
	require.NoError(t, err)
	runs := make(chan webhook.Dispatched, 4)
	mine := &webhook.Observer{Dispatch: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
		return ctx, func(r webhook.Dispatched) { runs <- r }
	}}
	clock := webhooktest.NewClock(webhooktest.Time())
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(clock.Now),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithObserver(webhook.JoinObservers(mine, obs)),
		webhook.WithInbox(webhook.NewMemoryInbox(0, clock.Now)),
		webhook.WithWorkers(webhook.WorkerConfig{MaxAttempts: 2, MinBackoff: time.Second, MaxBackoff: time.Second, Poll: time.Millisecond}),
	)
	require.NoError(t, err)
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		if d.InboxAttempt == 1 {
			return errors.New("downstream is down")
		}
		return nil
	})
	srv := otelhttp.NewHandler(h, "webhook")
	require.Equal(t, http.StatusOK, serve(srv, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)))
	require.Equal(t, http.StatusOK, serve(srv, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)), "the duplicate")
	require.Equal(t, http.StatusUnauthorized, serve(srv, webhooktest.NewStandardRequest("whsec_"+"QUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJD", jamBody)))

	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-ran) }()
	require.Equal(t, webhook.OutcomeRetry, (<-runs).Outcome)
	clock.Advance(time.Second)
	require.Equal(t, webhook.OutcomeSuccess, (<-runs).Outcome)
}
