package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// newTestInbox returns an Inbox under a fresh prefix on the test Redis,
// on a fake clock, and the clock.
func newTestInbox(t *testing.T, opts ...InboxOption) (*Inbox, *webhooktest.Clock, *redis.Client, string) {
	t.Helper()
	client := newClient(t)
	prefix := testPrefix(t, client)
	clock := webhooktest.NewClock(webhooktest.Time())
	ib, err := NewInbox(client, append([]InboxOption{WithInboxPrefix(prefix), WithInboxClock(clock.Now)}, opts...)...)
	require.NoError(t, err)
	return ib, clock, client, prefix
}

func entry(key string) *webhook.InboxEntry {
	return &webhook.InboxEntry{
		Key:        key,
		Source:     event.SourceStandard,
		ID:         strings.TrimPrefix(key, "standard:"),
		Timestamp:  webhooktest.Time().Add(-time.Second),
		ReceivedAt: webhooktest.Time(),
		Header:     http.Header{"Webhook-Id": {key}},
		Body:       []byte(`{"type":"jam.created","key":"` + key + `"}`),
		Meta:       map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
	}
}

// inUTC returns e with its times in UTC, as the Inbox hands them out.
func inUTC(e webhook.InboxEntry) webhook.InboxEntry {
	for _, t := range []*time.Time{&e.Timestamp, &e.ReceivedAt, &e.NextAttempt, &e.LeaseUntil, &e.UpdatedAt} {
		if !t.IsZero() {
			*t = t.UTC()
		}
	}
	return e
}

func TestNewInboxOptions(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	for _, tc := range []struct {
		name    string
		opts    []InboxOption
		wantErr string
	}{
		{"defaults", nil, ""},
		{"prefix and name", []InboxOption{WithInboxPrefix("app:"), WithInboxName("orders")}, ""},
		{"empty name", []InboxOption{WithInboxName("")}, "empty name"},
		{"brace in prefix", []InboxOption{WithInboxPrefix("app:{x}:")}, "braces"},
		{"brace in name", []InboxOption{WithInboxName("a}b")}, "braces"},
		{"nil clock", []InboxOption{WithInboxClock(nil)}, "nil clock"},
		{"negative capacity", []InboxOption{WithInboxCapacity(-1)}, "negative capacity"},
		{"negative tenant capacity", []InboxOption{WithInboxTenantCapacity(-1)}, "negative tenant capacity"},
		{"nil option", []InboxOption{WithInboxName("orders"), nil}, "option 1 is nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ib, err := NewInbox(client, tc.opts...)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.Nil(t, ib)
				return
			}
			require.NoError(t, err)
		})
	}
	_, err := NewInbox(nil)
	require.ErrorContains(t, err, "nil client")
	require.PanicsWithValue(t, "redisstore: New: option 1 is nil", func() { New(client, WithPrefix("app:"), nil) })
}

// storedAs returns e as an inbox stores it at now: pending and due now,
// received now unless it says otherwise, its times in UTC.
// storeKeys stores a test entry under each key.
func storeKeys(ctx context.Context, t *testing.T, ib webhook.Inbox, keys ...string) {
	t.Helper()
	for _, k := range keys {
		_, err := ib.Store(ctx, entry(k))
		require.NoError(t, err)
	}
}

func storedAs(e webhook.InboxEntry, now time.Time) webhook.InboxEntry {
	e.State, e.Attempts, e.NextAttempt = webhook.InboxPending, 0, now
	e.LeaseUntil, e.LastError, e.UpdatedAt = time.Time{}, "", now
	if e.ReceivedAt.IsZero() {
		e.ReceivedAt = now
	}
	return inUTC(e)
}

// TestInboxRoundTrip stores every field and reads it back through Get,
// List and Lease.
func TestInboxRoundTrip(t *testing.T) {
	ctx := context.Background()
	ib, clock, _, _ := newTestInbox(t)
	e := entry("standard:msg_1")
	stored, err := ib.Store(ctx, e)
	require.NoError(t, err)
	require.True(t, stored)
	want := storedAs(*e, clock.Now())

	got, err := ib.Get(ctx, e.Key)
	require.NoError(t, err)
	require.Equal(t, want, got)

	list, err := ib.List(ctx, webhook.InboxQuery{})
	require.NoError(t, err)
	require.Equal(t, []webhook.InboxEntry{want}, list.Entries)

	// Nil and empty header, meta and body come back as they went in.
	bare := &webhook.InboxEntry{Key: "intercom:n_1", Source: event.SourceIntercom, Body: []byte{}, Header: http.Header{}}
	stored, err = ib.Store(ctx, bare)
	require.NoError(t, err)
	require.True(t, stored)
	got, err = ib.Get(ctx, bare.Key)
	require.NoError(t, err)
	require.Equal(t, storedAs(*bare, clock.Now()), got)
	require.NotNil(t, got.Body)
	require.NotNil(t, got.Header)
	require.Nil(t, got.Meta)

	_, err = ib.Get(ctx, "standard:nope")
	require.ErrorIs(t, err, webhook.ErrNotFound)
}

