package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/stretchr/testify/require"
)

// withMigrations makes Open take the schema's migrations from m, so that a
// test plays another version of the package on the same file.
func withMigrations(m []string) Option {
	return func(c *config) { c.migrations = m }
}

// newerVersion plays the next version of the package: this one's
// migrations and one more.
func newerVersion() Option {
	return withMigrations(append(slices.Clone(migrations),
		`ALTER TABLE inbox ADD COLUMN tenant TEXT NOT NULL DEFAULT ''`))
}

// fileCounts reads the deliveries by state, and the kept counts, on a
// connection of the test's own.
func fileCounts(t *testing.T, path string) (rows, counts map[string]int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	read := func(q string) map[string]int {
		r, err := db.Query(q)
		require.NoError(t, err)
		defer r.Close()
		m := map[string]int{}
		for r.Next() {
			var k string
			var n int
			require.NoError(t, r.Scan(&k, &n))
			if n != 0 {
				m[k] = n
			}
		}
		require.NoError(t, r.Err())
		return m
	}
	rows = read(`SELECT CASE WHEN state = 'pending' AND attempts > 0 THEN 'retrying' ELSE state END, count(*) FROM inbox GROUP BY 1`)
	counts = read(`SELECT bucket, n FROM inbox_counts`)
	return rows, counts
}

// TestSchemaMigratedWhileOpen has a newer version of the package migrate
// the file while a Store of this one has it open, as a rolling upgrade
// of two receivers on one file does. The older Inbox must write nothing
// more, every write failing with ErrNewerSchema, rather than write rows
// the newer schema does not expect; it still reads. The newer one finds
// the file as the older one left it, and writes on.
func TestSchemaMigratedWhileOpen(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	path := filepath.Join(t.TempDir(), "inbox.db")
	old := open(t, path, WithClock(clk.Now))
	for _, k := range []string{"leased", "pending", "done"} {
		_, err := old.Store(ctx, entry(k))
		require.NoError(t, err)
		clk.Add(time.Millisecond)
	}
	ls, err := old.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	require.Equal(t, "leased", ls[0].Entry.Key)

	newer := open(t, path, WithClock(clk.Now), newerVersion())
	require.Equal(t, SchemaVersion+1, schemaVersion(t, path))
	rowsBefore, _ := fileCounts(t, path)

	for _, tt := range []struct {
		name  string
		write func() error
	}{
		{"Store", func() error { _, err := old.Store(ctx, entry("new")); return err }},
		{"Lease", func() error { _, err := old.Lease(ctx, 10, time.Minute); return err }},
		{"Complete", func() error { return old.Complete(ctx, "leased", ls[0].Token) }},
		{"Retry", func() error { return old.Retry(ctx, "leased", ls[0].Token, clk.Now(), "x") }},
		{"Kill", func() error { return old.Kill(ctx, "leased", ls[0].Token, "x") }},
		{"Replay", func() error { return old.Replay(ctx, "pending") }},
		{"Purge", func() error { _, err := old.Purge(ctx, "", clk.Now().Add(time.Hour)); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.write()
			require.ErrorIs(t, err, ErrNewerSchema)
			require.ErrorContains(t, err, fmt.Sprint("schema version ", SchemaVersion+1))
			require.ErrorContains(t, err, "newer version")
		})
	}
	rows, counts := fileCounts(t, path)
	require.Equal(t, rowsBefore, rows, "the older Inbox wrote to the migrated file")
	require.Equal(t, rows, counts, "counts")
	_, err = newer.Get(ctx, "new")
	require.ErrorIs(t, err, webhook.ErrNotFound)
	got, err := newer.Get(ctx, "leased")
	require.NoError(t, err)
	require.Equal(t, webhook.InboxLeased, got.State, "the older Inbox settled a lease")

	// It still reads.
	got, err = old.Get(ctx, "pending")
	require.NoError(t, err)
	require.Equal(t, webhook.InboxPending, got.State)
	st, err := old.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, st.Pending)

	// The newer one writes on, and takes over the older one's lease once
	// it runs out.
	ok, err := newer.Store(ctx, entry("new"))
	require.NoError(t, err)
	require.True(t, ok)
	clk.Add(time.Minute + time.Millisecond)
	nl, err := newer.Lease(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"leased", "pending", "done", "new"}, keys(nl))
	rows, counts = fileCounts(t, path)
	require.Equal(t, map[string]int{"leased": 4}, rows)
	require.Equal(t, rows, counts, "counts")
}

