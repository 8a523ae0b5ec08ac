// Command observability runs a webhook receiver instrumented with
// OpenTelemetry, sends it a delivery that is processed, the same one again
// (a duplicate), a forged one and one whose callback fails; then, to a
// receiver in inbox mode, one whose callback fails once, which the workers
// retry until it succeeds, and one whose callback always fails, which they
// dead-letter. It writes the spans and metrics to stdout with the SDK's
// stdout exporters:
//
//	cd examples/observability && go run .
//
// The request's span comes from otelhttp around the handler; the
// callbacks' "process" spans and the metrics come from otelwebhook. Swap
// the stdout exporters for OTLP ones to send the same to a collector. In
// inbox mode every worker's "process" span is in the trace of the request
// that stored the delivery and links to its span, so one trace shows the
// request and every retry. The
// prometheus directory beside this file serves the metrics to Prometheus
// instead.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/otelwebhook"
	"github.com/inhook/webhook/webhooktest"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "observability:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	ctx := context.Background()
	// The exporters write from the workers' goroutines too.
	out := &lockedWriter{w: w}
	spans, err := stdouttrace.New(stdouttrace.WithWriter(out))
	if err != nil {
		return err
	}
	// A syncer exports each span as it ends, so the output follows the
	// deliveries; production code batches (sdktrace.WithBatcher).
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(ctx)
	metrics, err := stdoutmetric.New(stdoutmetric.WithWriter(out))
	if err != nil {
		return err
	}
	reader := sdkmetric.NewPeriodicReader(metrics)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	obs, err := otelwebhook.New(otelwebhook.WithTracerProvider(tp), otelwebhook.WithMeterProvider(mp))
	if err != nil {
		return err
	}
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret), // your whsec_… in production
		webhook.WithObserver(obs),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		return err
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		if e.Title == "fails" {
			return errors.New("the issue tracker is down")
		}
		return nil
	})
	srv := httptest.NewServer(otelhttp.NewHandler(h, "webhook", otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp), public(), traceOnly()))
	defer srv.Close()

	ok := []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","type":"video","title":"works"}`)
	fails := []byte(`{"jamId":"8b1e4d2c-5a6f-4e7d-9c0b-1a2b3c4d5e6f","teamId":"team_8Hq2","type":"video","title":"fails"}`)
	for _, d := range []struct {
		what   string
		secret string
		body   []byte
		want   int
	}{
		{"processed", webhooktest.Secret, ok, http.StatusOK},
		{"duplicate", webhooktest.Secret, ok, http.StatusOK},
		{"forged", "whsec_Zm9yZ2VkLWtleS1mb3JnZWQta2V5LWZvcmdlZA==", ok, http.StatusUnauthorized},
		{"callback fails", webhooktest.Secret, fails, http.StatusInternalServerError},
	} {
		fmt.Fprintf(out, "== %s\n", d.what)
		status, err := post(srv.URL, d.secret, d.body)
		if err != nil {
			return err
		}
		if status != d.want {
			return fmt.Errorf("%s: status %d, want %d", d.what, status, d.want)
		}
	}
	if err := inboxMode(out, tp, mp); err != nil {
		return err
	}
	fmt.Fprintln(out, "== metrics")
	// Shutdown collects and exports the metrics one last time.
	return mp.Shutdown(ctx)
}

// public makes otelhttp start each request's trace, linked to a trace
// context the sender sent rather than its child: a sender is across a
// trust boundary, and its traceparent header is not signed.
func public() otelhttp.Option {
	return otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true })
}

// traceOnly reads a sender's traceparent (for public's link), not its
// baggage, which a global Baggage propagator would put in the callbacks'
// context.
func traceOnly() otelhttp.Option { return otelhttp.WithPropagators(propagation.TraceContext{}) }

// post sends a delivery signed with secret, as Jam's sender would.
func post(url, secret string, body []byte) (int, error) {
	r := webhooktest.NewStandardRequest(secret, body, webhooktest.WithTime(time.Now()))
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header = r.Header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// inboxMode sends two deliveries to a handler in inbox mode: one whose
// callback fails on its first run and succeeds on the retry, one whose
// callback always fails, so it is dead after two runs.
func inboxMode(out io.Writer, tp *sdktrace.TracerProvider, mp *sdkmetric.MeterProvider) error {
	// The name sets this inbox's metrics apart from other handlers' inboxes
	// on the same meter provider.
	obs, err := otelwebhook.New(otelwebhook.WithTracerProvider(tp), otelwebhook.WithMeterProvider(mp), otelwebhook.WithInboxName("jam"))
	if err != nil {
		return err
	}
	ib := webhook.NewMemoryInbox(0, nil) // sqlitestore.Open(path) in production: MemoryInbox is not durable
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithObserver(obs),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithInbox(ib),
		webhook.WithWorkers(webhook.WorkerConfig{MaxAttempts: 2, MinBackoff: 20 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}),
	)
	if err != nil {
		return err
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		if e.Title == "never works" || e.Title == "works the second time" && d.InboxAttempt == 1 {
			return errors.New("the issue tracker is down")
		}
		return nil
	})
	srv := httptest.NewServer(otelhttp.NewHandler(h, "webhook", otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp), public(), traceOnly()))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx) }()

	for _, title := range []string{"works the second time", "never works"} {
		fmt.Fprintf(out, "== inbox: %s\n", title)
		body := []byte(`{"jamId":"2c9d7e1a-0b4f-4a3e-8d6c-5f1e2a3b4c5d","teamId":"team_8Hq2","type":"video","title":"` + title + `"}`)
		status, err := post(srv.URL, webhooktest.Secret, body)
		if err != nil {
			cancel()
			return err
		}
		if status != http.StatusOK {
			cancel()
			return fmt.Errorf("inbox: %s: status %d", title, status)
		}
	}
	// Wait for the workers: one delivery done, the other dead.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if st, err := ib.Stats(ctx); err == nil && st.Done == 1 && st.Dead == 1 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			return errors.New("inbox: the workers did not settle the deliveries")
		}
	}
	cancel()
	return <-ran
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
