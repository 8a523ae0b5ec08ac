package redisstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/stretchr/testify/require"
)

// holdBatch keeps ib's calls queued, as if a pipeline were on the wire,
// until the returned function sends them, together, and waits for them.
func holdBatch(t *testing.T, ib *Inbox, calls int) (release func()) {
	t.Helper()
	// The flusher of an earlier call closes that call's done before it
	// looks at the queue again and stops: wait for it to stop, then
	// stand in for it.
	require.Eventually(t, func() bool {
		ib.batch.mu.Lock()
		defer ib.batch.mu.Unlock()
		if ib.batch.running {
			return false
		}
		ib.batch.running = true
		return true
	}, 5*time.Second, time.Millisecond, "an earlier flusher never stopped")
	return func() {
		require.Eventually(t, func() bool {
			ib.batch.mu.Lock()
			defer ib.batch.mu.Unlock()
			return len(ib.batch.queue) == calls
		}, 5*time.Second, time.Millisecond, "calls queued")
		ib.batch.flush()
		ib.batch.mu.Lock()
		defer ib.batch.mu.Unlock()
		require.False(t, ib.batch.running, "the flusher stops once nothing waits")
	}
}

// TestBatchShared: calls queued together go out in one pipeline and each
// gets its own reply.
func TestBatchShared(t *testing.T) {
	ctx := context.Background()
	ib, _, _, _ := newTestInbox(t)
	_, err := ib.Store(ctx, entry("standard:dup"))
	require.NoError(t, err)
	release := holdBatch(t, ib, 3)
	var wg sync.WaitGroup
	got := make([]bool, 3)
	for i, k := range []string{"standard:a", "standard:dup", "standard:b"} {
		wg.Go(func() {
			stored, err := ib.Store(ctx, entry(k))
			require.NoError(t, err)
			got[i] = stored
		})
	}
	release()
	wg.Wait()
	require.Equal(t, []bool{true, false, true}, got)
}

// TestBatchNoScript: after Redis lost its scripts (a restart, SCRIPT
// FLUSH), a pipeline's calls refused for want of their script run again
// once it is loaded, and only those: the others ran already.
func TestBatchNoScript(t *testing.T) {
	ctx := context.Background()
	ib, _, client, _ := newTestInbox(t)
	_, err := ib.Store(ctx, entry("standard:a"))
	require.NoError(t, err)
	ls, err := ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 1)

	require.NoError(t, client.ScriptFlush(ctx).Err())
	require.NoError(t, ib.store.Load(ctx, client).Err()) // Store's script is there, settling's is not
	release := holdBatch(t, ib, 2)
	var wg sync.WaitGroup
	var stored bool
	var storeErr, completeErr error
	wg.Go(func() { stored, storeErr = ib.Store(ctx, entry("standard:b")) })
	wg.Go(func() { completeErr = ib.Complete(ctx, "standard:a", ls[0].Token) })
	release()
	wg.Wait()
	require.NoError(t, storeErr)
	require.True(t, stored, "Store ran twice")
	require.NoError(t, completeErr)
	a, err := ib.Get(ctx, "standard:a")
	require.NoError(t, err)
	require.Equal(t, webhook.InboxDone, a.State)
}

// TestBatchCallerGivesUp: a caller whose context ends while its call
// waits gets the context's error; the call still runs, as a request
// already on the wire would.
func TestBatchCallerGivesUp(t *testing.T) {
	ib, _, _, _ := newTestInbox(t)
	release := holdBatch(t, ib, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := ib.Store(ctx, entry("standard:a"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	release()
	stored, err := ib.Store(context.Background(), entry("standard:a"))
	require.NoError(t, err)
	require.False(t, stored, "the abandoned Store ran")
}
