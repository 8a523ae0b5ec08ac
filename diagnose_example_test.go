package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

// A delivery that fails verification comes to OnError with a Diagnosis:
// here a logging middleware read the body before the handler did. The
// sender is told only 401 or 400; the log line holds the same evidence.
func ExampleDiagnosis() {
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	h.OnError(func(ctx context.Context, d *webhook.Delivery, err *webhook.HandlerError) {
		if dg := err.Diagnosis; dg != nil {
			fmt.Printf("%d %s: message %s, hint %s (%s)\n", err.Status, webhook.ReasonOf(err.Err), dg.MessageID, dg.Hint, dg.Evidence)
		}
	})
	logsBodies := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // and forgets to put it back
			next.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(logsBodies(h))
	defer srv.Close()

	body := []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","type":"video"}`)
	signed := webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithID("msg_2Lx9"))
	r, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body)) // with Content-Length, as senders send
	if err != nil {
		panic(err)
	}
	r.Header = signed.Header
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	// Output:
	// 400 other: message msg_2Lx9, hint empty_body (no body bytes, Content-Length 84)
}

// Keys per tenant: each customer's Jam endpoint posts to /hooks/{tenant},
// and the key function picks that tenant's verifier, built once.
func ExampleWithKeyFunc() {
	acme, err := webhook.NewVerifier([]string{webhooktest.Secret}, webhook.WithClock(webhooktest.Time))
	if err != nil {
		panic(err)
	}
	tenants := map[string]*webhook.Keys{"acme": {Tenant: "acme", Standard: acme}}
	h, err := webhook.NewHandler(
		webhook.WithKeyFunc(func(ctx context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
			return tenants[hint.Request.PathValue("tenant")], nil // nil for an unknown tenant: 401
		}),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		fmt.Println("jam created for", d.Tenant, "dedupe key", d.Key)
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("/hooks/{tenant}", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	body := []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","type":"video"}`)
	for _, tenant := range []string{"acme", "initech"} {
		r := webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithID("msg_2Lx9"))
		fmt.Println(tenant, post(srv.URL+"/hooks/"+tenant, r))
	}
	// Output:
	// jam created for acme dedupe key standard@acme:msg_2Lx9
	// acme 200
	// initech 401
}

// Reading why a delivery was refused: the sender sees only the status,
// and the handler logs each rejection at WARN with its diagnosis (the
// fields of Diagnosis; the README's troubleshooting table gives each
// hint's fix). In a test, log to the test's output,
// WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil))), so that an
// unexpected status comes with its reason. Here the time is left out of
// the lines, and the second request shows what a handler whose clock is
// not the one webhooktest signs at logs for a fixture (give it
// WithClock(webhooktest.Time)).
func ExampleWithLogger() {
	clock := webhooktest.NewClock(webhooktest.Time())
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(clock.Now), webhook.WithLogger(logger))
	if err != nil {
		panic(err)
	}
	body := webhooktest.Fixture("jam/jam.created.minimal.json")

	// Signed with another endpoint's secret.
	other := "whsec_Zm9yZ2VkLWJ5LXNvbWVvbmUtd2l0aG91dC10aGUta2V5"
	h.ServeHTTP(httptest.NewRecorder(), webhooktest.NewStandardRequest(other, body, webhooktest.WithID("msg_1")))

	// Signed at webhooktest.Time(), received an hour later.
	clock.Advance(time.Hour)
	h.ServeHTTP(httptest.NewRecorder(), webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithID("msg_2")))
	// Output:
	// level=WARN msg="webhook rejected" status=401 reason="webhook: standard: no matching signature found" class=signature source=standard id_unverified=msg_1 timestamp_unverified=2026-11-24T09:00:00.000Z skew="clock in step with the sender" body_len=276 content_length=276 tried="1 v1 against 1 HMAC key(s)" hint=check_secret evidence="the body is JSON of the declared length, not compressed, without marks of a re-encoding"
	// level=WARN msg="webhook rejected" status=401 reason="webhook: standard: message timestamp too old" class=too_old source=standard id_unverified=msg_2 timestamp_unverified=2026-11-24T09:00:00.000Z skew="clock 1h ahead of the sender" body_len=276 content_length=276 entries="1 v1, 0 v1a, 0 of other versions" hint=clock_ahead evidence="clock 1h ahead of the sender"
}
