package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
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

// Handler.Run's workers retry a failing callback until the retry policy
// gives up, or at once when the callback marks its error Permanent: the
// delivery is then dead, keeping its last error, until Inbox.Replay makes
// it due again. Run returns once its context is done and the callbacks in
// flight have returned.
func ExampleHandler_Run() {
	inbox := webhook.NewMemoryInbox(0, nil)
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithInbox(inbox),
		webhook.WithWorkers(webhook.WorkerConfig{Poll: 10 * time.Millisecond}),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	var fixed atomic.Bool
	ran := make(chan string, 1)
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		if !fixed.Load() {
			ran <- fmt.Sprintf("run %d: refused", d.InboxAttempt)
			return webhook.Permanent(errors.New("CRM rejects team_8Hq2"))
		}
		ran <- fmt.Sprintf("run %d: done", d.InboxAttempt)
		return nil
	})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	stopped := make(chan error, 1)
	go func() { stopped <- h.Run(ctx) }()

	req := webhooktest.NewStandardRequest(webhooktest.Secret,
		[]byte(`{"jamId":"4f0c2b9e","teamId":"team_8Hq2","type":"video"}`),
		webhooktest.WithID("msg_2Kq8vZ"), webhooktest.WithTime(time.Now()))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	fmt.Println("answered", w.Code)
	fmt.Println(<-ran)

	const key = "standard:msg_2Kq8vZ"
	e, err := inbox.Get(ctx, key)
	for err == nil && e.State != webhook.InboxDead { // the worker records the outcome after the callback returns
		time.Sleep(time.Millisecond)
		e, err = inbox.Get(ctx, key)
	}
	fmt.Printf("%s after %d run; last error %q\n", e.State, e.Attempts, e.LastError)

	fixed.Store(true)
	if err := inbox.Replay(ctx, key); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-ran)
	stop()
	fmt.Println("Run:", <-stopped)
	// Output:
	// answered 200
	// run 1: refused
	// dead after 1 run; last error "CRM rejects team_8Hq2"
	// run 1: done
	// Run: <nil>
}
