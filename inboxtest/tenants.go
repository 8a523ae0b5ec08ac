package inboxtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/stretchr/testify/require"
)

// TenantCapacity is the conformance suite of a per-tenant bound on the
// backlog, for an inbox that has one (MemoryInbox with
// MemoryInboxTenantCapacity, sqlitestore's WithTenantCapacity, redisstore's
// WithInboxTenantCapacity). newInbox returns a new, empty inbox whose
// clock is now and that holds at most n deliveries of one tenant pending
// or leased, n being at least 3, with room for 6n deliveries all told.
//
// The tenant is the one the key names (webhook.KeyTenant): the deliveries
// of one tenant from every source share its bound, and keys of another
// form (source:id, or the caller's own) are one tenant, "". The suite
// checks that a tenant at its bound is refused with an error wrapping
// webhook.ErrInboxFull while the others store on, that a duplicate of a
// delivery stored is still only a duplicate, that leased and retrying
// deliveries count and done and dead ones do not (a replayed one counts
// again), and that concurrent Stores of one tenant store exactly n. Call
// it from a test of the implementation's own:
//
//	func TestTenantCapacity(t *testing.T) { inboxtest.TenantCapacity(t, 3, newInbox) }
func TenantCapacity(t *testing.T, n int, newInbox NewInbox) {
	require.GreaterOrEqual(t, n, 3, "TenantCapacity needs a bound of 3 or more")
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite, n int)
	}{
		{"Bound", testTenantBound},
		{"Settles", testTenantSettles},
		{"Concurrent", testTenantConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			ib := newInbox(t, clock.Now)
			require.NotNil(t, ib, "newInbox returned nil")
			tc.fn(t, &suite{ib: ib, clock: clock, ctx: context.Background(), newInbox: newInbox}, n)
		})
	}
}

// tenantKey is the key the handler stores tenant's message id under
// (webhook's dedupeKey): source@tenant:id, or source:id for tenant "".
func tenantKey(source, tenant, id string) string {
	if tenant == "" {
		return source + ":" + id
	}
	return source + "@" + tenant + ":" + id
}

// requireRefused requires Store of key to fail with ErrInboxFull, and
// the key to be stored nowhere.
func (s *suite) requireRefused(t *testing.T, key string) {
	t.Helper()
	ok, err := s.ib.Store(s.ctx, entry(key, 0))
	require.ErrorIs(t, err, webhook.ErrInboxFull, "Store %s: its tenant is at its bound", key)
	require.False(t, ok, "Store %s", key)
	_, err = s.ib.Get(s.ctx, key)
	require.ErrorIs(t, err, webhook.ErrNotFound, "Get %s: refused, not stored", key)
}

func testTenantBound(t *testing.T, s *suite, n int) {
	for _, tenant := range []string{"acme", "globex", ""} {
		for i := range n {
			source := "standard"
			if i%2 == 1 {
				source = "intercom" // one bound for every source of the tenant
			}
			s.store(t, entry(tenantKey(source, tenant, fmt.Sprint("msg_", i)), 0))
		}
	}
	for _, key := range []string{
		tenantKey("standard", "acme", "msg_more"),
		tenantKey("intercom", "acme", "notif_more"),
		tenantKey("standard", "globex", "msg_more"),
		// Tenant "": keys without a tenant, whatever their id holds, and
		// keys of the caller's own form.
		tenantKey("standard", "", "msg_more"),
		"standard:acme@x:y",
		"own-key",
	} {
		s.requireRefused(t, key)
	}
	// A tenant at its bound still has its senders' retries acknowledged
	// as duplicates.
	ok, err := s.ib.Store(s.ctx, entry(tenantKey("standard", "acme", "msg_0"), 0))
	require.NoError(t, err, "Store of a duplicate of a tenant at its bound")
	require.False(t, ok, "a duplicate")
	// Another tenant is not held back by those at their bound.
	for i := range n {
		s.store(t, entry(tenantKey("standard", "initech", fmt.Sprint("msg_", i)), 0))
	}
	s.requireRefused(t, tenantKey("standard", "initech", "msg_more"))
	st := s.stats(t)
	require.Equal(t, 4*n, st.Pending, "Stats")
}

func testTenantSettles(t *testing.T, s *suite, n int) {
	key := func(i int) string { return tenantKey("standard", "acme", fmt.Sprint("msg_", i)) }
	for i := range n {
		s.store(t, entry(key(i), time.Duration(i)*time.Millisecond))
		s.clock.Advance(time.Millisecond)
	}
	s.store(t, entry(tenantKey("standard", "globex", "msg_0"), 0))
	ls := s.lease(t, n+1, time.Minute)
	require.Len(t, ls, n+1)
	tokens := map[string]string{}
	for _, l := range ls {
		tokens[l.Entry.Key] = l.Token
	}
	next := n
	fresh := func() string { next++; return key(next) }
	s.requireRefused(t, fresh()) // leased deliveries count

	require.NoError(t, s.ib.Retry(s.ctx, key(0), tokens[key(0)], s.now().Add(time.Hour), "failed"))
	s.requireRefused(t, fresh()) // so do retrying ones

	require.NoError(t, s.ib.Complete(s.ctx, key(1), tokens[key(1)]))
	s.store(t, entry(fresh(), 0)) // a done one leaves the backlog
	s.requireRefused(t, fresh())

	require.NoError(t, s.ib.Kill(s.ctx, key(n-1), tokens[key(n-1)], "dead"))
	s.store(t, entry(fresh(), 0)) // so does a dead one
	s.requireRefused(t, fresh())

	// Another tenant settling changes nothing for this one.
	require.NoError(t, s.ib.Complete(s.ctx, tenantKey("standard", "globex", "msg_0"), tokens[tenantKey("standard", "globex", "msg_0")]))
	s.requireRefused(t, fresh())

	// A replayed delivery is the backlog's again, past the bound too: a
	// replay is the operator's, and is never refused.
	require.NoError(t, s.ib.Replay(s.ctx, key(1)))
	require.NoError(t, s.ib.Replay(s.ctx, key(n-1)))
	require.Equal(t, webhook.InboxPending, s.get(t, key(n-1)).State)
	s.clock.Advance(2 * time.Minute) // the leases run out: still the backlog
	s.requireRefused(t, fresh())
	_, err := s.ib.Purge(s.ctx, "", s.now().Add(time.Hour))
	require.NoError(t, err)
	s.requireRefused(t, fresh())

	// Finishing three (the backlog was two past the bound) makes room
	// for one.
	ls = s.lease(t, 3, time.Minute)
	require.Len(t, ls, 3)
	for _, l := range ls {
		require.NoError(t, s.ib.Complete(s.ctx, l.Entry.Key, l.Token))
	}
	s.store(t, entry(fresh(), 0))
	s.requireRefused(t, fresh())
}

func testTenantConcurrent(t *testing.T, s *suite, n int) {
	const callers = 8
	stored := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := range callers {
		for _, tenant := range []string{"acme", ""} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range n {
					k := tenantKey("standard", tenant, fmt.Sprint("msg_", c, "_", i))
					ok, err := s.ib.Store(s.ctx, entry(k, 0))
					if err != nil && !errors.Is(err, webhook.ErrInboxFull) {
						t.Errorf("Store %s: %v", k, err)
						return
					}
					if ok {
						mu.Lock()
						stored[tenant]++
						mu.Unlock()
					}
				}
			}()
		}
	}
	wg.Wait()
	require.Equal(t, map[string]int{"acme": n, "": n}, stored, "deliveries stored of each tenant, %d callers storing %d each", callers, n)
	require.Equal(t, 2*n, s.stats(t).Pending)
}
