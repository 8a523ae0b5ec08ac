package inboxtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/internal/listcursor"
	"github.com/stretchr/testify/require"
)

// page lists one page and requires it no longer than the limit asked.
func (s *suite) page(t *testing.T, q webhook.InboxQuery) webhook.InboxPage {
	t.Helper()
	p, err := s.ib.List(s.ctx, q)
	require.NoError(t, err, "List %+v", q)
	if q.Limit > 0 {
		require.LessOrEqual(t, len(p.Entries), q.Limit, "List returned more than Limit")
	}
	return p
}

// A pager reads page after page of one query and checks what every
// paging reader may rely on: each entry is in the query's state, in
// order after the one before it, and listed at most once (by update
// order, once per time it came into the state).
type pager struct {
	t      *testing.T
	s      *suite
	q      webhook.InboxQuery
	seen   map[string]int
	last   time.Time
	pages  int
	listed []string
}

func newPager(t *testing.T, s *suite, q webhook.InboxQuery) *pager {
	return &pager{t: t, s: s, q: q, seen: map[string]int{}}
}

// next reads the next page and reports whether there are more.
func (p *pager) next() bool {
	t := p.t
	t.Helper()
	pg := p.s.page(t, p.q)
	p.pages++
	for _, e := range pg.Entries {
		if p.q.State != "" {
			require.Equal(t, p.q.State, e.State, "List of %s returned %s", p.q.State, e.Key)
		}
		at := e.ReceivedAt
		if p.q.Order == webhook.InboxByUpdated {
			at = e.UpdatedAt
		}
		require.False(t, at.Before(p.last), "page %d: %s at %v comes after one at %v", p.pages, e.Key, at, p.last)
		p.last = at
		p.seen[e.Key]++
		p.listed = append(p.listed, e.Key)
	}
	if len(pg.Entries) > 0 {
		require.NotEmpty(t, pg.Next, "a page of entries without a cursor")
	} else {
		require.Equal(t, p.q.After, pg.Next, "an empty page's Next is its After")
	}
	if pg.More {
		require.NotEmpty(t, pg.Entries, "More after an empty page")
	}
	p.q.After = pg.Next
	return pg.More
}

// requireOnce requires each of keys listed exactly once.
func (p *pager) requireOnce(keys map[string]bool) {
	p.t.Helper()
	for k := range keys {
		require.Equal(p.t, 1, p.seen[k], "%s stayed throughout: listed %d times in %d pages", k, p.seen[k], p.pages)
	}
}

func testListPages(t *testing.T, s *suite) {
	// Pages of 17 through more deliveries than a page, three of each
	// ReceivedAt so that ties are broken too, while between pages
	// deliveries arrive (received before the page's end, and after
	// everything), are leased, completed, retried and purged. Every
	// delivery that stayed in the state listed is listed once, in order;
	// the others at most once.
	for i, state := range []webhook.InboxState{webhook.InboxPending, ""} {
		name := string(state)
		if name == "" {
			name = "all"
		}
		t.Run(name, func(t *testing.T) {
			s := s
			if i > 0 {
				s = s.fresh(t) // the first one's is the suite's
			}
			const n = 120
			stayed := map[string]bool{}
			for i := range n {
				k := fmt.Sprintf("p%03d", i)
				s.store(t, entry(k, time.Duration(i/3)*time.Millisecond))
				stayed[k] = true
			}
			s.clock.Advance(time.Second)
			p := newPager(t, s, webhook.InboxQuery{State: state, Limit: 17})
			round := 0
			for p.next() {
				round++
				require.Less(t, round, 3*n, "paging does not end")
				// Arrivals: one received within what was listed, one
				// after everything.
				s.store(t, entry(fmt.Sprintf("early%02d", round), time.Duration(round)*time.Millisecond))
				s.store(t, entry(fmt.Sprintf("late%02d", round), time.Hour+time.Duration(round)*time.Millisecond))
				// Two leased: one completes, one fails and is due again.
				for i, l := range s.lease(t, 2, time.Minute) {
					if state != "" {
						delete(stayed, l.Entry.Key)
					}
					if i == 0 {
						require.NoError(t, s.ib.Complete(s.ctx, l.Entry.Key, l.Token))
					} else {
						require.NoError(t, s.ib.Retry(s.ctx, l.Entry.Key, l.Token, s.now(), "again"))
					}
				}
				// What completed a round ago goes.
				s.clock.Advance(time.Millisecond)
				purged, err := s.ib.List(s.ctx, webhook.InboxQuery{State: webhook.InboxDone, Limit: 1000, OmitBody: true})
				require.NoError(t, err)
				_, err = s.ib.Purge(s.ctx, webhook.InboxDone, s.now())
				require.NoError(t, err)
				for _, e := range purged.Entries {
					delete(stayed, e.Key)
				}
			}
			require.Greater(t, p.pages, n/17, "fewer pages than the deliveries fill")
			p.requireOnce(stayed)
			for k, c := range p.seen {
				require.Equal(t, 1, c, "%s listed %d times", k, c)
			}
		})
	}
}

