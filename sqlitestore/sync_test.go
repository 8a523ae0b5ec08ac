package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/stretchr/testify/require"
)

// withWrapSync wraps the store's sync of the write-ahead log.
func withWrapSync(wrap func(sync func() error) func() error) Option {
	return func(c *config) { c.wrapSync = wrap }
}

// TestStoreWaitsForSync holds SyncFull's promise with the sync moved off
// the write lock: no Store returns before a sync of the log that started
// after its delivery was committed. The wrapped sync reads the keys
// committed so far before it starts, and marks them durable once it has
// synced; every Store must find its key durable when it returns.
func TestStoreWaitsForSync(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	durable := map[string]bool{}
	var reader *sql.DB
	ready := make(chan struct{})
	var syncs int
	s := open(t, filepath.Join(t.TempDir(), "inbox.db"), withWrapSync(func(sync func() error) func() error {
		return func() error {
			<-ready
			rows, err := reader.Query(`SELECT key FROM inbox`)
			if err != nil {
				return err
			}
			var keys []string
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					return err
				}
				keys = append(keys, k)
			}
			if err := rows.Close(); err != nil {
				return err
			}
			time.Sleep(200 * time.Microsecond) // a slow disk, for commits to come meanwhile
			if err := sync(); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			syncs++
			for _, k := range keys {
				durable[k] = true
			}
			return nil
		}
	}))
	reader = s.db
	close(ready)
	const callers, each = 16, 30
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprint(c, "-", i)
				stored, err := s.Store(ctx, entry(key))
				require.NoError(t, err)
				require.True(t, stored)
				mu.Lock()
				ok := durable[key]
				mu.Unlock()
				require.True(t, ok, "%s returned before a sync that started after its commit", key)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.Less(t, syncs, callers*each/2, "Stores share syncs")
}

// TestSyncFailure checks that a failed sync of the log fails the writes
// waiting for it, and every write after it: what the log holds on disk
// is no longer known.
func TestSyncFailure(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	fail := false
	s := open(t, filepath.Join(t.TempDir(), "inbox.db"), withWrapSync(func(sync func() error) func() error {
		return func() error {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				return fmt.Errorf("disk on fire")
			}
			return sync()
		}
	}))
	_, err := s.Store(ctx, entry("a"))
	require.NoError(t, err)
	mu.Lock()
	fail = true
	mu.Unlock()
	_, err = s.Store(ctx, entry("b"))
	require.ErrorContains(t, err, "disk on fire")
	mu.Lock()
	fail = false
	mu.Unlock()
	_, err = s.Store(ctx, entry("c"))
	require.ErrorContains(t, err, "disk on fire", "refused after a failed sync")
	_, err = s.Lease(ctx, 1, time.Minute)
	require.ErrorContains(t, err, "disk on fire")
}

// recount compares inbox_counts with a count of the rows themselves.
func recount(t *testing.T, s *Inbox) {
	t.Helper()
	want := map[string]int{"pending": 0, "retrying": 0, "leased": 0, "done": 0, "dead": 0}
	rows, err := s.db.Query(`SELECT CASE WHEN state = 'pending' AND attempts > 0 THEN 'retrying' ELSE state END, count(*)
		FROM inbox GROUP BY 1`)
	require.NoError(t, err)
	for rows.Next() {
		var b string
		var n int
		require.NoError(t, rows.Scan(&b, &n))
		want[b] = n
	}
	require.NoError(t, rows.Close())
	got := map[string]int{}
	rows, err = s.db.Query(`SELECT bucket, n FROM inbox_counts`)
	require.NoError(t, err)
	for rows.Next() {
		var b string
		var n int
		require.NoError(t, rows.Scan(&b, &n))
		got[b] = n
	}
	require.NoError(t, rows.Close())
	require.Equal(t, want, got)

	// The backlog of each tenant, as webhook.KeyTenant reads the keys.
	wantTenants := map[string]int{}
	rows, err = s.db.Query(`SELECT key FROM inbox WHERE state IN ('pending', 'leased')`)
	require.NoError(t, err)
	for rows.Next() {
		var key string
		require.NoError(t, rows.Scan(&key))
		wantTenants[webhook.KeyTenant(key)]++
	}
	require.NoError(t, rows.Close())
	gotTenants := map[string]int{}
	rows, err = s.db.Query(`SELECT tenant, n FROM inbox_tenants WHERE n != 0`)
	require.NoError(t, err)
	for rows.Next() {
		var tenant string
		var n int
		require.NoError(t, rows.Scan(&tenant, &n))
		gotTenants[tenant] = n
	}
	require.NoError(t, rows.Close())
	require.Equal(t, wantTenants, gotTenants, "the backlog of each tenant")
}

