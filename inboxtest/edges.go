package inboxtest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/stretchr/testify/require"
)

// oddKeys are keys a store must keep apart and give back byte for byte:
// a key is the sender's message id behind a source prefix, and a sender
// may put anything in it.
var oddKeys = []string{
	"ключ/キー/🔑",
	"caf\u00e9",  // é composed
	"cafe\u0301", // é decomposed: another key
	"Key", "key", // case matters
	"nul\x00mid", "nul", "nul\x00", "\x00lead", // NUL inside, after, before
	"\xff\xfe\xc0 not utf-8",
	"{tag}", "}{", "d:x", "a:b:c", // a store's own separators
	"*?[]^$%d%s%%.-+", // glob, pattern and format characters
	" spaces ", "new\nline\r\ttab",
	"|pipe|", `"quote'`, `back\slash`,
	strings.Repeat("long", 4096), // 16 KiB
}

// testOddKeys stores, reads, lists, leases, settles, replays and purges
// deliveries under oddKeys, all received at one time so that List's ties
// are broken between them, and requires each kept apart and given back
// as it was.
func testOddKeys(t *testing.T, s *suite) {
	at := 5 * time.Second
	for _, k := range oddKeys {
		s.store(t, entry(k, at))
	}
	want := map[string]bool{}
	for _, k := range oddKeys {
		want[k] = true
		requireSameData(t, entry(k, at), s.get(t, k))
		ok, err := s.ib.Store(s.ctx, entry(k, at))
		require.NoError(t, err)
		require.False(t, ok, "%q: a second Store reported stored", k)
	}
	require.Equal(t, len(oddKeys), s.stats(t).Pending)

	// listAll pages through q one delivery at a time, so that every
	// cursor ends at one of the keys.
	listAll := func(q webhook.InboxQuery) map[string]bool {
		t.Helper()
		q.Limit = 1
		p := newPager(t, s, q)
		for p.next() {
			require.Less(t, p.pages, 2*len(oddKeys), "paging does not end")
		}
		got := map[string]bool{}
		for k, n := range p.seen {
			require.Equal(t, 1, n, "%q listed %d times", k, n)
			got[k] = true
		}
		return got
	}
	require.Equal(t, want, listAll(webhook.InboxQuery{}))
	require.Equal(t, want, listAll(webhook.InboxQuery{State: webhook.InboxPending}))

	ls := s.lease(t, 2*len(oddKeys), time.Minute)
	require.ElementsMatch(t, oddKeys, keys(ls))
	for _, l := range ls {
		requireSameData(t, entry(l.Entry.Key, at), l.Entry)
		// A token of one key settles no other, however alike they are.
		for _, other := range []string{l.Entry.Key + "\x00", l.Entry.Key[:len(l.Entry.Key)-1]} {
			require.ErrorIs(t, s.ib.Complete(s.ctx, other, l.Token), webhook.ErrLeaseLost, "%q's token on %q", l.Entry.Key, other)
		}
	}
	for i, l := range ls {
		if i%2 == 0 {
			require.NoError(t, s.ib.Complete(s.ctx, l.Entry.Key, l.Token), "%q", l.Entry.Key)
		} else {
			require.NoError(t, s.ib.Kill(s.ctx, l.Entry.Key, l.Token, "dead: "+l.Entry.Key), "%q", l.Entry.Key)
		}
	}
	done, dead := listAll(webhook.InboxQuery{State: webhook.InboxDone, Order: webhook.InboxByUpdated}),
		listAll(webhook.InboxQuery{State: webhook.InboxDead, Order: webhook.InboxByUpdated})
	require.Len(t, done, (len(ls)+1)/2)
	require.Len(t, dead, len(ls)/2)
	for k := range dead {
		require.False(t, done[k], "%q both done and dead", k)
		require.Equal(t, "dead: "+k, s.get(t, k).LastError)
	}

	// Replay and Purge find each key, and only it.
	for _, k := range oddKeys {
		require.NoError(t, s.ib.Replay(s.ctx, k), "%q", k)
	}
	require.Equal(t, want, listAll(webhook.InboxQuery{State: webhook.InboxPending}))
	for _, l := range s.lease(t, 2*len(oddKeys), time.Minute) {
		require.NoError(t, s.ib.Complete(s.ctx, l.Entry.Key, l.Token), "%q", l.Entry.Key)
	}
	s.clock.Advance(time.Second)
	n, err := s.ib.Purge(s.ctx, "", s.now())
	require.NoError(t, err)
	require.Equal(t, len(oddKeys), n)
	for _, k := range oddKeys {
		_, err := s.ib.Get(s.ctx, k)
		require.ErrorIs(t, err, webhook.ErrNotFound, "%q", k)
	}
	require.Equal(t, webhook.InboxStats{}, s.stats(t))
}

