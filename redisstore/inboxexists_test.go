package redisstore

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestInboxExists: an inbox exists once a Store or a Lease has run on it
// (a receiver's workers lease before anything arrives), and goes on
// existing once everything it held is purged; one of another name or
// prefix on the same Redis does not exist.
func TestInboxExists(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		do   func(t *testing.T, ib *Inbox)
		want bool
	}{
		{name: "new", do: func(*testing.T, *Inbox) {}, want: false},
		{name: "stored", do: func(t *testing.T, ib *Inbox) {
			_, err := ib.Store(ctx, entry("standard:msg_1"))
			require.NoError(t, err)
		}, want: true},
		{name: "leased, empty", do: func(t *testing.T, ib *Inbox) {
			ls, err := ib.Lease(ctx, 10, time.Minute)
			require.NoError(t, err)
			require.Empty(t, ls)
		}, want: true},
		{name: "all purged", do: func(t *testing.T, ib *Inbox) {
			_, err := ib.Store(ctx, entry("standard:msg_1"))
			require.NoError(t, err)
			ls, err := ib.Lease(ctx, 1, time.Minute)
			require.NoError(t, err)
			require.Len(t, ls, 1)
			require.NoError(t, ib.Complete(ctx, ls[0].Entry.Key, ls[0].Token))
			n, err := ib.Purge(ctx, webhook.InboxDone, time.Now().Add(100*365*24*time.Hour))
			require.NoError(t, err)
			require.Equal(t, 1, n)
			st, err := ib.Stats(ctx)
			require.NoError(t, err)
			require.Zero(t, st)
		}, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ib, clock, client, prefix := newTestInbox(t)
			tc.do(t, ib)
			ok, err := ib.Exists(ctx)
			require.NoError(t, err)
			require.Equal(t, tc.want, ok)

			// The same Redis under another name or prefix: none there.
			for _, opts := range [][]InboxOption{
				{WithInboxPrefix(prefix), WithInboxName("other")},
				{WithInboxPrefix(prefix + "other:")},
			} {
				other, err := NewInbox(client, append([]InboxOption{WithInboxClock(clock.Now)}, opts...)...)
				require.NoError(t, err)
				ok, err := other.Exists(ctx)
				require.NoError(t, err)
				require.False(t, ok)
			}
		})
	}
}

// TestInboxExistsRedisDown: Exists reports an unreachable Redis as an
// error, not as no inbox.
func TestInboxExistsRedisDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	client := redis.NewClient(fastFailing(ln.Addr().String()))
	defer client.Close()
	ib, err := NewInbox(client)
	require.NoError(t, err)
	ok, err := ib.Exists(context.Background())
	require.Error(t, err)
	require.False(t, ok)
}
