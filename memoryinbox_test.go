package webhook_test

import (
	"context"
	"strconv"
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

// TestMemoryInboxTenantCapacity runs the conformance suite of a bound on
// each tenant's backlog, set by MemoryInboxTenantCapacity.
func TestMemoryInboxTenantCapacity(t *testing.T) {
	inboxtest.TenantCapacity(t, 3, func(t *testing.T, now func() time.Time) webhook.Inbox {
		return webhook.NewMemoryInbox(0, now, webhook.MemoryInboxTenantCapacity(3))
	})
}

// TestMemoryInboxTenantShare: by default no tenant's backlog takes more
// than half the capacity while the inbox holds deliveries of another
// tenant (a done one: a quiet tenant's dedupe record), so one tenant
// piling up pending deliveries leaves the other half to the others; a
// tenant alone has it all, and MemoryInboxTenantCapacity sets the bound
// or lifts it.
func TestMemoryInboxTenantShare(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		opts  []webhook.MemoryInboxOption
		quiet bool // a quiet tenant's done delivery is held first
		flood int  // the flooding tenant's deliveries stored before it is refused
		more  int  // the quiet tenant's deliveries stored after, before it is refused
	}{
		{"alone, the whole capacity", nil, false, 10, 0},
		{"beside another tenant, half", nil, true, 5, 5},
		{"the bound set", []webhook.MemoryInboxOption{webhook.MemoryInboxTenantCapacity(3)}, true, 3, 3},
		{"the bound set, alone", []webhook.MemoryInboxOption{webhook.MemoryInboxTenantCapacity(3)}, false, 3, 3},
		{"no bound", []webhook.MemoryInboxOption{webhook.MemoryInboxTenantCapacity(-1)}, true, 10, 0}, // the flood fills it, the quiet done one forgotten
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			ib := webhook.NewMemoryInbox(10, func() time.Time { return now }, tt.opts...)
			store := func(k string) error {
				now = now.Add(time.Millisecond)
				ok, err := ib.Store(ctx, &webhook.InboxEntry{Key: k})
				if err == nil {
					require.True(t, ok, "Store(%s) reported a duplicate", k)
				}
				return err
			}
			if tt.quiet {
				require.NoError(t, store("standard:done"))
				ls, err := ib.Lease(ctx, 1, time.Minute)
				require.NoError(t, err)
				require.NoError(t, ib.Complete(ctx, ls[0].Entry.Key, ls[0].Token))
			}
			for i := range tt.flood {
				require.NoError(t, store("standard@flood:msg_"+strconv.Itoa(i)))
			}
			err := store("intercom@flood:more")
			require.ErrorIs(t, err, webhook.ErrInboxFull, "the flood past its bound")
			for i := range tt.more {
				require.NoError(t, store("standard:msg_"+strconv.Itoa(i)), "the quiet tenant, %d stored", i)
			}
			require.ErrorIs(t, store("standard:more"), webhook.ErrInboxFull)
		})
	}
}

func TestMemoryInboxFull(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ib := webhook.NewMemoryInbox(3, func() time.Time { return now })
	store := func(k string) error {
		t.Helper()
		ok, err := ib.Store(ctx, &webhook.InboxEntry{Key: k, ReceivedAt: now})
		if err == nil {
			require.True(t, ok, "Store(%s) reported a duplicate", k)
		}
		return err
	}
	settle := func(state webhook.InboxState, keys ...string) {
		t.Helper()
		now = now.Add(time.Second)
		ls, err := ib.Lease(ctx, len(keys), time.Minute)
		require.NoError(t, err)
		require.Len(t, ls, len(keys))
		for i, l := range ls {
			require.Equal(t, keys[i], l.Entry.Key)
			if state == webhook.InboxDead {
				require.NoError(t, ib.Kill(ctx, l.Entry.Key, l.Token, "boom"))
			} else {
				require.NoError(t, ib.Complete(ctx, l.Entry.Key, l.Token))
			}
		}
	}
	held := func(keys ...string) {
		t.Helper()
		var got []string
		for _, st := range []webhook.InboxState{webhook.InboxPending, webhook.InboxLeased, webhook.InboxDone, webhook.InboxDead} {
			p, err := ib.List(ctx, webhook.InboxQuery{State: st})
			require.NoError(t, err)
			for _, e := range p.Entries {
				got = append(got, e.Key)
			}
		}
		require.ElementsMatch(t, keys, got)
	}
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, store(k))
		now = now.Add(time.Millisecond)
	}
	// A duplicate is still acknowledged when full: it needs no room.
	ok, err := ib.Store(ctx, &webhook.InboxEntry{Key: "a"})
	require.NoError(t, err)
	require.False(t, ok)
	require.ErrorIs(t, store("d"), webhook.ErrInboxFull, "full of pending deliveries")

	// Full, it forgets the done delivery that finished first, not a
	// pending, leased or dead one, and never refuses while one is done.
	settle(webhook.InboxDone, "a")
	settle(webhook.InboxDone, "b")
	require.NoError(t, store("d"))
	held("b", "c", "d")
	_, err = ib.Get(ctx, "a")
	require.ErrorIs(t, err, webhook.ErrNotFound)

	// A done delivery replayed is pending again: not forgotten, and its
	// place in the finishing order is gone.
	require.NoError(t, ib.Replay(ctx, "b"))
	require.ErrorIs(t, store("e"), webhook.ErrInboxFull, "b is pending again")
	settle(webhook.InboxDead, "c")
	require.ErrorIs(t, store("e"), webhook.ErrInboxFull, "a dead delivery is kept")
	settle(webhook.InboxDone, "d") // due before b, which was replayed since
	require.NoError(t, store("e"))
	held("b", "c", "e")

	// A forgotten delivery sent again is a new one: stored and processed
	// again, as at least once allows.
	settle(webhook.InboxDone, "b")
	require.NoError(t, store("a"))
	held("c", "e", "a")

	// Purged, a dead one leaves room too.
	now = now.Add(time.Second)
	n, err := ib.Purge(ctx, webhook.InboxDead, now)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NoError(t, store("f"))
	held("e", "a", "f")
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

