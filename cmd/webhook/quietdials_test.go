package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"

	"github.com/inhook/webhook/internal/testchild"
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
	stdout, stderr := testchild.Run(t, dialChildEnv)
	require.NotContains(t, stderr, "failed to dial")
	require.NotContains(t, stdout, "failed to dial")
}
