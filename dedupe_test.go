package webhook

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook/internal/testwait"
	"github.com/stretchr/testify/require"
)

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestMemoryStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	type step struct {
		do      string // claim, commit, release, advance
		who     int    // which token: 0 or 1
		d       time.Duration
		want    ClaimStatus
		wantErr error
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"claim, commit, duplicate is processed", []step{
			{do: "claim", who: 0, want: ClaimAcquired},
			{do: "commit", who: 0},
			{do: "claim", who: 1, want: ClaimProcessed},
		}},
		{"second claim while held is in flight", []step{
			{do: "claim", who: 0, want: ClaimAcquired},
			{do: "claim", who: 1, want: ClaimInFlight},
		}},
		{"release lets the retry run", []step{
			{do: "claim", who: 0, want: ClaimAcquired},
			{do: "release", who: 0},
			{do: "claim", who: 1, want: ClaimAcquired},
			{do: "commit", who: 1},
			{do: "claim", who: 0, want: ClaimProcessed},
		}},
		{"crashed holder: lease expires, retry runs", []step{
			{do: "claim", who: 0, want: ClaimAcquired},
			{do: "advance", d: time.Minute},
			{do: "claim", who: 1, want: ClaimAcquired},
		}},
		{"expired holder cannot commit over the new claim", []step{
			{do: "claim", who: 0, want: ClaimAcquired},
			{do: "advance", d: time.Minute},
			{do: "claim", who: 1, want: ClaimAcquired},
			{do: "commit", who: 0, wantErr: ErrNotOwner},
			{do: "release", who: 0, wantErr: ErrNotOwner},
			{do: "claim", who: 0, want: ClaimInFlight},
			{do: "commit", who: 1},
		}},
		{"expired holder cannot commit at all", []step{
			{do: "claim", who: 0, want: ClaimAcquired},
			{do: "advance", d: time.Minute},
			{do: "commit", who: 0, wantErr: ErrNotOwner},
		}},
		{"retention ends", []step{
			{do: "claim", who: 0, want: ClaimAcquired},
			{do: "commit", who: 0},
			{do: "advance", d: 2 * time.Hour},
			{do: "claim", who: 1, want: ClaimAcquired},
		}},
		{"commit without a claim", []step{
			{do: "commit", who: 0, wantErr: ErrNotOwner},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock(testNow)
			s := NewMemoryStore(10, clock.Now)
			var tokens [2]string
			for i, st := range c.steps {
				var err error
				switch st.do {
				case "claim":
					var status ClaimStatus
					var tok string
					tok, status, err = s.Claim(ctx, "standard:msg_1", 30*time.Second)
					require.NoError(t, err)
					require.Equal(t, st.want, status, "step %d", i)
					if status == ClaimAcquired {
						require.NotEmpty(t, tok)
						tokens[st.who] = tok
					}
				case "commit":
					err = s.Commit(ctx, "standard:msg_1", tokens[st.who], time.Hour)
				case "release":
					err = s.Release(ctx, "standard:msg_1", tokens[st.who])
				case "advance":
					clock.Advance(st.d)
				}
				if st.wantErr != nil {
					require.ErrorIs(t, err, st.wantErr, "step %d", i)
				} else {
					require.NoError(t, err, "step %d", i)
				}
			}
		})
	}
}

func TestMemoryStoreBounded(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(testNow)
	s := NewMemoryStore(100, clock.Now)
	for i := range 1000 {
		tok, st, err := s.Claim(ctx, "k"+strconv.Itoa(i), time.Minute)
		require.NoError(t, err)
		require.Equal(t, ClaimAcquired, st)
		require.NoError(t, s.Commit(ctx, "k"+strconv.Itoa(i), tok, time.Hour))
		require.LessOrEqual(t, s.Len(), 100)
	}
	// The most recent keys are remembered; the oldest were forgotten.
	_, st, err := s.Claim(ctx, "k999", time.Minute)
	require.NoError(t, err)
	require.Equal(t, ClaimProcessed, st)
	_, st, err = s.Claim(ctx, "k0", time.Minute)
	require.NoError(t, err)
	require.Equal(t, ClaimAcquired, st)

	// Expired entries are swept without waiting for capacity.
	clock.Advance(2 * time.Hour)
	_, _, err = s.Claim(ctx, "fresh", time.Minute)
	require.NoError(t, err)
	require.Equal(t, 1, s.Len())
}

func TestMemoryStoreConcurrentClaims(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore(0, nil)
	var claimed atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, st, err := s.Claim(ctx, "standard:msg_race", time.Minute)
			require.NoError(t, err)
			if st == ClaimAcquired {
				claimed.Add(1)
				require.NoError(t, s.Commit(ctx, "standard:msg_race", tok, time.Hour))
			}
		}()
	}
	testwait.For(t, "the racing claims to return", wg.Wait)
	require.EqualValues(t, 1, claimed.Load())
}

