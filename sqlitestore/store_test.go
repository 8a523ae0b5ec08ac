package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/stretchr/testify/require"
)

// clock is a settable clock for the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func open(t testing.TB, path string, opts ...Option) *Inbox {
	t.Helper()
	s, err := Open(path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func entry(key string) *webhook.InboxEntry {
	return &webhook.InboxEntry{
		Key:    key,
		Source: event.SourceStandard,
		ID:     key,
		Header: http.Header{"Webhook-Id": {key}},
		Body:   []byte(`{"type":"jam.created"}`),
	}
}

func TestStoreRoundTrip(t *testing.T) {
	clk := newClock()
	s := open(t, filepath.Join(t.TempDir(), "inbox.db"), WithClock(clk.Now))
	ctx := context.Background()
	e := &webhook.InboxEntry{
		Key:        "standard:msg_1",
		Source:     event.SourceStandard,
		ID:         "msg_1",
		Timestamp:  clk.Now().Add(-time.Second),
		ReceivedAt: clk.Now(),
		Header:     http.Header{"Webhook-Id": {"msg_1"}, "X-Multi": {"a", "b"}},
		Body:       []byte("{\"a\":\"\x00\xff\"}"),
		Meta:       map[string]string{"traceparent": "00-abc-def-01"},
	}
	stored, err := s.Store(ctx, e)
	require.NoError(t, err)
	require.True(t, stored)

	got, err := s.Get(ctx, e.Key)
	require.NoError(t, err)
	require.Equal(t, e.Key, got.Key)
	require.Equal(t, e.Source, got.Source)
	require.Equal(t, e.ID, got.ID)
	require.True(t, e.Timestamp.Equal(got.Timestamp))
	require.True(t, e.ReceivedAt.Equal(got.ReceivedAt))
	require.Equal(t, e.Header, got.Header)
	require.Equal(t, e.Body, got.Body)
	require.Equal(t, e.Meta, got.Meta)
	require.Equal(t, webhook.InboxPending, got.State)
	require.Zero(t, got.Attempts)
	require.True(t, clk.Now().Equal(got.NextAttempt))
	require.True(t, clk.Now().Equal(got.UpdatedAt))
	require.True(t, got.LeaseUntil.IsZero())

	// The same key again, whatever else differs: not stored twice.
	dup := entry(e.Key)
	stored, err = s.Store(ctx, dup)
	require.NoError(t, err)
	require.False(t, stored)
	got, err = s.Get(ctx, e.Key)
	require.NoError(t, err)
	require.Equal(t, e.Body, got.Body)

	_, err = s.Get(ctx, "standard:nope")
	require.ErrorIs(t, err, webhook.ErrNotFound)
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	type step func(t *testing.T, s *Inbox, clk *clock)
	lease1 := func(t *testing.T, s *Inbox, key string) webhook.InboxLease {
		t.Helper()
		ls, err := s.Lease(ctx, 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, ls, 1)
		require.Equal(t, key, ls[0].Entry.Key)
		return ls[0]
	}
	tests := []struct {
		name string
		run  step
	}{
		{"lease takes due pending oldest first and marks them leased", func(t *testing.T, s *Inbox, clk *clock) {
			for _, k := range []string{"a", "b", "c"} {
				_, err := s.Store(ctx, entry(k))
				require.NoError(t, err)
				clk.Add(time.Millisecond)
			}
			ls, err := s.Lease(ctx, 2, time.Minute)
			require.NoError(t, err)
			require.Len(t, ls, 2)
			require.Equal(t, "a", ls[0].Entry.Key)
			require.Equal(t, "b", ls[1].Entry.Key)
			require.Equal(t, 1, ls[0].Entry.Attempts)
			require.NotEqual(t, ls[0].Token, ls[1].Token)
			got, err := s.Get(ctx, "a")
			require.NoError(t, err)
			require.Equal(t, webhook.InboxLeased, got.State)
			require.True(t, clk.Now().Add(time.Minute).Equal(got.LeaseUntil))
			// Held: the next lease sees only c.
			lease1(t, s, "c")
			ls, err = s.Lease(ctx, 10, time.Minute)
			require.NoError(t, err)
			require.Empty(t, ls)
		}},
		{"an expired lease is leased again and the old token is lost", func(t *testing.T, s *Inbox, clk *clock) {
			_, err := s.Store(ctx, entry("a"))
			require.NoError(t, err)
			first := lease1(t, s, "a")
			clk.Add(time.Minute) // LeaseUntil == now: still held
			ls, err := s.Lease(ctx, 10, time.Minute)
			require.NoError(t, err)
			require.Empty(t, ls)
			clk.Add(time.Nanosecond)
			second := lease1(t, s, "a")
			require.Equal(t, 2, second.Entry.Attempts)
			require.ErrorIs(t, s.Complete(ctx, "a", first.Token), webhook.ErrLeaseLost)
			require.ErrorIs(t, s.Retry(ctx, "a", first.Token, clk.Now(), "x"), webhook.ErrLeaseLost)
			require.ErrorIs(t, s.Kill(ctx, "a", first.Token, "x"), webhook.ErrLeaseLost)
			require.NoError(t, s.Complete(ctx, "a", second.Token))
			got, err := s.Get(ctx, "a")
			require.NoError(t, err)
			require.Equal(t, webhook.InboxDone, got.State)
			require.ErrorIs(t, s.Complete(ctx, "a", second.Token), webhook.ErrLeaseLost)
		}},
		{"retry waits for its time and keeps the error", func(t *testing.T, s *Inbox, clk *clock) {
			_, err := s.Store(ctx, entry("a"))
			require.NoError(t, err)
			l := lease1(t, s, "a")
			require.NoError(t, s.Retry(ctx, "a", l.Token, clk.Now().Add(10*time.Second), "boom"))
			got, err := s.Get(ctx, "a")
			require.NoError(t, err)
			require.Equal(t, webhook.InboxPending, got.State)
			require.Equal(t, "boom", got.LastError)
			st, err := s.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, webhook.InboxStats{Retrying: 1, OldestPending: got.ReceivedAt}, st)
			clk.Add(10*time.Second - 1)
			ls, err := s.Lease(ctx, 10, time.Minute)
			require.NoError(t, err)
			require.Empty(t, ls)
			clk.Add(1)
			l = lease1(t, s, "a")
			require.Equal(t, 2, l.Entry.Attempts)
			require.Equal(t, "boom", l.Entry.LastError)
		}},
		{"kill, replay, complete", func(t *testing.T, s *Inbox, clk *clock) {
			_, err := s.Store(ctx, entry("a"))
			require.NoError(t, err)
			l := lease1(t, s, "a")
			require.ErrorIs(t, s.Replay(ctx, "a"), webhook.ErrInFlight)
			require.NoError(t, s.Kill(ctx, "a", l.Token, "permanent"))
			deadPage, err := s.List(ctx, webhook.InboxQuery{State: webhook.InboxDead})
			require.NoError(t, err)
			dead := deadPage.Entries
			require.Len(t, dead, 1)
			require.Equal(t, "permanent", dead[0].LastError)
			require.Equal(t, 1, dead[0].Attempts)
			ls, err := s.Lease(ctx, 10, time.Minute)
			require.NoError(t, err)
			require.Empty(t, ls)

			clk.Add(time.Hour)
			require.NoError(t, s.Replay(ctx, "a"))
			got, err := s.Get(ctx, "a")
			require.NoError(t, err)
			require.Equal(t, webhook.InboxPending, got.State)
			require.Zero(t, got.Attempts)
			require.Equal(t, "permanent", got.LastError)
			require.True(t, clk.Now().Equal(got.NextAttempt))
			l = lease1(t, s, "a")
			require.NoError(t, s.Complete(ctx, "a", l.Token))
			require.NoError(t, s.Replay(ctx, "a"))
			lease1(t, s, "a")
			require.ErrorIs(t, s.Replay(ctx, "nope"), webhook.ErrNotFound)
		}},
		{"replay makes a retrying delivery due now", func(t *testing.T, s *Inbox, clk *clock) {
			_, err := s.Store(ctx, entry("a"))
			require.NoError(t, err)
			l := lease1(t, s, "a")
			require.NoError(t, s.Retry(ctx, "a", l.Token, clk.Now().Add(time.Hour), "later"))
			require.NoError(t, s.Replay(ctx, "a"))
			l = lease1(t, s, "a")
			require.Equal(t, 2, l.Entry.Attempts)
		}},
		{"purge deletes only old done and dead ones", func(t *testing.T, s *Inbox, clk *clock) {
			for _, k := range []string{"done-old", "dead-old", "pending", "leased", "done-new"} {
				_, err := s.Store(ctx, entry(k))
				require.NoError(t, err)
			}
			settle := func(key string, kill bool) {
				for {
					ls, err := s.Lease(ctx, 1, time.Hour)
					require.NoError(t, err)
					require.Len(t, ls, 1)
					if ls[0].Entry.Key != key {
						require.NoError(t, s.Retry(ctx, ls[0].Entry.Key, ls[0].Token, clk.Now().Add(time.Second), ""))
						continue
					}
					if kill {
						require.NoError(t, s.Kill(ctx, key, ls[0].Token, "x"))
					} else {
						require.NoError(t, s.Complete(ctx, key, ls[0].Token))
					}
					return
				}
			}
			settle("done-old", false)
			settle("dead-old", true)
			clk.Add(time.Minute)
			cut := clk.Now()
			clk.Add(2 * time.Second)
			settle("leased", false)
			// Re-lease "leased" so it is in flight, then settle done-new.
			require.NoError(t, s.Replay(ctx, "leased"))
			settle("done-new", false)
			clk.Add(2 * time.Second) // the retries of settle are due
			ls, err := s.Lease(ctx, 10, time.Hour)
			require.NoError(t, err)
			require.Len(t, ls, 2) // pending and leased

			n, err := s.Purge(ctx, webhook.InboxPending, clk.Now().Add(time.Hour))
			require.NoError(t, err)
			require.Zero(t, n)
			n, err = s.Purge(ctx, webhook.InboxDead, cut)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			n, err = s.Purge(ctx, "", cut)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			allPage, err := s.List(ctx, webhook.InboxQuery{})
			require.NoError(t, err)
			all := allPage.Entries
			var keys []string
			for _, e := range all {
				keys = append(keys, e.Key)
			}
			require.ElementsMatch(t, []string{"pending", "leased", "done-new"}, keys)
			n, err = s.Purge(ctx, "", clk.Now().Add(time.Hour))
			require.NoError(t, err)
			require.Equal(t, 1, n)
			st, err := s.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, 2, st.InFlight)
			require.Zero(t, st.Done+st.Dead+st.Pending+st.Retrying)
		}},
		{"list is oldest received first, by state, limited", func(t *testing.T, s *Inbox, clk *clock) {
			base := clk.Now()
			for i, k := range []string{"c", "a", "b"} {
				e := entry(k)
				e.ReceivedAt = base.Add(time.Duration([]int{3, 1, 2}[i]) * time.Second)
				_, err := s.Store(ctx, e)
				require.NoError(t, err)
			}
			ls, err := s.Lease(ctx, 1, time.Minute)
			require.NoError(t, err)
			require.Equal(t, "c", ls[0].Entry.Key, "every NextAttempt is equal: arrival order breaks the tie")
			require.NoError(t, s.Complete(ctx, "c", ls[0].Token))
			allPage, err := s.List(ctx, webhook.InboxQuery{})
			require.NoError(t, err)
			all := allPage.Entries
			require.Equal(t, []string{"a", "b", "c"}, []string{all[0].Key, all[1].Key, all[2].Key})
			twoPage, err := s.List(ctx, webhook.InboxQuery{Limit: 2})
			require.NoError(t, err)
			two := twoPage.Entries
			require.Len(t, two, 2)
			pendingPage, err := s.List(ctx, webhook.InboxQuery{State: webhook.InboxPending})
			require.NoError(t, err)
			pending := pendingPage.Entries
			require.Len(t, pending, 2)
			st, err := s.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, webhook.InboxStats{Pending: 2, Done: 1, OldestPending: base.Add(time.Second)}, st)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			s := open(t, filepath.Join(t.TempDir(), "inbox.db"), WithClock(clk.Now))
			tt.run(t, s, clk)
		})
	}
}

