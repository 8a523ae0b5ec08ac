package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http/httptest"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/redisstore"
	"github.com/inhook/webhook/webhooktest"
	"github.com/redis/go-redis/v9"
)

// What a handler deduplicating on Redis answers while Redis is down (here,
// nothing listens on the client's port): by default it runs the callbacks
// anyway and answers 200, so no message is lost, and duplicates may run
// twice until Redis is back; with WithDedupeFailClosed it answers 500, and
// the sender retries later. Short timeouts and no retries make each call
// fail at once; ExampleNew and ExampleNewInbox configure a real Redis.
func Example_redisDown() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	down := l.Addr().String()
	l.Close() // nothing listens there now

	client := redis.NewClient(&redis.Options{
		Addr:          down,
		DialTimeout:   250 * time.Millisecond,
		ReadTimeout:   250 * time.Millisecond,
		WriteTimeout:  250 * time.Millisecond,
		DialerRetries: 1,
		MaxRetries:    -1,
	})
	defer client.Close()
	store := redisstore.New(client)

	for _, failClosed := range []bool{false, true} {
		opts := []webhook.Option{
			webhook.WithSecrets(webhooktest.Secret),
			webhook.WithClock(webhooktest.Time),
			webhook.WithDeduper(store),
			webhook.WithLogger(slog.New(slog.DiscardHandler)), // it logs the store's error
		}
		if failClosed {
			opts = append(opts, webhook.WithDedupeFailClosed())
		}
		h, err := webhook.NewHandler(opts...)
		if err != nil {
			log.Fatal(err)
		}
		ran := false
		h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
			ran = true
			return nil
		})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, webhooktest.NewFixtureRequest("jam/jam.created.minimal.json"))
		fmt.Printf("fail closed %v: answered %d, callback ran %v\n", failClosed, w.Code, ran)
	}
	// Output:
	// fail closed false: answered 200, callback ran true
	// fail closed true: answered 500, callback ran false
}