func TestClaimStatusString(t *testing.T) {
	require.Equal(t, "claimed", ClaimAcquired.String())
	require.Equal(t, "processed", ClaimProcessed.String())
	require.Equal(t, "in flight", ClaimInFlight.String())
	require.Equal(t, "invalid", ClaimStatus(0).String())
}

func TestMemoryStoreEvictsLeastRecentlyWritten(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore(2, newFakeClock(testNow).Now)
	ta, _, err := s.Claim(ctx, "a", time.Minute)
	require.NoError(t, err)
	tb, _, err := s.Claim(ctx, "b", time.Minute)
	require.NoError(t, err)
	require.NoError(t, s.Commit(ctx, "b", tb, time.Hour))
	// Committing a makes it the most recent write, so c evicts b.
	require.NoError(t, s.Commit(ctx, "a", ta, time.Hour))
	_, st, err := s.Claim(ctx, "c", time.Minute)
	require.NoError(t, err)
	require.Equal(t, ClaimAcquired, st)
	_, st, _ = s.Claim(ctx, "a", time.Minute)
	require.Equal(t, ClaimProcessed, st)
	_, st, _ = s.Claim(ctx, "b", time.Minute)
	require.Equal(t, ClaimAcquired, st, "b was forgotten")
}

// TestMemoryStoreKeepsClaimsInProgress: at capacity, a store forgets
// processed ids before a claim whose callbacks are still running, which
// forgotten would let a duplicate claim the message and run alongside
// them. Only a store full of claims in progress forgets one, the oldest.
func TestMemoryStoreKeepsClaimsInProgress(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(testNow)
	s := NewMemoryStore(3, clock.Now)
	held, _, err := s.Claim(ctx, "held", time.Minute)
	require.NoError(t, err)
	for _, k := range []string{"done1", "done2"} {
		tok, _, err := s.Claim(ctx, k, time.Minute)
		require.NoError(t, err)
		require.NoError(t, s.Commit(ctx, k, tok, time.Hour))
	}
	// Each new claim evicts a processed id, never the claim written first.
	for _, k := range []string{"new1", "new2"} {
		_, st, err := s.Claim(ctx, k, time.Minute)
		require.NoError(t, err)
		require.Equal(t, ClaimAcquired, st)
		_, st, err = s.Claim(ctx, "held", time.Minute)
		require.NoError(t, err)
		require.Equal(t, ClaimInFlight, st, "the claim in progress was forgotten")
		require.LessOrEqual(t, s.Len(), 3)
	}
	require.NoError(t, s.Commit(ctx, "held", held, time.Hour))

	// Full of claims in progress: the oldest goes, and its holder learns
	// it at Commit.
	s = NewMemoryStore(2, clock.Now)
	first, _, err := s.Claim(ctx, "first", time.Minute)
	require.NoError(t, err)
	_, _, err = s.Claim(ctx, "second", time.Minute)
	require.NoError(t, err)
	_, st, err := s.Claim(ctx, "third", time.Minute)
	require.NoError(t, err)
	require.Equal(t, ClaimAcquired, st)
	require.Equal(t, 2, s.Len())
	require.ErrorIs(t, s.Commit(ctx, "first", first, time.Hour), ErrNotOwner)
	_, st, _ = s.Claim(ctx, "second", time.Minute)
	require.Equal(t, ClaimInFlight, st)

}

// TestMemoryStoreOrderStaysBounded churns claims and releases behind one
// long-retained entry, and keeps evicting at capacity: the write order
// must not grow with the number of writes.
func TestMemoryStoreOrderStaysBounded(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore(50, newFakeClock(testNow).Now)
	tok, _, err := s.Claim(ctx, "kept", time.Minute)
	require.NoError(t, err)
	require.NoError(t, s.Commit(ctx, "kept", tok, 72*time.Hour))
	for i := range 20_000 {
		key := "churn" + strconv.Itoa(i%10)
		tok, st, err := s.Claim(ctx, key, time.Minute)
		require.NoError(t, err)
		require.Equal(t, ClaimAcquired, st)
		require.NoError(t, s.Release(ctx, key, tok))
		_, _, err = s.Claim(ctx, "new"+strconv.Itoa(i), time.Minute) // evicts at capacity
		require.NoError(t, err)
		require.LessOrEqual(t, s.Len(), 50)
		require.LessOrEqual(t, len(s.order), 2*s.Len()+66)
	}
	require.Equal(t, 50, s.Len())
}

