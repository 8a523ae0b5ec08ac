package redisstore

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// dialChildEnv makes the test binary, started again by
// TestFailedDialsQuiet, the child that dials a closed port.
const dialChildEnv = "WEBHOOK_TEST_DIAL_CHILD"

// TestFailedDialsQuiet: a command against a Redis that is down prints no
// go-redis line on the tests' standard error. go-redis logs every failed
// dial there, through its one logger for the whole process (it has none
// per client), and the outage tests fail dials by the hundred on purpose,
// burying a failing test's output under them. The command still returns
// the dial's error, so a test that did not expect one fails as before;
// go-redis's other lines still print. The test binary is started again
// as the child that dials, since the logger writes to the process's
// standard error, which a test cannot capture in its own process.
func TestFailedDialsQuiet(t *testing.T) {
	if os.Getenv(dialChildEnv) != "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.ErrorContains(t, client.Ping(ctx).Err(), "connection refused", "the command returns the dial's error")
		return
	}
	child := exec.Command(os.Args[0], "-test.run=^TestFailedDialsQuiet$", "-test.count=1", "-test.v")
	child.Env = append(os.Environ(), dialChildEnv+"=1")
	var stdout, stderr bytes.Buffer
	child.Stdout, child.Stderr = &stdout, &stderr
	require.NoError(t, child.Run(), "the child failed:\n%s%s", stdout.String(), stderr.String())
	require.Contains(t, stdout.String(), "--- PASS: TestFailedDialsQuiet", "the child dialled")
	require.NotContains(t, stderr.String(), "failed to dial")
	require.NotContains(t, stdout.String(), "failed to dial")
}