// testLargeBodies stores bodies from none at all to several times the
// handler's default limit (a receiver may raise it), of every byte value,
// and requires each back byte for byte from Get, Lease and List.
func testLargeBodies(t *testing.T, s *suite) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := map[string]int{"empty": 0, "one": 1, "limit": webhook.DefaultMaxBodySize, "large": 8 * webhook.DefaultMaxBodySize}
	bodies := map[string][]byte{}
	for i, name := range []string{"empty", "one", "limit", "large"} {
		b := make([]byte, sizes[name])
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		bodies[name] = b
		e := entry(name, time.Duration(i)*time.Millisecond)
		e.Body = b
		s.store(t, e)
	}
	check := func(what string, e webhook.InboxEntry) {
		t.Helper()
		want := bodies[e.Key]
		require.Len(t, e.Body, len(want), "%s %s: body length", what, e.Key)
		require.True(t, bytes.Equal(want, e.Body), "%s %s: body differs", what, e.Key)
	}
	for name := range bodies {
		check("Get", s.get(t, name))
	}
	for _, e := range s.page(t, webhook.InboxQuery{}).Entries {
		check("List", e)
	}
	for _, e := range s.page(t, webhook.InboxQuery{OmitBody: true}).Entries {
		require.Nil(t, e.Body, "List with OmitBody: %s", e.Key)
	}
	ls := s.lease(t, 10, time.Minute)
	require.Len(t, ls, len(bodies))
	for _, l := range ls {
		check("Lease", l.Entry)
		require.NoError(t, s.ib.Complete(s.ctx, l.Entry.Key, l.Token))
	}
	for name := range bodies {
		check("Get once done", s.get(t, name))
	}
}

// testLeaseBoundary holds leases and retries to their times to the
// nanosecond where the suite's clock is in whole milliseconds: a lease
// runs until LeaseUntil, inclusive, and is due again a nanosecond after;
// a retry is due at NextAttempt, not a nanosecond before. A lease or a
// retry time of a fraction of a millisecond is never early, and late by
// a millisecond at most (an inbox may keep leases in milliseconds).
func testLeaseBoundary(t *testing.T, s *suite) {
	// heldTo: l runs until want, inclusive, and "k" is leased again late
	// after it.
	heldTo := func(l webhook.InboxLease, want time.Time, late time.Duration) webhook.InboxLease {
		t.Helper()
		until := l.Entry.LeaseUntil
		requireTime(t, want, until, "LeaseUntil")
		s.clock.Set(until.Add(-time.Nanosecond))
		s.requireNothingDue(t)
		s.clock.Set(until)
		s.requireNothingDue(t)
		s.clock.Set(until.Add(late))
		return s.leaseOne(t, "k", time.Minute)
	}
	s.store(t, entry("k", 0))
	l := s.leaseOne(t, "k", time.Minute)
	l = heldTo(l, s.now().Add(time.Minute), time.Nanosecond)
	require.Equal(t, 2, l.Entry.Attempts)

	// A retry of a fraction of a millisecond: due at its time exactly.
	next := s.now().Add(10*time.Second + 1500*time.Nanosecond)
	require.NoError(t, s.ib.Retry(s.ctx, "k", l.Token, next, "again"))
	s.clock.Set(next.Add(-time.Nanosecond))
	s.requireNothingDue(t)
	s.clock.Set(next)
	l = s.leaseOne(t, "k", time.Minute+time.Nanosecond)

	// A lease of a fraction of a millisecond: not due before its end nor
	// at it, due a millisecond after.
	l = heldTo(l, next.Add(time.Minute+time.Nanosecond), time.Millisecond)
	require.Equal(t, 4, l.Entry.Attempts)
	require.NoError(t, s.ib.Complete(s.ctx, "k", l.Token))
}