// fresh returns a suite on a new, empty inbox of the same kind, for a
// subtest that needs one of its own.
func (s *suite) fresh(t *testing.T) *suite {
	clock := newClock()
	ib := s.newInbox(t, clock.Now)
	require.NotNil(t, ib, "newInbox returned nil")
	return &suite{ib: ib, clock: clock, ctx: s.ctx, newInbox: s.newInbox}
}

func testListByUpdated(t *testing.T, s *suite) {
	// 60 deliveries die three at a time, a millisecond apart, in the
	// reverse order of their ReceivedAt: listed by update order they
	// come the longest dead first, the order they died in. Between
	// pages some are replayed (some listed already, some not) and die
	// again: they come again, after the others.
	const n = 60
	var order []string // the order they died in
	for i := range n {
		s.store(t, entry(fmt.Sprintf("d%02d", n-1-i), time.Duration(n-i)*time.Millisecond))
	}
	s.clock.Advance(time.Second)
	for len(order) < n {
		for _, l := range s.lease(t, 3, time.Minute) {
			require.NoError(t, s.ib.Kill(s.ctx, l.Entry.Key, l.Token, "dies"))
			order = append(order, l.Entry.Key)
		}
		s.clock.Advance(time.Millisecond)
	}
	stayed := map[string]bool{}
	for _, k := range order {
		stayed[k] = true
	}
	all := s.page(t, webhook.InboxQuery{State: webhook.InboxDead, Order: webhook.InboxByUpdated, Limit: n})
	require.Len(t, all.Entries, n)
	require.False(t, all.More)
	for i := 0; i < n; i += 3 {
		// Those of one millisecond in any order.
		require.ElementsMatch(t, order[i:i+3], entryKeys(all.Entries[i:i+3]), "died at +%dms", i/3)
	}

	p := newPager(t, s, webhook.InboxQuery{State: webhook.InboxDead, Order: webhook.InboxByUpdated, Limit: 7})
	round := 0
	for p.next() {
		round++
		require.Less(t, round, 3*n, "paging does not end")
		if round > 4 {
			continue
		}
		// Replay one listed and one not, and kill both again.
		for _, k := range []string{p.listed[len(p.listed)-1], order[len(p.listed)+5]} {
			require.NoError(t, s.ib.Replay(s.ctx, k))
			delete(stayed, k)
		}
		s.clock.Advance(time.Millisecond)
		for _, l := range s.lease(t, 10, time.Minute) {
			require.NoError(t, s.ib.Kill(s.ctx, l.Entry.Key, l.Token, "dies again"))
		}
		s.clock.Advance(time.Millisecond)
	}
	p.requireOnce(stayed)
	for k, c := range p.seen {
		require.LessOrEqual(t, c, 2, "%s listed %d times", k, c)
	}

	// Update order is for done and dead deliveries, whose UpdatedAt
	// stays while they stay; an unknown order is an error.
	for _, q := range []webhook.InboxQuery{
		{State: webhook.InboxPending, Order: webhook.InboxByUpdated},
		{State: webhook.InboxLeased, Order: webhook.InboxByUpdated},
		{Order: webhook.InboxByUpdated},
		{Order: webhook.InboxOrder(7)},
		{State: webhook.InboxDead, Order: -1},
	} {
		var err error
		require.NotPanics(t, func() { _, err = s.ib.List(s.ctx, q) }, "List %+v", q)
		require.Error(t, err, "List %+v", q)
	}
}

