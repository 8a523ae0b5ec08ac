package load

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/stretchr/testify/require"
)

// flushRun stores n deliveries through the flush target's handler, from
// n goroutines at once so that the loop groups them, then one of them
// again, and returns the target, its inbox and the log's record offsets
// (read by walking the length fields, not by the code under test). The
// inbox grows its file by chunk at a time.
func flushRun(t *testing.T, n int, chunk int64) (Target, *flushInbox, []int) {
	t.Helper()
	ib, err := openFlushInbox(t.TempDir(), chunk)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ib.close()) })
	tg, err := flushTarget(ib)
	require.NoError(t, err)
	pool, err := sign("msg_flush_", JamCreated, n)
	require.NoError(t, err)
	send := func(i int) int {
		r := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(JamCreated))
		r.Header = pool.header(i)
		w := httptest.NewRecorder()
		tg.Handler.ServeHTTP(w, r)
		return w.Code
	}
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { codes[i] = send(i) })
	}
	wg.Wait()
	for i, c := range codes {
		require.Equal(t, http.StatusOK, c, "delivery %d", i)
	}
	require.Equal(t, http.StatusOK, send(0), "a duplicate is acknowledged")

	data, err := os.ReadFile(ib.path)
	require.NoError(t, err)
	var offsets []int
	for off := 0; off+flushHeaderLen <= len(data); {
		l := int(binary.LittleEndian.Uint32(data[off:]))
		if l == 0 {
			break
		}
		offsets = append(offsets, off)
		off += flushHeaderLen + l
	}
	require.Len(t, offsets, n, "one record a delivery, none for the duplicate")
	return tg, ib, offsets
}

