package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/stretchr/testify/require"
)

// fileState is the bytes of an inbox file and of its log, nil for a
// missing one.
type fileState struct{ db, wal []byte }

func readFileState(t *testing.T, path string) fileState {
	t.Helper()
	var st fileState
	for _, f := range []struct {
		suffix string
		into   *[]byte
	}{{"", &st.db}, {"-wal", &st.wal}} {
		b, err := os.ReadFile(path + f.suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		*f.into = b
	}
	return st
}

// copyFiles copies the inbox file at from and its log to to, as they
// are on disk: with from open and idle, the image a crash would leave.
func copyFiles(t *testing.T, from, to string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(from + suffix)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(to+suffix, b, 0o600))
	}
}

// schemaVersion reads the file's schema version on a connection of its
// own, read only.
func schemaVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	var v int
	require.NoError(t, db.QueryRow(`SELECT version FROM schema_version`).Scan(&v))
	return v
}

// TestReadOnlyRefusesWrites checks that a read-only Inbox reads and
// answers every write of webhook.Inbox with ErrReadOnly, whatever its
// arguments, runs no writer, and leaves the file as it was.
func TestReadOnlyRefusesWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inbox.db")
	rw, err := Open(path)
	require.NoError(t, err)
	for _, k := range []string{"a", "b"} {
		_, err := rw.Store(ctx, entry(k))
		require.NoError(t, err)
	}
	ls, err := rw.Lease(ctx, 1, time.Hour)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	require.NoError(t, rw.Close())
	before := readFileState(t, path)

	s := open(t, path, WithReadOnly())
	require.Nil(t, s.wdb, "no writer's connection")
	require.Nil(t, s.ops, "no writer")
	require.Nil(t, s.wal, "no log to sync")

	token := ls[0].Token
	for _, tt := range []struct {
		name  string
		write func() error
	}{
		{"Store", func() error { _, err := s.Store(ctx, entry("c")); return err }},
		{"Store a duplicate", func() error { _, err := s.Store(ctx, entry("a")); return err }},
		{"Store nil", func() error { _, err := s.Store(ctx, nil); return err }},
		{"Lease", func() error { _, err := s.Lease(ctx, 10, time.Minute); return err }},
		{"Lease none", func() error { _, err := s.Lease(ctx, 0, time.Minute); return err }},
		{"Complete", func() error { return s.Complete(ctx, ls[0].Entry.Key, token) }},
		{"Retry", func() error { return s.Retry(ctx, ls[0].Entry.Key, token, time.Now(), "x") }},
		{"Kill", func() error { return s.Kill(ctx, ls[0].Entry.Key, token, "x") }},
		{"Replay", func() error { return s.Replay(ctx, "b") }},
		{"Purge", func() error { _, err := s.Purge(ctx, "", time.Now().Add(time.Hour)); return err }},
		{"Purge pending", func() error { _, err := s.Purge(ctx, webhook.InboxPending, time.Now()); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.write(), ErrReadOnly)
		})
	}

	// The guarantee is SQLite's: a write on the store's connection fails,
	// with query_only turned off too (mode=ro).
	conn, err := s.db.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, `DELETE FROM inbox`)
	require.ErrorContains(t, err, "readonly")
	_, err = conn.ExecContext(ctx, `PRAGMA query_only = 0`)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, `DELETE FROM inbox`)
	require.ErrorContains(t, err, "readonly")
	require.NoError(t, conn.Close())

	st, err := s.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, st.Pending)
	require.Equal(t, 1, st.InFlight)
	allPage, err := s.List(ctx, webhook.InboxQuery{})
	require.NoError(t, err)
	all := allPage.Entries
	require.Len(t, all, 2)
	e, err := s.Get(ctx, ls[0].Entry.Key)
	require.NoError(t, err)
	require.Equal(t, webhook.InboxLeased, e.State, "the lease is still held")
	require.NoError(t, s.Close())
	_, err = s.Get(ctx, "a")
	require.ErrorIs(t, err, ErrClosed)
	require.Equal(t, before.db, readFileState(t, path).db, "the file is unchanged")
}