// TestInboxStoreOnceAcrossReplicas stores each key from many goroutines
// on several Inboxes (each its own client, as replicas are) at once: each
// is stored exactly once, and leased exactly once.
func TestInboxStoreOnceAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	client := newClient(t)
	prefix := testPrefix(t, client)
	const replicas, keys, copies = 4, 50, 6
	var inboxes []*Inbox
	for range replicas {
		c := redis.NewClient(redisOptions(t))
		t.Cleanup(func() { c.Close() })
		ib, err := NewInbox(c, WithInboxPrefix(prefix))
		require.NoError(t, err)
		inboxes = append(inboxes, ib)
	}
	var mu sync.Mutex
	storedBy := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for k := range keys {
		for c := range copies {
			wg.Go(func() {
				<-start
				key := fmt.Sprintf("standard:msg_%d", k)
				stored, err := inboxes[(k+c)%replicas].Store(ctx, entry(key))
				if err != nil {
					t.Error(err)
					return
				}
				if stored {
					mu.Lock()
					storedBy[key]++
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	require.Len(t, storedBy, keys)
	for key, n := range storedBy {
		require.Equal(t, 1, n, key)
	}
	stats, err := inboxes[0].Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, keys, stats.Pending)

	leased := map[string]int{}
	var lwg sync.WaitGroup
	for _, ib := range inboxes {
		lwg.Go(func() {
			for {
				ls, err := ib.Lease(ctx, 7, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ls) == 0 {
					return
				}
				mu.Lock()
				for _, l := range ls {
					leased[l.Entry.Key]++
				}
				mu.Unlock()
			}
		})
	}
	lwg.Wait()
	require.Len(t, leased, keys)
	for key, n := range leased {
		require.Equal(t, 1, n, key)
	}
}

// TestInboxLeaseExpiry: a lease runs out on the inbox's clock, not on
// Redis's; XAUTOCLAIM hands the delivery to the next Lease, and the old
// token stops working.
func TestInboxLeaseExpiry(t *testing.T) {
	ctx := context.Background()
	ib, clock, _, _ := newTestInbox(t)
	_, err := ib.Store(ctx, entry("standard:msg_1"))
	require.NoError(t, err)

	first, err := ib.Lease(ctx, 10, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, first, 1)
	require.Equal(t, 1, first[0].Entry.Attempts)
	require.Equal(t, webhook.InboxLeased, first[0].Entry.State)
	require.True(t, first[0].Entry.LeaseUntil.Equal(clock.Now().Add(30*time.Second)))

	for _, d := range []time.Duration{0, 29 * time.Second, time.Second} { // up to the deadline itself
		clock.Advance(d)
		again, err := ib.Lease(ctx, 10, 30*time.Second)
		require.NoError(t, err)
		require.Empty(t, again, "leased again %v before its lease ran out", d)
	}
	clock.Advance(time.Millisecond)
	second, err := ib.Lease(ctx, 10, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, second, 1)
	require.Equal(t, 2, second[0].Entry.Attempts)
	require.NotEqual(t, first[0].Token, second[0].Token)

	require.ErrorIs(t, ib.Complete(ctx, "standard:msg_1", first[0].Token), webhook.ErrLeaseLost)
	require.ErrorIs(t, ib.Retry(ctx, "standard:msg_1", first[0].Token, clock.Now(), "x"), webhook.ErrLeaseLost)
	require.ErrorIs(t, ib.Kill(ctx, "standard:msg_1", first[0].Token, "x"), webhook.ErrLeaseLost)
	require.ErrorIs(t, ib.Complete(ctx, "standard:msg_1", ""), webhook.ErrLeaseLost)
	require.ErrorIs(t, ib.Complete(ctx, "standard:nope", second[0].Token), webhook.ErrLeaseLost)
	require.NoError(t, ib.Complete(ctx, "standard:msg_1", second[0].Token))
	require.ErrorIs(t, ib.Complete(ctx, "standard:msg_1", second[0].Token), webhook.ErrLeaseLost)

	got, err := ib.Get(ctx, "standard:msg_1")
	require.NoError(t, err)
	require.Equal(t, webhook.InboxDone, got.State)
	require.Equal(t, 2, got.Attempts)

	// Done is the dedupe record: the key is not stored again.
	stored, err := ib.Store(ctx, entry("standard:msg_1"))
	require.NoError(t, err)
	require.False(t, stored)
}

// TestInboxLeaseExpiryRealClock: on the real clock the same holds, with
// Redis's clock and the inbox's moving together.
func TestInboxLeaseExpiryRealClock(t *testing.T) {
	ctx := context.Background()
	client := newClient(t)
	ib, err := NewInbox(client, WithInboxPrefix(testPrefix(t, client)))
	require.NoError(t, err)
	_, err = ib.Store(ctx, entry("standard:msg_1"))
	require.NoError(t, err)
	// Long enough that the second Lease comes within it on a loaded
	// machine too.
	const lease = time.Second
	first, err := ib.Lease(ctx, 1, lease)
	require.NoError(t, err)
	require.Len(t, first, 1)
	none, err := ib.Lease(ctx, 1, lease)
	require.NoError(t, err)
	require.Empty(t, none)
	time.Sleep(lease + 100*time.Millisecond)
	second, err := ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, second, 1)
	require.Equal(t, 2, second[0].Entry.Attempts)
}

// TestInboxRetrySchedule: a retry waits for its due time, then runs
// again; oldest NextAttempt first.
func TestInboxRetrySchedule(t *testing.T) {
	ctx := context.Background()
	ib, clock, _, _ := newTestInbox(t)
	storeKeys(ctx, t, ib, "standard:a", "standard:b")
	ls, err := ib.Lease(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 2)
	require.Equal(t, "standard:a", ls[0].Entry.Key)

	t0 := clock.Now()
	require.NoError(t, ib.Retry(ctx, "standard:a", ls[0].Token, t0.Add(10*time.Second), "boom a"))
	require.NoError(t, ib.Retry(ctx, "standard:b", ls[1].Token, t0.Add(5*time.Second), "boom b"))
	require.ErrorIs(t, ib.Complete(ctx, "standard:a", ls[0].Token), webhook.ErrLeaseLost)

	got, err := ib.Get(ctx, "standard:a")
	require.NoError(t, err)
	require.Equal(t, webhook.InboxPending, got.State)
	require.Equal(t, "boom a", got.LastError)
	require.True(t, got.NextAttempt.Equal(t0.Add(10*time.Second)))
	stats, err := ib.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, webhook.InboxStats{Retrying: 2, OldestPending: webhooktest.Time().UTC()}, stats)

	clock.Advance(4 * time.Second)
	ls, err = ib.Lease(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Empty(t, ls)

	clock.Advance(time.Second) // b is due, exactly
	ls, err = ib.Lease(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	require.Equal(t, "standard:b", ls[0].Entry.Key)
	require.Equal(t, 2, ls[0].Entry.Attempts)
	require.Equal(t, "boom b", ls[0].Entry.LastError)
	// A retry due now joins the queue at once.
	require.NoError(t, ib.Retry(ctx, "standard:b", ls[0].Token, time.Time{}, "boom b again"))

	clock.Advance(6 * time.Second) // a is due a second before c is stored
	_, err = ib.Store(ctx, entry("standard:c"))
	require.NoError(t, err)
	ls, err = ib.Lease(ctx, 10, time.Minute)
	require.NoError(t, err)
	var keys []string
	for _, l := range ls {
		keys = append(keys, l.Entry.Key)
	}
	require.Equal(t, []string{"standard:b", "standard:a", "standard:c"}, keys)
}

// TestInboxDeadReplayPurge walks a delivery to dead, replays it, and
// purges what is finished.
func TestInboxDeadReplayPurge(t *testing.T) {
	ctx := context.Background()
	ib, clock, _, _ := newTestInbox(t)
	for _, k := range []string{"standard:dead", "standard:done", "standard:pending", "standard:leased"} {
		e := entry(k)
		e.ReceivedAt = clock.Now()
		_, err := ib.Store(ctx, e)
		require.NoError(t, err)
		clock.Advance(time.Millisecond)
	}
	ls, err := ib.Lease(ctx, 3, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 3)
	tokens := map[string]string{}
	for _, l := range ls {
		tokens[l.Entry.Key] = l.Token
	}
	require.NoError(t, ib.Kill(ctx, "standard:dead", tokens["standard:dead"], "permanent: bad payload"))
	require.NoError(t, ib.Complete(ctx, "standard:done", tokens["standard:done"]))
	require.NoError(t, ib.Retry(ctx, "standard:pending", tokens["standard:pending"], clock.Now().Add(time.Hour), "later"))
	ls, err = ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	require.Equal(t, "standard:leased", ls[0].Entry.Key)

	for _, tc := range []struct {
		state webhook.InboxState
		want  []string
	}{
		{"", []string{"standard:dead", "standard:done", "standard:pending", "standard:leased"}},
		{webhook.InboxDead, []string{"standard:dead"}},
		{webhook.InboxDone, []string{"standard:done"}},
		{webhook.InboxPending, []string{"standard:pending"}},
		{webhook.InboxLeased, []string{"standard:leased"}},
	} {
		list, err := ib.List(ctx, webhook.InboxQuery{State: tc.state})
		require.NoError(t, err)
		var keys []string
		for _, e := range list.Entries {
			keys = append(keys, e.Key)
		}
		require.Equal(t, tc.want, keys, "state %q", tc.state)
	}
	list, err := ib.List(ctx, webhook.InboxQuery{Limit: 2})
	require.NoError(t, err)
	require.Len(t, list.Entries, 2)
	list, err = ib.List(ctx, webhook.InboxQuery{State: "bogus"})
	require.NoError(t, err)
	require.Empty(t, list.Entries)

	dead, err := ib.Get(ctx, "standard:dead")
	require.NoError(t, err)
	require.Equal(t, webhook.InboxDead, dead.State)
	require.Equal(t, "permanent: bad payload", dead.LastError)
	require.Equal(t, 1, dead.Attempts)

	require.ErrorIs(t, ib.Replay(ctx, "standard:leased"), webhook.ErrInFlight)
	require.ErrorIs(t, ib.Replay(ctx, "standard:nope"), webhook.ErrNotFound)
	require.NoError(t, ib.Replay(ctx, "standard:dead"))
	require.NoError(t, ib.Replay(ctx, "standard:pending")) // due now instead of in an hour
	replayed, err := ib.Get(ctx, "standard:dead")
	require.NoError(t, err)
	require.Equal(t, webhook.InboxPending, replayed.State)
	require.Equal(t, 0, replayed.Attempts)
	require.Equal(t, "permanent: bad payload", replayed.LastError)
	stats, err := ib.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, webhook.InboxStats{Pending: 1, Retrying: 1, InFlight: 1, Done: 1, OldestPending: webhooktest.Time().UTC()}, stats)

	ls, err = ib.Lease(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 2)
	for _, l := range ls {
		require.NoError(t, ib.Kill(ctx, l.Entry.Key, l.Token, "again"))
	}
	require.NoError(t, ib.Replay(ctx, "standard:done"))
	ls, err = ib.Lease(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	require.NoError(t, ib.Complete(ctx, ls[0].Entry.Key, ls[0].Token))

	// Purge: only finished deliveries updated strictly before the time.
	n, err := ib.Purge(ctx, webhook.InboxPending, clock.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = ib.Purge(ctx, "", clock.Now())
	require.NoError(t, err)
	require.Zero(t, n)
	clock.Advance(time.Microsecond)
	n, err = ib.Purge(ctx, webhook.InboxDead, clock.Now())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	n, err = ib.Purge(ctx, "", clock.Now())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = ib.Get(ctx, "standard:done")
	require.ErrorIs(t, err, webhook.ErrNotFound)
	stats, err = ib.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, webhook.InboxStats{InFlight: 1, OldestPending: webhooktest.Time().Add(3 * time.Millisecond).UTC()}, stats)
	// A purged key can be stored again.
	stored, err := ib.Store(ctx, entry("standard:dead"))
	require.NoError(t, err)
	require.True(t, stored)
}

// TestInboxTrim: once every entry is settled, the stream holds none of
// them, and the keys all sit under the prefix with the inbox's hash tag.
func TestInboxTrim(t *testing.T) {
	ctx := context.Background()
	ib, _, client, prefix := newTestInbox(t, WithInboxName("orders"))
	for i := range 25 {
		_, err := ib.Store(ctx, entry(fmt.Sprintf("standard:msg_%d", i)))
		require.NoError(t, err)
	}
	stream := prefix + "{orders}:q"
	require.EqualValues(t, 25, client.XLen(ctx, stream).Val())
	settled := 0
	for settled < 25 {
		ls, err := ib.Lease(ctx, 4, time.Minute)
		require.NoError(t, err)
		require.NotEmpty(t, ls)
		for i, l := range ls {
			if i%2 == 0 {
				require.NoError(t, ib.Complete(ctx, l.Entry.Key, l.Token))
			} else {
				require.NoError(t, ib.Kill(ctx, l.Entry.Key, l.Token, "x"))
			}
			settled++
		}
	}
	ls, err := ib.Lease(ctx, 4, time.Minute)
	require.NoError(t, err)
	require.Empty(t, ls)
	require.Zero(t, client.XLen(ctx, stream).Val())

	keys, err := client.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	for _, k := range keys {
		require.True(t, strings.HasPrefix(k, prefix+"{orders}:"), k)
	}
}

// TestInboxTrimKeepsLeased: a leased entry stays in the stream (XAUTOCLAIM
// needs it) while the settled ones around it go.
func TestInboxTrimKeepsLeased(t *testing.T) {
	ctx := context.Background()
	ib, clock, client, prefix := newTestInbox(t)
	for i := range 5 {
		_, err := ib.Store(ctx, entry(fmt.Sprintf("standard:msg_%d", i)))
		require.NoError(t, err)
	}
	ls, err := ib.Lease(ctx, 5, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 5)
	for _, l := range ls[1:] {
		require.NoError(t, ib.Complete(ctx, l.Entry.Key, l.Token))
	}
	_, err = ib.Lease(ctx, 5, time.Minute) // trims
	require.NoError(t, err)
	require.EqualValues(t, 5, client.XLen(ctx, prefix+"{default}:q").Val(), "the oldest entry is leased: nothing above it is trimmed")
	clock.Advance(2 * time.Minute)
	again, err := ib.Lease(ctx, 5, time.Minute)
	require.NoError(t, err)
	require.Len(t, again, 1)
	require.Equal(t, ls[0].Entry.Key, again[0].Entry.Key)
	require.NoError(t, ib.Complete(ctx, again[0].Entry.Key, again[0].Token))
	_, err = ib.Lease(ctx, 5, time.Minute)
	require.NoError(t, err)
	require.Zero(t, client.XLen(ctx, prefix+"{default}:q").Val())
}

func TestInboxCapacity(t *testing.T) {
	ctx := context.Background()
	ib, _, _, _ := newTestInbox(t, WithInboxCapacity(2))
	for i, want := range []bool{true, true, false} {
		stored, err := ib.Store(ctx, entry(fmt.Sprintf("standard:msg_%d", i)))
		if want {
			require.NoError(t, err)
			require.True(t, stored)
		} else {
			require.ErrorIs(t, err, webhook.ErrInboxFull)
			require.False(t, stored)
		}
	}
	// A duplicate of a stored key is acknowledged even when full.
	stored, err := ib.Store(ctx, entry("standard:msg_0"))
	require.NoError(t, err)
	require.False(t, stored)
	ls, err := ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.NoError(t, ib.Complete(ctx, ls[0].Entry.Key, ls[0].Token))
	stored, err = ib.Store(ctx, entry("standard:msg_2"))
	require.NoError(t, err)
	require.True(t, stored)
}

// TestInboxCapacityAcrossReplicas: replicas storing at once fill the
// capacity exactly, never past it, and acknowledge every copy of a
// delivery already stored as a duplicate, full or not.
func TestInboxCapacityAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	client := newClient(t)
	prefix := testPrefix(t, client)
	const capacity, held, fresh, replicas = 10, 5, 40, 4
	var inboxes []*Inbox
	for range replicas {
		c := redis.NewClient(redisOptions(t))
		t.Cleanup(func() { c.Close() })
		ib, err := NewInbox(c, WithInboxPrefix(prefix), WithInboxCapacity(capacity))
		require.NoError(t, err)
		inboxes = append(inboxes, ib)
	}
	for i := range held {
		storeKeys(ctx, t, inboxes[0], fmt.Sprintf("standard:held%d", i))
	}
	var mu sync.Mutex
	stored, full := 0, 0
	var wg sync.WaitGroup
	begin := make(chan struct{})
	for i := range fresh {
		wg.Go(func() {
			<-begin
			ok, err := inboxes[i%replicas].Store(ctx, entry(fmt.Sprintf("standard:new%d", i)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && ok:
				stored++
			case errors.Is(err, webhook.ErrInboxFull):
				full++
			default:
				t.Errorf("new%d: stored %v, %v", i, ok, err)
			}
		})
		wg.Go(func() {
			<-begin
			k := fmt.Sprintf("standard:held%d", i%held)
			if ok, err := inboxes[(i+1)%replicas].Store(ctx, entry(k)); ok || err != nil {
				t.Errorf("a copy of %s: stored %v, %v", k, ok, err)
			}
		})
	}
	close(begin)
	wg.Wait()
	require.Equal(t, capacity-held, stored)
	require.Equal(t, fresh-(capacity-held), full)
	st, err := inboxes[0].Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, capacity, st.Pending)
}

// TestInboxTenantCapacityAcrossReplicas: replicas storing the deliveries
// of two tenants at once fill each tenant's bound exactly, never past
// it, refusing the rest of that tenant's only.
func TestInboxTenantCapacityAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	client := newClient(t)
	prefix := testPrefix(t, client)
	const bound, fresh, replicas = 5, 40, 4
	var inboxes []*Inbox
	for range replicas {
		c := redis.NewClient(redisOptions(t))
		t.Cleanup(func() { c.Close() })
		ib, err := NewInbox(c, WithInboxPrefix(prefix), WithInboxTenantCapacity(bound))
		require.NoError(t, err)
		inboxes = append(inboxes, ib)
	}
	var mu sync.Mutex
	stored, full := map[string]int{}, map[string]int{}
	var wg sync.WaitGroup
	begin := make(chan struct{})
	for i := range fresh {
		for _, tenant := range []string{"acme", "globex"} {
			wg.Go(func() {
				<-begin
				ok, err := inboxes[i%replicas].Store(ctx, entry(fmt.Sprintf("standard@%s:msg_%d", tenant, i)))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && ok:
					stored[tenant]++
				case errors.Is(err, webhook.ErrInboxFull):
					full[tenant]++
				default:
					t.Errorf("%s's msg_%d: stored %v, %v", tenant, i, ok, err)
				}
			})
		}
	}
	close(begin)
	wg.Wait()
	require.Equal(t, map[string]int{"acme": bound, "globex": bound}, stored)
	require.Equal(t, map[string]int{"acme": fresh - bound, "globex": fresh - bound}, full)
	requireTenantSets(t, client, prefix)
}

