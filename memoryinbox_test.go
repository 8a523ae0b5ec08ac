package webhook_test

import (
	"context"
	"testing"
	"time"
	"unsafe"

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

// afterStep is what time.Now returns d after at when the wall clock was
// set back by back in between (an NTP step, a restored VM): a monotonic
// reading d later, a wall clock d-back later. No API makes one from at,
// so it moves the monotonic reading by hand; the checks fail if the
// layout of time.Time ever changes under it.
func afterStep(t *testing.T, at time.Time, d, back time.Duration) time.Time {
	t.Helper()
	next := at.Add(d - back)
	(*struct {
		wall uint64
		ext  int64 // the monotonic reading, while wall's top bit says there is one
		loc  *time.Location
	})(unsafe.Pointer(&next)).ext += int64(back)
	require.Equal(t, d, next.Sub(at), "the monotonic reading moved on")
	require.Equal(t, d-back, next.Round(0).Sub(at.Round(0)), "the wall clock")
	return next
}

// TestMemoryInboxListClockStep: paging lists every delivery once when
// the times it orders by carry monotonic readings (time.Now's, the
// handler's ReceivedAt and the inbox's own clock by default) that
// disagree with their wall clocks, as after the wall clock is set back or
// when two readings share a wall time. A cursor keeps the wall clock
// only; the page was ordered by monotonic readings, so a delivery after
// the page's last by those but before it by the wall clock was on no
// page.
func TestMemoryInboxListClockStep(t *testing.T) {
	ctx := context.Background()
	first := time.Now()
	tests := []struct {
		name   string
		second time.Time // the time of the second delivery's record
		caller bool      // ReceivedAt set by the caller, not by the inbox's clock
		order  webhook.InboxOrder
		state  webhook.InboxState
	}{
		{name: "the caller's ReceivedAt after a step back", second: afterStep(t, first, time.Millisecond, time.Hour), caller: true},
		{name: "the caller's ReceivedAt of one wall time", second: afterStep(t, first, time.Millisecond, time.Millisecond), caller: true},
		{name: "the inbox clock's ReceivedAt after a step back", second: afterStep(t, first, time.Millisecond, time.Hour)},
		{name: "UpdatedAt after a step back", second: afterStep(t, first, time.Millisecond, time.Hour),
			order: webhook.InboxByUpdated, state: webhook.InboxDead},
		{name: "UpdatedAt of one wall time", second: afterStep(t, first, time.Millisecond, time.Millisecond),
			order: webhook.InboxByUpdated, state: webhook.InboxDead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var now time.Time
			ib := webhook.NewMemoryInbox(0, func() time.Time { return now })
			// The first delivery's key sorts last, so a tie of wall times
			// puts it after the second on the cursor's reading.
			for i, key := range []string{"standard:z", "standard:a"} {
				now = []time.Time{first, tt.second}[i]
				e := &webhook.InboxEntry{Key: key, Source: "standard", Body: []byte("{}")}
				if tt.caller {
					e.ReceivedAt = now
				}
				stored, err := ib.Store(ctx, e)
				require.NoError(t, err)
				require.True(t, stored)
				if tt.state == webhook.InboxDead {
					ls, err := ib.Lease(ctx, 1, time.Minute)
					require.NoError(t, err)
					require.Len(t, ls, 1)
					require.NoError(t, ib.Kill(ctx, ls[0].Entry.Key, ls[0].Token, "failed"))
				}
			}
			var listed []string
			q := webhook.InboxQuery{Limit: 1, Order: tt.order, State: tt.state}
			for range 3 {
				p, err := ib.List(ctx, q)
				require.NoError(t, err)
				for _, e := range p.Entries {
					listed = append(listed, e.Key)
				}
				if !p.More {
					break
				}
				q.After = p.Next
			}
			require.ElementsMatch(t, []string{"standard:z", "standard:a"}, listed)
		})
	}
}