func TestCapacity(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "inbox.db"), WithCapacity(2))
	for _, k := range []string{"a", "b"} {
		stored, err := s.Store(ctx, entry(k))
		require.NoError(t, err)
		require.True(t, stored)
	}
	_, err := s.Store(ctx, entry("c"))
	require.ErrorIs(t, err, webhook.ErrInboxFull)
	// A duplicate is still a duplicate when full.
	stored, err := s.Store(ctx, entry("a"))
	require.NoError(t, err)
	require.False(t, stored)
	// Done ones do not count.
	ls, err := s.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	_, err = s.Store(ctx, entry("c"))
	require.ErrorIs(t, err, webhook.ErrInboxFull, "a leased delivery still counts")
	require.NoError(t, s.Complete(ctx, ls[0].Entry.Key, ls[0].Token))
	stored, err = s.Store(ctx, entry("c"))
	require.NoError(t, err)
	require.True(t, stored)

	// Concurrent stores in one batch are counted against the bound too.
	s2 := open(t, filepath.Join(t.TempDir(), "inbox.db"), WithCapacity(10))
	var wg sync.WaitGroup
	var mu sync.Mutex
	full, ok := 0, 0
	for i := range 50 {
		wg.Go(func() {
			_, err := s2.Store(ctx, entry(fmt.Sprint(i)))
			mu.Lock()
			defer mu.Unlock()
			if errors.Is(err, webhook.ErrInboxFull) {
				full++
			} else if err == nil {
				ok++
			}
		})
	}
	wg.Wait()
	require.Equal(t, 10, ok)
	require.Equal(t, 40, full)
}

