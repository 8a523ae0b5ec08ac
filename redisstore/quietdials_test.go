package redisstore

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/inhook/webhook/internal/testchild"
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
	stdout, stderr := testchild.Run(t, dialChildEnv)
	require.NotContains(t, stderr, "failed to dial")
	require.NotContains(t, stdout, "failed to dial")
}