// TestMemoryStoreLongTimes: a lease or a retention too long for the clock
// to add (WithDedupeTimes with math.MaxInt64 for "forever") holds as long
// as it can, never wraps into the past: a wrapped retention forgot the id
// at once, so a replay ran the callbacks again, and a wrapped lease let a
// second request claim a message in flight and made the holder's commit
// fail.
func TestMemoryStoreLongTimes(t *testing.T) {
	ctx := context.Background()
	const forever = time.Duration(1<<63 - 1)
	clock := newFakeClock(testNow)
	s := NewMemoryStore(10, clock.Now)

	tok, st, err := s.Claim(ctx, "standard:msg_1", forever)
	require.NoError(t, err)
	require.Equal(t, ClaimAcquired, st)
	_, st, err = s.Claim(ctx, "standard:msg_1", forever)
	require.NoError(t, err)
	require.Equal(t, ClaimInFlight, st, "a claim for ever is held")
	require.NoError(t, s.Commit(ctx, "standard:msg_1", tok, forever))
	clock.Advance(100 * 365 * 24 * time.Hour)
	_, st, err = s.Claim(ctx, "standard:msg_1", time.Minute)
	require.NoError(t, err)
	require.Equal(t, ClaimProcessed, st, "an id kept for ever is remembered")
}

// tenantFlood is a run of the tenant fairness tests of MemoryStore and
// MemoryInbox: quiet tenants write their keys first, then one tenant
// floods, and every quiet key must still be remembered.
type tenantFlood struct {
	name     string
	capacity int
	quiet    []int // keys of each quiet tenant, written first
	flood    int   // keys of the flooding tenant, written after
	plain    bool  // the first quiet tenant is a handler without a key function
}

// tenantFloods are the runs both fairness tests make.
func tenantFloods() []tenantFlood {
	return []tenantFlood{
		{"one quiet tenant", 100, []int{40}, 1000, false},
		{"one quiet tenant just under half", 100, []int{49}, 500, false},
		{"three quiet tenants", 100, []int{10, 20, 24}, 2000, false},
		{"many small tenants", 60, []int{1, 2, 3, 4, 5, 6, 6, 6}, 600, false},  // 6 × 9 tenants < 60
		{"a plain handler beside the tenants", 100, []int{30, 30}, 1000, true}, // source:id keys
	}
}

// quietKeys are the quiet tenants' keys, in the order they are written.
func (tc tenantFlood) quietKeys() []string {
	var keys []string
	for q, n := range tc.quiet {
		for i := range n {
			if tc.plain && q == 0 {
				keys = append(keys, "standard:msg_"+strconv.Itoa(i))
			} else {
				keys = append(keys, "standard@quiet"+strconv.Itoa(q)+":msg_"+strconv.Itoa(i))
			}
		}
	}
	return keys
}

// floodKeys are the flooding tenant's keys, in the order they are
// written: both of its sources count as its records, and the last is
// the one it must keep.
func (tc tenantFlood) floodKeys() []string {
	keys := make([]string, tc.flood)
	for i := range keys {
		if i%2 == 0 {
			keys[i] = "standard@flood:msg_" + strconv.Itoa(i)
		} else {
			keys[i] = "intercom@flood:" + strconv.Itoa(i)
		}
	}
	return keys
}

// TestMemoryStoreTenantsShareFairly: one MemoryStore serves every tenant
// of a WithKeyFunc handler (keys source@tenant:id). A flood of new ids
// from one tenant must not push out the records of a tenant holding less
// than an equal share of the capacity (capacity ÷ tenants holding
// records): their senders' retries would run the callbacks again. The
// flooding tenant loses its own oldest ids instead.
func TestMemoryStoreTenantsShareFairly(t *testing.T) {
	ctx := context.Background()
	for _, tc := range append(tenantFloods(),
		tenantFlood{"flood smaller than the capacity left", 100, []int{40}, 50, false},
	) {
		t.Run(tc.name, func(t *testing.T) {
			s := NewMemoryStore(tc.capacity, newFakeClock(testNow).Now)
			commit := func(key string) {
				t.Helper()
				tok, st, err := s.Claim(ctx, key, time.Minute)
				require.NoError(t, err)
				require.Equal(t, ClaimAcquired, st, key)
				require.NoError(t, s.Commit(ctx, key, tok, time.Hour))
				require.LessOrEqual(t, s.Len(), tc.capacity)
			}
			quiet, flood := tc.quietKeys(), tc.floodKeys()
			for _, k := range quiet {
				commit(k)
			}
			for _, k := range flood {
				commit(k)
			}
			for _, k := range quiet {
				_, st, err := s.Claim(ctx, k, time.Minute)
				require.NoError(t, err)
				require.Equal(t, ClaimProcessed, st, "%s was forgotten in the flood", k)
			}
			// The flooding tenant keeps its most recent ids, in what the
			// others leave.
			_, st, err := s.Claim(ctx, flood[len(flood)-1], time.Minute)
			require.NoError(t, err)
			require.Equal(t, ClaimProcessed, st)
		})
	}
}

