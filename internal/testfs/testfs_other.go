//go:build !unix

package testfs

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// AsNobody reports false: only Unix has a root whom file modes do not
// stop.
func AsNobody(t *testing.T) bool { return false }

// Unwritable makes the file or directory at path read-only, until the
// test ends.
func Unwritable(t *testing.T, path string) {
	t.Helper()
	require.NoError(t, os.Chmod(path, 0o444))
	t.Cleanup(func() { _ = os.Chmod(path, 0o700) })
}

// Unprivileged reports false: only Unix has a root whom file modes do
// not stop.
func Unprivileged(t *testing.T) bool { return false }