// TestCountsExact runs every kind of write at once, duplicates within a
// batch among them, and holds the counts the writer keeps to the rows.
func TestCountsExact(t *testing.T) {
	for _, bounds := range [][2]int{{0, 0}, {40, 0}, {0, 8}, {40, 8}} {
		capacity, tenantCapacity := bounds[0], bounds[1]
		t.Run(fmt.Sprint("capacity=", capacity, ",tenant=", tenantCapacity), func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			s := open(t, filepath.Join(t.TempDir(), "inbox.db"), WithSync(SyncNormal), WithClock(clk.Now), WithCapacity(capacity),
				WithTenantCapacity(tenantCapacity))
			var wg sync.WaitGroup
			var mu sync.Mutex
			stored := map[string]int{}
			for c := range 8 {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(c), 1))
					for range 60 {
						// Often a duplicate, sometimes in one batch; of
						// three tenants and keys of none.
						key := fmt.Sprint(r.IntN(80))
						if tn := r.IntN(4); tn > 0 {
							key = fmt.Sprint("standard@t", tn, ":", key)
						}
						ok, err := s.Store(ctx, entry(key))
						if err != nil {
							require.ErrorIs(t, err, webhook.ErrInboxFull)
							continue
						}
						if ok {
							mu.Lock()
							stored[key]++
							mu.Unlock()
						}
					}
				})
			}
			for w := range 4 {
				wg.Go(func() {
					for i := range 40 {
						ls, err := s.Lease(ctx, 3, time.Minute)
						require.NoError(t, err)
						for j, l := range ls {
							switch (i + j + w) % 4 {
							case 0:
								require.NoError(t, s.Complete(ctx, l.Entry.Key, l.Token))
							case 1:
								require.NoError(t, s.Retry(ctx, l.Entry.Key, l.Token, clk.Now(), "again"))
							case 2:
								require.NoError(t, s.Kill(ctx, l.Entry.Key, l.Token, "no"))
								require.NoError(t, s.Replay(ctx, l.Entry.Key))
							case 3:
								// Left leased.
							}
						}
					}
				})
			}
			wg.Wait()
			for k, n := range stored {
				require.Equal(t, 1, n, "key %s stored twice", k)
			}
			recount(t, s)
			ls, err := s.Lease(ctx, 1000, time.Minute)
			require.NoError(t, err)
			for _, l := range ls {
				require.NoError(t, s.Complete(ctx, l.Entry.Key, l.Token))
			}
			clk.Add(time.Hour)
			_, err = s.Purge(ctx, "", clk.Now())
			require.NoError(t, err)
			recount(t, s)
		})
	}
}