func testListPageEnds(t *testing.T, s *suite) {
	q := webhook.InboxQuery{State: webhook.InboxPending, Limit: 3}
	empty := s.page(t, q)
	require.Empty(t, empty.Entries)
	require.Empty(t, empty.Next, "an empty inbox: Next is the empty After")
	require.False(t, empty.More)

	for i := range 3 {
		s.store(t, entry(fmt.Sprintf("k%d", i), time.Duration(i)*time.Millisecond))
	}
	full := s.page(t, q)
	require.Equal(t, []string{"k0", "k1", "k2"}, entryKeys(full.Entries))
	require.False(t, full.More, "exactly a page: no more")
	require.NotEmpty(t, full.Next)
	two := s.page(t, webhook.InboxQuery{State: webhook.InboxPending, Limit: 2})
	require.Equal(t, []string{"k0", "k1"}, entryKeys(two.Entries))
	require.True(t, two.More)

	// Past the end: an empty page, its cursor the one given, which
	// then reads what comes later.
	q.After = full.Next
	end := s.page(t, q)
	require.Empty(t, end.Entries)
	require.Equal(t, full.Next, end.Next)
	require.False(t, end.More)
	s.store(t, entry("k3", time.Second))
	later := s.page(t, q)
	require.Equal(t, []string{"k3"}, entryKeys(later.Entries))

	// A cursor outlives its entry: k1 and k2 complete and are purged,
	// k0 and k3 fail and are pending again; k1b arrives, received
	// after k1.
	ls := s.lease(t, 10, time.Minute)
	require.ElementsMatch(t, []string{"k0", "k1", "k2", "k3"}, keys(ls))
	for _, l := range ls {
		if k := l.Entry.Key; k == "k1" || k == "k2" {
			require.NoError(t, s.ib.Complete(s.ctx, k, l.Token))
		} else {
			require.NoError(t, s.ib.Retry(s.ctx, k, l.Token, s.now(), "again"))
		}
	}
	s.store(t, entry("k1b", time.Millisecond+time.Microsecond))
	s.clock.Advance(time.Second)
	n, err := s.ib.Purge(s.ctx, webhook.InboxDone, s.now())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	got := s.page(t, webhook.InboxQuery{State: webhook.InboxPending, After: two.Next})
	require.Equal(t, []string{"k1b", "k3"}, entryKeys(got.Entries), "after k1, purged")
	require.False(t, got.More)
}

func testListBadCursor(t *testing.T, s *suite) {
	s.store(t, entry("k0", 0))
	l := s.leaseOne(t, "k0", time.Minute)
	require.NoError(t, s.ib.Kill(s.ctx, "k0", l.Token, "dies"))
	for i := 1; i < 4; i++ {
		s.store(t, entry(fmt.Sprintf("k%d", i), time.Duration(i)*time.Millisecond))
	}
	pending := s.page(t, webhook.InboxQuery{State: webhook.InboxPending, Limit: 1}).Next
	dead := s.page(t, webhook.InboxQuery{State: webhook.InboxDead, Order: webhook.InboxByUpdated, Limit: 1}).Next
	deadByReceived := s.page(t, webhook.InboxQuery{State: webhook.InboxDead, Limit: 1}).Next
	all := s.page(t, webhook.InboxQuery{Limit: 1}).Next
	require.NotEmpty(t, pending)
	require.NotEmpty(t, dead)

	c, err := listcursor.Decode(pending)
	require.NoError(t, err, "the cursor is not listcursor's")
	badAt := c
	badAt.At = "not a time"
	foreign := c
	foreign.Kind = "another-inbox"
	for _, tc := range []struct {
		name string
		q    webhook.InboxQuery
	}{
		{"garbage", webhook.InboxQuery{State: webhook.InboxPending, After: "garbage!"}},
		{"base64 of nothing known", webhook.InboxQuery{State: webhook.InboxPending, After: "aGVsbG8"}},
		{"truncated", webhook.InboxQuery{State: webhook.InboxPending, After: pending[:len(pending)/2]}},
		{"another state", webhook.InboxQuery{State: webhook.InboxDone, After: pending}},
		{"every state", webhook.InboxQuery{After: pending}},
		{"one state", webhook.InboxQuery{State: webhook.InboxPending, After: all}},
		{"another order", webhook.InboxQuery{State: webhook.InboxDead, After: dead}},
		{"another order, back", webhook.InboxQuery{State: webhook.InboxDead, Order: webhook.InboxByUpdated, After: deadByReceived}},
		{"another inbox", webhook.InboxQuery{State: webhook.InboxPending, After: foreign.String()}},
		{"a bad position", webhook.InboxQuery{State: webhook.InboxPending, After: badAt.String()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p webhook.InboxPage
			var err error
			require.NotPanics(t, func() { p, err = s.ib.List(s.ctx, tc.q) })
			require.ErrorIs(t, err, webhook.ErrBadCursor)
			require.Empty(t, p.Entries)
			require.False(t, errors.Is(err, webhook.ErrNotFound))
		})
	}
	// The good ones still read on.
	require.Equal(t, []string{"k2", "k3"}, entryKeys(s.page(t, webhook.InboxQuery{State: webhook.InboxPending, After: pending}).Entries))
}

