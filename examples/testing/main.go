// Command testing is a small app to show how to test a webhook handler
// with package webhooktest: read main_test.go. The app queues new Jams and
// Intercom conversation replies for a support team, and when the queue is
// full asks the sender to retry later with 503 and Retry-After.
//
//	WEBHOOK_SECRET=whsec_… INTERCOM_CLIENT_SECRET=… go run ./examples/testing
package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
)

func main() {
	q := &Queue{Max: 1000}
	h, err := q.Handler(
		webhook.WithSecrets(os.Getenv("WEBHOOK_SECRET")),
		webhook.WithIntercomSecrets(os.Getenv("INTERCOM_CLIENT_SECRET")),
	)
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/webhooks", h)
	srv := &http.Server{Addr: "127.0.0.1:8080", ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// An Item is a piece of work for the support team.
type Item struct {
	Kind string // "jam" or "reply"
	Ref  string // the Jam id, or the Intercom notification id
}

// A Queue holds work items, up to Max.
type Queue struct {
	Max int

	mu    sync.Mutex
	items []Item
}

// RetryAfter is how long a sender is asked to wait when the queue is full.
const RetryAfter = time.Minute

// Handler returns a webhook handler, configured by opts, that queues work.
func (q *Queue) Handler(opts ...webhook.Option) (*webhook.Handler, error) {
	h, err := webhook.NewHandler(opts...)
	if err != nil {
		return nil, err
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		return q.push(Item{Kind: "jam", Ref: e.JamID})
	})
	h.OnIntercom("conversation.user.replied", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		return q.push(Item{Kind: "reply", Ref: d.ID})
	})
	return h, nil
}

func (q *Queue) push(it Item) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) >= q.Max {
		// The handler answers 503 and releases its claim on the message,
		// so the sender's retry runs this callback again.
		return &webhook.StatusError{Code: http.StatusServiceUnavailable, RetryAfter: RetryAfter}
	}
	q.items = append(q.items, it)
	return nil
}

// Take removes and returns every queued item.
func (q *Queue) Take() []Item {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}