// TestMigrateVersion1 opens a file of schema version 1, whose counts
// triggers kept, and checks that the writer keeps them from there.
func TestMigrateVersion1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inbox.db")
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	for _, q := range []string{
		migrations[0],
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version (version) VALUES (1)`,
		`INSERT INTO inbox (key, source, msg_id, signed_at, received_at, header, body, meta, state, attempts,
			next_attempt, lease_until, token, last_error, updated_at)
			VALUES ('a', 'standard', 'a', 0, 1, 'null', '', 'null', 'pending', 0, 1, 0, '', '', 1),
			       ('b', 'standard', 'b', 0, 2, 'null', '', 'null', 'dead', 3, 1, 0, '', 'x', 1)`,
	} {
		_, err := db.Exec(q)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s := open(t, path)
	var triggers int
	require.NoError(t, s.db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'trigger'`).Scan(&triggers))
	require.Zero(t, triggers)
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.Pending)
	require.Equal(t, 1, st.Dead)
	require.NoError(t, s.Replay(ctx, "b"))
	_, err = s.Store(ctx, entry("c"))
	require.NoError(t, err)
	ls, err := s.Lease(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 3)
	require.NoError(t, s.Complete(ctx, ls[0].Entry.Key, ls[0].Token))
	recount(t, s)
}

