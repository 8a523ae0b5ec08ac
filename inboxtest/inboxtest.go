// Package inboxtest is the conformance suite for implementations of
// webhook.Inbox. Every implementation runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		inboxtest.Run(t, func(t *testing.T, now func() time.Time) webhook.Inbox {
//			ib, err := mystore.Open(filepath.Join(t.TempDir(), "inbox"), mystore.WithClock(now))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { ib.Close() })
//			return ib
//		})
//	}
//
// The suite drives the inbox's clock, so lease expiry and retry schedules
// are tested without sleeping. It checks what the webhook.Inbox
// documentation promises and what the handler and its workers rely on:
// dedupe at commit, one lease per delivery at a time, lease expiry and
// re-delivery, stale tokens refused, due times and their order (leases and
// retries as long as a Duration holds, past the year 2262; a clock stepped
// back, and to the nanosecond), dead letters with their last error, replay
// (of pending and leased deliveries too), purge (also racing replays,
// senders' copies and workers, and beside leases), listing and paging
// (every delivery that stays in the state once, in order, while others
// arrive and change state; cursors of another query refused), counts (read
// while others write too), exact bytes (bodies of megabytes, keys of any
// bytes and length), all of it under concurrent callers, and random
// interleavings checked against a model of the contract; then the inbox
// under a Handler in inbox mode and its workers: senders' duplicates,
// retries, dead letters, a crashed worker's leases, a delivery that
// crashes every worker, shutdown. Run it with -race.
//
// TenantCapacity is a suite of its own, for an inbox configured with a
// bound on each tenant's backlog.
//
// Run takes a *testing.T, so no runnable example can show it here; the
// runs to copy are the implementations' own: TestMemoryInboxConformance
// (package webhook), sqlitestore's TestConformance and redisstore's
// TestInboxConformance and TestInboxConformanceCluster (one Redis, and a
// Redis Cluster).
package inboxtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// start is the suite clock's first reading. It is a whole millisecond, and
// the suite moves the clock in whole milliseconds, so the times an
// inbox derives from it need no finer resolution than a millisecond;
// times the caller gives (ReceivedAt, Timestamp) carry nanoseconds and
// must come back exactly.
var start = time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)

// A NewInbox returns a new, empty inbox whose clock is now. It may use t
// for cleanup (t.Cleanup, t.TempDir).
type NewInbox func(t *testing.T, now func() time.Time) webhook.Inbox

// Run runs the conformance suite against the inboxes newInbox returns,
// one per subtest.
func Run(t *testing.T, newInbox NewInbox) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"StoreAndGet", testStoreAndGet},
		{"StoreSetsState", testStoreSetsState},
		{"StoreCopies", testStoreCopies},
		{"StoreLeavesEntry", testStoreLeavesEntry},
		{"StoreBadEntry", testStoreBadEntry},
		{"StoreDuplicate", testStoreDuplicate},
		{"StoreConcurrentSameKey", testStoreConcurrentSameKey},
		{"StoreConcurrentKeys", testStoreConcurrentKeys},
		{"GetNotFound", testGetNotFound},
		{"Lease", testLease},
		{"LeaseMax", testLeaseMax},
		{"LeaseNotPositive", testLeaseNotPositive},
		{"LeaseOrder", testLeaseOrder},
		{"LeaseOrderRetries", testLeaseOrderRetries},
		{"LeaseExpiry", testLeaseExpiry},
		{"LongTimes", testLongTimes},
		{"LeaseExclusiveConcurrent", testLeaseExclusiveConcurrent},
		{"LeaseLost", testLeaseLost},
		{"ExpiredLeaseRace", testExpiredLeaseRace},
		{"ClockBackwards", testClockBackwards},
		{"Complete", testComplete},
		{"Retry", testRetry},
		{"Kill", testKill},
		{"Replay", testReplay},
		{"Purge", testPurge},
		{"PurgeRaces", testPurgeRaces},
		{"List", testList},
		{"ListLimit", testListLimit},
		{"ListPages", testListPages},
		{"ListByUpdated", testListByUpdated},
		{"ListPageEnds", testListPageEnds},
		{"ListBadCursor", testListBadCursor},
		{"ListOmitBody", testListOmitBody},
		{"ListPagesConcurrent", testListPagesConcurrent},
		{"Stats", testStats},
		{"StatsOldestPending", testStatsOldestPending},
		{"ConcurrentWorkers", testConcurrentWorkers},
		{"OddKeys", testOddKeys},
		{"LargeBodies", testLargeBodies},
		{"LeaseBoundary", testLeaseBoundary},
		{"PurgeLeased", testPurgeLeased},
		{"ReplayPending", testReplayPending},
		{"StatsConcurrent", testStatsConcurrent},
		{"RandomOperations", testRandomOperations},
		{"HandlerWorkers", testHandlerWorkers},
		{"WorkerCrash", testWorkerCrash},
		{"WorkerCrashLoop", testWorkerCrashLoop},
		{"WorkerShutdown", testWorkerShutdown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			ib := newInbox(t, clock.Now)
			require.NotNil(t, ib, "newInbox returned nil")
			tc.fn(t, &suite{ib: ib, clock: clock, ctx: context.Background(), newInbox: newInbox})
		})
	}
}

func newClock() *webhooktest.Clock { return webhooktest.NewClock(start) }

type suite struct {
	ib       webhook.Inbox
	clock    *webhooktest.Clock
	ctx      context.Context
	newInbox NewInbox
}

func (s *suite) now() time.Time { return s.clock.Now() }

// entry returns a delivery with every field a caller sets filled in.
// received is an offset from start, with nanoseconds added so a store
// that keeps less than nanoseconds is caught.
func entry(key string, received time.Duration) *webhook.InboxEntry {
	return &webhook.InboxEntry{
		Key:        key,
		Source:     event.SourceStandard,
		ID:         "msg_" + key,
		Timestamp:  start.Add(received - 3*time.Second + 123_456_789),
		ReceivedAt: start.Add(received + 987_654_321),
		// Header values that are not UTF-8 (net/http passes a header's
		// obs-text bytes on as they came) come back as they were, as do
		// escapes that JSON would read as a lone surrogate or a rune.
		Header: http.Header{
			"Webhook-Id":   {"msg_" + key},
			"Content-Type": {"application/json"},
			"X-Repeated":   {"one", "two", ""},
			"User-Agent":   {"Jam/1.0 (caf\xe9; \xff\xfe) \\udcff \\u00e9 \u2028 <&>"},
		},
		// Exact bytes: a NUL, bytes that are not UTF-8, a CRLF.
		Body: []byte("{\"key\":\"" + key + "\",\"bin\":\"\x00\xff\xfe\"}\r\n"),
		Meta: map[string]string{
			"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
			"tracestate":  "vendor=\xe9,x=\xed\xb3\xbf",
		},
	}
}

