package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/redisstore"
	"github.com/redis/go-redis/v9"
)

// RedisInbox names the target of our handler in inbox mode on the Redis
// Streams inbox.
const RedisInbox = "redis-inbox"

// RedisInboxTarget returns our handler in inbox mode on a
// redisstore.Inbox in client under prefix, with one OnJamCreated
// callback, and a function that deletes the inbox's keys. The handler
// answers 200 once Redis has the delivery. As for the SQLite inbox
// target, the workers do not run during the rounds, so the rounds measure
// what a 200 costs in inbox mode; the target's Settle then runs them
// until every stored delivery has been processed, so Calls can be
// checked against the 200s.
func RedisInboxTarget(client redis.UniversalClient, prefix string) (Target, func(), error) {
	ib, err := redisstore.NewInbox(client, redisstore.WithInboxPrefix(prefix))
	if err != nil {
		return Target{}, nil, err
	}
	h, err := webhook.NewHandler(webhook.WithSecrets(Secret), webhook.WithInbox(ib),
		webhook.WithWorkers(webhook.WorkerConfig{Workers: 32}),
		webhook.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return Target{}, nil, err
	}
	var calls atomic.Int64
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *webhook.JamCreated) error {
		if e.JamID == "" {
			return errors.New("jam.created without jamId")
		}
		calls.Add(1)
		return nil
	})
	stop := func() { deleteKeys(client, prefix) }
	settle := func(ctx context.Context) error {
		rctx, cancel := context.WithCancel(ctx)
		ran := make(chan error, 1)
		go func() { ran <- h.Run(rctx) }()
		defer func() { cancel(); <-ran }()
		for {
			s, err := ib.Stats(ctx)
			if err != nil {
				return err
			}
			if s.Pending+s.Retrying+s.InFlight == 0 {
				if s.Dead > 0 {
					return fmt.Errorf("%s: %d dead deliveries", RedisInbox, s.Dead)
				}
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %d deliveries not yet processed: %w", RedisInbox, s.Pending+s.Retrying+s.InFlight, ctx.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return Target{Name: RedisInbox, Handler: h, Calls: &calls, Settle: settle}, stop, nil
}

// deleteKeys deletes the keys under prefix, on every master of a cluster.
func deleteKeys(client redis.UniversalClient, prefix string) {
	ctx := context.Background()
	del := func(c redis.Cmdable) {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	}
	if cc, ok := client.(*redis.ClusterClient); ok {
		cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { del(c); return nil })
		return
	}
	del(client)
}