// requireTenantSets requires each tenant's set of deliveries waiting to
// hold the keys of that tenant's pending and leased deliveries.
func requireTenantSets(t *testing.T, client *redis.Client, prefix string) {
	t.Helper()
	ctx := context.Background()
	base := prefix + "{default}:"
	want := map[string][]string{}
	iter := client.Scan(ctx, 0, base+"d:*", 1000).Iterator()
	for iter.Next(ctx) {
		f, err := client.HMGet(ctx, iter.Val(), "k", "st").Result()
		require.NoError(t, err)
		if st := f[1]; st == "pending" || st == "leased" {
			key := f[0].(string)
			want[webhook.KeyTenant(key)] = append(want[webhook.KeyTenant(key)], key)
		}
	}
	require.NoError(t, iter.Err())
	got := map[string][]string{}
	iter = client.Scan(ctx, 0, base+"tenant:*", 1000).Iterator()
	for iter.Next(ctx) {
		keys, err := client.SMembers(ctx, iter.Val()).Result()
		require.NoError(t, err)
		got[strings.TrimPrefix(iter.Val(), base+"tenant:")] = keys
	}
	require.NoError(t, iter.Err())
	for tenant := range want {
		slices.Sort(want[tenant])
		slices.Sort(got[tenant])
	}
	for tenant := range got {
		slices.Sort(got[tenant])
	}
	require.Equal(t, want, got, "the tenants' sets of deliveries waiting")
}

