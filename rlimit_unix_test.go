//go:build unix

package webhook_test

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// raiseOpenFiles raises the soft limit on open files to at least n, up to
// the hard limit, and restores it when the test ends. It fails the test if
// the hard limit is below n.
func raiseOpenFiles(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Cur >= n {
		return
	}
	require.GreaterOrEqual(t, lim.Max, n, "hard limit on open files")
	old := lim
	lim.Cur = n
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}
