package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// dialChildEnv makes the test binary, started again by
// TestFailedDialsQuiet, the child that runs a command against a closed
// port.
const dialChildEnv = "WEBHOOK_TEST_DIAL_CHILD"

// TestFailedDialsQuiet: a command run in the tests against a Redis that
// is down prints no go-redis line on the tests' standard error, as main
// prints none for users. go-redis logs every failed dial there, through
// its one logger for the whole process (it has none per client), which
// main sets but the tests, calling run, did not. The command still says
// what failed on its own stderr, and exits 1. The test binary is started
// again as the child that runs it, since the logger writes to the
// process's standard error, which a test cannot capture in its own
// process.
func TestFailedDialsQuiet(t *testing.T) {
	if os.Getenv(dialChildEnv) != "" {
		var stderr bytes.Buffer
		code := run(context.Background(), []string{"inbox", "stats", "--redis", "redis://" + closedAddr(t)}, nil, io.Discard, &stderr)
		require.Equal(t, exitFail, code)
		require.Contains(t, stderr.String(), "connection refused", "the command says why it failed")
		return
	}
	child := exec.Command(os.Args[0], "-test.run=^TestFailedDialsQuiet$", "-test.count=1", "-test.v")
	child.Env = append(os.Environ(), dialChildEnv+"=1")
	var stdout, stderr bytes.Buffer
	child.Stdout, child.Stderr = &stdout, &stderr
	require.NoError(t, child.Run(), "the child failed:\n%s%s", stdout.String(), stderr.String())
	require.Contains(t, stdout.String(), "--- PASS: TestFailedDialsQuiet", "the child ran the command")
	require.NotContains(t, stderr.String(), "failed to dial")
	require.NotContains(t, stdout.String(), "failed to dial")
}