// TestInboxTenantStaleMembers: a tenant's set may hold deliveries that
// finished without leaving it (settled by a replica of a version that
// kept no such sets, or whose hash went): a Store that finds its tenant
// at the bound looks at some of them and drops those no longer waiting,
// so the tenant is refused only for deliveries still waiting.
func TestInboxTenantStaleMembers(t *testing.T) {
	ctx := context.Background()
	ib, _, client, prefix := newTestInbox(t, WithInboxTenantCapacity(3))
	keys := []string{"standard@acme:1", "standard@acme:2", "standard@acme:3"}
	storeKeys(ctx, t, ib, keys...)
	ls, err := ib.Lease(ctx, 2, time.Minute)
	require.NoError(t, err)
	for _, l := range ls {
		require.NoError(t, ib.Complete(ctx, l.Entry.Key, l.Token))
	}
	set := prefix + "{default}:tenant:acme"
	require.NoError(t, client.SAdd(ctx, set, keys[0], keys[1], "standard@acme:gone").Err()) // as an older replica leaves them
	stored, err := ib.Store(ctx, entry("standard@acme:4"))
	require.NoError(t, err)
	require.True(t, stored, "the set held three, one of them waiting")
	requireTenantSets(t, client, prefix)
	storeKeys(ctx, t, ib, "standard@acme:5")
	_, err = ib.Store(ctx, entry("standard@acme:6"))
	require.ErrorIs(t, err, webhook.ErrInboxFull, "three waiting")
	require.ErrorContains(t, err, `tenant "acme"`)
}

// TestInboxHashLostLeavesTenant: a Lease that meets deliveries whose
// hashes are gone drops them from their tenant's set as from the
// indexes, so they no longer count against the tenant's bound.
func TestInboxHashLostLeavesTenant(t *testing.T) {
	ctx := context.Background()
	ib, clock, client, prefix := newTestInbox(t, WithInboxTenantCapacity(2))
	storeKeys(ctx, t, ib, "standard@acme:a", "standard@acme:b")
	ls, err := ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	for _, k := range []string{"standard@acme:a", "standard@acme:b"} {
		require.NoError(t, client.Del(ctx, prefix+"{default}:d:"+k).Err())
	}
	clock.Advance(2 * time.Minute) // the lease has run out
	ls, err = ib.Lease(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Empty(t, ls)
	requireTenantSets(t, client, prefix)
	storeKeys(ctx, t, ib, "standard@acme:c", "standard@acme:d")
}

// TestInboxRedisDown: every operation fails fast with the client's error,
// never a sentinel that would read as a verdict.
func TestInboxRedisDown(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close()) // nothing listens there now
	client := redis.NewClient(fastFailing(ln.Addr().String()))
	defer client.Close()
	ib, err := NewInbox(client)
	require.NoError(t, err)
	start := time.Now()
	_, err = ib.Store(ctx, entry("standard:msg_1"))
	require.Error(t, err)
	require.NotErrorIs(t, err, webhook.ErrInboxFull)
	_, err = ib.Lease(ctx, 1, time.Minute)
	require.Error(t, err)
	err = ib.Complete(ctx, "standard:msg_1", "tok")
	require.Error(t, err)
	require.NotErrorIs(t, err, webhook.ErrLeaseLost)
	_, err = ib.Stats(ctx)
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second)
}

// TestInboxReclaimBounded: each Lease looks at a bounded stretch of the
// pending entries list (ten entries per delivery wanted, from where the
// last call stopped), so a lease that ran out behind many live ones is
// found within a few calls rather than by one walk of the whole list.
func TestInboxReclaimBounded(t *testing.T) {
	ctx := context.Background()
	ib, clock, _, _ := newTestInbox(t)
	const live = 100
	for i := range live + 1 {
		_, err := ib.Store(ctx, entry(fmt.Sprintf("standard:msg_%03d", i)))
		require.NoError(t, err)
	}
	ls, err := ib.Lease(ctx, live, time.Hour)
	require.NoError(t, err)
	require.Len(t, ls, live)
	last, err := ib.Lease(ctx, 1, time.Second)
	require.NoError(t, err)
	require.Len(t, last, 1)
	require.Equal(t, fmt.Sprintf("standard:msg_%03d", live), last[0].Entry.Key)
	clock.Advance(2 * time.Second)

	calls := 0
	for {
		calls++
		got, err := ib.Lease(ctx, 1, time.Minute)
		require.NoError(t, err)
		if len(got) == 1 {
			require.Equal(t, last[0].Entry.Key, got[0].Entry.Key, "a live lease was taken")
			require.Equal(t, 2, got[0].Entry.Attempts)
			break
		}
		require.Less(t, calls, live/10+2, "the expired lease was not found")
	}
	require.Greater(t, calls, 1, "one Lease walked the whole pending entries list")
	t.Logf("found after %d calls of Lease(1) behind %d live leases", calls, live)
	// The live ones are untouched.
	for _, l := range ls {
		require.NoError(t, ib.Complete(ctx, l.Entry.Key, l.Token))
	}
}