// store stores e and requires it stored.
func (s *suite) store(t *testing.T, e *webhook.InboxEntry) {
	t.Helper()
	ok, err := s.ib.Store(s.ctx, e)
	require.NoError(t, err, "Store %s", e.Key)
	require.True(t, ok, "Store %s: reported already stored", e.Key)
}

func (s *suite) get(t *testing.T, key string) webhook.InboxEntry {
	t.Helper()
	e, err := s.ib.Get(s.ctx, key)
	require.NoError(t, err, "Get %s", key)
	return e
}

func (s *suite) lease(t *testing.T, max int, d time.Duration) []webhook.InboxLease {
	t.Helper()
	ls, err := s.ib.Lease(s.ctx, max, d)
	require.NoError(t, err, "Lease")
	require.LessOrEqual(t, len(ls), max, "Lease returned more than max")
	return ls
}

// leaseOne leases exactly one delivery and requires it to be key.
func (s *suite) leaseOne(t *testing.T, key string, d time.Duration) webhook.InboxLease {
	t.Helper()
	ls := s.lease(t, 10, d)
	require.Len(t, ls, 1, "Lease: want exactly %s", key)
	require.Equal(t, key, ls[0].Entry.Key)
	return ls[0]
}

func (s *suite) requireNothingDue(t *testing.T) {
	t.Helper()
	ls := s.lease(t, 10, time.Minute)
	require.Empty(t, keys(ls), "Lease: nothing should be due")
}

func (s *suite) stats(t *testing.T) webhook.InboxStats {
	t.Helper()
	st, err := s.ib.Stats(s.ctx)
	require.NoError(t, err, "Stats")
	return st
}

func keys(ls []webhook.InboxLease) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Entry.Key
	}
	return out
}

func entryKeys(es []webhook.InboxEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Key
	}
	return out
}

// requireSameData requires got to carry the caller's fields of want.
func requireSameData(t *testing.T, want *webhook.InboxEntry, got webhook.InboxEntry) {
	t.Helper()
	require.Equal(t, want.Key, got.Key, "Key")
	require.Equal(t, want.Source, got.Source, "Source of %s", want.Key)
	require.Equal(t, want.ID, got.ID, "ID of %s", want.Key)
	requireTime(t, want.Timestamp, got.Timestamp, "Timestamp of %s", want.Key)
	requireTime(t, want.ReceivedAt, got.ReceivedAt, "ReceivedAt of %s", want.Key)
	require.True(t, bytes.Equal(want.Body, got.Body), "Body of %s: want %q, got %q", want.Key, want.Body, got.Body)
	require.Equal(t, headerOrEmpty(want.Header), headerOrEmpty(got.Header), "Header of %s", want.Key)
	require.Equal(t, metaOrEmpty(want.Meta), metaOrEmpty(got.Meta), "Meta of %s", want.Key)
}

func requireTime(t *testing.T, want, got time.Time, msgAndArgs ...any) {
	t.Helper()
	what := ""
	if len(msgAndArgs) > 0 {
		what = fmt.Sprintf(fmt.Sprint(msgAndArgs[0]), msgAndArgs[1:]...) + ": "
	}
	if want.IsZero() {
		require.True(t, got.IsZero(), "%swant the zero time, got %v", what, got)
		return
	}
	require.True(t, want.Equal(got), "%swant %v, got %v", what, want, got)
}

func headerOrEmpty(h http.Header) http.Header {
	if h == nil {
		return http.Header{}
	}
	return h
}

func metaOrEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func testStoreAndGet(t *testing.T, s *suite) {
	full := entry("full", 0)
	bare := &webhook.InboxEntry{Key: "bare", Source: event.SourceSeries, ReceivedAt: start, Body: []byte("a=1&b=2")}
	intercom := entry("intercom:notif_1", time.Second)
	intercom.Source, intercom.ID, intercom.Timestamp = event.SourceIntercom, "notif_1", time.Time{}
	for _, e := range []*webhook.InboxEntry{full, bare, intercom} {
		s.store(t, e)
	}
	for _, e := range []*webhook.InboxEntry{full, bare, intercom} {
		requireSameData(t, e, s.get(t, e.Key))
	}
}

func testStoreSetsState(t *testing.T, s *suite) {
	// The inbox sets the state fields, whatever the caller left in them.
	e := entry("k", 0)
	e.State, e.Attempts, e.LastError = webhook.InboxDead, 7, "stale"
	e.NextAttempt, e.LeaseUntil, e.UpdatedAt = start.Add(time.Hour), start.Add(time.Hour), start.Add(-time.Hour)
	s.clock.Advance(5 * time.Second)
	s.store(t, e)
	got := s.get(t, "k")
	require.Equal(t, webhook.InboxPending, got.State)
	require.Zero(t, got.Attempts, "Attempts")
	require.Empty(t, got.LastError, "LastError")
	requireTime(t, s.now(), got.NextAttempt, "NextAttempt: due now")
	requireTime(t, s.now(), got.UpdatedAt, "UpdatedAt")
	require.True(t, got.LeaseUntil.IsZero(), "LeaseUntil: %v", got.LeaseUntil)
	ls := s.lease(t, 10, time.Minute)
	require.Equal(t, []string{"k"}, keys(ls), "a stored delivery is due at once")
	require.NoError(t, s.ib.Complete(s.ctx, "k", ls[0].Token))

	// A zero ReceivedAt is the time of the Store: the retry policy's
	// MaxAge, List's order and OldestPending go by it.
	s.clock.Advance(time.Second)
	s.store(t, &webhook.InboxEntry{Key: "unreceived", Source: event.SourceSeries, Body: []byte("a=1")})
	requireTime(t, s.now(), s.get(t, "unreceived").ReceivedAt, "ReceivedAt of an entry stored without one")
	requireTime(t, s.now(), s.stats(t).OldestPending, "OldestPending")
}