// TestMigrateVersion2 opens a file of schema version 2, whose deliveries
// no count of each tenant's backlog kept, and checks that the migration
// counts them as webhook.KeyTenant reads their keys, byte for byte, and
// that the writer keeps the counts from there.
func TestMigrateVersion2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inbox.db")
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	for _, q := range []string{
		migrations[0],
		migrations[1],
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version (version) VALUES (2)`,
		`INSERT INTO inbox_counts (bucket, n) VALUES ('pending', 9), ('leased', 3), ('done', 1), ('dead', 1)
			ON CONFLICT (bucket) DO UPDATE SET n = excluded.n`,
	} {
		_, err := db.Exec(q)
		require.NoError(t, err)
	}
	for key, state := range map[string]string{
		"standard@acme:1":       "pending",
		"intercom@acme:notif_2": "leased",
		"standard@acme:3":       "done",
		"standard@acme:4":       "dead",
		"standard@globex:1":     "pending",
		"standard@caf\u00e9:1":  "pending", // characters of two bytes
		"standard@\xff\xfe:1":   "leased",  // not UTF-8: counted by its bytes
		"standard:x@y:z":        "pending", // tenant "", from here on
		"own":                   "leased",
		"standard@:x":           "pending",
		"standard@nocolon":      "pending",
		"a:b@c:d":               "pending",
		"@e:f":                  "pending",
		"series:":               "pending",
	} {
		_, err := db.Exec(`INSERT INTO inbox (key, source, msg_id, signed_at, received_at, header, body, meta, state, attempts,
			next_attempt, lease_until, token, last_error, updated_at)
			VALUES (?, 'standard', 'a', 0, 1, 'null', '', 'null', ?, 0, 1, 0, '', '', 1)`, key, state)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s := open(t, path, WithTenantCapacity(3))
	recount(t, s)
	_, err = s.Store(ctx, entry("standard@acme:5"))
	require.NoError(t, err)
	_, err = s.Store(ctx, entry("standard@acme:6"))
	require.ErrorIs(t, err, webhook.ErrInboxFull, "acme's backlog was 2, and 3 now")
	ls, err := s.Lease(ctx, 100, time.Minute)
	require.NoError(t, err)
	for _, l := range ls {
		require.NoError(t, s.Complete(ctx, l.Entry.Key, l.Token))
	}
	recount(t, s)
}

// TestWALRestarts checks that the log is still restarted under steady
// writes with the checkpointer copying beside the writer, instead of
// growing with the inbox: its header's checkpoint sequence, which each
// restart increments, has moved several times, and the file stays a
// small multiple of SQLite's 1,000 pages. (Kept from restarting by a
// reader, it reaches about 11,000 pages here; restarting, about 1,100,
// and once 2,450 on a loaded machine, the checkpointer starved.)
func TestWALRestarts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inbox.db")
	s := open(t, path, WithSync(SyncNormal))
	body := make([]byte, 1500)
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Go(func() {
			for i := range 400 {
				e := entry(fmt.Sprint(c, "-", i))
				e.Body = body
				_, err := s.Store(ctx, e)
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	fi, err := os.Stat(path + "-wal")
	require.NoError(t, err)
	db, err := os.Stat(path)
	require.NoError(t, err)
	require.Greater(t, db.Size(), int64(8<<20), "6,400 deliveries of 1.5 KB were copied into the database")
	wal, err := os.ReadFile(path + "-wal")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(wal), 32, "a log header")
	require.GreaterOrEqual(t, binary.BigEndian.Uint32(wal[12:16]), uint32(3), "the log's restarts")
	require.Less(t, fi.Size(), int64(4000*(4096+24)), "the log restarts before it grows far")
}

// TestSettledAtCommit checks which writes are synced: the workers'
// Lease, Complete, Retry and Kill return once committed (an operating
// system crash undoing one only runs a delivery again); Store, Replay
// and Purge wait for the log to be on disk.
func TestSettledAtCommit(t *testing.T) {
	ctx := context.Background()
	var syncs atomic.Int64
	s := open(t, filepath.Join(t.TempDir(), "inbox.db"), withWrapSync(func(sync func() error) func() error {
		return func() error {
			syncs.Add(1)
			return sync()
		}
	}))
	synced := func(t *testing.T, want int64, write func() error) {
		t.Helper()
		before := syncs.Load()
		require.NoError(t, write())
		require.Equal(t, want, syncs.Load()-before)
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		synced(t, 1, func() error { _, err := s.Store(ctx, entry(k)); return err })
	}
	var ls []webhook.InboxLease
	synced(t, 0, func() (err error) { ls, err = s.Lease(ctx, 3, time.Minute); return err })
	require.Len(t, ls, 3)
	synced(t, 0, func() error { return s.Complete(ctx, ls[0].Entry.Key, ls[0].Token) })
	synced(t, 0, func() error { return s.Retry(ctx, ls[1].Entry.Key, ls[1].Token, time.Now(), "again") })
	synced(t, 0, func() error { return s.Kill(ctx, ls[2].Entry.Key, ls[2].Token, "no") })
	synced(t, 1, func() error { return s.Replay(ctx, ls[2].Entry.Key) })
	synced(t, 1, func() error { _, err := s.Purge(ctx, webhook.InboxDone, time.Now().Add(time.Hour)); return err })
}

// TestCommitsDuringSync holds the first sync of the log and requires the
// next transaction to commit meanwhile, neither Store returning before a
// sync after its commit; then fails that first sync and requires the
// later transaction to fail with it, unsynced.
func TestCommitsDuringSync(t *testing.T) {
	for _, tc := range []struct {
		name     string
		firstErr error
	}{
		{"sync succeeds", nil},
		{"sync fails", fmt.Errorf("disk on fire")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			entered := make(chan struct{})
			release := make(chan struct{})
			var syncs atomic.Int32
			s := open(t, filepath.Join(t.TempDir(), "inbox.db"), withWrapSync(func(sync func() error) func() error {
				return func() error {
					if syncs.Add(1) == 1 {
						close(entered)
						<-release
						if tc.firstErr != nil {
							return tc.firstErr
						}
					}
					return sync()
				}
			}))
			var once sync.Once
			unblock := func() { once.Do(func() { close(release) }) }
			t.Cleanup(unblock) // before the store's Close, should the test fail early
			before := s.commits.Load()
			results := make(chan error, 2)
			store := func(key string) {
				_, err := s.Store(ctx, entry(key))
				results <- err
			}
			go store("a")
			<-entered
			go store("b")
			require.Eventually(t, func() bool { return s.commits.Load() == before+2 },
				5*time.Second, time.Millisecond, "b commits while a's sync runs")
			require.Empty(t, results, "no Store returns before its sync")
			unblock()
			for range 2 {
				err := <-results
				if tc.firstErr == nil {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, tc.firstErr)
				}
			}
			if tc.firstErr == nil {
				require.EqualValues(t, 2, syncs.Load(), "b's transaction synced after its commit")
			} else {
				require.EqualValues(t, 1, syncs.Load(), "no sync after a failed one")
			}
		})
	}
}