// FuzzMemoryInboxForgetsOldestDone drives a small MemoryInbox with the
// operations the input spells, against a model of which deliveries it
// holds: it never holds more than its capacity, it refuses a new delivery
// only when none it holds is done, and when full it forgets the done
// delivery that finished first. Long inputs replay and purge often
// enough to exercise the compaction of its finishing order.
func FuzzMemoryInboxForgetsOldestDone(f *testing.F) {
	for seed := uint64(1); seed <= 8; seed++ {
		ops := make([]byte, 1200)
		x := seed * 0x9e3779b97f4a7c15
		for i := range ops {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			ops[i] = byte(x)
		}
		f.Add(ops)
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) == 0 || len(ops) > 4096 {
			return
		}
		capacity := 2 + int(ops[0]&0x7f%40)
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		ib := webhook.NewMemoryInbox(capacity, func() time.Time { return now })
		state := map[string]webhook.InboxState{} // the model: what it holds
		var finished []string                    // done keys, in the order they finished
		unfinish := func(k string) {
			for i, d := range finished {
				if d == k {
					finished = append(finished[:i], finished[i+1:]...)
					return
				}
			}
		}
		// Two mixes of operations, in turns of 256: one that keeps it
		// full, and one that mostly replays and completes, piling up the
		// records of deliveries that finished more than once for the
		// next turn of the first to forget past.
		mixes := [][]int{{0, 0, 2, 2, 4, 5}, {0, 2, 2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 4, 2, 2}}
		next := 0
		for i, op := range ops {
			now = now.Add(time.Millisecond)
			mix := mixes[(i/256+int(ops[0]>>7))%2]
			switch mix[int(op)%len(mix)] {
			case 0: // a new delivery
				k := strconv.Itoa(next)
				next++
				ok, err := ib.Store(ctx, &webhook.InboxEntry{Key: k})
				if len(state) < capacity {
					require.NoError(t, err, "op %d", i)
					require.True(t, ok)
				} else if len(finished) == 0 {
					require.ErrorIs(t, err, webhook.ErrInboxFull, "op %d: full, none done", i)
					continue
				} else {
					require.NoError(t, err, "op %d: full, but %d done", i, len(finished))
					require.True(t, ok)
					_, err = ib.Get(ctx, finished[0])
					require.ErrorIs(t, err, webhook.ErrNotFound, "op %d: %s finished first", i, finished[0])
					delete(state, finished[0])
					finished = finished[1:]
				}
				state[k] = webhook.InboxPending
			case 2: // a worker settles what is due
				ls, err := ib.Lease(ctx, 1, time.Hour)
				require.NoError(t, err)
				for _, l := range ls {
					k := l.Entry.Key
					require.Contains(t, state, k)
					switch op >> 4 % 3 {
					case 0:
						require.NoError(t, ib.Kill(ctx, k, l.Token, "x"))
						state[k] = webhook.InboxDead
					case 1:
						require.NoError(t, ib.Retry(ctx, k, l.Token, now, "x"))
						state[k] = webhook.InboxPending
					default:
						require.NoError(t, ib.Complete(ctx, k, l.Token))
						state[k] = webhook.InboxDone
						finished = append(finished, k)
					}
				}
			case 4: // replay one it may hold, or one done
				k := strconv.Itoa(int(op>>3) % (next + 1))
				if op&0x40 != 0 && len(finished) > 0 {
					k = finished[int(op>>3&0x7)%len(finished)]
				}
				err := ib.Replay(ctx, k)
				if _, ok := state[k]; !ok {
					require.ErrorIs(t, err, webhook.ErrNotFound)
					continue
				}
				require.NoError(t, err)
				unfinish(k)
				state[k] = webhook.InboxPending
			case 5: // purge every done or dead one
				st := webhook.InboxDone
				if op&8 != 0 {
					st = webhook.InboxDead
				}
				n, err := ib.Purge(ctx, st, now.Add(time.Millisecond))
				require.NoError(t, err)
				want := 0
				for k, s := range state {
					if s == st {
						delete(state, k)
						unfinish(k)
						want++
					}
				}
				require.Equal(t, want, n)
			}
			if i%16 != 0 && i != len(ops)-1 {
				continue
			}
			for k, s := range state {
				e, err := ib.Get(ctx, k)
				require.NoError(t, err, "op %d: the model holds %s", i, k)
				require.Equal(t, s, e.State, "op %d: %s", i, k)
			}
			st, err := ib.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, len(state), st.Pending+st.Retrying+st.InFlight+st.Done+st.Dead, "op %d", i)
		}
	})
}

// FuzzMemoryInbox: what Store wrote is what Get and Lease give back.
func FuzzMemoryInbox(f *testing.F) {
	inboxtest.Fuzz(f, func(t *testing.T, now func() time.Time) webhook.Inbox {
		return webhook.NewMemoryInbox(0, now)
	})
}
