package redisstore

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/inboxtest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestInboxConformance runs the webhook.Inbox conformance suite on the
// test Redis, each subtest under its own prefix.
func TestInboxConformance(t *testing.T) {
	inboxtest.Run(t, inboxOn(newClient))
}

// clusterClient is a cluster client of the Redis Cluster named by
// WEBHOOK_REDIS_CLUSTER_ADDR, which answers a ping, closed when the test
// ends.
func clusterClient(t *testing.T) *redis.ClusterClient {
	t.Helper()
	addr := os.Getenv("WEBHOOK_REDIS_CLUSTER_ADDR")
	if addr == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("WEBHOOK_REDIS_CLUSTER_ADDR not set: CI must run these tests against a Redis Cluster (scripts/redis-test.sh starts one)")
		}
		t.Skip("WEBHOOK_REDIS_CLUSTER_ADDR not set; run scripts/redis-test.sh")
	}
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}})
	ready(t, client, "WEBHOOK_REDIS_CLUSTER_ADDR")
	return client
}

// TestInboxConformanceCluster runs the suite on Redis Cluster, named by
// WEBHOOK_REDIS_CLUSTER_ADDR (scripts/redis-test.sh starts a one-node
// cluster holding every slot), through go-redis's cluster client. A node
// that holds every slot lets a script touch keys of any of them, so
// each subtest also checks that every key it left hashes to one slot: on
// a cluster of several nodes, a key of another slot would fail.
func TestInboxConformanceCluster(t *testing.T) {
	inboxtest.Run(t, clusterInboxOn(clusterClient(t)))
}

// TestInboxTenantCapacity runs the conformance suite of a bound on each
// tenant's backlog (WithInboxTenantCapacity), alone and beside a
// capacity, and on Redis Cluster.
func TestInboxTenantCapacity(t *testing.T) {
	for _, capacity := range []int{0, 100} {
		t.Run(fmt.Sprint("capacity=", capacity), func(t *testing.T) {
			inboxtest.TenantCapacity(t, 3, inboxOn(newClient, WithInboxTenantCapacity(3), WithInboxCapacity(capacity)))
		})
	}
	t.Run("cluster", func(t *testing.T) {
		inboxtest.TenantCapacity(t, 3, clusterInboxOn(clusterClient(t), WithInboxTenantCapacity(3)))
	})
}

// clusterInboxOn returns inboxes on client, a cluster client, each under
// a prefix of its own whose keys it checks hash to one slot once the
// test is over.
func clusterInboxOn(client *redis.ClusterClient, opts ...InboxOption) inboxtest.NewInbox {
	return func(t *testing.T, now func() time.Time) webhook.Inbox {
		prefix := fmt.Sprintf("webhooktest:%s:%d:", t.Name(), time.Now().UnixNano())
		t.Cleanup(func() {
			ctx := context.Background()
			slots := map[int64][]string{}
			require.NoError(t, client.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
				iter := node.Scan(ctx, 0, prefix+"*", 1000).Iterator()
				for iter.Next(ctx) {
					slot, err := node.ClusterKeySlot(ctx, iter.Val()).Result()
					if err != nil {
						return err
					}
					slots[slot] = append(slots[slot], iter.Val())
					node.Del(ctx, iter.Val())
				}
				return iter.Err()
			}))
			require.NotEmpty(t, slots, "no keys under %s", prefix)
			require.Len(t, slots, 1, "the inbox's keys span several slots: %v", slots)
		})
		ib, err := NewInbox(client, append([]InboxOption{WithInboxPrefix(prefix), WithInboxClock(now)}, opts...)...)
		require.NoError(t, err)
		return ib
	}
}

// FuzzInbox: what Store wrote to Redis is what Get and Lease read back,
// byte for byte, each input under its own prefix.
func FuzzInbox(f *testing.F) {
	inboxtest.Fuzz(f, inboxOn(newClient))
}