// TestCapacityNearFull sends, all at once, copies of deliveries already
// stored (pending or done) beside new ones, at an inbox a few short of
// full: the new ones fill it exactly and the rest are refused, while
// every copy is acknowledged as the duplicate it is, full or not, whichever
// transactions the writer groups them in.
func TestCapacityNearFull(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name                string
		capacity, room, new int
	}{
		{"one short", 10, 1, 5},
		{"three short", 10, 3, 8},
		{"full", 10, 0, 4},
		{"room for all", 10, 6, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 5 {
				s := open(t, filepath.Join(t.TempDir(), "inbox.db"), WithSync(SyncNormal), WithCapacity(tc.capacity))
				// Done ones first (they leave room), then the pending ones,
				// some retrying.
				var old []string
				for i := range 3 {
					old = append(old, fmt.Sprintf("done%d", i))
				}
				for i := range tc.capacity - tc.room {
					old = append(old, fmt.Sprintf("old%d", i))
				}
				for _, k := range old {
					stored, err := s.Store(ctx, entry(k))
					require.NoError(t, err)
					require.True(t, stored)
					ls, err := s.Lease(ctx, 1, time.Minute)
					require.NoError(t, err)
					require.Len(t, ls, 1)
					if strings.HasPrefix(k, "done") {
						require.NoError(t, s.Complete(ctx, k, ls[0].Token))
					} else {
						require.NoError(t, s.Retry(ctx, k, ls[0].Token, time.Now().Add(time.Hour), "again"))
					}
				}
				var mu sync.Mutex
				var wg sync.WaitGroup
				stored, full := 0, 0
				begin := make(chan struct{})
				for i := range tc.new {
					wg.Go(func() {
						<-begin
						ok, err := s.Store(ctx, entry(fmt.Sprintf("new%d", i)))
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil && ok:
							stored++
						case errors.Is(err, webhook.ErrInboxFull):
							full++
						default:
							t.Errorf("round %d: new%d: %v, %v", round, i, ok, err)
						}
					})
				}
				for c := range 3 {
					for _, k := range old {
						wg.Go(func() {
							<-begin
							ok, err := s.Store(ctx, entry(k))
							if err != nil || ok {
								t.Errorf("round %d: copy %d of %s: stored %v, %v", round, c, k, ok, err)
							}
						})
					}
				}
				close(begin)
				wg.Wait()
				require.Equal(t, min(tc.room, tc.new), stored, "round %d: new ones stored", round)
				require.Equal(t, tc.new-stored, full, "round %d: new ones refused", round)
				st, err := s.Stats(ctx)
				require.NoError(t, err)
				require.Equal(t, min(tc.capacity, tc.capacity-tc.room+tc.new), st.Pending+st.Retrying+st.InFlight, "round %d", round)
			}
		})
	}
}

