package webhook

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLeaseContext: the lazily timed context behaves as
// context.WithDeadline of the request's context would, whichever of its
// methods is used first.
func TestLeaseContext(t *testing.T) {
	const wait = 50 * time.Millisecond
	ended := func(t *testing.T, ctx context.Context, want error) {
		t.Helper()
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("context did not end")
		}
		require.ErrorIs(t, ctx.Err(), want)
	}
	for _, c := range []struct {
		name string
		run  func(t *testing.T, lc *leaseContext, cancelRequest context.CancelFunc)
	}{
		{"Err alone sees the deadline pass", func(t *testing.T, lc *leaseContext, _ context.CancelFunc) {
			require.NoError(t, lc.Err())
			time.Sleep(wait + 10*time.Millisecond)
			require.ErrorIs(t, lc.Err(), context.DeadlineExceeded)
			require.Nil(t, lc.started(), "Err started a timer")
		}},
		{"Done ends at the deadline", func(t *testing.T, lc *leaseContext, _ context.CancelFunc) {
			ended(t, lc, context.DeadlineExceeded)
		}},
		{"Done ends with the request", func(t *testing.T, lc *leaseContext, cancel context.CancelFunc) {
			cancel()
			ended(t, lc, context.Canceled)
		}},
		{"Err sees the request end", func(t *testing.T, lc *leaseContext, cancel context.CancelFunc) {
			cancel()
			require.ErrorIs(t, lc.Err(), context.Canceled)
		}},
		{"a derived context ends at the deadline", func(t *testing.T, lc *leaseContext, _ context.CancelFunc) {
			d, stop := context.WithCancel(lc)
			defer stop()
			ended(t, d, context.DeadlineExceeded)
		}},
		{"values are the request's", func(t *testing.T, lc *leaseContext, _ context.CancelFunc) {
			require.Equal(t, "v", lc.Value(leaseTestKey{}))
			<-lc.Done()
			require.Equal(t, "v", lc.Value(leaseTestKey{}))
		}},
		{"deadline is the lease's", func(t *testing.T, lc *leaseContext, _ context.CancelFunc) {
			d, ok := lc.Deadline()
			require.True(t, ok)
			require.Equal(t, lc.deadline, d)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, cancel := context.WithCancel(context.WithValue(context.Background(), leaseTestKey{}, "v"))
			defer cancel()
			lc := newLeaseContext(req, time.Now().Add(wait))
			defer lc.stop()
			c.run(t, lc, cancel)
		})
	}

	// A request deadline earlier than the lease's is the one reported.
	early := time.Now().Add(time.Millisecond)
	req, cancel := context.WithDeadline(context.Background(), early)
	defer cancel()
	lc := newLeaseContext(req, time.Now().Add(time.Hour))
	defer lc.stop()
	d, _ := lc.Deadline()
	require.Equal(t, early, d)
}

type leaseTestKey struct{}
