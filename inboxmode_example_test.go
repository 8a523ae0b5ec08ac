package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

// In inbox mode the handler answers 200 once the delivery is stored, and
// Handler.Run's workers run the callbacks, retrying failures on their own
// schedule. Here the first run fails and the inbox's retry succeeds.
func ExampleWithInbox() {
	inbox := webhook.NewMemoryInbox(10_000, nil) // in memory: not durable; see sqlitestore
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithInbox(inbox),
		webhook.WithWorkers(webhook.WorkerConfig{MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan struct{})
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		// Callbacks run at least once: key side effects by d.Key.
		fmt.Printf("run %d of %s: jam %s\n", d.InboxAttempt, d.Key, e.JamID)
		if d.InboxAttempt == 1 {
			return errors.New("CRM timed out")
		}
		close(done)
		return nil
	})

	req := webhooktest.NewStandardRequest(webhooktest.Secret,
		[]byte(`{"jamId":"4f0c2b9e","teamId":"team_8Hq2","type":"video","title":"Checkout button does nothing"}`),
		webhooktest.WithID("msg_2Kq8vZ"), webhooktest.WithTime(time.Now()))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	fmt.Println("answered", w.Code, "before any callback ran")

	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx) }()
	<-done
	stop()
	fmt.Println("Run:", <-ran)
	e, err := inbox.Get(context.Background(), "standard:msg_2Kq8vZ")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s after %d runs; last error %q\n", e.State, e.Attempts, e.LastError)
	// Output:
	// answered 200 before any callback ran
	// run 1 of standard:msg_2Kq8vZ: jam 4f0c2b9e
	// run 2 of standard:msg_2Kq8vZ: jam 4f0c2b9e
	// Run: <nil>
	// done after 2 runs; last error "CRM timed out"
}
