package otelwebhook_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// endWatcher is a span processor that, as each process span ends, reads
// how many runs messaging.process.duration has recorded.
type endWatcher struct {
	tel  *telemetry
	t    *testing.T
	mu   sync.Mutex
	seen []int64 // the runs recorded when each process span ended
}

func (w *endWatcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (w *endWatcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if !strings.HasPrefix(s.Name(), "process") {
		return
	}
	var n int64
	for _, c := range points(w.t, w.tel.metrics(w.t)["messaging.process.duration"]) {
		n += c
	}
	w.mu.Lock()
	w.seen = append(w.seen, n)
	w.mu.Unlock()
}
func (w *endWatcher) Shutdown(context.Context) error   { return nil }
func (w *endWatcher) ForceFlush(context.Context) error { return nil }

// TestRunRecordedBeforeSpanEnds: a run's duration (and outcome) is in the
// metrics by the time its process span ends, failed or not, so whoever
// waits for the span (a test, an exporter reading both) finds them. The
// span ended first, and TestInbox, which reads the metrics once it sees
// the spans, failed now and then with a run missing.
func TestRunRecordedBeforeSpanEnds(t *testing.T) {
	tel := newTelemetry(t)
	w := &endWatcher{tel: tel, t: t}
	tel.tp.RegisterSpanProcessor(w)
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithObserver(tel.observer(t)),
	)
	require.NoError(t, err)
	h.OnJamCreated(func(_ context.Context, d *webhook.Delivery, _ *event.JamCreated) error {
		if d.ID == "msg_bad" {
			return errors.New("downstream is down")
		}
		return nil
	})
	require.Equal(t, http.StatusOK, serve(h, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("msg_ok"))))
	require.NotEqual(t, http.StatusOK, serve(h, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("msg_bad"))))
	w.mu.Lock()
	defer w.mu.Unlock()
	require.Equal(t, []int64{1, 2}, w.seen, "runs recorded as each process span ended")
}
