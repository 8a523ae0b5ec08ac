// Command permux gives each event its own URL with net/http's ServeMux
// patterns, for senders configured with one endpoint per event type. Each
// Jam endpoint is pinned with webhook.WithEventType, so a body of another
// type sent to it is refused with 400 instead of running the wrong
// callbacks. The handlers share one dedupe store.
//
//	WEBHOOK_SECRET=whsec_… INTERCOM_CLIENT_SECRET=… go run ./examples/permux
//
// Routes:
//
//	POST /hooks/jam/created                 jam.created
//	POST /hooks/jam/recorder/recorded       intercom.recorder.recorded
//	POST /hooks/jam/recorder/opted-out      intercom.recorder.opted_out
//	     /hooks/intercom                    every Intercom topic (HEAD too: Intercom checks the URL with HEAD)
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
)

func main() {
	mux, err := newMux(os.Getenv("WEBHOOK_SECRET"), os.Getenv("INTERCOM_CLIENT_SECRET"), os.Stdout, time.Now)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	log.Printf("listening on http://%s/hooks/…", srv.Addr)
	log.Fatal(srv.ListenAndServe())
}

// newMux builds the routes. Events are reported as lines on out; now is
// the clock, for tests that send requests signed at a fixed time.
func newMux(secret, intercomSecret string, out io.Writer, now func() time.Time) (*http.ServeMux, error) {
	var mu sync.Mutex
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}
	// One store for every handler, so each message runs once whichever
	// route it came in on.
	store := webhook.NewMemoryStore(webhook.DefaultMaxEntries, now)
	jam := func(eventType string) (*webhook.Handler, error) {
		return webhook.NewHandler(webhook.WithSecrets(secret), webhook.WithEventType(eventType),
			webhook.WithDeduper(store), webhook.WithClock(now))
	}

	mux := http.NewServeMux()
	created, err := jam(event.TypeJamCreated)
	if err != nil {
		return nil, err
	}
	created.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		report("jam created: %s", e.JamID)
		return nil
	})
	mux.Handle("POST /hooks/jam/created", created)

	recorded, err := jam(event.TypeRecorderRecorded)
	if err != nil {
		return nil, err
	}
	recorded.OnRecorderRecorded(func(ctx context.Context, d *webhook.Delivery, e *event.RecorderRecorded) error {
		report("recorder recorded: message %s", d.ID)
		return nil
	})
	mux.Handle("POST /hooks/jam/recorder/recorded", recorded)

	optedOut, err := jam(event.TypeRecorderOptedOut)
	if err != nil {
		return nil, err
	}
	optedOut.OnRecorderOptedOut(func(ctx context.Context, d *webhook.Delivery, e *event.RecorderOptedOut) error {
		report("recorder opted out: message %s", d.ID)
		return nil
	})
	mux.Handle("POST /hooks/jam/recorder/opted-out", optedOut)

	// Intercom sends every topic to one URL, and checks it with HEAD
	// first: no method in the pattern, so the handler answers HEAD (200)
	// and other methods (405) itself.
	intercom, err := webhook.NewHandler(webhook.WithIntercomSecrets(intercomSecret), webhook.WithDeduper(store), webhook.WithClock(now))
	if err != nil {
		return nil, err
	}
	intercom.OnIntercom("*", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		report("intercom %s: notification %q", n.Topic, d.ID)
		return nil
	})
	mux.Handle("/hooks/intercom", intercom)
	return mux, nil
}
