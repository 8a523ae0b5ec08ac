package otelwebhook_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/otelwebhook"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// downInbox is an inbox whose counts cannot be read once down is set: a
// Redis that is unreachable, a store already closed.
type downInbox struct {
	*webhook.MemoryInbox
	down *atomic.Bool
}

func (d downInbox) Stats(ctx context.Context) (webhook.InboxStats, error) {
	if d.down.Load() {
		return webhook.InboxStats{}, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	}
	return d.MemoryInbox.Stats(ctx)
}

// exported is a metric exporter that keeps the names of the metrics of
// this package's scope in each export.
type exported struct {
	mu      sync.Mutex
	exports [][]string
}

func (e *exported) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}

func (e *exported) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

func (e *exported) Export(_ context.Context, rm *metricdata.ResourceMetrics) error {
	var names []string
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name == otelwebhook.ScopeName {
			for _, m := range sm.Metrics {
				names = append(names, m.Name)
			}
		}
	}
	e.mu.Lock()
	e.exports = append(e.exports, names)
	e.mu.Unlock()
	return nil
}

func (e *exported) last() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.exports) == 0 {
		return nil
	}
	return e.exports[len(e.exports)-1]
}

func (e *exported) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.exports)
}

func (e *exported) ForceFlush(context.Context) error { return nil }
func (e *exported) Shutdown(context.Context) error   { return nil }

// TestInboxDownStillExports: an inbox whose counts cannot be read (its
// store unreachable, or closed before the meter provider's Shutdown)
// leaves its inbox metrics out, and every other metric of the provider is
// exported all the same. Their callback returned the Stats error,
// which makes the SDK's Collect fail, and a PeriodicReader exports
// nothing of a collection that failed: while the inbox was down, and at
// the final flush of Shutdown after the store was closed, every metric
// (the rejections an outage causes, the counts since the last export)
// was lost.
func TestInboxDownStillExports(t *testing.T) {
	exp := &exported{}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
	obs, err := otelwebhook.New(otelwebhook.WithMeterProvider(mp))
	require.NoError(t, err)
	var down atomic.Bool
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithObserver(obs),
		webhook.WithInbox(downInbox{webhook.NewMemoryInbox(0, nil), &down}),
	)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, serve(h, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)))

	require.NoError(t, mp.ForceFlush(context.Background()))
	require.ElementsMatch(t, []string{"webhook.deliveries", "webhook.inbox.deliveries", "webhook.inbox.oldest_pending"}, exp.last(),
		"metrics exported while the inbox is up")

	down.Store(true)
	require.Equal(t, http.StatusUnauthorized, serve(h, webhooktest.NewStandardRequest("whsec_"+"QUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJD", jamBody)))
	require.NoError(t, mp.ForceFlush(context.Background()))
	require.ElementsMatch(t, []string{"webhook.deliveries", "webhook.rejections", "webhook.verification.failures"}, exp.last(),
		"metrics exported while the inbox is down")

	// The final flush, after the store was closed.
	require.Equal(t, http.StatusOK, serve(h, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("msg_last"))))
	n := exp.count()
	require.NoError(t, mp.Shutdown(context.Background()))
	require.Equal(t, n+1, exp.count(), "Shutdown exported nothing")
	require.ElementsMatch(t, []string{"webhook.deliveries", "webhook.rejections", "webhook.verification.failures"}, exp.last())
}