// TestReopen checks that what one Store committed, the next Store on the
// same file sees, and that opening migrates once.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inbox.db")
	s, err := Open(path)
	require.NoError(t, err)
	_, err = s.Store(ctx, entry("a"))
	require.NoError(t, err)
	ls, err := s.Lease(ctx, 1, time.Hour)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close twice")
	_, err = s.Store(ctx, entry("b"))
	require.ErrorIs(t, err, ErrClosed)
	_, err = s.Get(ctx, "a")
	require.ErrorIs(t, err, ErrClosed)

	s = open(t, path)
	got, err := s.Get(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, webhook.InboxLeased, got.State)
	require.NoError(t, s.Complete(ctx, "a", ls[0].Token), "the token survives a restart")
	var version int
	require.NoError(t, s.db.QueryRow(`SELECT version FROM schema_version`).Scan(&version))
	require.Equal(t, SchemaVersion, version)
	var rows int
	require.NoError(t, s.db.QueryRow(`SELECT count(*) FROM schema_version`).Scan(&rows))
	require.Equal(t, 1, rows)
	var mode string
	require.NoError(t, s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	require.Equal(t, "wal", mode)
	var sync int
	require.NoError(t, s.conn.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync))
	require.Equal(t, 1, sync, "NORMAL: the writer does FULL's sync of the log, after the commit")
	require.NotNil(t, s.wal, "SyncFull syncs the log itself")
	require.Nil(t, open(t, filepath.Join(t.TempDir(), "normal.db"), WithSync(SyncNormal)).wal, "SyncNormal does not")
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	t.Run("every migration can run again", func(t *testing.T) {
		s := open(t, filepath.Join(t.TempDir(), "inbox.db"))
		_, err := s.Store(ctx, entry("a"))
		require.NoError(t, err)
		for _, m := range migrations {
			_, err := s.conn.ExecContext(ctx, m)
			require.NoError(t, err)
		}
		st, err := s.Stats(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, st.Pending, "counts kept")
	})
	t.Run("a newer file is refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "inbox.db")
		s, err := Open(path)
		require.NoError(t, err)
		_, err = s.conn.ExecContext(ctx, `UPDATE schema_version SET version = ?`, SchemaVersion+1)
		require.NoError(t, err)
		require.NoError(t, s.Close())
		_, err = Open(path)
		require.ErrorContains(t, err, "newer")
	})
	t.Run("bad paths", func(t *testing.T) {
		for _, p := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro"} {
			_, err := Open(p)
			require.Error(t, err, p)
		}
		_, err := Open(filepath.Join(t.TempDir(), "no", "such", "dir", "inbox.db"))
		require.Error(t, err)
	})
}