// TestMemoryStoreTenantsRandom: with tenants writing in random turns at
// random rates, a tenant never loses a record while it holds fewer than
// an equal share of the capacity (capacity ÷ tenants holding records),
// however the others flood: checked after every write, each tenant's
// records followed as far as the store keeps them.
func TestMemoryStoreTenantsRandom(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 1))
		capacity := 10 + rng.IntN(90)
		tenants := 2 + rng.IntN(5)
		weights := make([]int, tenants) // how often each writes
		total := 0
		for i := range weights {
			weights[i] = 1 + rng.IntN(20)
			total += weights[i]
		}
		s := NewMemoryStore(capacity, newFakeClock(testNow).Now)
		// holds reports whether s still holds k, without writing.
		holds := func(k string) bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			_, ok := s.entries[s.hash(k)]
			return ok
		}
		held := make([][]string, tenants) // each tenant's keys the store holds
		for n := range 20 * capacity {
			w, tn := rng.IntN(total), 0
			for ; w >= weights[tn]; tn++ {
				w -= weights[tn]
			}
			active := 0
			for _, h := range held {
				if len(h) > 0 {
					active++
				}
			}
			key := "standard@t" + strconv.Itoa(tn) + ":msg_" + strconv.Itoa(n)
			tok, st, err := s.Claim(ctx, key, time.Minute)
			require.NoError(t, err)
			require.Equal(t, ClaimAcquired, st)
			require.NoError(t, s.Commit(ctx, key, tok, time.Hour))
			require.LessOrEqual(t, s.Len(), capacity)
			// A tenant under an equal share when the write came (its
			// records, the tenants holding some) lost none.
			for i, h := range held {
				kept := h[:0]
				for _, k := range h {
					if holds(k) {
						kept = append(kept, k)
					} else {
						require.GreaterOrEqual(t, len(h)*active, capacity,
							"seed %d, write %d: tenant %d lost %s holding %d of %d records, %d tenants", seed, n, i, k, len(h), capacity, active)
					}
				}
				held[i] = kept
			}
			held[tn] = append(held[tn], key)
		}
	}
}

// TestMemoryStoreKeepsClaimsOverSmallTenants: a tenant's claims in
// progress are kept over another tenant's processed ids even when that
// tenant holds less than an equal share: forgetting the claim lets a
// duplicate run its callbacks alongside the holder's, forgetting the
// processed id only lets a late retry run them again. The claims are
// written first, so the oldest entry is a claim.
func TestMemoryStoreKeepsClaimsOverSmallTenants(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		capacity int
		claims   int  // claims in progress of the busy tenant, written first
		quiet    int  // processed ids of the quiet tenant, written after
		plain    bool // the quiet one is a handler without a key function (source:id)
	}{
		{"one processed id", 4, 3, 1, false},
		{"a few processed ids", 10, 7, 3, false},
		{"plain keys beside a tenant", 6, 5, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewMemoryStore(tc.capacity, newFakeClock(testNow).Now)
			busy := func(i int) string { return "standard@busy:msg_" + strconv.Itoa(i) }
			for i := range tc.claims {
				_, st, err := s.Claim(ctx, busy(i), time.Minute)
				require.NoError(t, err)
				require.Equal(t, ClaimAcquired, st)
			}
			for i := range tc.quiet {
				key := "standard@quiet:msg_" + strconv.Itoa(i)
				if tc.plain {
					key = "standard:msg_" + strconv.Itoa(i)
				}
				tok, st, err := s.Claim(ctx, key, time.Minute)
				require.NoError(t, err)
				require.Equal(t, ClaimAcquired, st)
				require.NoError(t, s.Commit(ctx, key, tok, time.Hour))
			}
			// Full: a new claim forgets a processed id, not a claim.
			_, st, err := s.Claim(ctx, busy(tc.claims), time.Minute)
			require.NoError(t, err)
			require.Equal(t, ClaimAcquired, st)
			require.LessOrEqual(t, s.Len(), tc.capacity)
			for i := range tc.claims {
				_, st, err := s.Claim(ctx, busy(i), time.Minute)
				require.NoError(t, err)
				require.Equal(t, ClaimInFlight, st, "the claim in progress %s was forgotten", busy(i))
			}
		})
	}
}