// testPurgeLeased: Purge never deletes a leased delivery, however old
// its UpdatedAt, whether its lease holds or has run out, nor one leased
// after it was done and replayed; its holder settles it after the Purge.
func testPurgeLeased(t *testing.T, s *suite) {
	far := start.Add(10000 * time.Hour)
	purgeNone := func() {
		t.Helper()
		for _, st := range []webhook.InboxState{"", webhook.InboxDone, webhook.InboxDead, webhook.InboxLeased} {
			n, err := s.ib.Purge(s.ctx, st, far)
			require.NoError(t, err)
			require.Zero(t, n, "Purge of %q deleted a leased delivery", st)
		}
	}
	s.store(t, entry("held", 0))
	held := s.leaseOne(t, "held", 1000*time.Hour)
	s.store(t, entry("again", time.Millisecond))
	again := s.leaseOne(t, "again", time.Minute)
	require.NoError(t, s.ib.Complete(s.ctx, "again", again.Token))
	s.clock.Advance(time.Hour)
	require.NoError(t, s.ib.Replay(s.ctx, "again"))
	again = s.leaseOne(t, "again", 1000*time.Hour)
	s.store(t, entry("expired", 2*time.Millisecond))
	expired := s.leaseOne(t, "expired", time.Minute)
	s.clock.Advance(10 * time.Hour) // expired's lease has run out

	purgeNone()
	for _, k := range []string{"held", "expired", "again"} {
		require.Equal(t, webhook.InboxLeased, s.get(t, k).State, k)
	}
	require.Equal(t, webhook.InboxStats{InFlight: 3, OldestPending: entry("held", 0).ReceivedAt}, s.stats(t))
	require.NoError(t, s.ib.Complete(s.ctx, "held", held.Token), "the holder settles after a Purge")
	require.NoError(t, s.ib.Kill(s.ctx, "again", again.Token, "dead"))
	l := s.leaseOne(t, "expired", time.Minute)
	require.Equal(t, 2, l.Entry.Attempts)
	require.NotEqual(t, expired.Token, l.Token)

	// Once settled, they go like any other; the one leased again stays.
	n, err := s.ib.Purge(s.ctx, "", far)
	require.NoError(t, err)
	require.Equal(t, 2, n, "Purge of the two settled")
	require.Equal(t, webhook.InboxLeased, s.get(t, "expired").State)
	require.NoError(t, s.ib.Complete(s.ctx, "expired", l.Token))
	n, err = s.ib.Purge(s.ctx, "", far)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, webhook.InboxStats{}, s.stats(t))
}

// testReplayPending: Replay of a pending delivery changes neither its
// state nor its attempts, so not its UpdatedAt; one already due keeps its
// NextAttempt, and its place in the lease order, where "due now" would
// put it behind deliveries due since. Replay of a leased one is refused
// with ErrInFlight, its lease held or run out, and leaves it as it was.
func testReplayPending(t *testing.T, s *suite) {
	s.store(t, entry("first", 0))
	s.clock.Advance(time.Millisecond)
	s.store(t, entry("second", time.Millisecond))
	first := s.get(t, "first")
	s.clock.Advance(time.Hour)
	require.NoError(t, s.ib.Replay(s.ctx, "first"))
	got := s.get(t, "first")
	require.Equal(t, webhook.InboxPending, got.State)
	requireTime(t, first.NextAttempt, got.NextAttempt, "NextAttempt of a delivery already due")
	requireTime(t, first.UpdatedAt, got.UpdatedAt, "UpdatedAt of a delivery replayed while pending")
	require.Equal(t, []string{"first"}, keys(s.lease(t, 1, 1000*time.Hour)), "a replayed delivery due before another lost its place")
	l := s.leaseOne(t, "second", time.Minute)

	// A retry due already keeps its place too, ahead of a delivery that
	// came due after it.
	s.store(t, entry("overdue", 2*time.Millisecond))
	lo := s.leaseOne(t, "overdue", time.Minute)
	require.NoError(t, s.ib.Retry(s.ctx, "overdue", lo.Token, s.now().Add(time.Second), "again"))
	s.clock.Advance(2 * time.Second)
	s.store(t, entry("after", 3*time.Millisecond))
	s.clock.Advance(time.Second)
	before := s.get(t, "overdue")
	require.NoError(t, s.ib.Replay(s.ctx, "overdue"))
	got = s.get(t, "overdue")
	requireTime(t, before.NextAttempt, got.NextAttempt, "NextAttempt of a retry already due")
	requireTime(t, before.UpdatedAt, got.UpdatedAt, "UpdatedAt of a retry replayed")
	for _, k := range []string{"overdue", "after"} {
		ls := s.lease(t, 1, time.Minute)
		require.Equal(t, []string{k}, keys(ls), "a replayed retry due before another lost its place")
		require.NoError(t, s.ib.Complete(s.ctx, k, ls[0].Token))
	}

	// Retrying later: due now, UpdatedAt kept.
	require.NoError(t, s.ib.Retry(s.ctx, "second", l.Token, s.now().Add(time.Hour), "later"))
	before = s.get(t, "second")
	s.clock.Advance(time.Second)
	require.NoError(t, s.ib.Replay(s.ctx, "second"))
	got = s.get(t, "second")
	requireTime(t, s.now(), got.NextAttempt, "NextAttempt of a retry replayed")
	requireTime(t, before.UpdatedAt, got.UpdatedAt, "UpdatedAt of a retry replayed")
	require.Equal(t, 1, got.Attempts)
	require.Equal(t, "later", got.LastError)
	l = s.leaseOne(t, "second", time.Minute)

	// Leased, then its lease run out: in flight all the same.
	for range 2 {
		before := s.get(t, "second")
		require.ErrorIs(t, s.ib.Replay(s.ctx, "second"), webhook.ErrInFlight)
		got := s.get(t, "second")
		require.Equal(t, webhook.InboxLeased, got.State)
		require.Equal(t, before.Attempts, got.Attempts)
		requireTime(t, before.LeaseUntil, got.LeaseUntil, "LeaseUntil of a refused Replay")
		s.clock.Advance(2 * time.Minute)
	}
	l2 := s.leaseOne(t, "second", time.Minute)
	require.Equal(t, 3, l2.Entry.Attempts)
	require.NoError(t, s.ib.Complete(s.ctx, "second", l2.Token))
	require.ErrorIs(t, s.ib.Complete(s.ctx, "second", l.Token), webhook.ErrLeaseLost)
}

