package inboxtest

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/stretchr/testify/require"
)

// Fuzz is the fuzz target of the exact-bytes promise: whatever a caller
// stores, of any key, source, id, header, body and meta bytes and of any
// times, Get, Lease and, once the delivery is done, Get again give back
// what Store wrote, byte for byte, and a delivery without a key is an
// error. Times are those an int64 of Unix nanoseconds holds (1678 to
// 2262) other than the Unix epoch itself: an inbox may keep them so, and
// 0 for the zero time. Each input gets a new inbox from newInbox. Call it from a fuzz
// target of the implementation's own:
//
//	func FuzzInbox(f *testing.F) { inboxtest.Fuzz(f, newInbox) }
func Fuzz(f *testing.F, newInbox NewInbox) {
	f.Add("standard:msg_1", "standard", "msg_1", "Webhook-Id", "msg_1", "", []byte(`{"type":"jam.created"}`), "traceparent",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", int64(-3_000_000_000), int64(123_456_789))
	f.Add("intercom@acme:notif_\x00\xff", "intercom", "", "User-Agent", "caf\xe9 \\udcff \u2028", "\xed\xb3\xbf",
		[]byte("{\"bin\":\"\x00\xff\xfe\"}\r\n"), "tracestate", "vendor=\xe9", int64(0), int64(-1))
	f.Add("series:", "series", "|pipe|", "x", "", "", []byte{}, "", "", int64(7e18), int64(-9e18))
	f.Add("", "standard", "msg_1", "", "", "", []byte("{}"), "", "", int64(1), int64(1))
	f.Fuzz(func(t *testing.T, key, source, id, hname, hv1, hv2 string, body []byte, mk, mv string, ts, recv int64) {
		at, received := start.Add(time.Duration(ts)), start.Add(time.Duration(recv))
		for _, t := range []time.Time{at, received} {
			if t.Before(time.Unix(0, math.MinInt64)) || t.After(time.Unix(0, math.MaxInt64)) || t.Equal(time.Unix(0, 0)) {
				return
			}
		}
		ctx := context.Background()
		clock := newClock()
		ib := newInbox(t, clock.Now)
		e := &webhook.InboxEntry{
			Key:        key,
			Source:     event.Source(source),
			ID:         id,
			ReceivedAt: received,
			Header:     http.Header{hname: {hv1, hv2}},
			Body:       body,
			Meta:       map[string]string{mk: mv},
		}
		if ts != 0 {
			e.Timestamp = at
		}
		want := copyEntry(e)
		ok, err := ib.Store(ctx, e)
		if key == "" {
			require.Error(t, err, "Store of no key")
			require.False(t, ok)
			return
		}
		require.NoError(t, err, "Store %q", key)
		require.True(t, ok)
		require.Equal(t, want, copyEntry(e), "Store changed the entry given")

		got, err := ib.Get(ctx, key)
		require.NoError(t, err, "Get %q", key)
		requireSameData(t, &want, got)
		ls, err := ib.Lease(ctx, 10, time.Minute)
		require.NoError(t, err, "Lease")
		require.Len(t, ls, 1, "Lease")
		requireSameData(t, &want, ls[0].Entry)
		require.NoError(t, ib.Complete(ctx, key, ls[0].Token), "Complete %q", key)
		got, err = ib.Get(ctx, key)
		require.NoError(t, err, "Get %q once done", key)
		requireSameData(t, &want, got)
	})
}
