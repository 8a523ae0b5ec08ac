package webhook_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

// post sends r to url over the network and returns the status.
func post(url string, r *http.Request) int {
	req, err := http.NewRequest(r.Method, url, r.Body)
	if err != nil {
		panic(err)
	}
	req.Header = r.Header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A receiver for Jam's jam.created, served with net/http. The request is
// signed with webhooktest's test key at a fixed time, so the handler's
// clock is fixed to match; in production leave the clock alone and take
// the secret from your configuration.
func ExampleNewHandler() {
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret), // whsec_… from Jam's webhook settings
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		fmt.Println("jam created:", e.JamID, "message", d.ID)
		return nil
	})
	srv := httptest.NewServer(h) // in production: http.Handle("/webhooks", h)
	defer srv.Close()

	body := []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","type":"video"}`)
	sign := func() *http.Request {
		r := webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithID("msg_2Lx9"))
		return r
	}
	fmt.Println(post(srv.URL, sign()))
	fmt.Println(post(srv.URL, sign()), "(a retry: acknowledged, not processed again)")

	forged := webhooktest.NewStandardRequest("whsec_Zm9yZ2VkLWJ5LXNvbWVvbmUtd2l0aG91dC10aGUta2V5", body)
	fmt.Println(post(srv.URL, forged))
	// Output:
	// jam created: 4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03 message msg_2Lx9
	// 200
	// 200 (a retry: acknowledged, not processed again)
	// 401
}

// Intercom topics can be matched exactly, by prefix, or all at once.
// Callbacks for a topic run in the order they were registered, exact
// topics before patterns, then OnAny.
func ExampleHandler_OnIntercom() {
	h, err := webhook.NewHandler(
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret), // the app's client secret
		webhook.WithClock(webhooktest.Time),                     // the body below was created then
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	h.OnIntercom("conversation.user.replied", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		fmt.Println("exact:", n.Topic)
		return nil
	})
	h.OnIntercom("conversation.*", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		fmt.Println("prefix:", n.Topic, "notification", d.ID)
		return nil
	})
	h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error {
		fmt.Println("any:", d.Source, e.EventType())
		return nil
	})

	body := []byte(`{"type":"notification_event","id":"notif_5b0d1c7e","topic":"conversation.user.replied","app_id":"q7x2lm4v",` +
		`"delivery_attempts":1,"created_at":1795510800,"data":{"type":"notification_event_data","item":{"type":"conversation","id":"184467440737"}}}`)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body))
	fmt.Println(w.Code)
	// Output:
	// exact: conversation.user.replied
	// prefix: conversation.user.replied notification notif_5b0d1c7e
	// any: intercom conversation.user.replied
	// 200
}

// A callback chooses the response with a StatusError: 410 Gone makes
// Standard Webhooks senders and Intercom disable the endpoint, 503 with
// Retry-After sheds load. The claim on the message is released, so a
// retry runs the callbacks again.
func ExampleStatusError() {
	h, err := webhook.NewHandler(
		webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	h.OnSeries(func(ctx context.Context, d *webhook.Delivery, s *event.SeriesWebhook) error {
		return &webhook.StatusError{Code: http.StatusServiceUnavailable, RetryAfter: 30 * time.Second}
	})
	body := []byte(`{"name":"Dana Okafor","company":"Northwind"}`)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, body))
	fmt.Println(w.Code, w.Header().Get("Retry-After"))
	// Output:
	// 503 30
}

// Mounting on a net/http ServeMux beside other routes, with Go 1.22
// patterns, one handler per sender on a path of its own. Jam sends POST
// only, so a method pattern serves it; Intercom checks its URL with HEAD
// before it saves it, which "POST /webhooks/intercom" would leave to the
// mux's 405, so its path takes every method: the handler answers HEAD 200
// and the methods no sender uses 405 itself. In tests, WithTarget sends
// webhooktest's requests to the path, so they go through the mux and test
// the routing too.
func ExampleNewHandler_serveMux() {
	quiet := webhook.WithLogger(slog.New(slog.DiscardHandler))
	jam, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(webhooktest.Time), quiet)
	if err != nil {
		panic(err)
	}
	jam.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		fmt.Println("jam created:", e.JamID)
		return nil
	})
	intercom, err := webhook.NewHandler(webhook.WithIntercomSecrets(webhooktest.IntercomSecret), webhook.WithClock(webhooktest.Time), quiet)
	if err != nil {
		panic(err)
	}
	intercom.OnIntercom(event.TopicConversationUserReplied, func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		fmt.Println("intercom:", n.Topic)
		return nil
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("POST /webhooks/jam", jam)
	mux.Handle("/webhooks/intercom", intercom) // every method: Intercom checks it with HEAD

	for _, r := range []*http.Request{
		webhooktest.NewFixtureRequest("jam/jam.created.minimal.json", webhooktest.WithTarget("/webhooks/jam")),
		webhooktest.NewFixtureRequest("intercom/conversation.user.replied.json", webhooktest.WithTarget("/webhooks/intercom")),
		httptest.NewRequest(http.MethodHead, "/webhooks/intercom", nil), // Intercom checking the URL
		httptest.NewRequest(http.MethodGet, "/webhooks/jam", nil),       // a browser: the mux's 405
		// Jam's settings pointing at the Intercom URL: 401, logged with
		// the hint source_not_configured.
		webhooktest.NewFixtureRequest("jam/jam.created.minimal.json", webhooktest.WithTarget("/webhooks/intercom")),
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(r.Method, r.URL.Path, w.Code)
	}
	// Output:
	// jam created: 0b6d2f1e-93c4-4d7a-8e25-6f1a9c3b4d80
	// POST /webhooks/jam 200
	// intercom: conversation.user.replied
	// POST /webhooks/intercom 200
	// HEAD /webhooks/intercom 200
	// GET /webhooks/jam 405
	// POST /webhooks/intercom 401
}
