package otelwebhook_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TestDeadWithoutRun: a delivery a worker marks dead without running its
// callbacks (its runs crashed past MaxAttempts, or its stored body no
// longer decodes) gets a process span of its own, in the trace of the
// request that stored it and linked to it, as every run's span is, with
// webhook.outcome dead and an error.type saying why. Such deaths had no
// span at all, and the stored trace context was lost for exactly the
// deliveries an operator most needs to trace.
func TestDeadWithoutRun(t *testing.T) {
	tests := []struct {
		name    string
		store   func(t *testing.T, s *deadRig) trace.SpanContext // stores "standard:dying"; returns the request's span
		span    string
		attempt string
		errType string
	}{
		{
			name: "runs crashed past MaxAttempts", span: "process standard:jam.created", attempt: "3", errType: "unfinished_runs",
			store: func(t *testing.T, s *deadRig) trace.SpanContext {
				srv := otelhttp.NewHandler(s.h, "webhook", otelhttp.WithTracerProvider(s.tel.tp), otelhttp.WithPropagators(propagation.TraceContext{}))
				require.Equal(t, http.StatusOK, serve(srv, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("dying"))))
				for range 2 { // two runs, each crashed holding its lease
					ls, err := s.ib.Lease(context.Background(), 1, webhook.DefaultLease)
					require.NoError(t, err)
					require.Len(t, ls, 1)
					s.clock.Advance(webhook.DefaultLease + time.Millisecond)
				}
				return s.tel.request(t).SpanContext()
			},
		},
		{
			name: "stored body no longer decodes", span: "process standard:unknown", attempt: "1", errType: "undecodable",
			store: func(t *testing.T, s *deadRig) trace.SpanContext {
				// The trace context a request stored with a body that a
				// later version no longer decodes.
				ctx, req := s.tel.tp.Tracer("test").Start(context.Background(), "request", trace.WithSpanKind(trace.SpanKindServer))
				meta := map[string]string{}
				s.obs.Storing(ctx, &webhook.Delivery{Source: event.SourceStandard, ID: "dying"}, meta)
				req.End()
				ok, err := s.ib.Store(context.Background(), &webhook.InboxEntry{Key: "standard:dying", Source: event.SourceStandard, ID: "dying",
					Body: []byte(`{"jamId":`), Header: http.Header{"Content-Type": {"application/json"}}, Meta: meta})
				require.NoError(t, err)
				require.True(t, ok)
				return req.SpanContext()
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newDeadRig(t)
			req := tt.store(t, s)
			require.True(t, req.IsValid())
			ctx, cancel := context.WithCancel(context.Background())
			ran := make(chan error, 1)
			go func() { ran <- s.h.Run(ctx) }()
			require.Eventually(t, func() bool {
				e, err := s.ib.Get(context.Background(), "standard:dying")
				return err == nil && e.State == webhook.InboxDead && len(s.tel.spansNamed("process")) > 0
			}, 10*time.Second, time.Millisecond)
			cancel()
			require.NoError(t, <-ran)

			require.Len(t, s.tel.spansNamed("process"), 1, "spans: %v", spanNames(s.tel.spans.Ended()))
			span := s.tel.span(t, tt.span)
			require.Equal(t, trace.SpanKindConsumer, span.SpanKind())
			require.Subset(t, attrs(span), map[string]string{
				"messaging.system": "webhook", "messaging.operation.type": "process", "messaging.operation.name": "process",
				"messaging.destination.name": tt.span[len("process "):], "messaging.message.id": "dying",
				"webhook.source": "standard", "webhook.attempt": tt.attempt, "webhook.outcome": "dead", "error.type": tt.errType,
			})
			require.Equal(t, codes.Error, span.Status().Code)
			require.NotEmpty(t, span.Events(), "the error is not recorded")
			require.Equal(t, "exception", span.Events()[0].Name)
			require.Equal(t, req.TraceID(), span.SpanContext().TraceID(), "not in the request's trace")
			require.True(t, span.Parent().Equal(req.WithRemote(true)), "the parent %v is not the request's span %v", span.Parent(), req)
			require.Len(t, span.Links(), 1)
			require.True(t, span.Links()[0].SpanContext.Equal(req.WithRemote(true)), "the link %v is not the request's span", span.Links()[0].SpanContext)

			ms := s.tel.metrics(t)
			require.Equal(t, int64(1), points(t, ms["webhook.deliveries"])["webhook.outcome=dead,webhook.source=standard"])
			require.Empty(t, points(t, ms["messaging.process.duration"]), "no callback ran, so no run's duration")
			noIDs(t, ms, "dying")
		})
	}
}

// deadRig is a handler in inbox mode whose workers give a delivery two
// runs, on a fake clock, observed by tel.
type deadRig struct {
	tel   *telemetry
	obs   *webhook.Observer
	clock *webhooktest.Clock
	ib    *webhook.MemoryInbox
	h     *webhook.Handler
}

func newDeadRig(t *testing.T) *deadRig {
	t.Helper()
	s := &deadRig{tel: newTelemetry(t), clock: webhooktest.NewClock(webhooktest.Time())}
	s.obs = s.tel.observer(t)
	s.ib = webhook.NewMemoryInbox(0, s.clock.Now)
	var err error
	s.h, err = webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(s.clock.Now),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithObserver(s.obs),
		webhook.WithInbox(s.ib),
		webhook.WithWorkers(webhook.WorkerConfig{MaxAttempts: 2, Poll: time.Millisecond}),
	)
	require.NoError(t, err)
	s.h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		t.Error("a callback ran")
		return nil
	})
	return s
}
