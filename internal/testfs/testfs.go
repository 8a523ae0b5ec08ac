//go:build unix

// Package testfs gives tests of the module's packages files they cannot
// write, whoever runs them: an inbox file SQLite would open read-only, a
// directory it cannot create files in. It is for tests only.
package testfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/inhook/webhook/internal/testchild"
	"github.com/stretchr/testify/require"
)

// nobody is the uid and gid of the unprivileged user asNobody runs a
// test as; envNobody, set for that run, has the test binary drop to it.
const (
	nobody    = 65534
	envNobody = "WEBHOOK_TEST_AS_NOBODY"
)

// AsNobody runs the test again, in a child of the test binary, as the
// user nobody when this process is root and cannot make a file immutable
// (no CAP_LINUX_IMMUTABLE, as in a container, or a file system without
// the attribute): Unwritable has no other way to stop root. It reports
// whether it did; the caller then returns, the child's run being the
// test. In the child it drops to nobody before the test makes anything,
// so its files are nobody's and file modes hold. It needs CAP_SETUID and
// CAP_SETGID, which a container keeps by default.
func AsNobody(t *testing.T) bool {
	t.Helper()
	if os.Getenv(envNobody) == "" && (os.Geteuid() != 0 || canChattr(t)) {
		return false
	}
	return Unprivileged(t)
}

// Unprivileged has the test run as a user whom file modes bind, for a
// test of what a user meets who may not read a file or write in a
// directory, which no immutable attribute stands in for: as itself when
// this process is not root, else as AsNobody runs it, whether or not
// root could make files immutable. It reports whether the test ran in a
// child; the caller then returns.
func Unprivileged(t *testing.T) bool {
	t.Helper()
	if os.Getenv(envNobody) != "" {
		require.NoError(t, syscall.Setgroups(nil))
		require.NoError(t, syscall.Setgid(nobody))
		require.NoError(t, syscall.Setuid(nobody))
		return false
	}
	if os.Geteuid() != 0 {
		return false
	}
	testchild.Run(t, envNobody)
	t.Logf("ran as uid %d in a child", nobody)
	return true
}

// canChattr reports whether chattr +i works here, on a file of its own.
func canChattr(t *testing.T) bool {
	t.Helper()
	probe := filepath.Join(t.TempDir(), "probe")
	require.NoError(t, os.WriteFile(probe, nil, 0o600))
	if exec.Command("chattr", "+i", probe).Run() != nil {
		return false
	}
	require.NoError(t, exec.Command("chattr", "-i", probe).Run())
	return true
}

// Unwritable makes the file or directory at path one this process cannot
// write: mode 0444 (0555 for a directory), or for root, whom modes do not
// stop, the immutable attribute (chattr +i), taken off when the test ends.
// A test that calls it as root starts with AsNobody.
func Unwritable(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		mode := os.FileMode(0o444)
		if fi.IsDir() {
			mode = 0o555
		}
		require.NoError(t, os.Chmod(path, mode))
		t.Cleanup(func() { _ = os.Chmod(path, 0o700) })
		return
	}
	out, err := exec.Command("chattr", "+i", path).CombinedOutput()
	require.NoError(t, err, "chattr +i %s: %s", path, out)
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", path).Run() })
}
