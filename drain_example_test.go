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

// Drain runs what the inbox holds due and returns once every run is
// recorded: a test asserts the inbox's state right after it, with no
// goroutine to start or stop and nothing to wait on. Here the first run
// fails, and the retry, due once the clock has moved past its wait, is
// done.
func ExampleHandler_Drain() {
	clock := webhooktest.NewClock(webhooktest.Time())
	inbox := webhook.NewMemoryInbox(0, clock.Now) // the handler's clock
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithClock(clock.Now),
		webhook.WithInbox(inbox),
		webhook.WithWorkers(webhook.WorkerConfig{MaxBackoff: time.Minute}), // a retry waits a minute at most
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	crmDown := true // no lock: Drain returns once the runs have
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		fmt.Printf("run %d of %s\n", d.InboxAttempt, d.Key)
		if crmDown {
			return errors.New("CRM timed out")
		}
		return nil
	})
	show := func(n int, err error) {
		e, gerr := inbox.Get(context.Background(), "standard:msg_1")
		if gerr != nil {
			fmt.Println(gerr)
			return
		}
		fmt.Printf("Drain: %d run(s), %v; the delivery is %s after %d attempt(s)\n", n, err, e.State, e.Attempts)
	}

	w := httptest.NewRecorder()
	h.ServeHTTP(w, webhooktest.NewFixtureRequest("jam/jam.created.maximal.json", webhooktest.WithID("msg_1")))
	fmt.Println("answered", w.Code)
	ctx := context.Background()
	show(h.Drain(ctx))

	crmDown = false
	show(h.Drain(ctx)) // the retry is not due yet
	clock.Advance(time.Minute)
	show(h.Drain(ctx))
	// Output:
	// answered 200
	// run 1 of standard:msg_1
	// Drain: 1 run(s), <nil>; the delivery is pending after 1 attempt(s)
	// Drain: 0 run(s), <nil>; the delivery is pending after 1 attempt(s)
	// run 2 of standard:msg_1
	// Drain: 1 run(s), <nil>; the delivery is done after 2 attempt(s)
}
