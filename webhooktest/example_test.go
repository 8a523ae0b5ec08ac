package webhooktest_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

// Testing a handler with a fixture: configure the handler with the
// package's test keys and a clock set to the instant requests are signed
// at, serve the fixture's signed request with httptest, and check the
// status and what the callbacks saw. Like httptest.NewRequest, the
// builders return the request and panic on a name that is no fixture.
func Example() {
	clock := webhooktest.NewClock(webhooktest.Time())
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithClock(clock.Now),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		fmt.Println("jam.created:", e.JamID, e.Author.Email)
		return nil
	})
	h.OnIntercom("conversation.*", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		fmt.Println("intercom:", n.Topic, d.ID)
		return nil
	})

	for _, name := range []string{"jam/jam.created.maximal.json", "intercom/conversation.user.replied.json"} {
		r := webhooktest.NewFixtureRequest(name)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println("status:", w.Code)
	}

	// Ten minutes later, a request signed at webhooktest.Time() is
	// outside the window.
	clock.Advance(10 * time.Minute)
	r := webhooktest.NewFixtureRequest("jam/jam.created.minimal.json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println("status:", w.Code)
	// Output:
	// jam.created: 7c9e6679-7425-40de-944b-e07fc1f90ae7 marta.oyelaran@larkspur-outdoor.example
	// status: 200
	// intercom: conversation.user.replied notif_3f1c9a2e-7b4d-4e58-a6c1-0d9e8f7a6b5c
	// status: 200
	// status: 401
}

// A handler that verifies v1a (ed25519) signatures is configured with a
// whpk_ public key; its tests sign with the matching whsk_ signing key,
// which only a sender holds.
func ExampleNewStandardRequest_signingKey() {
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.PublicKey),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		fmt.Println("jam.created:", e.JamID)
		return nil
	})
	body := webhooktest.Fixture("jam/jam.created.minimal.json")
	for _, key := range []string{webhooktest.SigningKey, webhooktest.Secret} {
		r := webhooktest.NewStandardRequest(key, body)
		version, _, _ := strings.Cut(r.Header.Get("Webhook-Signature"), ",")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(version, "status:", w.Code)
	}
	// Output:
	// jam.created: 0b6d2f1e-93c4-4d7a-8e25-6f1a9c3b4d80
	// v1a status: 200
	// v1 status: 401
}
