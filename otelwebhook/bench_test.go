package otelwebhook_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/otelwebhook"
	"github.com/inhook/webhook/webhooktest"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// benchHandler is the core's BenchmarkHandler setup, a 1.5 KB jam.created
// to one callback, with opts added.
func benchHandler(b *testing.B, seen *int, opts ...webhook.Option) http.Handler {
	h, err := webhook.NewHandler(append([]webhook.Option{
		webhook.WithSecrets(webhooktest.Secret), webhook.WithLogger(slog.New(slog.DiscardHandler)),
	}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		*seen += len(e.JamID)
		return nil
	})
	return h
}

// BenchmarkObserverOverhead serves the same deliveries through a handler
// without an observer, one with otelwebhook on no-op providers, and one
// with otelwebhook on the SDK (every span sampled and ended into no
// processor, metrics aggregated for a manual reader), call by call in
// turn, the first of each turn rotating, and reports the median call of each and the ratios to the first.
// Interleaving calls keeps the comparison fair on a machine shared with
// other work, as the core's BenchmarkHandlerPaired does.
func BenchmarkObserverOverhead(b *testing.B) {
	body := webhooktest.Fixture("jam/jam.created.maximal.json")
	noopObs, err := otelwebhook.New(otelwebhook.WithTracerProvider(tracenoop.NewTracerProvider()),
		otelwebhook.WithMeterProvider(metricnoop.NewMeterProvider()))
	if err != nil {
		b.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) })
	sdkObs, err := otelwebhook.New(otelwebhook.WithTracerProvider(tp), otelwebhook.WithMeterProvider(mp))
	if err != nil {
		b.Fatal(err)
	}
	var seen int
	handlers := [3]http.Handler{
		benchHandler(b, &seen),
		benchHandler(b, &seen, webhook.WithObserver(noopObs)),
		benchHandler(b, &seen, webhook.WithObserver(sdkObs)),
	}
	// Each handler dedupes on its own, so all three take the same ids.
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	headers := make([]http.Header, b.N)
	for i := range headers {
		id := "msg_bench_" + strconv.Itoa(i)
		sig, err := webhooktest.SignStandard(webhooktest.Secret, id, now, body)
		if err != nil {
			b.Fatal(err)
		}
		headers[i] = http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {id}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {sig}}
	}
	target, _ := url.Parse("/webhook")
	var took [3][]time.Duration
	for k := range took {
		took[k] = make([]time.Duration, b.N)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The first call of an iteration reads the delivery's headers into
		// the cache for the others: rotate who goes first.
		for j := range handlers {
			k := (i + j) % len(handlers)
			h := handlers[k]
			r := &http.Request{
				Method: http.MethodPost, URL: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: headers[i], Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
			}
			w := httptest.NewRecorder()
			began := time.Now()
			h.ServeHTTP(w, r.WithContext(context.Background()))
			took[k][i] = time.Since(began)
			if w.Code != http.StatusOK {
				b.Fatalf("handler %d: status %d", k, w.Code)
			}
		}
	}
	b.StopTimer()
	if seen == 0 {
		b.Fatal("callback never ran")
	}
	median := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2])
	}
	none, noop, sdk := median(took[0]), median(took[1]), median(took[2])
	b.ReportMetric(none, "none-ns/call")
	b.ReportMetric(noop, "noop-ns/call")
	b.ReportMetric(sdk, "sdk-ns/call")
	b.ReportMetric(noop/none, "noop/none")
	b.ReportMetric(sdk/none, "sdk/none")
}

// BenchmarkHandlerNoop is one handler with otelwebhook on no-op providers
// alone, for its allocations per delivery (the paired benchmark reports
// the three handlers' together).
func BenchmarkHandlerNoop(b *testing.B) {
	benchOne(b, otelwebhook.WithTracerProvider(tracenoop.NewTracerProvider()), otelwebhook.WithMeterProvider(metricnoop.NewMeterProvider()))
}

// BenchmarkHandlerNone is the same handler without an observer.
func BenchmarkHandlerNone(b *testing.B) { benchOne(b) }

func benchOne(b *testing.B, opts ...otelwebhook.Option) {
	body := webhooktest.Fixture("jam/jam.created.maximal.json")
	var seen int
	var h http.Handler
	if opts == nil {
		h = benchHandler(b, &seen)
	} else {
		obs, err := otelwebhook.New(opts...)
		if err != nil {
			b.Fatal(err)
		}
		h = benchHandler(b, &seen, webhook.WithObserver(obs))
	}
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	target, _ := url.Parse("/webhook")
	headers := make([]http.Header, b.N)
	for i := range headers {
		id := "msg_bench_" + strconv.Itoa(i)
		sig, err := webhooktest.SignStandard(webhooktest.Secret, id, now, body)
		if err != nil {
			b.Fatal(err)
		}
		headers[i] = http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {id}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {sig}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := &http.Request{
			Method: http.MethodPost, URL: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: headers[i], Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r.WithContext(context.Background()))
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
	b.StopTimer()
	if seen == 0 {
		b.Fatal("callback never ran")
	}
}
