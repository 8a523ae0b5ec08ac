package webhook_test

import (
	"context"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/inboxtest"
	"github.com/stretchr/testify/require"
)

func TestMemoryInboxConformance(t *testing.T) {
	inboxtest.Run(t, func(t *testing.T, now func() time.Time) webhook.Inbox {
		return webhook.NewMemoryInbox(0, now)
	})
}

func TestMemoryInboxFull(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ib := webhook.NewMemoryInbox(2, func() time.Time { return now })
	for _, k := range []string{"a", "b"} {
		ok, err := ib.Store(ctx, &webhook.InboxEntry{Key: k, ReceivedAt: now})
		require.NoError(t, err)
		require.True(t, ok)
	}
	// A duplicate is still acknowledged when full: it needs no room.
	ok, err := ib.Store(ctx, &webhook.InboxEntry{Key: "a"})
	require.NoError(t, err)
	require.False(t, ok)
	_, err = ib.Store(ctx, &webhook.InboxEntry{Key: "c"})
	require.ErrorIs(t, err, webhook.ErrInboxFull)

	// Done ones count until purged: they are the dedupe records.
	ls, err := ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.NoError(t, ib.Complete(ctx, ls[0].Entry.Key, ls[0].Token))
	_, err = ib.Store(ctx, &webhook.InboxEntry{Key: "c"})
	require.ErrorIs(t, err, webhook.ErrInboxFull)
	now = now.Add(time.Second)
	n, err := ib.Purge(ctx, webhook.InboxDone, now)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	ok, err = ib.Store(ctx, &webhook.InboxEntry{Key: "c"})
	require.NoError(t, err)
	require.True(t, ok)
}

func TestMemoryInboxOddInput(t *testing.T) {
	// A caller's mistakes are errors or nothing done, never a panic.
	ctx := context.Background()
	ib := webhook.NewMemoryInbox(-1, nil)
	_, err := ib.Store(ctx, nil)
	require.Error(t, err, "Store(nil)")
	_, err = ib.Store(ctx, &webhook.InboxEntry{})
	require.Error(t, err, "Store of an entry without a key")
	ls, err := ib.Lease(ctx, -5, time.Second)
	require.NoError(t, err)
	require.Empty(t, ls)
	ls, err = ib.Lease(ctx, 1, -time.Second)
	require.Error(t, err, "Lease for a negative time")
	require.Empty(t, ls)
	p, err := ib.List(ctx, webhook.InboxQuery{Limit: -1})
	es := p.Entries
	require.NoError(t, err)
	require.Empty(t, es)
	require.ErrorIs(t, ib.Replay(ctx, ""), webhook.ErrNotFound)
	require.ErrorIs(t, ib.Complete(ctx, "", ""), webhook.ErrLeaseLost)
}