// TestInboxGroupCreated: the first Lease creates the consumer group, from
// the stream's start, so deliveries stored before any worker ran are
// read; so does a Lease after the group was destroyed.
func TestInboxGroupCreated(t *testing.T) {
	ctx := context.Background()
	ib, _, client, prefix := newTestInbox(t)
	none, err := ib.Lease(ctx, 1, time.Minute) // no stream yet
	require.NoError(t, err)
	require.Empty(t, none)
	require.NoError(t, client.Del(ctx, prefix+"{default}:q").Err())
	storeKeys(ctx, t, ib, "standard:a", "standard:b")
	ls, err := ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	require.Equal(t, "standard:a", ls[0].Entry.Key)
	require.NoError(t, ib.Complete(ctx, ls[0].Entry.Key, ls[0].Token))

	require.NoError(t, client.XGroupDestroy(ctx, prefix+"{default}:q", inboxGroup).Err())
	ls, err = ib.Lease(ctx, 5, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	require.Equal(t, "standard:b", ls[0].Entry.Key)
}

// TestInboxClockFarAhead: a clock moved further ahead than the 2^40 ms
// of the lease encoding asks XAUTOCLAIM for a negative idle time, which
// Redis reads as any: every lease is expired, as it should be.
func TestInboxClockFarAhead(t *testing.T) {
	ctx := context.Background()
	ib, clock, _, _ := newTestInbox(t)
	_, err := ib.Store(ctx, entry("standard:msg_1"))
	require.NoError(t, err)
	ls, err := ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	clock.Advance(50 * 365 * 24 * time.Hour)
	ls, err = ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	require.Equal(t, 2, ls[0].Entry.Attempts)
}

// TestInboxPurgeNanoseconds: Purge deletes what was updated before the
// time given, to the nanosecond, though the index it walks keeps whole
// microseconds: within the last microsecond the delivery's own UpdatedAt
// decides.
func TestInboxPurgeNanoseconds(t *testing.T) {
	ctx := context.Background()
	ib, clock, _, _ := newTestInbox(t)
	clock.Set(webhooktest.Time().Add(time.Microsecond + 500*time.Nanosecond))
	for _, k := range []string{"standard:a", "standard:b"} {
		_, err := ib.Store(ctx, entry(k))
		require.NoError(t, err)
		ls, err := ib.Lease(ctx, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, ls, 1)
		require.NoError(t, ib.Complete(ctx, k, ls[0].Token))
		clock.Advance(200 * time.Nanosecond) // a at +1.5µs, b at +1.7µs
	}
	a := webhooktest.Time().Add(time.Microsecond + 500*time.Nanosecond)
	for _, tc := range []struct {
		before time.Time
		want   int
	}{
		{a.Add(-100 * time.Nanosecond), 0}, // the same microsecond, before either
		{a, 0},                             // not before a itself
		{a.Add(100 * time.Nanosecond), 1},  // a, not b
		{a.Add(201 * time.Nanosecond), 1},  // b
	} {
		n, err := ib.Purge(ctx, webhook.InboxDone, tc.before)
		require.NoError(t, err)
		require.Equal(t, tc.want, n, "purge before %v", tc.before.Sub(a))
	}
	st, err := ib.Stats(ctx)
	require.NoError(t, err)
	require.Zero(t, st.Done)
}

// TestInboxStreamLost: the stream and the set of retries by due time are
// deleted (an operator's DEL, or an allkeys eviction policy Redis should
// not have) while the deliveries' hashes remain, and a Store recreates
// the stream before the next Lease. The deliveries they queued, pending,
// leased or waiting to retry, are still in their hashes, acknowledged:
// the Lease that finds the consumer group gone queues them again, so
// each runs, the leased one once its lease runs out and the retry once
// it is due. Without that they stayed pending or leased for good, and a
// sender's retry of one was answered as a duplicate. One whose hash went
// too is dropped from the indexes; one whose entry's id names another
// delivery's entry in the new stream is queued again all the same; and
// so they are if the meta hash went too.
func TestInboxStreamLost(t *testing.T) {
	for _, tc := range []struct {
		name string
		also []string // keys deleted with the stream, the delay set and f's hash
	}{
		{"stream", nil},
		// Nothing says a Lease ran before: the oldest delivery found
		// without its entry does.
		{"stream and meta", []string{"meta"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			ib, clock, client, prefix := newTestInbox(t)
			storeKeys(ctx, t, ib, "standard:a", "standard:b", "standard:c", "standard:d", "standard:f")
			a, err := ib.Lease(ctx, 1, time.Minute)
			require.NoError(t, err)
			require.Len(t, a, 1)
			require.Equal(t, "standard:a", a[0].Entry.Key)
			b, err := ib.Lease(ctx, 1, time.Minute)
			require.NoError(t, err)
			require.Len(t, b, 1)
			require.NoError(t, ib.Retry(ctx, "standard:b", b[0].Token, clock.Now().Add(time.Minute), "boom"))

			// f's hash goes too: it cannot run, and no longer counts as
			// pending.
			stream := prefix + "{default}:q"
			sid, err := client.HGet(ctx, prefix+"{default}:d:standard:c", "sid").Result()
			require.NoError(t, err)
			del := []string{stream, prefix + "{default}:delay", prefix + "{default}:d:standard:f"}
			for _, k := range tc.also {
				del = append(del, prefix+"{default}:"+k)
			}
			require.NoError(t, client.Del(ctx, del...).Err())
			// The stream made anew numbers its entries afresh: e's,
			// stored in the same millisecond as c was, takes the id c's
			// had.
			require.NoError(t, client.XAdd(ctx, &redis.XAddArgs{Stream: stream, ID: sid, Values: []any{"k", "standard:e"}}).Err())
			stored, err := ib.Store(ctx, entry("standard:e"))
			require.NoError(t, err)
			require.True(t, stored)
			stored, err = ib.Store(ctx, entry("standard:c")) // a sender's retry
			require.NoError(t, err)
			require.False(t, stored)

			settle := func(want ...string) {
				t.Helper()
				ls, err := ib.Lease(ctx, 10, time.Minute)
				require.NoError(t, err)
				require.ElementsMatch(t, want, leaseKeys(ls))
				for _, l := range ls {
					require.NoError(t, ib.Complete(ctx, l.Entry.Key, l.Token))
				}
			}
			settle("standard:c", "standard:d", "standard:e")
			clock.Advance(2 * time.Minute)
			settle("standard:a", "standard:b")
			settle()
			st, err := ib.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, webhook.InboxStats{Done: 5}, st)
		})
	}
}