// TestReadOnlyLeavesFile opens files no process has open read-only: one
// closed cleanly, whose log SQLite removed, and one a receiver crashed
// on, with committed deliveries in its log only. Each must be read whole
// and left byte for byte as it was, the log too: a read-write Open would
// have copied the log into the file and removed it on Close.
func TestReadOnlyLeavesFile(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		crash bool
	}{
		{"closed cleanly", false},
		{"crashed, deliveries in the log", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			live := filepath.Join(dir, "live.db")
			rw, err := Open(live)
			require.NoError(t, err)
			for i := range 20 {
				_, err := rw.Store(ctx, entry(fmt.Sprint("k", i)))
				require.NoError(t, err)
			}
			path := live
			if tt.crash {
				path = filepath.Join(dir, "crashed.db")
				copyFiles(t, live, path)
			}
			require.NoError(t, rw.Close())
			before := readFileState(t, path)
			require.Equal(t, tt.crash, len(before.wal) > 0, "the log holds frames only after a crash")

			s, err := Open(path, WithReadOnly())
			require.NoError(t, err)
			st, err := s.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, 20, st.Pending, "the deliveries in the log are read")
			allPage, err := s.List(ctx, webhook.InboxQuery{Limit: 100})
			require.NoError(t, err)
			all := allPage.Entries
			require.Len(t, all, 20)
			_, err = s.Store(ctx, entry("new"))
			require.ErrorIs(t, err, ErrReadOnly)
			require.NoError(t, s.Close())

			after := readFileState(t, path)
			require.Equal(t, before.db, after.db, "the file is unchanged")
			if tt.crash {
				require.Equal(t, before.wal, after.wal, "the log is unchanged, not checkpointed nor removed")
			} else {
				// As any reader of a WAL file SQLite opens the log and
				// the shared memory, creating them if missing, and a
				// read-only connection may not remove them.
				require.NotNil(t, after.wal, "a log")
				require.Empty(t, after.wal, "an empty log")
			}
			require.Equal(t, SchemaVersion, schemaVersion(t, path))

			// The next read-write Open takes the file over, log and
			// shared memory included, and removes them on Close.
			rw = open(t, path)
			st, err = rw.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, 20, st.Pending)
			require.NoError(t, rw.Close())
			m, err := filepath.Glob(path + "-*")
			require.NoError(t, err)
			require.Empty(t, m, "no log or shared memory left")
		})
	}
}

// TestReadOnlyFileNames opens read-only files whose names mean something
// in a URI ('#', '%', ' '), a relative name and a symbolic link: each must
// name the file itself.
func TestReadOnlyFileNames(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tt := range []struct{ name, open string }{
		{"hash", filepath.Join(dir, "in #1.db")},
		{"percent", filepath.Join(dir, "100%41.db")},
		{"space", filepath.Join(dir, "an inbox.db")},
		{"relative", "relative.db"},
		{"relative in a directory", filepath.Join("sub", "inbox.db")},
		{"symbolic link", filepath.Join(dir, "link.db")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.open
			if tt.name == "symbolic link" {
				path = filepath.Join(dir, "target.db")
				require.NoError(t, os.Symlink(path, tt.open))
			}
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
			rw, err := Open(path)
			require.NoError(t, err)
			_, err = rw.Store(ctx, entry(tt.name))
			require.NoError(t, err)
			require.NoError(t, rw.Close())

			s := open(t, tt.open, WithReadOnly())
			_, err = s.Get(ctx, tt.name)
			require.NoError(t, err)
		})
	}
	m, err := filepath.Glob(filepath.Join(dir, "100A.db*"))
	require.NoError(t, err)
	require.Empty(t, m, "%41 is not taken for an escape")
}

// TestReadOnlySchemaVersion checks that a read-only Open refuses a file
// of another schema version with an error that says what to do, and
// leaves it unmigrated; and that it never makes a file an inbox.
func TestReadOnlySchemaVersion(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		version int
		want    []string // in the error
	}{
		{"older", 1, []string{"schema version 1", "older", "open it read-write once"}},
		{"newer", SchemaVersion + 1, []string{fmt.Sprint("schema version ", SchemaVersion+1), "newer", "newer version"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "inbox.db")
			s, err := Open(path)
			require.NoError(t, err)
			_, err = s.Store(ctx, entry("a"))
			require.NoError(t, err)
			_, err = s.conn.ExecContext(ctx, `UPDATE schema_version SET version = ?`, tt.version)
			require.NoError(t, err)
			require.NoError(t, s.Close())
			before := readFileState(t, path)

			_, err = Open(path, WithReadOnly())
			require.Error(t, err)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			require.Equal(t, before.db, readFileState(t, path).db, "the file is unchanged")
			require.Equal(t, tt.version, schemaVersion(t, path), "not migrated")
		})
	}

	dir := t.TempDir()
	empty, other, otherBytes := notInboxes(t, dir)
	for _, tt := range []struct {
		name, path string
		bytes      []byte // the file's after the refused Open; nil: missing
	}{
		{"missing", filepath.Join(dir, "typo.db"), nil},
		{"empty", empty, []byte{}},
		{"another database", other, otherBytes},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.path, WithReadOnly())
			require.ErrorIs(t, err, ErrNoInbox)
			b, err := os.ReadFile(tt.path)
			if tt.bytes == nil {
				require.ErrorIs(t, err, os.ErrNotExist)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.bytes, b)
			m, _ := filepath.Glob(tt.path + "-*")
			require.Empty(t, m, "no log or shared memory file left")
		})
	}
}

