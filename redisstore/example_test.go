package redisstore_test

import (
	"context"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/redisstore"
	"github.com/redis/go-redis/v9"
)

// Every replica builds the same Store, and so sees the others' claims.
// Short timeouts make a Redis outage cost each delivery milliseconds, not
// seconds.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{
		Addr:          "redis:6379",
		DialTimeout:   250 * time.Millisecond,
		ReadTimeout:   250 * time.Millisecond,
		WriteTimeout:  250 * time.Millisecond,
		DialerRetries: 1,
	})
	defer client.Close()
	var dedupe webhook.Deduper = redisstore.New(client, redisstore.WithPrefix("myapp:webhook:"))

	// The handler does this for each verified delivery.
	ctx := context.Background()
	key := "standard:msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
	token, status, err := dedupe.Claim(ctx, key, time.Minute)
	if err != nil {
		log.Print(err) // Redis is down: process anyway, or answer 500
		return
	}
	if status != webhook.ClaimAcquired {
		return // processed already, or being processed elsewhere
	}
	// ... run the callbacks, then:
	if err := dedupe.Commit(ctx, key, token, 7*24*time.Hour); err != nil {
		log.Print(err)
	}
}

// Every replica builds the same Inbox and runs the handler's workers:
// a delivery any replica stored is processed by whichever worker leases
// it first, and a crashed replica's deliveries run elsewhere once their
// leases run out.
func ExampleNewInbox() {
	client := redis.NewClient(&redis.Options{
		Addr:          "redis:6379",
		DialTimeout:   250 * time.Millisecond,
		ReadTimeout:   500 * time.Millisecond,
		WriteTimeout:  500 * time.Millisecond,
		DialerRetries: 1,
	})
	defer client.Close()
	ib, err := redisstore.NewInbox(client, redisstore.WithInboxPrefix("myapp:"), redisstore.WithInboxName("webhooks"))
	if err != nil {
		log.Fatal(err)
	}
	h, err := webhook.NewHandler(webhook.WithSecrets(os.Getenv("WEBHOOK_SECRET")), webhook.WithInbox(ib))
	if err != nil {
		log.Fatal(err)
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		log.Printf("jam %s (delivery %s, attempt %d)", e.JamID, d.Key, d.InboxAttempt)
		return nil
	})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		if err := h.Run(ctx); err != nil {
			log.Print(err)
		}
	}()
	srv := &http.Server{Addr: ":8080", Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.ListenAndServe()
	<-ctx.Done()
	srv.Shutdown(context.Background())
}
