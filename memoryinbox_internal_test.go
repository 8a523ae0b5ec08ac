package webhook

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMemoryInboxDoneRecordsBounded: a delivery replayed and completed
// over and over leaves a record in the finishing order each time; the
// stale ones are dropped, and what is left still forgets the delivery
// that finished first.
func TestMemoryInboxDoneRecordsBounded(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const capacity = 5
	m := NewMemoryInbox(capacity, func() time.Time { return now })
	complete := func(want string) {
		t.Helper()
		now = now.Add(time.Millisecond)
		ls, err := m.Lease(ctx, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, ls, 1)
		require.Equal(t, want, ls[0].Entry.Key)
		require.NoError(t, m.Complete(ctx, want, ls[0].Token))
	}
	for i := range capacity {
		k := strconv.Itoa(i)
		_, err := m.Store(ctx, &InboxEntry{Key: k})
		require.NoError(t, err)
		now = now.Add(time.Millisecond)
	}
	for i := range capacity {
		complete(strconv.Itoa(i))
	}
	// 0 finished first; 1 and 2 finish again and again after the rest.
	most := 0
	for i := range 5000 {
		k := strconv.Itoa(1 + i%2)
		require.NoError(t, m.Replay(ctx, k))
		complete(k)
		records := 0
		for _, q := range m.done {
			records += len(q.recs) - q.head
		}
		most = max(most, records)
		if i == 2500 {
			// Forget one half way, so that the head is not at 0 when the
			// records are next compacted.
			_, err := m.Store(ctx, &InboxEntry{Key: "mid"})
			require.NoError(t, err)
			_, err = m.Get(ctx, "0")
			require.ErrorIs(t, err, ErrNotFound, "0 finished first")
			complete("mid")
		}
	}
	require.LessOrEqual(t, most, 2*capacity+64+1, "records kept for deliveries that finished since")
	// The finishing order now: 3, 4, mid, then 1 and 2 in turn.
	for _, gone := range []string{"3", "4", "mid"} {
		_, err := m.Store(ctx, &InboxEntry{Key: "new" + gone})
		require.NoError(t, err)
		_, err = m.Get(ctx, gone)
		require.ErrorIs(t, err, ErrNotFound, "%s finished before 1 and 2", gone)
		for _, kept := range []string{"1", "2"} {
			_, err = m.Get(ctx, kept)
			require.NoError(t, err)
		}
	}
}

// TestMemoryInboxTenantsShareFairly: in inbox mode the inbox is the
// dedupe, and a MemoryInbox serves every tenant of a WithKeyFunc handler
// (keys source@tenant:id). Full, it must not forget the done deliveries
// of a tenant holding less than an equal share of the capacity (capacity
// ÷ tenants holding deliveries) to make room for another tenant's flood:
// its sender's retries would be stored and run again. The flooding tenant
// loses its own oldest done deliveries instead. The runs are
// TestMemoryStoreTenantsShareFairly's, each key a delivery done in turn.
func TestMemoryInboxTenantsShareFairly(t *testing.T) {
	ctx := context.Background()
	for _, tc := range tenantFloods() {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			ib := NewMemoryInbox(tc.capacity, func() time.Time { return now })
			done := func(key string) {
				t.Helper()
				now = now.Add(time.Millisecond)
				ok, err := ib.Store(ctx, &InboxEntry{Key: key, ReceivedAt: now})
				require.NoError(t, err, key)
				require.True(t, ok, "%s taken for a duplicate", key)
				ls, err := ib.Lease(ctx, 1, time.Minute)
				require.NoError(t, err)
				require.Len(t, ls, 1)
				require.NoError(t, ib.Complete(ctx, ls[0].Entry.Key, ls[0].Token))
			}
			quiet, flood := tc.quietKeys(), tc.floodKeys()
			for _, k := range quiet {
				done(k)
			}
			for _, k := range flood {
				done(k)
			}
			for _, k := range quiet {
				e, err := ib.Get(ctx, k)
				require.NoError(t, err, "%s was forgotten in the flood", k)
				require.Equal(t, InboxDone, e.State)
			}
			e, err := ib.Get(ctx, flood[len(flood)-1])
			require.NoError(t, err)
			require.Equal(t, InboxDone, e.State)
			st, err := ib.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, tc.capacity, st.Done)
		})
	}
}

// TestMemoryInboxFullStoreCost: a full MemoryInbox whose tenants over
// their share hold no done delivery (one tenant's flood still pending,
// as it is while the workers fall behind) forgets another tenant's done
// delivery looking at a number of records that does not grow with the
// done deliveries it holds: it walked them all on every Store, under the
// lock every Store, Lease and Complete takes. Counted as the records
// looked at (MemoryInbox.looked) by the same Stores at two capacities
// forty times apart: a count, not a timing, so a loaded machine cannot
// fail it.
func TestMemoryInboxFullStoreCost(t *testing.T) {
	ctx := context.Background()
	const stores = 200
	looked := func(capacity int) uint64 {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		// No bound on a tenant's backlog: the flood holds more than the
		// default half.
		m := NewMemoryInbox(capacity, func() time.Time { return now }, MemoryInboxTenantCapacity(-1))
		// The quiet tenant holds just under half, done; the flood the
		// rest, pending.
		quiet := capacity/2 - 1
		for i := range quiet {
			k := "standard@quiet:msg_" + strconv.Itoa(i)
			_, err := m.Store(ctx, &InboxEntry{Key: k})
			require.NoError(t, err)
			ls, err := m.Lease(ctx, 1, time.Minute)
			require.NoError(t, err)
			require.NoError(t, m.Complete(ctx, k, ls[0].Token))
		}
		for i := range capacity - quiet {
			_, err := m.Store(ctx, &InboxEntry{Key: "standard@flood:msg_" + strconv.Itoa(i)})
			require.NoError(t, err)
		}
		before := m.looked
		for i := range stores {
			// The quiet tenant's own: it stays under its share.
			ok, err := m.Store(ctx, &InboxEntry{Key: "standard@quiet:new_" + strconv.Itoa(i)})
			require.NoError(t, err)
			require.True(t, ok)
		}
		// Each Store forgot one of the quiet tenant's done deliveries,
		// the one that finished first.
		for i := range stores {
			_, err := m.Get(ctx, "standard@quiet:msg_"+strconv.Itoa(i))
			require.ErrorIs(t, err, ErrNotFound)
		}
		_, err := m.Get(ctx, "standard@quiet:msg_"+strconv.Itoa(stores))
		require.NoError(t, err)
		return m.looked - before
	}
	small, large := looked(500), looked(20_000)
	require.NotZero(t, small, "the Stores forgot done deliveries without looking at a record")
	require.LessOrEqual(t, large, 2*small, "%d Stores looked at %d records at capacity 500, %d at 20,000", stores, small, large)
}