// TestSchemaMigratedUnderLoad migrates the file while the older Inbox is
// storing: each Store committed before the migration is in the file, each
// after it fails and is not, and none succeeds after one has failed.
func TestSchemaMigratedUnderLoad(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inbox.db")
	old := open(t, path)
	const writers, each = 4, 200
	var wg sync.WaitGroup
	results := make([][]error, writers)
	started := make(chan struct{}, writers)
	for w := range writers {
		results[w] = make([]error, each)
		wg.Go(func() {
			started <- struct{}{}
			for i := range each {
				_, results[w][i] = old.Store(ctx, entry(fmt.Sprintf("w%d-%d", w, i)))
			}
		})
	}
	for range writers {
		<-started
	}
	newer := open(t, path, newerVersion())
	wg.Wait()
	for w := range writers {
		failed := false
		for i, err := range results[w] {
			key := fmt.Sprintf("w%d-%d", w, i)
			_, gerr := newer.Get(ctx, key)
			if err != nil {
				require.ErrorIs(t, err, ErrNewerSchema, key)
				require.ErrorIs(t, gerr, webhook.ErrNotFound, "%s failed but was stored", key)
				failed = true
				continue
			}
			require.False(t, failed, "%s stored after an earlier Store failed", key)
			require.NoError(t, gerr, "%s reported stored but is not in the file", key)
		}
	}
	rows, counts := fileCounts(t, path)
	require.Equal(t, rows, counts, "counts")
}

// TestSchemaNewerAtOpen: a file a newer version made or migrated is
// refused by an Open of this one, read-write or read-only, with
// ErrNewerSchema; an older version's file is migrated, and a Store of the
// newer version finds it as this one left it.
func TestSchemaNewerAtOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inbox.db")
	newer, err := Open(path, newerVersion())
	require.NoError(t, err)
	_, err = newer.Store(ctx, entry("a"))
	require.NoError(t, err)
	for _, opts := range [][]Option{nil, {WithReadOnly()}} {
		_, err := Open(path, opts...)
		require.ErrorIs(t, err, ErrNewerSchema, "with newer open, options %d", len(opts))
	}
	require.NoError(t, newer.Close())
	for _, opts := range [][]Option{nil, {WithReadOnly()}} {
		_, err := Open(path, opts...)
		require.ErrorIs(t, err, ErrNewerSchema, "options %d", len(opts))
		require.ErrorContains(t, err, fmt.Sprint("schema version ", SchemaVersion+1))
	}
	require.Equal(t, SchemaVersion+1, schemaVersion(t, path), "not changed")
}

// newerChildEnv, when set to a file name, makes
// TestSchemaMigratedByAnotherProcess the process of the newer version:
// it opens the file, migrating it, stores "from-newer" and exits.
const newerChildEnv = "SQLITESTORE_NEWER_CHILD"

// TestSchemaMigratedByAnotherProcess: the newer version is another
// process, as in a rolling upgrade, its migration waiting on SQLite's
// file locks for the older Inbox's writes. The older Inbox then writes
// nothing more, and the newer one's delivery is there for it to read.
func TestSchemaMigratedByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	if path := os.Getenv(newerChildEnv); path != "" {
		s, err := Open(path, newerVersion(), WithBusyTimeout(30*time.Second))
		if err == nil {
			_, err = s.Store(ctx, entry("from-newer"))
			err = errors.Join(err, s.Close())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "newer child:", err)
			os.Exit(3)
		}
		return
	}
	path := filepath.Join(t.TempDir(), "inbox.db")
	old := open(t, path, WithBusyTimeout(30*time.Second))
	// The older Inbox writes all the while the other process starts.
	stop := make(chan struct{})
	stored := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				stored <- nil
				return
			default:
			}
			if _, err := old.Store(ctx, entry(fmt.Sprint("from-older-", i))); err != nil {
				stored <- err
				return
			}
		}
	}()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSchemaMigratedByAnotherProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), newerChildEnv+"="+path)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	close(stop)
	require.ErrorIs(t, <-stored, ErrNewerSchema, "the older Inbox's writes once the file was migrated")
	_, err = old.Store(ctx, entry("after"))
	require.ErrorIs(t, err, ErrNewerSchema)
	got, err := old.Get(ctx, "from-newer")
	require.NoError(t, err)
	require.Equal(t, webhook.InboxPending, got.State)
	require.Equal(t, SchemaVersion+1, schemaVersion(t, path))
	rows, counts := fileCounts(t, path)
	require.Equal(t, rows, counts, "counts")
}

func keys(ls []webhook.InboxLease) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Entry.Key
	}
	return out
}