// TestFlushSettle checks that the flush target's Settle reads its log
// back: it passes on the log a run wrote, with Calls set to its records,
// and fails when a record is missing, cut short, corrupted, repeated or
// of a key never acknowledged.
func TestFlushSettle(t *testing.T) {
	const n = 24
	// An edit of the log file, given the record offsets.
	type damage func(t *testing.T, f *os.File, offsets []int)
	// flip changes a byte delta bytes into the record in the middle, or
	// before its end if delta is negative.
	flip := func(delta int) damage {
		return func(t *testing.T, f *os.File, offsets []int) {
			at := int64(offsets[n/2] + delta)
			if delta < 0 {
				at = int64(offsets[n/2+1] + delta)
			}
			b := make([]byte, 1)
			_, err := f.ReadAt(b, at)
			require.NoError(t, err)
			b[0] ^= 0x20
			_, err = f.WriteAt(b, at)
			require.NoError(t, err)
		}
	}
	end := func(t *testing.T, f *os.File, offsets []int) int64 {
		data, err := os.ReadFile(f.Name())
		require.NoError(t, err)
		last := offsets[len(offsets)-1]
		return int64(last + flushHeaderLen + int(binary.LittleEndian.Uint32(data[last:])))
	}
	cases := []struct {
		name   string
		damage damage
		want   string // in Settle's error; empty for none
	}{
		{name: "intact"},
		{name: "a body byte flipped", damage: flip(-40), want: "checksum mismatch"},
		{name: "a key byte flipped", damage: flip(flushHeaderLen + 3), want: "checksum mismatch"},
		{name: "a checksum byte flipped", damage: flip(5), want: "checksum mismatch"},
		{name: "a length changed", damage: flip(1), want: "record at offset"},
		{
			name: "the file cut inside the last record",
			damage: func(t *testing.T, f *os.File, offsets []int) {
				require.NoError(t, f.Truncate(end(t, f, offsets)-10))
			},
			want: "left in the file",
		},
		{
			name: "the file cut before the last record",
			damage: func(t *testing.T, f *os.File, offsets []int) {
				require.NoError(t, f.Truncate(int64(offsets[n-1])))
			},
			want: "23 intact records for 24 acknowledged deliveries",
		},
		{
			name: "a record in the middle zeroed",
			damage: func(t *testing.T, f *os.File, offsets []int) {
				_, err := f.WriteAt(make([]byte, offsets[n/2+1]-offsets[n/2]), int64(offsets[n/2]))
				require.NoError(t, err)
			},
			want: "12 intact records for 24 acknowledged deliveries",
		},
		{
			name: "a record repeated after the last",
			damage: func(t *testing.T, f *os.File, offsets []int) {
				rec := make([]byte, offsets[1]-offsets[0])
				_, err := f.ReadAt(rec, int64(offsets[0]))
				require.NoError(t, err)
				_, err = f.WriteAt(rec, end(t, f, offsets))
				require.NoError(t, err)
			},
			want: "repeats",
		},
		{
			name: "a record of a key never acknowledged after the last",
			damage: func(t *testing.T, f *os.File, offsets []int) {
				rec := appendFlushRecord(nil, &webhook.InboxEntry{Key: "standard:msg_never", Body: JamCreated, ReceivedAt: time.Now()})
				_, err := f.WriteAt(rec, end(t, f, offsets))
				require.NoError(t, err)
			},
			want: "never acknowledged",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A chunk smaller than a record: the log grows on every write.
			tg, ib, offsets := flushRun(t, n, 1000)
			require.NoError(t, tg.Settle(context.Background()), "before the damage")
			require.Equal(t, int64(n), tg.Calls.Load())
			if tc.damage == nil {
				return
			}
			f, err := os.OpenFile(ib.path, os.O_RDWR, 0)
			require.NoError(t, err)
			tc.damage(t, f, offsets)
			require.NoError(t, f.Close())
			err = tg.Settle(context.Background())
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestFlushStore checks the flush inbox's Store apart from the handler:
// a record only once a key is new, refusals of entries it cannot store,
// and none after close, which removes the file.
func TestFlushStore(t *testing.T) {
	ctx := context.Background()
	ib, err := openFlushInbox(t.TempDir(), 1<<16)
	require.NoError(t, err)
	e := &webhook.InboxEntry{Key: "standard:msg_1", Body: []byte(`{}`), Header: http.Header{"Content-Type": {"application/json"}}}
	stored, err := ib.Store(ctx, e)
	require.NoError(t, err)
	require.True(t, stored)
	require.True(t, e.ReceivedAt.IsZero(), "Store does not change *e")
	stored, err = ib.Store(ctx, e)
	require.NoError(t, err)
	require.False(t, stored, "a duplicate")
	n, err := ib.verify()
	require.NoError(t, err)
	require.Equal(t, 1, n)

	for _, bad := range []*webhook.InboxEntry{nil, {Body: []byte(`{}`)}} {
		_, err := ib.Store(ctx, bad)
		require.ErrorContains(t, err, "needs a key")
	}

	require.NoError(t, ib.close())
	_, err = os.Stat(ib.path)
	require.ErrorIs(t, err, os.ErrNotExist, "close removes the log")
	_, err = ib.Store(ctx, &webhook.InboxEntry{Key: "standard:msg_2"})
	require.ErrorIs(t, err, errFlushClosed)
	require.NoError(t, ib.close(), "a second close")
}

// TestFlushUnsupported checks that the Inbox methods the flush target has
// no use for say so, for errors.Is.
func TestFlushUnsupported(t *testing.T) {
	ctx := context.Background()
	ib, err := openFlushInbox(t.TempDir(), 1<<16)
	require.NoError(t, err)
	defer func() { require.NoError(t, ib.close()) }()
	calls := map[string]func() error{
		"Lease":    func() error { _, err := ib.Lease(ctx, 1, time.Second); return err },
		"Complete": func() error { return ib.Complete(ctx, "k", "t") },
		"Retry":    func() error { return ib.Retry(ctx, "k", "t", time.Now(), "e") },
		"Kill":     func() error { return ib.Kill(ctx, "k", "t", "e") },
		"Get":      func() error { _, err := ib.Get(ctx, "k"); return err },
		"List":     func() error { _, err := ib.List(ctx, webhook.InboxQuery{}); return err },
		"Replay":   func() error { return ib.Replay(ctx, "k") },
		"Purge":    func() error { _, err := ib.Purge(ctx, webhook.InboxDone, time.Now()); return err },
		"Stats":    func() error { _, err := ib.Stats(ctx); return err },
	}
	for name, call := range calls {
		err := call()
		require.ErrorIs(t, err, errors.ErrUnsupported, name)
		require.ErrorContains(t, err, name+" is not supported by the flush target")
	}
}

// TestFlushStoreFails checks that a log whose write fails acknowledges
// nothing: the Store fails and so does every later one, whose key is
// not taken for a duplicate, and the handler answers 503.
func TestFlushStoreFails(t *testing.T) {
	ctx := context.Background()
	ib, err := openFlushInbox(t.TempDir(), 1<<16)
	require.NoError(t, err)
	tg, err := flushTarget(ib)
	require.NoError(t, err)
	// The disk gone from under the log: every write fails.
	require.NoError(t, ib.f.Close())
	for range 2 {
		stored, err := ib.Store(ctx, &webhook.InboxEntry{Key: "standard:msg_1", Body: []byte(`{}`)})
		require.ErrorIs(t, err, os.ErrClosed)
		require.False(t, stored)
	}
	pool, err := sign("msg_flushfail_", JamCreated, 1)
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(JamCreated))
	r.Header = pool.header(0)
	w := httptest.NewRecorder()
	tg.Handler.ServeHTTP(w, r)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.NotEmpty(t, w.Header().Get("Retry-After"))
	require.ErrorIs(t, ib.close(), os.ErrClosed, "the file was closed already")
	_, err = os.Stat(ib.path)
	require.ErrorIs(t, err, os.ErrNotExist, "close removes the log all the same")
}
