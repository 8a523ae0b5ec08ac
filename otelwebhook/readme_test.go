package otelwebhook_test

import (
	"log"
	"net/http"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/otelwebhook"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
)

// The README's otelwebhook snippet, line for line
// (TestREADMESnippetsCompile, at the root, finds it here). It is
// compiled, not run: it serves on the default mux with the global
// providers. ExampleNew runs the same handler on providers of its own.
var _ = readmeObserve

func readmeObserve(secret string) {
	obs, err := otelwebhook.New() // the global TracerProvider and MeterProvider; or WithTracerProvider, WithMeterProvider
	if err != nil {
		log.Fatal(err)
	}
	h, err := webhook.NewHandler(webhook.WithSecrets(secret), webhook.WithObserver(obs))
	if err != nil {
		log.Fatal(err)
	}
	public := otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true })
	traceOnly := otelhttp.WithPropagators(propagation.TraceContext{})              // no sender's baggage
	http.Handle("/webhooks", otelhttp.NewHandler(h, "webhook", public, traceOnly)) // every method: Intercom checks the URL with HEAD
}