// TestOpenConcurrently opens a new file from several stores at once, as
// a receiver and "webhook inbox" or two receivers starting together do:
// each must wait for the others (switching the file to WAL mode takes a
// lock SQLite's busy timeout does not wait for) instead of failing, and
// the schema is created once.
func TestOpenConcurrently(t *testing.T) {
	dir := t.TempDir()
	for round := range 40 {
		path := filepath.Join(dir, fmt.Sprint(round, ".db"))
		start := make(chan struct{})
		errs := make(chan error, 8)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				<-start
				s, err := Open(path)
				if err == nil {
					err = s.Close()
				}
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, "round %d", round)
		}
		s := open(t, path)
		var versions, buckets int
		require.NoError(t, s.db.QueryRow(`SELECT count(*) FROM schema_version`).Scan(&versions))
		require.NoError(t, s.db.QueryRow(`SELECT count(*) FROM inbox_counts`).Scan(&buckets))
		require.Equal(t, 1, versions)
		require.Equal(t, int(numBuckets), buckets)
	}
}

// TestOpenThroughSymlink opens the inbox by a symbolic link to the file,
// as a deployment that moved the file to another disk does. SQLite follows
// the link and keeps its log beside the real file, so the log that the
// store syncs must be that one: not a missing file beside the link (Open
// failed), nor a stale one left there (acknowledged deliveries would not
// be on disk).
func TestOpenThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "disk", "inbox.db")
	require.NoError(t, os.Mkdir(filepath.Dir(real), 0o700))
	s, err := Open(real)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	link := filepath.Join(dir, "inbox.db")
	require.NoError(t, os.Symlink(real, link))
	for _, decoy := range []bool{false, true} {
		if decoy {
			require.NoError(t, os.WriteFile(link+"-wal", nil, 0o600))
		}
		s := open(t, link)
		_, err := s.Store(context.Background(), entry(fmt.Sprint("decoy-", decoy)))
		require.NoError(t, err)
		require.Equal(t, real+"-wal", s.wal.Name(), "the log SQLite writes")
	}
}