// TestInboxStreamTrimmed: something outside the inbox trims the stream
// (XTRIM MAXLEN, to cap its memory) past entries the inbox still needs:
// those of pending deliveries not yet read, and of leased ones, whose
// pending entries stay without them. The consumer group is still there.
// The Lease after it finds the oldest pending delivery without its entry
// and queues them all again: the pending ones run at once, the leased
// ones once their leases run out. Without that the pending ones never
// ran, and the leased ones stayed leased for good once XAUTOCLAIM had
// dropped their pending entries, as Redis 7 does for deleted entries;
// that, too, now makes the Lease queue them again.
func TestInboxStreamTrimmed(t *testing.T) {
	ctx := context.Background()
	ib, clock, client, prefix := newTestInbox(t)
	storeKeys(ctx, t, ib, "standard:a", "standard:b", "standard:c", "standard:d")
	ls, err := ib.Lease(ctx, 2, time.Minute)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"standard:a", "standard:b"}, leaseKeys(ls))
	require.NoError(t, client.XTrimMaxLen(ctx, prefix+"{default}:q", 0).Err())

	settle := func(want ...string) {
		t.Helper()
		ls, err := ib.Lease(ctx, 10, time.Minute)
		require.NoError(t, err)
		require.ElementsMatch(t, want, leaseKeys(ls))
		for _, l := range ls {
			require.NoError(t, ib.Complete(ctx, l.Entry.Key, l.Token))
		}
	}
	settle("standard:c", "standard:d")
	clock.Advance(2 * time.Minute)
	settle("standard:a", "standard:b")
	settle()
	st, err := ib.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, webhook.InboxStats{Done: 4}, st)

	// A trim that takes only a leased delivery's entry, the oldest
	// deliveries of the indexes keeping theirs: XAUTOCLAIM says so once
	// the lease has run out.
	for _, k := range []string{"standard:f", "standard:e"} { // f's entry first, e older by key
		_, err := ib.Store(ctx, entry(k))
		require.NoError(t, err)
	}
	ls, err = ib.Lease(ctx, 2, time.Minute)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"standard:e", "standard:f"}, leaseKeys(ls))
	sid, err := client.HGet(ctx, prefix+"{default}:d:standard:e", "sid").Result()
	require.NoError(t, err)
	require.NoError(t, client.XTrimMinID(ctx, prefix+"{default}:q", sid).Err())
	settle()
	clock.Advance(2 * time.Minute)
	settle("standard:e", "standard:f")
	settle()
}

// TestInboxHashLost: a delivery's hash is deleted (an operator's DEL, or
// an allkeys eviction policy) while the indexes still name it: pending,
// waiting to retry, or leased. Its bytes are gone, and it cannot run;
// but the Lease that meets its entry drops it from the indexes, so that
// it no longer counts against the capacity (the inbox refused every
// delivery once such names filled it), nor as pending in Stats, and
// List lists the deliveries that remain instead of failing on it.
func TestInboxHashLost(t *testing.T) {
	ctx := context.Background()
	ib, clock, client, prefix := newTestInbox(t, WithInboxCapacity(3))
	storeKeys(ctx, t, ib, "standard:a", "standard:b", "standard:c")
	ls, err := ib.Lease(ctx, 2, time.Minute)
	require.NoError(t, err)
	require.Equal(t, []string{"standard:a", "standard:b"}, leaseKeys(ls))
	require.NoError(t, ib.Retry(ctx, "standard:b", ls[1].Token, clock.Now().Add(time.Second), "boom"))
	for _, k := range []string{"standard:a", "standard:b", "standard:c"} {
		require.NoError(t, client.Del(ctx, prefix+"{default}:d:"+k).Err())
	}
	_, err = ib.Store(ctx, entry("standard:d"))
	require.ErrorIs(t, err, webhook.ErrInboxFull, "the lost deliveries still fill the inbox")
	l, err := ib.List(ctx, webhook.InboxQuery{})
	require.NoError(t, err)
	require.Empty(t, l.Entries)

	clock.Advance(2 * time.Minute) // a's lease has run out, b's retry is due
	ls, err = ib.Lease(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Empty(t, ls)
	requireTenantSets(t, client, prefix) // the lost left their tenant's set too (List passed over them)
	st, err := ib.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, webhook.InboxStats{}, st)
	stored, err := ib.Store(ctx, entry("standard:d"))
	require.NoError(t, err)
	require.True(t, stored)
	l, err = ib.List(ctx, webhook.InboxQuery{})
	require.NoError(t, err)
	require.Len(t, l.Entries, 1)
	require.Equal(t, "standard:d", l.Entries[0].Key)
}

// TestInboxHashLostStoredAgain: a delivery's hash goes from outside (a
// DEL, an eviction) while its name stays in the indexes of its state,
// and the sender's next copy is stored anew. The new delivery is
// pending, and only that: counted once, listed once and under pending
// only, due once, and never purged as the done or dead one it replaced.
func TestInboxHashLostStoredAgain(t *testing.T) {
	for _, state := range []string{"done", "dead", "leased", "retrying"} {
		t.Run(state, func(t *testing.T) {
			ctx := context.Background()
			ib, clock, client, prefix := newTestInbox(t)
			storeKeys(ctx, t, ib, "standard:a")
			ls, err := ib.Lease(ctx, 1, time.Minute)
			require.NoError(t, err)
			require.Len(t, ls, 1)
			switch state {
			case "done":
				require.NoError(t, ib.Complete(ctx, "standard:a", ls[0].Token))
			case "dead":
				require.NoError(t, ib.Kill(ctx, "standard:a", ls[0].Token, "dies"))
			case "retrying":
				require.NoError(t, ib.Retry(ctx, "standard:a", ls[0].Token, clock.Now().Add(time.Second), "again"))
			}
			require.NoError(t, client.Del(ctx, prefix+"{default}:d:standard:a").Err())
			clock.Advance(time.Second)
			stored, err := ib.Store(ctx, entry("standard:a"))
			require.NoError(t, err)
			require.True(t, stored)

			st, err := ib.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, webhook.InboxStats{Pending: 1, OldestPending: webhooktest.Time().UTC()}, st)
			for _, q := range []webhook.InboxQuery{{}, {State: webhook.InboxPending}} {
				p, err := ib.List(ctx, q)
				require.NoError(t, err)
				require.Len(t, p.Entries, 1, "List %q", q.State)
				require.Equal(t, webhook.InboxPending, p.Entries[0].State)
			}
			for _, q := range []webhook.InboxQuery{{State: webhook.InboxLeased}, {State: webhook.InboxDone}, {State: webhook.InboxDead},
				{State: webhook.InboxDone, Order: webhook.InboxByUpdated}, {State: webhook.InboxDead, Order: webhook.InboxByUpdated}} {
				p, err := ib.List(ctx, q)
				require.NoError(t, err)
				require.Empty(t, p.Entries, "List %q by %d", q.State, q.Order)
			}
			n, err := ib.Purge(ctx, "", clock.Now().Add(time.Hour))
			require.NoError(t, err)
			require.Zero(t, n, "Purge")
			got, err := ib.Get(ctx, "standard:a")
			require.NoError(t, err, "the delivery stored anew")
			require.Equal(t, webhook.InboxPending, got.State)

			clock.Advance(2 * time.Minute) // past the old lease and the old retry
			ls, err = ib.Lease(ctx, 10, time.Minute)
			require.NoError(t, err)
			require.Equal(t, []string{"standard:a"}, leaseKeys(ls))
			require.Equal(t, 1, ls[0].Entry.Attempts)
			require.NoError(t, ib.Complete(ctx, "standard:a", ls[0].Token))
			ls, err = ib.Lease(ctx, 10, time.Minute)
			require.NoError(t, err)
			require.Empty(t, ls, "due once")
			st, err = ib.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, webhook.InboxStats{Done: 1}, st)
		})
	}
}

