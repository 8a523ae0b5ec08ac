package webhooktest_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/webhooktest"
)

// Testing a handler: configure it with the package's test keys and a clock
// set to the instant requests are signed at, serve a signed request with
// httptest, and check the status and what the callbacks saw. In a test,
// NewFixtureRequest(t, name) and NewStandardRequest(t, …) fail t instead
// of returning an error.
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
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *webhook.JamCreated) error {
		fmt.Println("callback:", e.EventType(), e.JamID)
		return nil
	})

	body := []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","type":"video"}`)
	r, err := webhooktest.StandardRequest(webhooktest.Secret, body, webhooktest.WithSvixHeaders())
	if err != nil {
		panic(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println("status:", w.Code)

	// Ten minutes later the same signature is outside the window.
	clock.Advance(10 * time.Minute)
	r, _ = webhooktest.StandardRequest(webhooktest.Secret, body, webhooktest.WithID("msg_late"))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println("status:", w.Code)
	// Output:
	// callback: jam.created 4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03
	// status: 200
	// status: 401
}