// TestOpenWithoutCreate checks that WithCreate(false), as "webhook inbox"
// opens a file, opens an inbox but refuses anything else (a missing file,
// an empty one, another program's database) and leaves it as it was: a
// typo or the wrong file must not become an empty inbox whose counts say
// all is well.
func TestOpenWithoutCreate(t *testing.T) {
	dir := t.TempDir()
	inbox := filepath.Join(dir, "inbox.db")
	s, err := Open(inbox)
	require.NoError(t, err)
	_, err = s.Store(context.Background(), entry("a"))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	empty, other, otherBytes := notInboxes(t, dir)

	for _, tt := range []struct {
		name, path string
		size       int64 // of the file after the refused Open; -1: missing
	}{
		{"missing", filepath.Join(dir, "typo.db"), -1},
		{"empty", empty, 0},
		{"another database", other, int64(len(otherBytes))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.path, WithCreate(false))
			require.ErrorIs(t, err, ErrNoInbox)
			fi, statErr := os.Stat(tt.path)
			if tt.size < 0 {
				require.ErrorIs(t, statErr, os.ErrNotExist)
				return
			}
			require.NoError(t, statErr)
			require.Equal(t, tt.size, fi.Size())
			if tt.path == other {
				b, err := os.ReadFile(other)
				require.NoError(t, err)
				require.Equal(t, otherBytes, b, "left as it was (not switched to WAL, no tables added)")
			}
			m, _ := filepath.Glob(tt.path + "-*")
			require.Empty(t, m, "no log or shared memory file left")
		})
	}
	t.Run("an inbox", func(t *testing.T) {
		s := open(t, inbox, WithCreate(false))
		_, err := s.Get(context.Background(), "a")
		require.NoError(t, err)
	})
}

// TestOpenBadOptions checks that options Open cannot honour are errors:
// an unknown Sync must not quietly give up SyncFull's durability, and a
// batch too large to allocate must not panic.
func TestOpenBadOptions(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  Option
		err  string
	}{
		{"unknown sync", WithSync(Sync(7)), "unknown Sync"},
		{"negative sync", WithSync(Sync(-1)), "unknown Sync"},
		{"huge batch", WithMaxBatch(1 << 40), "WithMaxBatch"},
		{"nil option", nil, "option 0 is nil"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "inbox.db")
			_, err := Open(path, tt.opt)
			require.ErrorContains(t, err, tt.err)
			_, statErr := os.Stat(path)
			require.ErrorIs(t, statErr, os.ErrNotExist, "nothing created")
		})
	}
}

// TestBusyTimeoutRoundsUp checks that a busy timeout under a millisecond,
// SQLite's unit, still waits rather than becoming 0, which waits not at
// all.
func TestBusyTimeoutRoundsUp(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int
	}{{500 * time.Microsecond, 1}, {1500 * time.Microsecond, 2}, {time.Second, 1000}, {0, int(DefaultBusyTimeout.Milliseconds())},
		{math.MaxInt64, math.MaxInt32}} {
		s := open(t, filepath.Join(t.TempDir(), "inbox.db"), WithBusyTimeout(tt.d))
		var ms int
		require.NoError(t, s.conn.QueryRowContext(context.Background(), `PRAGMA busy_timeout`).Scan(&ms))
		require.Equal(t, tt.want, ms, tt.d)
		require.NoError(t, s.db.QueryRow(`PRAGMA busy_timeout`).Scan(&ms))
		require.Equal(t, tt.want, ms, "readers, %v", tt.d)
	}
}