func testListOmitBody(t *testing.T, s *suite) {
	s.store(t, entry("k0", 0))
	l := s.leaseOne(t, "k0", time.Minute)
	require.NoError(t, s.ib.Kill(s.ctx, "k0", l.Token, "dies"))
	for i := 1; i < 3; i++ {
		s.store(t, entry(fmt.Sprintf("k%d", i), time.Duration(i)*time.Millisecond))
	}
	for _, q := range []webhook.InboxQuery{
		{OmitBody: true},
		{State: webhook.InboxPending, OmitBody: true},
		{State: webhook.InboxDead, Order: webhook.InboxByUpdated, OmitBody: true},
	} {
		p := s.page(t, q)
		require.NotEmpty(t, p.Entries, "List %+v", q)
		for _, e := range p.Entries {
			require.Nil(t, e.Body, "List %+v: %s has a body", q, e.Key)
			want := entry(e.Key, time.Duration(e.Key[1]-'0')*time.Millisecond)
			want.Body = nil
			requireSameData(t, want, e)
			require.Equal(t, s.get(t, e.Key).State, e.State)
		}
		q.OmitBody = false
		for _, e := range s.page(t, q).Entries {
			requireSameData(t, entry(e.Key, time.Duration(e.Key[1]-'0')*time.Millisecond), e)
		}
	}
}

func testListPagesConcurrent(t *testing.T, s *suite) {
	// Readers page through the dead deliveries, by received and by
	// update order, while a writer stores deliveries that die, and
	// replays some of those the readers are paging through.
	const n, writes = 90, 40
	for i := range n {
		s.store(t, entry(fmt.Sprintf("d%03d", i), time.Duration(i)*time.Millisecond))
	}
	for {
		ls := s.lease(t, 20, time.Minute)
		if len(ls) == 0 {
			break
		}
		for _, l := range ls {
			require.NoError(t, s.ib.Kill(s.ctx, l.Entry.Key, l.Token, "dies"))
		}
		s.clock.Advance(time.Millisecond)
	}
	var mu sync.Mutex
	replayed := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range writes {
			s.clock.Advance(time.Millisecond)
			k := fmt.Sprintf("d%03d", (i*7)%n)
			mu.Lock()
			replayed[k] = true
			mu.Unlock()
			if err := s.ib.Replay(s.ctx, k); err != nil && !errors.Is(err, webhook.ErrInFlight) {
				errs <- fmt.Errorf("replay %s: %w", k, err)
				return
			}
			if _, err := s.ib.Store(s.ctx, entry(fmt.Sprintf("new%03d", i), time.Duration(i)*time.Millisecond+time.Microsecond)); err != nil {
				errs <- err
				return
			}
			ls, err := s.ib.Lease(s.ctx, 3, time.Minute)
			if err != nil {
				errs <- err
				return
			}
			for _, l := range ls {
				if err := s.ib.Kill(s.ctx, l.Entry.Key, l.Token, "dies"); err != nil {
					errs <- fmt.Errorf("kill %s: %w", l.Entry.Key, err)
					return
				}
			}
		}
	}()
	pagers := []*pager{
		newPager(t, s, webhook.InboxQuery{State: webhook.InboxDead, Limit: 8, OmitBody: true}),
		newPager(t, s, webhook.InboxQuery{State: webhook.InboxDead, Order: webhook.InboxByUpdated, Limit: 8}),
	}
	// The pagers' checks use require, so they run here, turn about.
	more := []bool{true, true}
	for round := 0; more[0] || more[1]; round++ {
		// Fewer than 250 deliveries are ever dead, 8 a page.
		require.Less(t, round, 100, "paging does not end")
		for i, p := range pagers {
			if more[i] {
				more[i] = p.next()
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	stayed := map[string]bool{}
	for i := range n {
		if k := fmt.Sprintf("d%03d", i); !replayed[k] {
			stayed[k] = true
		}
	}
	for _, p := range pagers {
		p.requireOnce(stayed)
	}
	for k, c := range pagers[0].seen {
		require.Equal(t, 1, c, "by received order, %s listed %d times", k, c)
	}
}
