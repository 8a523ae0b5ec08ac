package sqlitestore

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// unwritable makes the file at path one this process cannot write: mode
// 0444, or for root, whom modes do not stop, the immutable attribute
// (chattr +i), taken off when the test ends.
func unwritable(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		require.NoError(t, os.Chmod(path, 0o444))
		return
	}
	out, err := exec.Command("chattr", "+i", path).CombinedOutput()
	require.NoError(t, err, "chattr +i %s: %s", path, out)
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", path).Run() })
}

// TestOpenUnwritableFile: Open refuses an inbox file it cannot write.
// SQLite opens such a file read-only without a word, and the Store
// failed every write after: a receiver on it started, and answered 503
// to every delivery. WithReadOnly still reads it.
func TestOpenUnwritableFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inbox.db")
	s := open(t, path)
	_, err := s.Store(context.Background(), entry("a"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	unwritable(t, path)

	_, err = Open(path)
	require.Error(t, err)
	require.Contains(t, err.Error(), "sqlitestore: Open "+path+": the file is not writable")

	ro := open(t, path, WithReadOnly())
	_, err = ro.Get(context.Background(), "a")
	require.NoError(t, err)
}
