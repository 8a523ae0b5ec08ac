package sqlitestore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/inhook/webhook/internal/testfs"
	"github.com/stretchr/testify/require"
)

// TestOpenUnwritableFile: Open refuses an inbox file it cannot write.
// SQLite opens such a file read-only without a word, and the Inbox
// failed every write after: a receiver on it started, and answered 503
// to every delivery. WithReadOnly still reads it.
func TestOpenUnwritableFile(t *testing.T) {
	if testfs.AsNobody(t) {
		return
	}
	path := filepath.Join(t.TempDir(), "inbox.db")
	s := open(t, path)
	_, err := s.Store(context.Background(), entry("a"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	testfs.Unwritable(t, path)

	_, err = Open(path)
	require.Error(t, err)
	require.Contains(t, err.Error(), "sqlitestore: Open "+path+": the file is not writable")

	ro := open(t, path, WithReadOnly())
	_, err = ro.Get(context.Background(), "a")
	require.NoError(t, err)
}

// TestOpenMissingDirectory: Open of a file in a directory that does not
// exist says so; SQLite's own error says only "unable to open database
// file", and a new deployment whose /var/lib/myapp was never made met it.
func TestOpenMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "myapp")
	path := filepath.Join(dir, "inbox.db")
	_, err := Open(path)
	require.Error(t, err)
	require.Contains(t, err.Error(), "sqlitestore: Open "+path+": the directory "+dir+" does not exist (Open creates the file, not its directory)")

	_, err = Open(path, WithCreate(false))
	require.ErrorIs(t, err, ErrNoInbox)
}