// TestInboxStreamTrimmedUnread: entries no consumer has read yet go
// from the stream, while the oldest delivery of each index (by the time
// it was received) keeps its place: a retry due at once behind an older
// retry waiting in the delay set, or a delivery replayed with an old
// receive time behind a newer one. The oldest of each index says
// nothing, and the pending entries list holds none of those entries.
// For a trim from outside the count of entries the stream lost tells;
// for the stream deleted with the meta hash, a retry or a lease in the
// indexes says a Lease ran before. Without them each stayed pending for
// good.
func TestInboxStreamTrimmedUnread(t *testing.T) {
	ctx := context.Background()
	retryBehindDelayed := func(t *testing.T, ib *Inbox, clock *webhooktest.Clock) string {
		storeKeys(ctx, t, ib, "standard:a", "standard:b")
		ls, err := ib.Lease(ctx, 2, time.Minute)
		require.NoError(t, err)
		require.Equal(t, []string{"standard:a", "standard:b"}, leaseKeys(ls))
		require.NoError(t, ib.Retry(ctx, "standard:a", ls[0].Token, clock.Now().Add(time.Hour), "later"))
		require.NoError(t, ib.Retry(ctx, "standard:b", ls[1].Token, clock.Now(), "at once"))
		return "standard:b"
	}
	newBehindReplayed := func(t *testing.T, ib *Inbox, clock *webhooktest.Clock) string {
		_, err := ib.Store(ctx, entry("standard:a"))
		require.NoError(t, err)
		ls, err := ib.Lease(ctx, 1, time.Minute)
		require.NoError(t, err)
		require.NoError(t, ib.Complete(ctx, "standard:a", ls[0].Token))
		late := entry("standard:b")
		late.ReceivedAt = late.ReceivedAt.Add(time.Second)
		_, err = ib.Store(ctx, late)
		require.NoError(t, err)
		require.NoError(t, ib.Replay(ctx, "standard:a"))
		return "standard:b"
	}
	// trim takes every entry up to and including the lost delivery's.
	trim := func(t *testing.T, client *redis.Client, prefix, sid string) {
		require.NoError(t, client.XTrimMinID(ctx, prefix+"{default}:q", nextID(t, sid)).Err())
	}
	deleteWithMeta := func(t *testing.T, client *redis.Client, prefix, _ string) {
		require.NoError(t, client.Del(ctx, prefix+"{default}:q", prefix+"{default}:meta").Err())
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, ib *Inbox, clock *webhooktest.Clock) (lost string)
		cut   func(t *testing.T, client *redis.Client, prefix, sid string)
	}{
		{"trim: retry behind a delayed retry", retryBehindDelayed, trim},
		{"trim: new delivery behind a replayed one", newBehindReplayed, trim},
		{"stream and meta: retry behind a delayed retry", retryBehindDelayed, deleteWithMeta},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ib, clock, client, prefix := newTestInbox(t)
			lost := tc.setup(t, ib, clock)
			sid, err := client.HGet(ctx, prefix+"{default}:d:"+lost, "sid").Result()
			require.NoError(t, err)
			require.NotEmpty(t, sid)
			tc.cut(t, client, prefix, sid)
			ls, err := ib.Lease(ctx, 10, time.Minute)
			require.NoError(t, err)
			require.Contains(t, leaseKeys(ls), lost)
			for _, l := range ls {
				require.NoError(t, ib.Complete(ctx, l.Entry.Key, l.Token))
			}
			ls, err = ib.Lease(ctx, 10, time.Minute)
			require.NoError(t, err)
			require.Empty(t, leaseKeys(ls), "each runs once")
		})
	}
}

// nextID returns the stream id after id.
func nextID(t *testing.T, id string) string {
	t.Helper()
	ms, seq, ok := strings.Cut(id, "-")
	require.True(t, ok, id)
	n, err := strconv.ParseUint(seq, 10, 64)
	require.NoError(t, err)
	return ms + "-" + strconv.FormatUint(n+1, 10)
}

// TestInboxStreamTrimmedLeases: a trim from outside cuts loose the
// entries of many leased deliveries. The Lease that finds it puts every
// delivery back at once, and their old entries leave the pending entries
// list with it: left there, XAUTOCLAIM reported a few of them per call,
// each report walking every unfinished delivery again (a walk holds Redis
// about 7 ms per 1,000 deliveries), and the trim the inbox makes of its
// own stream stopped at the oldest of them.
func TestInboxStreamTrimmedLeases(t *testing.T) {
	ctx := context.Background()
	ib, clock, client, prefix := newTestInbox(t)
	const n = 40
	for i := range n {
		_, err := ib.Store(ctx, entry(fmt.Sprintf("standard:k%02d", i)))
		require.NoError(t, err)
	}
	ls, err := ib.Lease(ctx, n, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, n)
	q := prefix + "{default}:q"
	require.NoError(t, client.XTrimMaxLen(ctx, q, 0).Err())

	ls, err = ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Empty(t, ls, "all leased still")
	sids := map[string]bool{}
	for i := range n {
		sid, err := client.HGet(ctx, prefix+"{default}:d:"+fmt.Sprintf("standard:k%02d", i), "sid").Result()
		require.NoError(t, err)
		e, err := client.XRange(ctx, q, sid, sid).Result()
		require.NoError(t, err)
		require.Len(t, e, 1, "k%02d has its entry again", i)
		sids[sid] = true
	}
	// The pending entries list holds the new entries the Lease read (it
	// reads past leases held, putting back their deadlines), none of the
	// old ones.
	pel, err := client.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: q, Group: inboxGroup, Start: "-", End: "+", Count: 10 * n}).Result()
	require.NoError(t, err)
	for _, p := range pel {
		require.True(t, sids[p.ID], "the old entry %s is still on the pending entries list", p.ID)
	}

	clock.Advance(2 * time.Minute)
	got := map[string]bool{}
	for range n {
		ls, err := ib.Lease(ctx, 10, time.Minute)
		require.NoError(t, err)
		if len(ls) == 0 {
			break
		}
		for _, l := range ls {
			require.False(t, got[l.Entry.Key], "%s twice", l.Entry.Key)
			got[l.Entry.Key] = true
			require.NoError(t, ib.Complete(ctx, l.Entry.Key, l.Token))
		}
	}
	require.Len(t, got, n)
}

// TestInboxListTies: deliveries of one microsecond are listed in the
// byte order of their keys, as Redis orders a sorted set's members of
// one score (not in the order of Lua's string comparison, which follows
// the server's locale), and a page after a cursor whose delivery has
// left the index starts where it stood: the script finds the place by
// binary search among the score's members.
func TestInboxListTies(t *testing.T) {
	ib, _, client, prefix := newTestInbox(t)
	ctx := context.Background()
	var keys []string
	for i := range 15 {
		for _, f := range []string{"standard:A%02d", "standard:a%02d", "standard:\xc3\xa9%02d", "standard:_%02d"} {
			k := fmt.Sprintf(f, i)
			keys = append(keys, k)
			stored, err := ib.Store(ctx, entry(k))
			require.NoError(t, err)
			require.True(t, stored)
		}
	}
	sort.Strings(keys) // byte order
	var listed, gone []string
	q := webhook.InboxQuery{State: webhook.InboxPending, Limit: 7, OmitBody: true}
	for range 20 {
		p, err := ib.List(ctx, q)
		require.NoError(t, err)
		for _, e := range p.Entries {
			listed = append(listed, e.Key)
		}
		if !p.More {
			break
		}
		// The cursor's delivery leaves the index.
		last := p.Entries[len(p.Entries)-1].Key
		require.NoError(t, client.ZRem(ctx, prefix+"{default}:new", last).Err())
		gone = append(gone, last)
		q.After = p.Next
	}
	require.Equal(t, keys, listed)
	require.NotEmpty(t, gone)
}