func testStoreCopies(t *testing.T, s *suite) {
	e := entry("k", 0)
	want := entry("k", 0)
	s.store(t, e)
	// The caller reuses its buffers after Store.
	e.Body[0] = 'X'
	e.Header.Set("Webhook-Id", "changed")
	e.Meta["traceparent"] = "changed"
	got := s.get(t, "k")
	requireSameData(t, want, got)
	// What Get returns is the caller's to change.
	got.Body[0] = 'Y'
	got.Header.Set("Webhook-Id", "changed")
	if got.Meta != nil {
		got.Meta["traceparent"] = "changed"
	}
	requireSameData(t, want, s.get(t, "k"))
	page, err := s.ib.List(s.ctx, webhook.InboxQuery{})
	require.NoError(t, err)
	listed := page.Entries
	require.Len(t, listed, 1)
	listed[0].Body[0] = 'L'
	listed[0].Header.Set("Webhook-Id", "changed")
	requireSameData(t, want, s.get(t, "k"))
	l := s.leaseOne(t, "k", time.Minute)
	requireSameData(t, want, l.Entry)
	l.Entry.Body[0] = 'Z'
	l.Entry.Header.Set("Webhook-Id", "changed")
	requireSameData(t, want, s.get(t, "k"))
}

func testStoreLeavesEntry(t *testing.T, s *suite) {
	// Store reads the caller's entry and leaves it as it was: the state
	// fields it sets are the stored copy's, and a zero ReceivedAt stays
	// zero in the caller's value.
	for _, tc := range []struct {
		name string
		e    *webhook.InboxEntry
	}{
		{"full", entry("full", 0)},
		{"stale state", func() *webhook.InboxEntry {
			e := entry("stale", 0)
			e.State, e.Attempts, e.LastError = webhook.InboxDead, 7, "stale"
			e.NextAttempt, e.LeaseUntil, e.UpdatedAt = start.Add(time.Hour), start.Add(time.Hour), start.Add(-time.Hour)
			return e
		}()},
		{"unreceived", &webhook.InboxEntry{Key: "unreceived", Source: event.SourceSeries, Body: []byte("a=1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := copyEntry(tc.e)
			s.store(t, tc.e)
			require.Equal(t, before, *tc.e, "Store changed the caller's entry")
			// A duplicate leaves it as it was too.
			ok, err := s.ib.Store(s.ctx, tc.e)
			require.NoError(t, err)
			require.False(t, ok)
			require.Equal(t, before, *tc.e, "a duplicate Store changed the caller's entry")
		})
	}
}

// copyEntry returns a copy of e sharing no memory with it.
func copyEntry(e *webhook.InboxEntry) webhook.InboxEntry {
	c := *e
	c.Header = e.Header.Clone()
	c.Body = bytes.Clone(e.Body)
	c.Meta = maps.Clone(e.Meta)
	return c
}

func testStoreBadEntry(t *testing.T, s *suite) {
	// A nil entry, or one without a key, is the caller's mistake: an
	// error, never a panic, and nothing stored.
	for _, tc := range []struct {
		name string
		e    *webhook.InboxEntry
	}{
		{"nil", nil},
		{"no key", &webhook.InboxEntry{Source: event.SourceStandard, ID: "msg_1", Body: []byte("{}")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ok bool
			var err error
			require.NotPanics(t, func() { ok, err = s.ib.Store(s.ctx, tc.e) }, "Store")
			require.Error(t, err, "Store")
			require.False(t, ok, "Store reported stored")
		})
	}
	require.Equal(t, webhook.InboxStats{}, s.stats(t), "a refused Store stored something")
	// The inbox still works.
	s.store(t, entry("k", 0))
	s.leaseOne(t, "k", time.Minute)
}

func testStoreDuplicate(t *testing.T, s *suite) {
	// A key is stored once in every state, until it is purged.
	for _, end := range []string{"pending", "leased", "retrying", "done", "dead"} {
		t.Run(end, func(t *testing.T) {
			key := "dup-" + end
			first := entry(key, 0)
			s.store(t, first)
			switch end {
			case "leased", "retrying", "done", "dead":
				l := s.leaseOne(t, key, time.Minute)
				switch end {
				case "retrying":
					require.NoError(t, s.ib.Retry(s.ctx, key, l.Token, s.now().Add(time.Hour), "e"))
				case "done":
					require.NoError(t, s.ib.Complete(s.ctx, key, l.Token))
				case "dead":
					require.NoError(t, s.ib.Kill(s.ctx, key, l.Token, "e"))
				}
			}
			before := s.get(t, key)
			again := entry(key, time.Hour)
			again.Body = []byte(`{"second":"copy"}`)
			ok, err := s.ib.Store(s.ctx, again)
			require.NoError(t, err)
			require.False(t, ok, "Store of a key already %s reported stored", end)
			after := s.get(t, key)
			requireSameData(t, first, after)
			require.Equal(t, before.State, after.State, "a duplicate Store changed the state")
			require.Equal(t, before.Attempts, after.Attempts, "a duplicate Store changed Attempts")
			if end == "pending" {
				s.leaseOne(t, key, time.Minute) // one copy
			}
			s.requireNothingDue(t)
		})
	}
}

func testStoreConcurrentSameKey(t *testing.T, s *suite) {
	// Dedupe happens at commit: of many concurrent Stores of one key,
	// exactly one stores it, and the copy kept is that one's.
	const n = 16
	for round := range 5 {
		key := fmt.Sprintf("same-%d", round)
		var stored atomic.Int32
		var winner atomic.Int32
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := entry(key, 0)
				e.Body = fmt.Appendf(nil, `{"writer":%d}`, i)
				ok, err := s.ib.Store(s.ctx, e)
				errs[i] = err
				if ok {
					stored.Add(1)
					winner.Store(int32(i))
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.EqualValues(t, 1, stored.Load(), "concurrent Stores of %s that reported stored", key)
		require.Equal(t, fmt.Sprintf(`{"writer":%d}`, winner.Load()), string(s.get(t, key).Body), "%s: the copy kept is not the one reported stored", key)
	}
	require.Equal(t, 5, s.stats(t).Pending)
	require.Len(t, s.lease(t, 100, time.Minute), 5, "each key leased once")
}

func testStoreConcurrentKeys(t *testing.T, s *suite) {
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ok, err := s.ib.Store(s.ctx, entry(fmt.Sprintf("w%d-%d", w, i), time.Duration(i)*time.Millisecond))
				if err == nil && !ok {
					err = errors.New("a new key reported already stored")
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := s.stats(t)
	require.Equal(t, writers*each, st.Pending)
	for w := range writers {
		for i := range each {
			key := fmt.Sprintf("w%d-%d", w, i)
			requireSameData(t, entry(key, time.Duration(i)*time.Millisecond), s.get(t, key))
		}
	}
}

func testGetNotFound(t *testing.T, s *suite) {
	_, err := s.ib.Get(s.ctx, "missing")
	require.ErrorIs(t, err, webhook.ErrNotFound)
	s.store(t, entry("present", 0))
	_, err = s.ib.Get(s.ctx, "presen")
	require.ErrorIs(t, err, webhook.ErrNotFound, "a prefix of a key is another key")
}

func testLease(t *testing.T, s *suite) {
	a, b := entry("a", 0), entry("b", time.Millisecond)
	s.store(t, a)
	s.store(t, b)
	s.clock.Advance(2 * time.Second)
	ls := s.lease(t, 10, 30*time.Second)
	require.ElementsMatch(t, []string{"a", "b"}, keys(ls))
	require.NotEqual(t, ls[0].Token, ls[1].Token, "two leases with one token")
	for _, l := range ls {
		require.NotEmpty(t, l.Token)
		want := a
		if l.Entry.Key == "b" {
			want = b
		}
		requireSameData(t, want, l.Entry)
		require.Equal(t, webhook.InboxLeased, l.Entry.State)
		require.Equal(t, 1, l.Entry.Attempts, "Attempts counts the leases taken")
		requireTime(t, s.now().Add(30*time.Second), l.Entry.LeaseUntil, "LeaseUntil")
		got := s.get(t, l.Entry.Key)
		require.Equal(t, webhook.InboxLeased, got.State)
		require.Equal(t, 1, got.Attempts)
		requireTime(t, s.now().Add(30*time.Second), got.LeaseUntil, "Get: LeaseUntil")
		requireTime(t, s.now(), got.UpdatedAt, "Get: UpdatedAt is when it was leased")
	}
	// Held: not due again while the lease runs.
	s.requireNothingDue(t)
	s.clock.Advance(29 * time.Second)
	s.requireNothingDue(t)
}

func testLeaseMax(t *testing.T, s *suite) {
	for i := range 5 {
		s.store(t, entry(fmt.Sprintf("k%d", i), time.Duration(i)*time.Millisecond))
		s.clock.Advance(time.Millisecond)
	}
	require.Empty(t, s.lease(t, 0, time.Minute), "Lease of at most 0")
	neg, err := s.ib.Lease(s.ctx, -1, time.Minute)
	require.NoError(t, err)
	require.Empty(t, keys(neg), "Lease of at most -1 (SQL's LIMIT -1 is no limit)")
	first := s.lease(t, 2, time.Minute)
	require.Equal(t, []string{"k0", "k1"}, keys(first), "oldest due first")
	rest := s.lease(t, 10, time.Minute)
	require.Equal(t, []string{"k2", "k3", "k4"}, keys(rest))
	s.requireNothingDue(t)

	// However large a max, Lease takes what is due: a caller draining the
	// inbox may ask for "all of them" (an implementation may take fewer
	// at a time than so large a max, but not none, and not fail).
	for i, max := range []int{1 << 20, 1 << 40, math.MaxInt} {
		k := fmt.Sprintf("big%d", i)
		s.store(t, entry(k, time.Duration(10+i)*time.Millisecond))
		ls, err := s.ib.Lease(s.ctx, max, time.Minute)
		require.NoError(t, err, "Lease of at most %d", max)
		require.Equal(t, []string{k}, keys(ls), "Lease of at most %d", max)
	}
}

func testLeaseNotPositive(t *testing.T, s *suite) {
	// A lease must be positive: one of zero or less would hold nothing,
	// the delivery due again at once while its worker runs. Handler.Run
	// never asks for one (WithDedupeTimes refuses it), so it is the
	// caller's mistake: an error, whatever max is, and nothing leased.
	s.store(t, entry("k", 0))
	for _, d := range []time.Duration{0, -time.Nanosecond, -time.Minute} {
		for _, max := range []int{10, 0, -1} {
			ls, err := s.ib.Lease(s.ctx, max, d)
			require.Error(t, err, "Lease(%d, %v)", max, d)
			require.Empty(t, keys(ls), "Lease(%d, %v)", max, d)
		}
	}
	got := s.get(t, "k")
	require.Equal(t, webhook.InboxPending, got.State, "a refused Lease leased")
	require.Zero(t, got.Attempts, "a refused Lease counted an attempt")
	l := s.leaseOne(t, "k", time.Nanosecond)
	require.Equal(t, 1, l.Entry.Attempts)
	require.True(t, l.Entry.LeaseUntil.After(s.now()), "LeaseUntil %v of the shortest lease is not after now %v", l.Entry.LeaseUntil, s.now())
}

func testLeaseOrder(t *testing.T, s *suite) {
	// Stored at start, +1s, +2s; x retried to be due at +2.5s: the order
	// is by due time, not by when each was stored.
	for i, k := range []string{"x", "y", "z"} {
		s.clock.Set(start.Add(time.Duration(i) * time.Second))
		s.store(t, entry(k, time.Duration(i)*time.Second))
	}
	s.clock.Set(start.Add(3 * time.Second))
	lx := s.lease(t, 1, time.Minute)
	require.Equal(t, []string{"x"}, keys(lx))
	require.NoError(t, s.ib.Retry(s.ctx, "x", lx[0].Token, start.Add(2500*time.Millisecond), "again"))
	require.Equal(t, []string{"y", "z", "x"}, keys(s.lease(t, 10, time.Minute)))

	// A retry due in the past is due now; one due later waits for it.
	s.store(t, entry("w", 4*time.Second))
	lw := s.leaseOne(t, "w", time.Minute)
	require.NoError(t, s.ib.Retry(s.ctx, "w", lw.Token, s.now().Add(10*time.Second), "later"))
	s.clock.Advance(9999 * time.Millisecond)
	s.requireNothingDue(t)
	s.clock.Advance(time.Millisecond)
	s.leaseOne(t, "w", time.Minute) // due at NextAttempt, not after it
}

func testLeaseExpiry(t *testing.T, s *suite) {
	s.store(t, entry("k", 0))
	first := s.leaseOne(t, "k", time.Minute)
	s.clock.Advance(time.Minute)
	s.requireNothingDue(t) // the lease runs until LeaseUntil, inclusive
	s.clock.Advance(time.Millisecond)
	// A crashed worker's delivery runs again.
	second := s.leaseOne(t, "k", 2*time.Minute)
	require.NotEqual(t, first.Token, second.Token, "a new lease needs a new token")
	require.Equal(t, 2, second.Entry.Attempts)
	requireTime(t, s.now().Add(2*time.Minute), second.Entry.LeaseUntil, "LeaseUntil of the new lease")
	requireSameData(t, entry("k", 0), second.Entry)
	s.requireNothingDue(t)

	// The first holder's token no longer settles it.
	require.ErrorIs(t, s.ib.Complete(s.ctx, "k", first.Token), webhook.ErrLeaseLost)
	require.ErrorIs(t, s.ib.Retry(s.ctx, "k", first.Token, s.now(), "x"), webhook.ErrLeaseLost)
	require.ErrorIs(t, s.ib.Kill(s.ctx, "k", first.Token, "x"), webhook.ErrLeaseLost)
	got := s.get(t, "k")
	require.Equal(t, webhook.InboxLeased, got.State, "a refused settle changed the state")
	require.Equal(t, 2, got.Attempts)
	require.Empty(t, got.LastError, "a refused settle recorded its error")
	requireTime(t, second.Entry.LeaseUntil, got.LeaseUntil, "a refused settle changed LeaseUntil")

	require.NoError(t, s.ib.Complete(s.ctx, "k", second.Token))
	require.Equal(t, webhook.InboxDone, s.get(t, "k").State)
}

// testLongTimes: a lease or a retry delay up to the longest Duration
// ends past the Unix nanoseconds an int64 holds (the year 2262). It must
// read as far off, not wrap round into the past, which would end the
// lease before its callback began (another worker running it at the same
// time) and make the retry due at once.
func testLongTimes(t *testing.T, s *suite) {
	s.store(t, entry("k", 0))
	l := s.leaseOne(t, "k", math.MaxInt64)
	far := s.now().Add(200 * 365 * 24 * time.Hour)
	require.True(t, s.get(t, "k").LeaseUntil.After(far), "lease until %v", s.get(t, "k").LeaseUntil)
	s.clock.Advance(time.Hour)
	s.requireNothingDue(t) // the first lease still holds

	require.NoError(t, s.ib.Retry(s.ctx, "k", l.Token, s.now().Add(math.MaxInt64), "later"))
	require.True(t, s.get(t, "k").NextAttempt.After(far), "next attempt %v", s.get(t, "k").NextAttempt)
	s.clock.Advance(time.Hour)
	s.requireNothingDue(t) // a retry due in centuries does not run at once
}

func testLeaseExclusiveConcurrent(t *testing.T, s *suite) {
	// Each delivery is held by one lease at a time, however many leasers
	// race for it.
	const n, leasers = 200, 8
	for i := range n {
		s.store(t, entry(fmt.Sprintf("k%03d", i), time.Duration(i)*time.Millisecond))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	tokens := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, leasers)
	for range leasers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ls, err := s.ib.Lease(s.ctx, 7, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if len(ls) == 0 {
					return
				}
				mu.Lock()
				for _, l := range ls {
					seen[l.Entry.Key]++
					if tokens[l.Token] {
						errs <- fmt.Errorf("token %q handed out twice", l.Token)
					}
					tokens[l.Token] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, seen, n, "every delivery leased")
	for k, c := range seen {
		require.Equal(t, 1, c, "%s leased %d times under one lease period", k, c)
	}
	require.Equal(t, n, s.stats(t).InFlight)
}

func testLeaseLost(t *testing.T, s *suite) {
	s.store(t, entry("k", 0))
	// Never leased: no token settles it.
	for _, tok := range []string{"", "bogus"} {
		require.ErrorIs(t, s.ib.Complete(s.ctx, "k", tok), webhook.ErrLeaseLost)
		require.ErrorIs(t, s.ib.Retry(s.ctx, "k", tok, s.now(), "x"), webhook.ErrLeaseLost)
		require.ErrorIs(t, s.ib.Kill(s.ctx, "k", tok, "x"), webhook.ErrLeaseLost)
	}
	// An unknown key is a lease lost: it was purged, say.
	require.ErrorIs(t, s.ib.Complete(s.ctx, "missing", "bogus"), webhook.ErrLeaseLost)
	require.ErrorIs(t, s.ib.Retry(s.ctx, "missing", "bogus", s.now(), "x"), webhook.ErrLeaseLost)
	require.ErrorIs(t, s.ib.Kill(s.ctx, "missing", "bogus", "x"), webhook.ErrLeaseLost)

	l := s.leaseOne(t, "k", time.Minute)
	require.ErrorIs(t, s.ib.Complete(s.ctx, "k", l.Token+"x"), webhook.ErrLeaseLost)
	require.ErrorIs(t, s.ib.Complete(s.ctx, "k", ""), webhook.ErrLeaseLost)
	// Another key's token does not settle this one.
	s.store(t, entry("other", time.Millisecond))
	lo := s.leaseOne(t, "other", time.Minute)
	require.ErrorIs(t, s.ib.Complete(s.ctx, "k", lo.Token), webhook.ErrLeaseLost)
	require.Equal(t, webhook.InboxLeased, s.get(t, "k").State)

	// A token settles once.
	require.NoError(t, s.ib.Retry(s.ctx, "k", l.Token, s.now(), "first"))
	require.ErrorIs(t, s.ib.Retry(s.ctx, "k", l.Token, s.now(), "second"), webhook.ErrLeaseLost)
	require.ErrorIs(t, s.ib.Complete(s.ctx, "k", l.Token), webhook.ErrLeaseLost)
	require.ErrorIs(t, s.ib.Kill(s.ctx, "k", l.Token, "x"), webhook.ErrLeaseLost)
	got := s.get(t, "k")
	require.Equal(t, webhook.InboxPending, got.State)
	require.Equal(t, "first", got.LastError)

	l2 := s.leaseOne(t, "k", time.Minute)
	require.ErrorIs(t, s.ib.Complete(s.ctx, "k", l.Token), webhook.ErrLeaseLost, "a token of an earlier lease")
	require.NoError(t, s.ib.Kill(s.ctx, "k", l2.Token, "dead"))
	require.ErrorIs(t, s.ib.Complete(s.ctx, "k", l2.Token), webhook.ErrLeaseLost, "settling a dead delivery")
	require.Equal(t, webhook.InboxDead, s.get(t, "k").State)
}

func testComplete(t *testing.T, s *suite) {
	s.store(t, entry("k", 0))
	l := s.leaseOne(t, "k", time.Minute)
	s.clock.Advance(3 * time.Second)
	require.NoError(t, s.ib.Complete(s.ctx, "k", l.Token))
	got := s.get(t, "k")
	require.Equal(t, webhook.InboxDone, got.State)
	require.Equal(t, 1, got.Attempts)
	requireTime(t, s.now(), got.UpdatedAt, "UpdatedAt is when it was done")
	requireSameData(t, entry("k", 0), got)
	// Done is final: not due again, however long it waits.
	s.clock.Advance(1000 * time.Hour)
	s.requireNothingDue(t)
	st := s.stats(t)
	require.Equal(t, webhook.InboxStats{Done: 1}, st)
}

func testRetry(t *testing.T, s *suite) {
	s.store(t, entry("k", 0))
	l := s.leaseOne(t, "k", time.Minute)
	s.clock.Advance(time.Second)
	next := s.now().Add(30 * time.Second)
	require.NoError(t, s.ib.Retry(s.ctx, "k", l.Token, next, "callback failed: boom"))
	got := s.get(t, "k")
	require.Equal(t, webhook.InboxPending, got.State)
	require.Equal(t, 1, got.Attempts, "Retry keeps the attempts taken")
	requireTime(t, next, got.NextAttempt, "NextAttempt")
	require.Equal(t, "callback failed: boom", got.LastError)
	requireTime(t, s.now(), got.UpdatedAt, "UpdatedAt")
	require.Equal(t, webhook.InboxStats{Retrying: 1, OldestPending: entry("k", 0).ReceivedAt}, s.stats(t))

	s.clock.Set(next.Add(-time.Millisecond))
	s.requireNothingDue(t)
	s.clock.Set(next)
	l2 := s.leaseOne(t, "k", time.Minute)
	require.Equal(t, 2, l2.Entry.Attempts)
	require.Equal(t, "callback failed: boom", l2.Entry.LastError, "a lease keeps the last error")
	require.Equal(t, webhook.InboxStats{InFlight: 1, OldestPending: entry("k", 0).ReceivedAt}, s.stats(t))

	// Retry many times: Attempts goes on counting.
	for want := 3; want <= 6; want++ {
		require.NoError(t, s.ib.Retry(s.ctx, "k", l2.Token, s.now(), fmt.Sprintf("fail %d", want-1)))
		l2 = s.leaseOne(t, "k", time.Minute)
		require.Equal(t, want, l2.Entry.Attempts)
	}
	require.NoError(t, s.ib.Complete(s.ctx, "k", l2.Token))
	require.Equal(t, 6, s.get(t, "k").Attempts)
}

func testKill(t *testing.T, s *suite) {
	s.store(t, entry("k", 0))
	l := s.leaseOne(t, "k", time.Minute)
	require.NoError(t, s.ib.Retry(s.ctx, "k", l.Token, s.now(), "first"))
	l = s.leaseOne(t, "k", time.Minute)
	s.clock.Advance(2 * time.Second)
	require.NoError(t, s.ib.Kill(s.ctx, "k", l.Token, "permanent: bad account"))
	got := s.get(t, "k")
	require.Equal(t, webhook.InboxDead, got.State)
	require.Equal(t, 2, got.Attempts)
	require.Equal(t, "permanent: bad account", got.LastError)
	requireTime(t, s.now(), got.UpdatedAt, "UpdatedAt is when it died")
	requireSameData(t, entry("k", 0), got)
	s.clock.Advance(1000 * time.Hour)
	s.requireNothingDue(t)
	require.Equal(t, webhook.InboxStats{Dead: 1}, s.stats(t))
	dead := s.page(t, webhook.InboxQuery{State: webhook.InboxDead}).Entries
	require.Equal(t, []string{"k"}, entryKeys(dead))
	require.Equal(t, "permanent: bad account", dead[0].LastError)
}

func testReplay(t *testing.T, s *suite) {
	require.ErrorIs(t, s.ib.Replay(s.ctx, "missing"), webhook.ErrNotFound)

	// Dead: back to pending, due now, attempts reset, last error kept.
	s.store(t, entry("dead", 0))
	l := s.leaseOne(t, "dead", time.Minute)
	require.NoError(t, s.ib.Kill(s.ctx, "dead", l.Token, "gave up"))
	s.clock.Advance(time.Hour)
	require.NoError(t, s.ib.Replay(s.ctx, "dead"))
	got := s.get(t, "dead")
	require.Equal(t, webhook.InboxPending, got.State)
	require.Zero(t, got.Attempts)
	require.Equal(t, "gave up", got.LastError, "Replay keeps the last error")
	requireTime(t, s.now(), got.NextAttempt, "NextAttempt: due now")
	requireTime(t, s.now(), got.UpdatedAt, "UpdatedAt")
	require.Equal(t, 1, s.stats(t).Pending, "a replayed delivery counts as new")
	require.ErrorIs(t, s.ib.Kill(s.ctx, "dead", l.Token, "x"), webhook.ErrLeaseLost, "a token from before the replay")
	l = s.leaseOne(t, "dead", time.Minute)
	require.Equal(t, 1, l.Entry.Attempts)
	requireSameData(t, entry("dead", 0), l.Entry)
	require.NoError(t, s.ib.Complete(s.ctx, "dead", l.Token))

	// Done: the same.
	require.NoError(t, s.ib.Replay(s.ctx, "dead"))
	require.Equal(t, webhook.InboxPending, s.get(t, "dead").State)
	l = s.leaseOne(t, "dead", time.Minute)
	require.Equal(t, 1, l.Entry.Attempts)

	// Leased: in flight, left alone.
	require.ErrorIs(t, s.ib.Replay(s.ctx, "dead"), webhook.ErrInFlight)
	got = s.get(t, "dead")
	require.Equal(t, webhook.InboxLeased, got.State)
	require.NoError(t, s.ib.Complete(s.ctx, "dead", l.Token), "a refused Replay broke the lease")

	// Pending and retrying later: due now, attempts kept.
	s.store(t, entry("later", time.Second))
	l = s.leaseOne(t, "later", time.Minute)
	require.NoError(t, s.ib.Retry(s.ctx, "later", l.Token, s.now().Add(5*time.Hour), "wait"))
	s.requireNothingDue(t)
	s.clock.Advance(time.Second)
	require.NoError(t, s.ib.Replay(s.ctx, "later"))
	got = s.get(t, "later")
	require.Equal(t, webhook.InboxPending, got.State)
	require.Equal(t, 1, got.Attempts, "replaying a pending delivery keeps its attempts")
	requireTime(t, s.now(), got.NextAttempt, "NextAttempt: due now")
	l = s.leaseOne(t, "later", time.Minute)
	require.Equal(t, 2, l.Entry.Attempts)

	s.store(t, entry("fresh", 2*time.Second))
	require.NoError(t, s.ib.Replay(s.ctx, "fresh"))
	s.leaseOne(t, "fresh", time.Minute)
	s.requireNothingDue(t)
}

// settleAs brings key, stored and due, to the named state at the clock's
// time.
func (s *suite) settleAs(t *testing.T, key, state string) {
	t.Helper()
	if state == "pending" {
		return
	}
	l := s.leaseOne(t, key, time.Hour)
	switch state {
	case "done":
		require.NoError(t, s.ib.Complete(s.ctx, key, l.Token))
	case "dead":
		require.NoError(t, s.ib.Kill(s.ctx, key, l.Token, "dead"))
	case "retrying":
		require.NoError(t, s.ib.Retry(s.ctx, key, l.Token, s.now().Add(time.Hour), "retry"))
	}
}

func testPurge(t *testing.T, s *suite) {
	// done1 and dead1 settled at start+1s, done2 and dead2 at +2s.
	// The pending one comes last, so that it is not the one leased.
	for i, k := range []string{"done1", "dead1", "done2", "dead2", "leased", "retrying", "pending"} {
		s.clock.Set(start.Add(time.Duration(1+i/2) * time.Second))
		s.store(t, entry(k, time.Duration(i)*time.Millisecond))
		s.settleAs(t, k, strings.TrimRight(k, "12"))
	}
	s.clock.Set(start.Add(10 * 24 * time.Hour))
	t1 := start.Add(time.Second)
	far := start.Add(1000 * 24 * time.Hour)

	n, err := s.ib.Purge(s.ctx, "", t1)
	require.NoError(t, err)
	require.Zero(t, n, "Purge deletes only what was updated before the time given")
	for _, st := range []webhook.InboxState{webhook.InboxPending, webhook.InboxLeased} {
		n, err = s.ib.Purge(s.ctx, st, far)
		require.NoError(t, err)
		require.Zero(t, n, "Purge of state %s", st)
	}
	n, err = s.ib.Purge(s.ctx, "finished", far)
	require.Error(t, err, "Purge of a state that is none of the four")
	require.Zero(t, n, "Purge of an unknown state deletes nothing")
	n, err = s.ib.Purge(s.ctx, webhook.InboxDead, t1.Add(time.Millisecond))
	require.NoError(t, err)
	require.Equal(t, 1, n, "Purge dead before t1+1ms")
	_, err = s.ib.Get(s.ctx, "dead1")
	require.ErrorIs(t, err, webhook.ErrNotFound)
	s.get(t, "done1")
	n, err = s.ib.Purge(s.ctx, "", far)
	require.NoError(t, err)
	require.Equal(t, 3, n, "Purge of every state: done1, done2, dead2")
	for _, k := range []string{"done1", "done2", "dead2"} {
		_, err = s.ib.Get(s.ctx, k)
		require.ErrorIs(t, err, webhook.ErrNotFound, k)
	}
	for _, k := range []string{"pending", "leased", "retrying"} {
		s.get(t, k)
	}
	all := s.page(t, webhook.InboxQuery{}).Entries
	require.Equal(t, []string{"leased", "retrying", "pending"}, entryKeys(all))
	require.Equal(t, webhook.InboxStats{Pending: 1, InFlight: 1, Retrying: 1, OldestPending: entry("leased", 4*time.Millisecond).ReceivedAt}, s.stats(t))

	// A purged key may be stored again: the dedupe record is gone.
	s.store(t, entry("done1", time.Hour))
	require.Equal(t, webhook.InboxPending, s.get(t, "done1").State)
}

func testList(t *testing.T, s *suite) {
	// Stored out of order of ReceivedAt: List goes by ReceivedAt.
	states := map[string]string{"a": "done", "b": "pending", "c": "dead", "d": "leased", "e": "retrying", "f": "done"}
	// b, pending, comes last, so that it is not the one leased.
	for _, k := range []string{"c", "a", "f", "e", "d", "b"} {
		s.store(t, entry(k, time.Duration(k[0]-'a')*time.Second))
		st := states[k]
		if st == "leased" || st == "retrying" || st == "done" || st == "dead" {
			s.settleAs(t, k, st)
		}
	}
	list := func(q webhook.InboxQuery) []webhook.InboxEntry {
		t.Helper()
		return s.page(t, q).Entries
	}
	all := list(webhook.InboxQuery{})
	require.Equal(t, []string{"a", "b", "c", "d", "e", "f"}, entryKeys(all))
	for _, e := range all {
		requireSameData(t, entry(e.Key, time.Duration(e.Key[0]-'a')*time.Second), e)
		g := s.get(t, e.Key)
		require.Equal(t, g.State, e.State)
		require.Equal(t, g.Attempts, e.Attempts)
		require.Equal(t, g.LastError, e.LastError)
		requireTime(t, g.NextAttempt, e.NextAttempt, "NextAttempt")
		requireTime(t, g.UpdatedAt, e.UpdatedAt, "UpdatedAt")
	}
	for _, tc := range []struct {
		state webhook.InboxState
		want  []string
	}{
		{webhook.InboxDone, []string{"a", "f"}},
		{webhook.InboxPending, []string{"b", "e"}},
		{webhook.InboxDead, []string{"c"}},
		{webhook.InboxLeased, []string{"d"}},
	} {
		got := list(webhook.InboxQuery{State: tc.state})
		require.Equal(t, tc.want, entryKeys(got), "List %s", tc.state)
		for _, e := range got {
			require.Equal(t, tc.state, e.State)
		}
	}
	require.Equal(t, []string{"a", "b", "c"}, entryKeys(list(webhook.InboxQuery{Limit: 3})))
	require.Equal(t, []string{"b"}, entryKeys(list(webhook.InboxQuery{State: webhook.InboxPending, Limit: 1})))
	require.Empty(t, list(webhook.InboxQuery{State: "no such state"}))
}

func testListLimit(t *testing.T, s *suite) {
	for i := range 130 {
		s.store(t, entry(fmt.Sprintf("k%03d", i), time.Duration(i)*time.Millisecond))
	}
	for _, limit := range []int{0, -1} {
		p := s.page(t, webhook.InboxQuery{Limit: limit})
		es := p.Entries
		require.Len(t, es, webhook.DefaultListLimit, "Limit %d means DefaultListLimit", limit)
		require.True(t, p.More)
		require.Equal(t, "k000", es[0].Key)
		require.Equal(t, "k099", es[99].Key)
	}
	p := s.page(t, webhook.InboxQuery{Limit: 500})
	require.Len(t, p.Entries, 130)
	require.False(t, p.More)
	p = s.page(t, webhook.InboxQuery{After: p.Next})
	require.Empty(t, p.Entries)
}

func testStats(t *testing.T, s *suite) {
	require.Equal(t, webhook.InboxStats{}, s.stats(t), "an empty inbox")
	// ReceivedAt: done +1s, dead +2s, leased +3s, retry +5s, new0 +10s, new1 +11s.
	s.store(t, entry("done", time.Second))
	s.settleAs(t, "done", "done")
	s.store(t, entry("dead", 2*time.Second))
	s.settleAs(t, "dead", "dead")
	require.Equal(t, webhook.InboxStats{Done: 1, Dead: 1}, s.stats(t), "done and dead are not pending")
	s.store(t, entry("retry", 5*time.Second))
	s.settleAs(t, "retry", "retrying")
	require.Equal(t, webhook.InboxStats{Retrying: 1, Done: 1, Dead: 1, OldestPending: entry("retry", 5*time.Second).ReceivedAt}, s.stats(t))
	s.store(t, entry("new0", 10*time.Second))
	s.store(t, entry("new1", 11*time.Second))
	require.Equal(t, webhook.InboxStats{Pending: 2, Retrying: 1, Done: 1, Dead: 1, OldestPending: entry("retry", 5*time.Second).ReceivedAt}, s.stats(t))
	l := s.lease(t, 1, time.Hour)
	require.Equal(t, []string{"new0"}, keys(l))
	require.NoError(t, s.ib.Complete(s.ctx, "new0", l[0].Token))
	s.leaseOne(t, "new1", time.Hour)
	s.store(t, entry("leased", 3*time.Second))
	s.leaseOne(t, "leased", time.Hour)
	want := webhook.InboxStats{Pending: 0, Retrying: 1, InFlight: 2, Done: 2, Dead: 1, OldestPending: entry("leased", 3*time.Second).ReceivedAt}
	require.Equal(t, want, s.stats(t))
	st := s.stats(t)
	require.True(t, st.OldestPending.Equal(want.OldestPending), "OldestPending counts leased ones")
	// An expired lease is still in flight until it is leased again.
	s.clock.Advance(2 * time.Hour)
	require.Equal(t, 2, s.stats(t).InFlight)
}

func testStatsOldestPending(t *testing.T, s *suite) {
	// OldestPending is the oldest ReceivedAt to the nanosecond, as the
	// inbox keeps it, also between deliveries received within one
	// microsecond, which an index of coarser times holds as ties: the
	// later one's key sorts first. So whether they are new, leased or
	// retrying.
	base := start.Add(time.Hour + 123*time.Microsecond)
	for key, at := range map[string]time.Duration{"a-later": 900, "b-earlier": 100} {
		e := entry(key, 0)
		e.ReceivedAt = base.Add(at)
		s.store(t, e)
	}
	want := base.Add(100)
	requireTime(t, want, s.stats(t).OldestPending, "OldestPending of new deliveries")
	ls := s.lease(t, 10, time.Minute)
	require.Len(t, ls, 2)
	requireTime(t, want, s.stats(t).OldestPending, "OldestPending of leased deliveries")
	for _, l := range ls {
		require.NoError(t, s.ib.Retry(s.ctx, l.Entry.Key, l.Token, s.now().Add(time.Hour), "later"))
	}
	requireTime(t, want, s.stats(t).OldestPending, "OldestPending of retrying deliveries")
}

func testConcurrentWorkers(t *testing.T, s *suite) {
	// Workers lease in batches and settle by a fixed rule: a third of the
	// deliveries fail once, a tenth die on their first attempt. Every
	// delivery ends where the rule says, with the attempts it says.
	const n, workers = 300, 6
	for i := range n {
		s.store(t, entry(fmt.Sprintf("k%03d", i), time.Duration(i)*time.Millisecond))
	}
	var runs sync.Map // key → *atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idle := 0
			for idle < 3 {
				ls, err := s.ib.Lease(s.ctx, 5, time.Hour)
				if err != nil {
					errs <- err
					return
				}
				if len(ls) == 0 {
					idle++
					time.Sleep(time.Millisecond)
					continue
				}
				idle = 0
				for _, l := range ls {
					c, _ := runs.LoadOrStore(l.Entry.Key, new(atomic.Int32))
					c.(*atomic.Int32).Add(1)
					var i int
					fmt.Sscanf(l.Entry.Key, "k%d", &i)
					switch {
					case i%10 == 0:
						err = s.ib.Kill(s.ctx, l.Entry.Key, l.Token, "dies")
					case i%3 == 0 && l.Entry.Attempts == 1:
						err = s.ib.Retry(s.ctx, l.Entry.Key, l.Token, s.now(), "fails once")
					default:
						err = s.ib.Complete(s.ctx, l.Entry.Key, l.Token)
					}
					if err != nil {
						errs <- fmt.Errorf("settle %s: %w", l.Entry.Key, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var want webhook.InboxStats
	for i := range n {
		key := fmt.Sprintf("k%03d", i)
		c, ok := runs.Load(key)
		require.True(t, ok, "%s never leased", key)
		got := s.get(t, key)
		switch {
		case i%10 == 0:
			want.Dead++
			require.Equal(t, webhook.InboxDead, got.State, key)
			require.Equal(t, 1, got.Attempts, key)
		case i%3 == 0:
			want.Done++
			require.Equal(t, webhook.InboxDone, got.State, key)
			require.Equal(t, 2, got.Attempts, key)
			require.Equal(t, "fails once", got.LastError, key)
		default:
			want.Done++
			require.Equal(t, webhook.InboxDone, got.State, key)
			require.Equal(t, 1, got.Attempts, key)
		}
		require.EqualValues(t, got.Attempts, c.(*atomic.Int32).Load(), "%s: runs", key)
	}
	require.Equal(t, want, s.stats(t))
	done := s.page(t, webhook.InboxQuery{State: webhook.InboxDone, Limit: n}).Entries
	require.Len(t, done, want.Done)
	require.True(t, slices.IsSortedFunc(done, func(a, b webhook.InboxEntry) int { return a.ReceivedAt.Compare(b.ReceivedAt) }))
}