// roWriterEnv, when set to a file name, makes TestReadOnlyBesideWriter
// the writer process: it runs roWriter on that file.
const roWriterEnv = "SQLITESTORE_RO_WRITER"

// roWrites is the number of deliveries roWriter stores.
const roWrites = 600

// TestReadOnlyBesideWriter reads an inbox read-only while a read-write
// Store, in this process or in another as a receiver would be, stores,
// leases and completes deliveries in it: the reader sees the writer's
// commits as they come, and the writer is never held up (every write
// succeeds) by the reader.
func TestReadOnlyBesideWriter(t *testing.T) {
	if file := os.Getenv(roWriterEnv); file != "" {
		if err := roWriter(file, roWrites); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(3)
		}
		return
	}
	const n = roWrites
	for _, tt := range []struct {
		name  string
		child bool
	}{
		{"same process", false},
		{"another process", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.child && testing.Short() {
				t.Skip("runs a writer process")
			}
			ctx := context.Background()
			dir := t.TempDir()
			path := filepath.Join(dir, "inbox.db")
			rw, err := Open(path)
			require.NoError(t, err)
			require.NoError(t, rw.Close())

			done := make(chan error, 1)
			if tt.child {
				cmd := exec.Command(os.Args[0], "-test.run=^TestReadOnlyBesideWriter$", "-test.count=1")
				cmd.Env = append(os.Environ(), roWriterEnv+"="+path)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				require.NoError(t, cmd.Start())
				go func() {
					err := cmd.Wait()
					if err != nil {
						err = fmt.Errorf("%w: %s", err, stderr.Bytes())
					}
					done <- err
				}()
			} else {
				go func() { done <- roWriter(path, n) }()
			}

			// Half way, the writer waits for a read: the reader must see
			// exactly its first n/2 commits, the writer still running.
			require.Eventually(t, func() bool {
				_, err := os.Stat(filepath.Join(dir, "half"))
				return err == nil
			}, 60*time.Second, time.Millisecond)
			s := open(t, path, WithReadOnly())
			st, err := s.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, n/2, st.Pending+st.Retrying+st.InFlight+st.Done+st.Dead, "%+v", st)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "seen"), nil, 0o600))

			reads, last := 0, n/2
			for running := true; running; {
				select {
				case err := <-done:
					require.NoError(t, err, "the writer failed beside the reader")
					running = false
				default:
				}
				st, err := s.Stats(ctx)
				require.NoError(t, err)
				total := st.Pending + st.Retrying + st.InFlight + st.Done + st.Dead
				require.GreaterOrEqual(t, total, last, "a read went back in time")
				require.LessOrEqual(t, total, n)
				last = total
				_, err = s.List(ctx, webhook.InboxQuery{State: webhook.InboxDone, Limit: 20})
				require.NoError(t, err)
				_, err = s.Get(ctx, "k0")
				require.NoError(t, err)
				reads++
			}
			st, err = s.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, webhook.InboxStats{Pending: n / 2, Done: n / 2, OldestPending: st.OldestPending}, st,
				"the writer's last commits, read by the store opened before them")
			t.Logf("%d reads beside the writer", reads)
		})
	}
}

// roWriter stores n deliveries in path, half of them completed, as a
// receiver and its workers would: n/2 first, then, once a reader has
// written "seen" beside the file, the rest.
func roWriter(path string, n int) error {
	ctx := context.Background()
	s, err := Open(path, WithBusyTimeout(30*time.Second))
	if err != nil {
		return err
	}
	defer s.Close()
	dir := filepath.Dir(path)
	for i := range n {
		if i == n/2 {
			if err := os.WriteFile(filepath.Join(dir, "half"), nil, 0o600); err != nil {
				return err
			}
			for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Millisecond) {
				if _, err := os.Stat(filepath.Join(dir, "seen")); err == nil {
					break
				}
				if time.Now().After(deadline) {
					return errors.New("no reader after 60s")
				}
			}
		}
		if _, err := s.Store(ctx, entry(fmt.Sprint("k", i))); err != nil {
			return err
		}
		if i%2 == 1 {
			ls, err := s.Lease(ctx, 1, time.Hour)
			if err != nil {
				return err
			}
			if len(ls) != 1 {
				return fmt.Errorf("leased %d, want 1", len(ls))
			}
			if err := s.Complete(ctx, ls[0].Entry.Key, ls[0].Token); err != nil {
				return err
			}
		}
	}
	return s.Close()
}
