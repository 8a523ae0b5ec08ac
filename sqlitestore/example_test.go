package sqlitestore_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/sqlitestore"
	"github.com/inhook/webhook/webhooktest"
)

// A receiver in inbox mode on a SQLite file: the handler answers 200 once
// the delivery is on disk, and the workers of Handler.Run call the
// callbacks from the file.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "inbox")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ib, err := sqlitestore.Open(filepath.Join(dir, "webhooks.db"), sqlitestore.WithClock(webhooktest.Time)) // the handler's clock
	if err != nil {
		log.Fatal(err)
	}
	defer ib.Close()
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithInbox(ib),
		webhook.WithClock(webhooktest.Time),
	)
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan struct{})
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		fmt.Println("worker:", d.Key, "attempt", d.InboxAttempt)
		close(done)
		return nil
	})

	req := webhooktest.NewFixtureRequest("jam/jam.created.minimal.json", webhooktest.WithID("msg_example"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	fmt.Println("answered", w.Code)
	st, err := ib.Stats(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pending:", st.Pending)

	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		log.Fatal("the worker did not run")
	}
	cancel()
	if err := <-ran; err != nil {
		log.Fatal(err)
	}
	e, err := ib.Get(context.Background(), "standard:msg_example")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("state:", e.State)
	// Output:
	// answered 200
	// pending: 1
	// worker: standard:msg_example attempt 1
	// state: done
}