// TestInboxListPassesLostHashes: a page passes over the names in an
// index whose hashes are gone (deleted from outside, or evicted) and
// goes on reading, so that it holds Limit deliveries whenever there are
// that many past the cursor, says More only when a delivery follows it,
// and keeps Next at its last delivery (After for an empty page), as
// webhook.InboxPage says. Without it a page counted each lost name as a
// delivery: short or empty while More was set, its Next past names it
// never returned. The names it passes leave the indexes, so that the
// next page (or a page capped at listSkip lost names) does not walk them
// again, and they no longer count against the capacity.
func TestInboxListPassesLostHashes(t *testing.T) {
	ctx := context.Background()
	key := func(i int) string { return fmt.Sprintf("standard:k%d", i) }
	keyRange := func(from, to int) []string {
		var ks []string
		for i := from; i <= to; i++ {
			ks = append(ks, key(i))
		}
		return ks
	}
	for _, tc := range []struct {
		name  string
		lost  []string
		query webhook.InboxQuery
		skip  int // the cap on lost names a page passes; 0 for the default
		pages [][]string
		more  []bool
	}{
		{name: "lost in the middle", lost: keyRange(2, 6), query: webhook.InboxQuery{Limit: 3},
			pages: [][]string{{key(0), key(1), key(7)}, {key(8), key(9)}}, more: []bool{true, false}},
		{name: "lost at the end", lost: keyRange(5, 9), query: webhook.InboxQuery{Limit: 5},
			pages: [][]string{keyRange(0, 4)}, more: []bool{false}},
		{name: "lost past a full page", lost: keyRange(3, 8), query: webhook.InboxQuery{Limit: 3},
			pages: [][]string{keyRange(0, 2), {key(9)}}, more: []bool{true, false}},
		{name: "lost first", lost: keyRange(0, 7), query: webhook.InboxQuery{Limit: 2},
			pages: [][]string{{key(8), key(9)}}, more: []bool{false}},
		{name: "all lost", lost: keyRange(0, 9), query: webhook.InboxQuery{Limit: 4},
			pages: [][]string{{}}, more: []bool{false}},
		{name: "pending, lost in the middle", lost: keyRange(1, 8),
			query: webhook.InboxQuery{State: webhook.InboxPending, Limit: 2, OmitBody: true},
			pages: [][]string{{key(0), key(9)}}, more: []bool{false}},
		{name: "capped", lost: keyRange(0, 6), query: webhook.InboxQuery{Limit: 2}, skip: 3,
			pages: [][]string{{}, {}, {key(7), key(8)}, {key(9)}}, more: []bool{true, true, true, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ib, _, client, prefix := newTestInbox(t)
			if tc.skip > 0 {
				ib.listSkip = tc.skip
			}
			storeKeys(ctx, t, ib, keyRange(0, 9)...)
			for _, k := range tc.lost {
				require.NoError(t, client.Del(ctx, prefix+"{default}:d:"+k).Err())
			}
			q := tc.query
			var pages [][]string
			var more []bool
			for range len(tc.pages) + 2 {
				p, err := ib.List(ctx, q)
				require.NoError(t, err)
				got := []string{}
				for _, e := range p.Entries {
					got = append(got, e.Key)
				}
				pages, more = append(pages, got), append(more, p.More)
				if len(p.Entries) == 0 {
					require.Equal(t, q.After, p.Next, "an empty page's Next is its After")
				}
				q.After = p.Next
				if !p.More {
					break
				}
			}
			require.Equal(t, tc.pages, pages)
			require.Equal(t, tc.more, more)
			st, err := ib.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, 10-len(tc.lost), st.Pending, "the lost names count no more")
		})
	}
}

// TestInboxReplicaClockSkew: two replicas whose clocks are an hour
// apart share an inbox. Each judges leases and retries by its own clock
// (the package doc asks replicas to keep theirs in agreement): the one
// ahead takes a lease or a retry of the other's up to the skew early,
// the one behind up to the skew late, and neither strands a delivery,
// whichever replica's first Lease fixed the offset between the inbox's
// clock and Redis's.
func TestInboxReplicaClockSkew(t *testing.T) {
	ctx := context.Background()
	const skew = time.Hour
	for _, first := range []string{"ahead", "behind"} {
		t.Run("first "+first, func(t *testing.T) {
			client := newClient(t)
			prefix := testPrefix(t, client)
			base := webhooktest.Time()
			clocks := map[string]*webhooktest.Clock{"ahead": webhooktest.NewClock(base.Add(skew)), "behind": webhooktest.NewClock(base)}
			inboxes := map[string]*Inbox{}
			for name, c := range clocks {
				ib, err := NewInbox(client, WithInboxPrefix(prefix), WithInboxClock(c.Now))
				require.NoError(t, err)
				inboxes[name] = ib
			}
			ahead, behind := inboxes["ahead"], inboxes["behind"]
			advance := func(d time.Duration) {
				for _, c := range clocks {
					c.Advance(d)
				}
			}
			leaseOne := func(ib *Inbox, key string) webhook.InboxLease {
				t.Helper()
				ls, err := ib.Lease(ctx, 10, time.Minute)
				require.NoError(t, err)
				require.Equal(t, []string{key}, leaseKeys(ls))
				return ls[0]
			}
			nothingDue := func(ib *Inbox) {
				t.Helper()
				ls, err := ib.Lease(ctx, 10, time.Minute)
				require.NoError(t, err)
				require.Empty(t, leaseKeys(ls))
			}
			nothingDue(inboxes[first]) // fixes the offset

			// The one ahead finds the lease of the one behind run out.
			storeKeys(ctx, t, behind, "standard:a")
			old := leaseOne(behind, "standard:a")
			l := leaseOne(ahead, "standard:a")
			require.Equal(t, 2, l.Entry.Attempts)
			require.ErrorIs(t, behind.Complete(ctx, "standard:a", old.Token), webhook.ErrLeaseLost)
			require.NoError(t, ahead.Complete(ctx, "standard:a", l.Token))

			// The one behind waits for the lease of the one ahead to run
			// out by its own clock: late, not never.
			storeKeys(ctx, t, behind, "standard:b")
			held := leaseOne(ahead, "standard:b")
			nothingDue(behind)
			advance(skew + time.Minute)
			nothingDue(behind) // the lease runs until its LeaseUntil, inclusive
			advance(time.Millisecond)
			l = leaseOne(behind, "standard:b")
			require.ErrorIs(t, ahead.Complete(ctx, "standard:b", held.Token), webhook.ErrLeaseLost)

			// A retry of the one behind is due at once for the one ahead;
			// one of the one ahead comes due for the one behind by its
			// own clock.
			require.NoError(t, behind.Retry(ctx, "standard:b", l.Token, clocks["behind"].Now().Add(30*time.Second), "again"))
			l = leaseOne(ahead, "standard:b")
			require.NoError(t, ahead.Retry(ctx, "standard:b", l.Token, clocks["ahead"].Now().Add(30*time.Second), "again"))
			nothingDue(behind)
			advance(skew + 30*time.Second - time.Millisecond)
			nothingDue(behind)
			advance(time.Millisecond)
			l = leaseOne(behind, "standard:b")
			require.Equal(t, 4, l.Entry.Attempts)
			require.NoError(t, behind.Complete(ctx, "standard:b", l.Token))
			st, err := ahead.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, webhook.InboxStats{Done: 2}, st)
		})
	}
}
