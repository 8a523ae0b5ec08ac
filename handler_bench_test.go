package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/inhook/webhook/webhooktest"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// benchDeliveries signs n deliveries of body, each with its own message
// id, at the current time: the reference library checks the window
// against the real clock, and our handler's dedupe store would answer a
// repeated id without running the callback.
func benchDeliveries(b *testing.B, body []byte, n int) []http.Header {
	b.Helper()
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	headers := make([]http.Header, n)
	for i := range headers {
		id := "msg_bench_" + strconv.Itoa(i)
		sig, err := webhooktest.SignStandard(webhooktest.Secret, id, now, body)
		if err != nil {
			b.Fatal(err)
		}
		headers[i] = http.Header{
			"Content-Type":      {"application/json"},
			"Webhook-Id":        {id},
			"Webhook-Timestamp": {ts},
			"Webhook-Signature": {sig},
		}
	}
	return headers
}

// benchServe drives h with a fresh request and recorder per iteration, as
// a server would hand them over, and checks every answer.
func benchServe(b *testing.B, h http.Handler, body []byte) {
	headers := benchDeliveries(b, body, b.N)
	target, _ := url.Parse("/webhook")
	b.SetBytes(int64(len(body)))
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
}

// benchBody is a jam.created of about 1.5 KB.
func benchBody(b *testing.B) []byte {
	body := webhooktest.Fixture("jam/jam.created.maximal.json")
	if len(body) < 1200 || len(body) > 1800 {
		b.Fatalf("benchmark body is %d bytes, want about 1.5 KB", len(body))
	}
	return body
}

func BenchmarkHandler(b *testing.B) {
	body := benchBody(b)
	h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	var seen int
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		seen += len(e.JamID)
		return nil
	})
	benchServe(b, h, body)
	if seen == 0 {
		b.Fatal("callback never ran")
	}
}

// BenchmarkHandlerReference is the handler people write by hand with the
// reference library: read everything, verify, unmarshal, call back.
func BenchmarkHandlerReference(b *testing.B) {
	body := benchBody(b)
	var seen int
	benchServe(b, referenceHandler(b, &seen), body)
	if seen == 0 {
		b.Fatal("callback never ran")
	}
}

// referenceHandler is the handler people write by hand with the reference
// library; its callback adds to seen.
func referenceHandler(b *testing.B, seen *int) http.Handler {
	wh, err := standardwebhooks.NewWebhook(webhooktest.Secret)
	if err != nil {
		b.Fatal(err)
	}
	callback := func(ctx context.Context, e *event.JamCreated) error {
		*seen += len(e.JamID)
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if err := wh.Verify(body, r.Header); err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var e event.JamCreated
		if err := json.Unmarshal(body, &e); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if err := callback(r.Context(), &e); err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// BenchmarkHandlerPaired runs ours and the reference alternately, one
// delivery each per iteration, timing every call, and reports the median
// call of each and their ratio. On a machine shared with other work, where
// whole benchmark runs of one or the other are slowed at random, the
// medians of interleaved calls still compare like with like: a call of a
// few microseconds is seldom interrupted.
func BenchmarkHandlerPaired(b *testing.B) {
	body := benchBody(b)
	h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	var seen int
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		seen += len(e.JamID)
		return nil
	})
	ref := referenceHandler(b, &seen)
	headers := benchDeliveries(b, body, b.N)
	target, _ := url.Parse("/webhook")
	ours, refs := make([]time.Duration, b.N), make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k, hd := range [2]http.Handler{h, ref} {
			r := &http.Request{
				Method: http.MethodPost, URL: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: headers[i], Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
			}
			w := httptest.NewRecorder()
			began := time.Now()
			hd.ServeHTTP(w, r.WithContext(context.Background()))
			took := time.Since(began)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
			if k == 0 {
				ours[i] = took
			} else {
				refs[i] = took
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
	o, r := median(ours), median(refs)
	b.ReportMetric(o, "ours-ns/call")
	b.ReportMetric(r, "ref-ns/call")
	b.ReportMetric(o/r, "ratio")
}
