package otelwebhook_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync/atomic"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/otelwebhook"
	"github.com/inhook/webhook/webhooktest"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// A handler reporting to OpenTelemetry, with otelhttp for the request's
// span. Here the SDK records in memory; in production pass your
// providers, or none for the global ones.
func ExampleNew() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	obs, err := otelwebhook.New(otelwebhook.WithTracerProvider(tp), otelwebhook.WithMeterProvider(mp))
	if err != nil {
		panic(err)
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
	// A sender's trace is a link from the request's span, not its parent,
	// and its baggage stays out of the callbacks' context.
	public := otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true })
	traceOnly := otelhttp.WithPropagators(propagation.TraceContext{})
	srv := otelhttp.NewHandler(h, "webhook", otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp), public, traceOnly)

	body := []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","type":"video"}`)
	for range 2 { // a delivery and its duplicate
		r := webhooktest.NewStandardRequest(webhooktest.Secret, body)
		srv.ServeHTTP(httptest.NewRecorder(), r)
	}

	for _, s := range spans.Ended() {
		fmt.Println("span:", s.SpanKind(), s.Name())
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	var names []string
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name == otelwebhook.ScopeName {
			for _, m := range sm.Metrics {
				names = append(names, m.Name)
			}
		}
	}
	sort.Strings(names)
	fmt.Println("metrics:", names)
	// Output:
	// span: consumer process standard:jam.created
	// span: server POST
	// span: server POST
	// metrics: [messaging.process.duration webhook.deliveries webhook.duplicates]
}

// In inbox mode each worker's run is a CONSUMER span in the trace of the
// request that stored the delivery, so one trace shows the request and
// every retry. A test waits for each run on an observer of its own,
// joined before otelwebhook's: done funcs run in reverse order, so its
// done runs once otelwebhook has ended the run's span.
func ExampleNew_inbox() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	obs, err := otelwebhook.New(otelwebhook.WithTracerProvider(tp))
	if err != nil {
		panic(err)
	}
	runs := make(chan webhook.Dispatched, 16) // each run's outcome; room to spare, as hooks must not block
	mine := &webhook.Observer{
		Dispatch: func(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
			return ctx, func(r webhook.Dispatched) { runs <- r }
		},
	}
	clock := webhooktest.NewClock(webhooktest.Time())
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(clock.Now),
		webhook.WithInbox(webhook.NewMemoryInbox(0, clock.Now)),
		webhook.WithWorkers(webhook.WorkerConfig{MaxBackoff: time.Minute, Poll: time.Millisecond}),
		webhook.WithObserver(webhook.JoinObservers(mine, obs)),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	var failed atomic.Bool
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		if !failed.Swap(true) {
			return errors.New("CRM timed out")
		}
		return nil
	})
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- h.Run(ctx) }()

	srv := otelhttp.NewHandler(h, "webhook", otelhttp.WithTracerProvider(tp),
		otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }))
	srv.ServeHTTP(httptest.NewRecorder(), webhooktest.NewFixtureRequest("jam/jam.created.minimal.json"))
	<-runs                     // the first run failed
	clock.Advance(time.Minute) // MaxBackoff: the retry is due
	<-runs
	stop()
	if err := <-stopped; err != nil {
		panic(err)
	}

	// The first run may end before the request's span: the worker starts
	// as soon as the delivery is stored.
	ended := spans.Ended()
	sort.SliceStable(ended, func(i, j int) bool {
		return ended[i].SpanKind() == trace.SpanKindServer && ended[j].SpanKind() != trace.SpanKindServer
	})
	request := ended[0].SpanContext()
	for _, s := range ended {
		outcome := ""
		for _, a := range s.Attributes() {
			if a.Key == otelwebhook.OutcomeKey {
				outcome = a.Value.AsString()
			}
		}
		fmt.Println(s.SpanKind(), s.Name(), outcome, "in the request's trace:", s.SpanContext().TraceID() == request.TraceID())
	}
	// Output:
	// server POST stored in the request's trace: true
	// consumer process standard:jam.created retry in the request's trace: true
	// consumer process standard:jam.created success in the request's trace: true
}
