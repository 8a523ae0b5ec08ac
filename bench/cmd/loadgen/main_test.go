package main

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMain lets a test run the command: the test binary, started again
// with LOADGEN_MAIN set, is loadgen.
func TestMain(m *testing.M) {
	if os.Getenv("LOADGEN_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// TestInboxDirReused runs loadgen twice on one -inbox-dir. The second
// run must not find the first one's deliveries: it would answer them as
// duplicates without storing or running them, and then count fewer
// callback runs than 200s.
func TestInboxDirReused(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	for run := range 2 {
		cmd := exec.Command(exe, "-clients", "2", "-duration", "50ms", "-rounds", "1", "-max", "300", "-inbox-dir", dir)
		cmd.Env = append(os.Environ(), "LOADGEN_MAIN=1", "WEBHOOK_TEST_REDIS_URL=")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "run %d:\n%s", run+1, out)
		left, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Empty(t, left, "run %d left files in -inbox-dir", run+1)
	}
}
