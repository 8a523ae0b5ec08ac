package load

import (
	"context"

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
// target, the workers run only in the target's Settle.
func RedisInboxTarget(client redis.UniversalClient, prefix string) (Target, func(), error) {
	ib, err := redisstore.NewInbox(client, redisstore.WithInboxPrefix(prefix))
	if err != nil {
		return Target{}, nil, err
	}
	t, err := inboxTarget(RedisInbox, ib)
	if err != nil {
		return Target{}, nil, err
	}
	return t, func() { deleteKeys(client, prefix) }, nil
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
