// Command prometheus serves a webhook receiver's metrics to Prometheus
// through the OpenTelemetry Prometheus exporter: otelwebhook records them,
// the exporter translates them (webhook.deliveries becomes
// webhook_deliveries_total, messaging.process.duration becomes
// messaging_process_duration_seconds), and promhttp serves them.
//
//	cd examples/observability && go run ./prometheus                 # send a few deliveries, print the scrape, exit
//	cd examples/observability && go run ./prometheus -listen :9464   # then keep serving /metrics and /webhooks
//
// Deliveries are signed with webhooktest's public test key.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/otelwebhook"
	"github.com/inhook/webhook/webhooktest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace/noop"
)

func main() {
	listen := flag.String("listen", "", "after the demo, serve /metrics and /webhooks on this address (e.g. :9464)")
	flag.Parse()
	mux, err := run(os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "prometheus:", err)
		os.Exit(1)
	}
	if *listen != "" {
		srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		log.Fatal(srv.ListenAndServe())
	}
}

// run builds the receiver and its /metrics endpoint, sends a processed, a
// duplicate and a forged delivery, and prints the webhook lines of a
// scrape.
func run(out io.Writer) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	// Metrics only here: traces go wherever your TracerProvider sends them.
	obs, err := otelwebhook.New(otelwebhook.WithMeterProvider(mp), otelwebhook.WithTracerProvider(noop.NewTracerProvider()))
	if err != nil {
		return nil, err
	}
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret), // your whsec_… in production
		webhook.WithObserver(obs),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		return nil, err
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error { return nil })
	mux := http.NewServeMux()
	mux.Handle("/webhooks", h) // every method: the handler answers HEAD and 405s the rest
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	body := []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","type":"video"}`)
	for _, secret := range []string{webhooktest.Secret, webhooktest.Secret, "whsec_Zm9yZ2VkLWtleS1mb3JnZWQta2V5LWZvcmdlZA=="} {
		r := webhooktest.NewStandardRequest(secret, body, webhooktest.WithTime(time.Now()))
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks", bytes.NewReader(body))
		req.Header = r.Header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
	}

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "webhook_") || strings.HasPrefix(line, "messaging_process_duration_seconds_count") {
			fmt.Fprintln(out, line)
		}
	}
	return mux, sc.Err()
}