// TestGroupCommit checks that concurrent writes share transactions and
// that WithMaxBatch(1) gives each its own.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		maxBatch int
	}{{"grouped", 0}, {"one per transaction", 1}} {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, filepath.Join(t.TempDir(), "inbox.db"), WithMaxBatch(tt.maxBatch), WithSync(SyncNormal))
			const n = 400
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					stored, err := s.Store(ctx, entry(fmt.Sprint(i)))
					require.NoError(t, err)
					require.True(t, stored)
				})
			}
			before := s.commits.Load()
			close(start)
			wg.Wait()
			commits := s.commits.Load() - before
			if tt.maxBatch == 1 {
				require.EqualValues(t, n, commits)
			} else {
				require.Less(t, commits, int64(n/4), "400 concurrent stores in %d transactions", commits)
			}
			st, err := s.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, n, st.Pending)
		})
	}
}

// TestGroupCommitSomeStored checks each Store's answer when the rows of
// one insert are partly new: keys stored before, and keys sent twice at
// once, are duplicates, and only the others report stored.
func TestGroupCommitSomeStored(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "inbox.db"), WithSync(SyncNormal))
	const n = 600
	for i := 0; i < n; i += 3 {
		stored, err := s.Store(ctx, entry(fmt.Sprint(i)))
		require.NoError(t, err)
		require.True(t, stored)
	}
	// Key i%3 == 0 was stored before; i%3 == 1 is sent twice at once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	answers := map[string][]bool{}
	start := make(chan struct{})
	for i := range n {
		sends := 1
		if i%3 == 1 {
			sends = 2
		}
		for range sends {
			wg.Go(func() {
				<-start
				key := fmt.Sprint(i)
				stored, err := s.Store(ctx, entry(key))
				require.NoError(t, err)
				mu.Lock()
				answers[key] = append(answers[key], stored)
				mu.Unlock()
			})
		}
	}
	before := s.commits.Load()
	close(start)
	wg.Wait()
	commits := s.commits.Load() - before
	require.Less(t, commits, int64(n/4), "%d concurrent stores in %d transactions", n+n/3, commits)
	for i := range n {
		got := answers[fmt.Sprint(i)]
		switch i % 3 {
		case 0:
			require.Equal(t, []bool{false}, got, "key %d, stored before", i)
		case 1:
			require.ElementsMatch(t, []bool{true, false}, got, "key %d, sent twice", i)
		default:
			require.Equal(t, []bool{true}, got, "key %d", i)
		}
	}
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, n, st.Pending)
}

// TestSpoiledBatch checks that a write failing in the database fails
// alone: the others of its batch are committed.
func TestSpoiledBatch(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "inbox.db"))
	// Hold the writer so that the writes below queue into one batch.
	release := make(chan struct{})
	held := make(chan struct{})
	go func() {
		_ = s.do(ctx, func(*wtx) (error, error) { close(held); <-release; return nil, nil })
	}()
	<-held
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Go(func() {
			if i == 2 {
				errs[i] = s.do(ctx, func(tx *wtx) (error, error) {
					_, err := tx.s.conn.ExecContext(tx.ctx, `INSERT INTO no_such_table VALUES (1)`)
					return nil, err
				})
				return
			}
			_, errs[i] = s.Store(ctx, entry(fmt.Sprint(i)))
		})
	}
	require.Eventually(t, func() bool { return len(s.ops) == 5 }, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	for i, err := range errs {
		if i == 2 {
			require.ErrorContains(t, err, "no_such_table")
			continue
		}
		require.NoError(t, err)
	}
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, 4, st.Pending)
}