// testStatsConcurrent reads Stats while deliveries are stored, leased,
// retried, killed and completed: each reading is one moment's, so its
// counts are never negative, add up to no fewer deliveries than were
// stored before it began and no more than had begun storing by its end,
// done and dead never fall between readings (nothing is purged or
// replayed), and OldestPending is set exactly while a delivery is not
// finished. Once all are settled the counts are exact.
func testStatsConcurrent(t *testing.T, s *suite) {
	const writers, each, workers = 4, 60, 3
	var begun, stored atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers+workers+1)
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				begun.Add(1)
				if _, err := s.ib.Store(s.ctx, entry(fmt.Sprintf("w%d-%03d", w, i), time.Duration(i)*time.Millisecond)); err != nil {
					errs <- err
					return
				}
				stored.Add(1)
			}
		}()
	}
	var settled atomic.Int64
	var workersWG sync.WaitGroup
	deadline := time.Now().Add(time.Minute) // a failed Store leaves some never settled
	for range workers {
		workersWG.Add(1)
		go func() {
			defer workersWG.Done()
			for settled.Load() < writers*each && time.Now().Before(deadline) {
				ls, err := s.ib.Lease(s.ctx, 5, time.Hour)
				if err != nil {
					errs <- err
					return
				}
				for _, l := range ls {
					switch k := l.Entry.Key; {
					case strings.HasSuffix(k, "0"):
						err = s.ib.Kill(s.ctx, k, l.Token, "dies")
					case strings.HasSuffix(k, "3") && l.Entry.Attempts == 1:
						err = s.ib.Retry(s.ctx, k, l.Token, s.now(), "once")
						settled.Add(-1)
					default:
						err = s.ib.Complete(s.ctx, k, l.Token)
					}
					if err != nil {
						errs <- err
						return
					}
					settled.Add(1)
				}
				if len(ls) == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	readings := 0
	var statsWG sync.WaitGroup
	statsWG.Add(1)
	go func() {
		defer statsWG.Done()
		var last webhook.InboxStats
		for {
			select {
			case <-stop:
				return
			default:
			}
			low := stored.Load()
			st, err := s.ib.Stats(s.ctx)
			high := begun.Load()
			if err != nil {
				errs <- err
				return
			}
			readings++
			total := int64(st.Pending + st.Retrying + st.InFlight + st.Done + st.Dead)
			unfinished := st.Pending + st.Retrying + st.InFlight
			switch {
			case st.Pending < 0 || st.Retrying < 0 || st.InFlight < 0 || st.Done < 0 || st.Dead < 0:
				errs <- fmt.Errorf("a negative count: %+v", st)
			case total < low || total > high:
				errs <- fmt.Errorf("counts add up to %d, with %d stored before and %d begun after: %+v", total, low, high, st)
			case st.Done < last.Done || st.Dead < last.Dead:
				errs <- fmt.Errorf("done or dead fell: %+v after %+v", st, last)
			case (unfinished > 0) == st.OldestPending.IsZero():
				errs <- fmt.Errorf("OldestPending %v with %d unfinished", st.OldestPending, unfinished)
			default:
				last = st
				continue
			}
			return
		}
	}()
	wg.Wait()
	workersWG.Wait()
	close(stop)
	statsWG.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Positive(t, readings)
	dead := writers * ((each + 9) / 10)
	require.Equal(t, webhook.InboxStats{Done: writers*each - dead, Dead: dead}, s.stats(t))
}

// testLeaseOrderRetries: a retry that came due is leased before the
// deliveries that came due after it, also those stored while it waited,
// and by a Lease of one at a time, as a worker polling for one delivery
// leases; a retry so leased ahead of others runs out and is due again
// like any lease, and neither it nor the deliveries it went ahead of is
// leased twice or lost.
func testLeaseOrderRetries(t *testing.T, s *suite) {
	// r1 due at +1s, r2 at +3s; n1 stored at +2s, n2 at +4s.
	for _, k := range []string{"r1", "r2"} {
		s.store(t, entry(k, 0))
	}
	ls := s.lease(t, 2, time.Hour)
	require.ElementsMatch(t, []string{"r1", "r2"}, keys(ls))
	for _, l := range ls {
		next := start.Add(time.Second)
		if l.Entry.Key == "r2" {
			next = start.Add(3 * time.Second)
		}
		require.NoError(t, s.ib.Retry(s.ctx, l.Entry.Key, l.Token, next, "again"))
	}
	s.clock.Set(start.Add(2 * time.Second))
	s.store(t, entry("n1", 2*time.Second))
	s.clock.Set(start.Add(4 * time.Second))
	s.store(t, entry("n2", 4*time.Second))
	s.clock.Set(start.Add(5 * time.Second))

	var order []string
	leases := map[string]webhook.InboxLease{}
	for range 4 {
		ls := s.lease(t, 1, time.Minute)
		require.Len(t, ls, 1, "a Lease of one, after %v", order)
		order = append(order, ls[0].Entry.Key)
		leases[ls[0].Entry.Key] = ls[0]
	}
	require.Equal(t, []string{"r1", "n1", "r2", "n2"}, order, "oldest NextAttempt first")
	s.requireNothingDue(t)

	// r1 done; the others' leases run out while n3 arrives: due again,
	// each once, before n3, which came due last. (Among themselves,
	// expired leases may come in an order of the implementation's, as
	// its Lease documents: redisstore takes them as it walks its pending
	// entries list.)
	require.NoError(t, s.ib.Complete(s.ctx, "r1", leases["r1"].Token))
	s.clock.Advance(time.Minute + time.Millisecond)
	s.store(t, entry("n3", 6*time.Second))
	order = order[:0]
	for range 4 {
		ls := s.lease(t, 1, time.Minute)
		require.Len(t, ls, 1, "a Lease of one, after %v", order)
		order = append(order, ls[0].Entry.Key)
		require.NoError(t, s.ib.Complete(s.ctx, ls[0].Entry.Key, ls[0].Token))
	}
	require.ElementsMatch(t, []string{"n1", "r2", "n2"}, order[:3], "the expired leases")
	require.Equal(t, "n3", order[3], "the delivery due last")
	s.requireNothingDue(t)
	require.Equal(t, webhook.InboxStats{Done: 5}, s.stats(t))

	// Many retries and new deliveries interleaved by due time, leased one
	// at a time: each once, in due order.
	s.clock.Advance(time.Hour)
	base := s.now()
	var want []string
	for i := range 10 {
		k := fmt.Sprintf("m%d", i)
		s.store(t, entry(k, time.Hour+time.Duration(i)*time.Millisecond))
		l := s.leaseOne(t, k, time.Hour)
		// Even ones retry, due at base+10s+2i·1s; odd ones are stored
		// anew at base+10s+(2i+1)·1s, below.
		require.NoError(t, s.ib.Retry(s.ctx, k, l.Token, base.Add(10*time.Second+time.Duration(2*i)*time.Second), "again"))
		want = append(want, k, fmt.Sprintf("m%d-new", i))
	}
	for i := range 10 {
		s.clock.Set(base.Add(10*time.Second + time.Duration(2*i+1)*time.Second))
		s.store(t, entry(fmt.Sprintf("m%d-new", i), 2*time.Hour+time.Duration(i)*time.Millisecond))
	}
	s.clock.Advance(time.Hour)
	var got []string
	for range len(want) {
		ls := s.lease(t, 1, time.Minute)
		require.Len(t, ls, 1, "a Lease of one, after %v", got)
		got = append(got, ls[0].Entry.Key)
		require.NoError(t, s.ib.Complete(s.ctx, ls[0].Entry.Key, ls[0].Token))
	}
	require.Equal(t, want, got)
	s.requireNothingDue(t)
}
