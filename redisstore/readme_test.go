package redisstore_test

import (
	"context"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/redisstore"
	"github.com/redis/go-redis/v9"
)

// The README's redisstore snippets, line for line
// (TestREADMESnippetsCompile, at the root, finds them here). They are
// compiled, not run: they name a host "redis" and serve on the default
// mux. ExampleNew and ExampleNewInbox run the same steps on the tests'
// Redis.
var _ = []any{readmeStore, readmeInbox}

func readmeStore() *redisstore.Store {
	client := redis.NewClient(&redis.Options{
		Addr:          "redis:6379",
		DialTimeout:   250 * time.Millisecond,
		ReadTimeout:   250 * time.Millisecond,
		WriteTimeout:  250 * time.Millisecond,
		DialerRetries: 1,
	})
	store := redisstore.New(client, redisstore.WithPrefix("myapp:webhook:"))
	return store
}

func readmeInbox(ctx context.Context) {
	client := redis.NewClient(&redis.Options{
		Addr:          "redis:6379",
		DialTimeout:   250 * time.Millisecond,
		ReadTimeout:   500 * time.Millisecond,
		WriteTimeout:  500 * time.Millisecond,
		DialerRetries: 1,
	})
	ib, err := redisstore.NewInbox(client,
		redisstore.WithInboxPrefix("myapp:"),       // default "webhook:inbox:"
		redisstore.WithInboxName("webhooks"),       // the hash tag, default "default"
		redisstore.WithInboxCapacity(100_000),      // 503 beyond this many unfinished deliveries
		redisstore.WithInboxTenantCapacity(25_000), // and to a tenant beyond this many of its own
	)
	if err != nil {
		log.Fatal(err)
	}
	h, err := webhook.NewHandler(webhook.WithSecrets(os.Getenv("WEBHOOK_SECRET")), webhook.WithInbox(ib))
	if err != nil {
		log.Fatal(err)
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		return nil // runs on a worker of any replica, at least once: key side effects by d.Key
	})
	go func() { log.Println(h.Run(ctx)) }() // every replica runs workers; they share the queue
	http.Handle("/webhooks", h)
}