// TestTwoStoresOneFile runs workers on two Inboxes sharing a file, as two
// processes would: every delivery is completed once and leased once.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inbox.db")
	a := open(t, path, WithSync(SyncNormal))
	b := open(t, path, WithSync(SyncNormal))
	const n = 300
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s := a
			if i%2 == 1 {
				s = b
			}
			_, err := s.Store(ctx, entry(fmt.Sprint(i)))
			require.NoError(t, err)
		})
	}
	wg.Wait()
	var mu sync.Mutex
	seen := map[string]int{}
	for _, s := range []*Inbox{a, b, a, b} {
		wg.Go(func() {
			for {
				ls, err := s.Lease(ctx, 7, time.Hour)
				require.NoError(t, err)
				if len(ls) == 0 {
					return
				}
				for _, l := range ls {
					mu.Lock()
					seen[l.Entry.Key]++
					mu.Unlock()
					require.NoError(t, s.Complete(ctx, l.Entry.Key, l.Token))
				}
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, n)
	for k, c := range seen {
		require.Equal(t, 1, c, k)
	}
	st, err := b.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, webhook.InboxStats{Done: n}, st)
}

func TestContextCancelled(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "inbox.db"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Store(ctx, entry("a"))
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Get(context.Background(), "a")
	require.ErrorIs(t, err, webhook.ErrNotFound)
}

// TestQueryPlans checks that the queries the workers and purges run on
// every call walk their index instead of every row of a state: with a
// full inbox, sorting every pending row on each Lease drained 80,000
// deliveries at a few hundred a second.
func TestQueryPlans(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "inbox.db"))
	plan := func(q string, args ...any) string {
		rows, err := s.db.Query("EXPLAIN QUERY PLAN "+q, args...)
		require.NoError(t, err)
		defer rows.Close()
		var steps []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			steps = append(steps, detail)
		}
		require.NoError(t, rows.Err())
		return strings.Join(steps, "; ")
	}
	tests := []struct {
		name, query string
		args        []any
		want        string
		sorts       bool
	}{
		{"due pending", queryDuePending, []any{1, 1}, "USING INDEX inbox_due (next_attempt<?)", false},
		{"expired leases", queryDueLeased, []any{1, 1}, "USING INDEX inbox_lease (lease_until<?)", true},
		{"purge", queryPurge, []any{"done", 1, 1}, "INDEX inbox_updated (state=? AND updated_at<?)", false},
		{"list", queryListReceived, []any{"dead", 1, 2, 1}, "USING INDEX inbox_received (state=? AND received_at>?)", false},
		{"list by update", queryListUpdated, []any{"dead", 1, 2, 1}, "USING INDEX inbox_updated (state=? AND updated_at>?)", false},
		{"a tenant's backlog", queryTenantBacklog, []any{"acme"}, "SEARCH inbox_tenants USING PRIMARY KEY (tenant=?)", false},
		{"oldest pending", `SELECT min(received_at) FROM inbox WHERE state = 'pending'`, nil,
			"USING COVERING INDEX inbox_received (state=?)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := plan(tt.query, tt.args...)
			require.Contains(t, got, tt.want)
			if !tt.sorts {
				require.NotContains(t, got, "TEMP B-TREE", "sorts every row it finds")
			}
		})
	}
}

// TestCancelledDuringWrite checks that a caller whose context ends while
// its write runs still gets the write's result: a Lease that committed
// must reach the worker, or its deliveries sit leased until the lease
// runs out.
func TestCancelledDuringWrite(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "inbox.db"))
	_, err := s.Store(context.Background(), entry("a"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var leased int
	err = s.do(ctx, func(tx *wtx) (error, error) {
		cancel() // the caller gives up while the write runs
		rows, err := tx.s.stmt.duePending.QueryContext(tx.ctx, nanos(time.Now().Add(time.Hour)), 10)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			leased++
		}
		return nil, rows.Close()
	})
	require.NoError(t, err, "the committed result, not the caller's cancellation")
	require.Equal(t, 1, leased)
}

// notInboxes makes two files in dir that hold no inbox: an empty one, and
// another program's SQLite database, whose bytes it returns.
func notInboxes(t *testing.T, dir string) (empty, other string, otherBytes []byte) {
	t.Helper()
	empty = filepath.Join(dir, "empty.db")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	other = filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", other)
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE users (name TEXT)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	otherBytes, err = os.ReadFile(other)
	require.NoError(t, err)
	return empty, other, otherBytes
}
