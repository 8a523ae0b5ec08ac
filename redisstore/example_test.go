package redisstore_test

import (
	"context"
	"log"
	"time"

	"github.com/inhook/webhook"
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
	if status != webhook.Claimed {
		return // processed already, or being processed elsewhere
	}
	// ... run the callbacks, then:
	if err := dedupe.Commit(ctx, key, token, 7*24*time.Hour); err != nil {
		log.Print(err)
	}
}
