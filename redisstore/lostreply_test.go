package redisstore

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/webhooktest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// A replyCutter forwards connections to the test Redis and, once armed,
// lets the first command that mentions a marker (or, with every set,
// every nth script call) through to Redis, then cuts that connection
// before Redis's reply gets back: the network failing after Redis ran
// the command. go-redis then sends the command
// again on a new connection (its MaxRetries), so a script runs twice
// with the same arguments, and its second run must answer as the first
// would have.
type replyCutter struct {
	*proxy
	marker atomic.Pointer[[]byte]
	every  atomic.Int32 // with n > 0, every nth script call loses its reply
	calls  atomic.Int32
	sent   sync.Map     // the calls cut, by their bytes: a call sent again is not cut again
	cut    atomic.Int32 // connections cut
}

func startReplyCutter(t *testing.T, target string) *replyCutter {
	t.Helper()
	p := &replyCutter{}
	p.proxy = startProxyWith(t, "127.0.0.1:0", target, p.forward)
	return p
}

// forward moves c's commands to up and up's replies to c, cutting both
// connections instead of passing on the reply to a command chosen to lose
// it.
func (p *replyCutter) forward(wg *sync.WaitGroup, c, up net.Conn) {
	var cutting atomic.Bool
	wg.Go(func() {
		defer up.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if m := p.marker.Load(); m != nil && bytes.Contains(buf[:n], *m) && p.marker.CompareAndSwap(m, nil) {
					cutting.Store(true) // before Redis can answer
				}
				if e := p.every.Load(); e > 0 && bytes.Contains(buf[:n], []byte("evalsha")) && p.calls.Add(1)%e == 0 {
					if _, again := p.sent.LoadOrStore(string(buf[:n]), true); !again {
						cutting.Store(true)
					}
				}
				if _, werr := up.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	wg.Go(func() {
		defer c.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := up.Read(buf)
			if n > 0 && cutting.Load() {
				p.cut.Add(1)
				return // the reply is lost with the connection
			}
			if n > 0 {
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
}

// arm makes the next command mentioning marker lose its reply.
func (p *replyCutter) arm(marker string) {
	m := []byte(marker)
	p.marker.Store(&m)
}

// cutterClient is a client through p that retries a command once, as
// go-redis does by default (three times).
func cutterClient(t *testing.T, p *replyCutter) *redis.Client {
	t.Helper()
	target := redisOptions(t)
	client := redis.NewClient(&redis.Options{
		Addr: p.addr, Username: target.Username, Password: target.Password, DB: target.DB,
		MaxRetries: 1, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 2 * time.Millisecond,
	})
	t.Cleanup(func() { client.Close() })
	return client
}

// TestClaimReplyLost: a Claim whose reply is lost after Redis took the
// claim is sent again by go-redis. The retry must find the claim its
// own; answering ClaimInFlight would make the handler refuse the delivery
// with 409 and hold the key until the lease ran out, past a sender's
// only retry (Intercom's, a minute later, the default lease).
func TestClaimReplyLost(t *testing.T) {
	ctx := context.Background()
	direct := newClient(t)
	prefix := testPrefix(t, direct)
	p := startReplyCutter(t, redisOptions(t).Addr)
	s := New(cutterClient(t, p), WithPrefix(prefix))
	// Redis has the script, so the command whose reply is lost is the
	// one that ran it, not a NOSCRIPT refusal.
	_, _, err := New(direct, WithPrefix(prefix)).Claim(ctx, "standard:msg_warm", time.Minute)
	require.NoError(t, err)

	p.arm("standard:msg_lost")
	token, status, err := s.Claim(ctx, "standard:msg_lost", time.Minute)
	require.NoError(t, err)
	require.EqualValues(t, 1, p.cut.Load(), "no reply was lost")
	require.Equal(t, webhook.ClaimAcquired, status, "the retried Claim took its own claim for another's")
	require.NotEmpty(t, token)
	require.NoError(t, s.Commit(ctx, "standard:msg_lost", token, time.Minute))

	// Another holder's claim is still in flight to a Claim sent again.
	_, status, err = New(direct, WithPrefix(prefix)).Claim(ctx, "standard:msg_other", time.Minute)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimAcquired, status)
	p.arm("standard:msg_other")
	_, status, err = s.Claim(ctx, "standard:msg_other", time.Minute)
	require.NoError(t, err)
	require.EqualValues(t, 2, p.cut.Load(), "no reply was lost")
	require.Equal(t, webhook.ClaimInFlight, status)
}

// TestSettleReplyLost: a Commit or Release whose reply is lost after
// Redis ran its script is sent again by go-redis, and the second run
// must answer as the first did: nil, with the key processed or free. A
// holder whose lease ran out while another claimed, committed or
// released the key is still refused with webhook.ErrNotOwner, its reply
// lost too, and leaves the key as the other holder left it.
func TestSettleReplyLost(t *testing.T) {
	const key = "standard:msg_lost"
	for _, tc := range []struct {
		name string
		// before runs from the holder's claim to its settling call, with
		// direct, a Store that does not go through the proxy.
		before  func(t *testing.T, direct *Store)
		op      string // commit or release
		wantErr error
		value   *regexp.Regexp // the key's value after the call
		ttl     time.Duration  // its expiry after the call, within a second
		claim   webhook.ClaimStatus
	}{
		{name: "commit", op: "commit", value: regexp.MustCompile(`^done:[0-9a-f]{32}$`), ttl: time.Hour, claim: webhook.ClaimProcessed},
		{name: "release", op: "release", value: regexp.MustCompile(`^released:[0-9a-f]{32}$`), ttl: time.Minute, claim: webhook.ClaimAcquired},
		{
			name: "commit after another's claim", op: "commit", wantErr: webhook.ErrNotOwner,
			before: func(t *testing.T, direct *Store) { claimAfterLease(t, direct, key) },
			value:  regexp.MustCompile(`^claimed:[0-9a-f]{32}$`), ttl: time.Minute, claim: webhook.ClaimInFlight,
		},
		{
			name: "commit after another's commit", op: "commit", wantErr: webhook.ErrNotOwner,
			before: func(t *testing.T, direct *Store) {
				token := claimAfterLease(t, direct, key)
				require.NoError(t, direct.Commit(context.Background(), key, token, 2*time.Hour))
			},
			value: regexp.MustCompile(`^done:[0-9a-f]{32}$`), ttl: 2 * time.Hour, claim: webhook.ClaimProcessed,
		},
		{
			name: "release after another's claim", op: "release", wantErr: webhook.ErrNotOwner,
			before: func(t *testing.T, direct *Store) { claimAfterLease(t, direct, key) },
			value:  regexp.MustCompile(`^claimed:[0-9a-f]{32}$`), ttl: time.Minute, claim: webhook.ClaimInFlight,
		},
		{
			name: "release after another's release", op: "release", wantErr: webhook.ErrNotOwner,
			before: func(t *testing.T, direct *Store) {
				token := claimAfterLease(t, direct, key)
				require.NoError(t, direct.Release(context.Background(), key, token))
			},
			value: regexp.MustCompile(`^released:[0-9a-f]{32}$`), ttl: time.Minute, claim: webhook.ClaimAcquired,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			client := newClient(t)
			prefix := testPrefix(t, client)
			direct := New(client, WithPrefix(prefix))
			p := startReplyCutter(t, redisOptions(t).Addr)
			s := New(cutterClient(t, p), WithPrefix(prefix))
			warmStore(t, s)

			lease := time.Minute
			if tc.before != nil {
				lease = short
			}
			token, status, err := s.Claim(ctx, key, lease)
			require.NoError(t, err)
			require.Equal(t, webhook.ClaimAcquired, status)
			if tc.before != nil {
				tc.before(t, direct)
			}
			before := client.Get(ctx, prefix+key).Val()

			p.arm(key)
			if tc.op == "commit" {
				err = s.Commit(ctx, key, token, time.Hour)
			} else {
				err = s.Release(ctx, key, token)
			}
			require.EqualValues(t, 1, p.cut.Load(), "no reply was lost")
			if tc.wantErr == nil {
				require.NoError(t, err, "a %s that ran reported the claim lost", tc.op)
			} else {
				require.ErrorIs(t, err, tc.wantErr)
				require.Equal(t, before, client.Get(ctx, prefix+key).Val(), "a holder that lost its claim changed the key")
			}
			require.Regexp(t, tc.value, client.Get(ctx, prefix+key).Val())
			ttl := client.PTTL(ctx, prefix+key).Val()
			require.True(t, ttl > tc.ttl-time.Second && ttl <= tc.ttl, "TTL %v, want about %v", ttl, tc.ttl)

			_, status, err = direct.Claim(ctx, key, time.Minute)
			require.NoError(t, err)
			require.Equal(t, tc.claim, status)
		})
	}
}

// claimAfterLease waits out the lease of the holder's claim on key (the
// short one of the lifecycle table) and claims key for another holder,
// whose token it returns.
func claimAfterLease(t *testing.T, s *Store, key string) string {
	t.Helper()
	time.Sleep(past)
	token, status, err := s.Claim(context.Background(), key, time.Minute)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimAcquired, status)
	return token
}

// warmStore runs a claim through each of s's scripts, so that Redis has
// them and the command whose reply is lost is the one that ran a script,
// not a NOSCRIPT refusal, which runs nothing.
func warmStore(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	for _, commit := range []bool{true, false} {
		token, status, err := s.Claim(ctx, "standard:msg_warm", time.Minute)
		require.NoError(t, err)
		require.Equal(t, webhook.ClaimAcquired, status)
		if commit {
			require.NoError(t, s.Commit(ctx, "standard:msg_warm", token, time.Minute))
			require.NoError(t, s.client.Del(ctx, s.prefix+"standard:msg_warm").Err())
		} else {
			require.NoError(t, s.Release(ctx, "standard:msg_warm", token))
		}
	}
}

// cutInbox is an Inbox under a prefix of the test's own, on a clock of
// its own, whose client reaches the test Redis through a replyCutter,
// its scripts loaded so that the cut reply is a script's.
func cutInbox(t *testing.T) (ib *Inbox, p *replyCutter, prefix string, clock *webhooktest.Clock) {
	t.Helper()
	prefix = testPrefix(t, newClient(t))
	clock = webhooktest.NewClock(webhooktest.Time())
	p = startReplyCutter(t, redisOptions(t).Addr)
	ib, err := NewInbox(cutterClient(t, p), WithInboxPrefix(prefix), WithInboxClock(clock.Now))
	require.NoError(t, err)
	warmScripts(t, ib)
	return ib, p, prefix, clock
}

// TestInboxReplyLost: each inbox operation whose reply is lost after
// Redis ran its script is sent again by go-redis, and the second run
// answers as the first did. Otherwise a Store that stored reports a
// duplicate (the workers are not woken, the observer counts a
// duplicate), a Complete, Retry or Kill that settled reports the lease
// lost (a dead letter goes unreported to the observer's dead hook), and
// a Lease's deliveries sit under tokens no worker holds until the lease
// runs out, each such loss costing an attempt of the retry policy; a
// Purge's count would miss the batch whose reply was lost.
func TestInboxReplyLost(t *testing.T) {
	ctx := context.Background()
	for _, op := range []string{"store", "lease", "complete", "retry", "kill", "purge"} {
		t.Run(op, func(t *testing.T) {
			ib, p, prefix, clock := cutInbox(t)

			const key = "standard:msg_lost"
			if op == "store" {
				p.arm(key)
			}
			stored, err := ib.Store(ctx, entry(key))
			require.NoError(t, err)
			require.True(t, stored, "a Store that stored reported a duplicate")
			if op == "store" {
				require.EqualValues(t, 1, p.cut.Load(), "no reply was lost")
				return
			}
			if op == "lease" {
				p.arm(prefix + "{default}:meta")
			}
			ls, err := ib.Lease(ctx, 10, time.Minute)
			require.NoError(t, err)
			require.Len(t, ls, 1, "a Lease's deliveries were lost with its reply")
			require.Equal(t, key, ls[0].Entry.Key)
			require.Equal(t, 1, ls[0].Entry.Attempts, "the lost reply cost an attempt")
			if op == "lease" {
				require.EqualValues(t, 1, p.cut.Load(), "no reply was lost")
				require.NoError(t, ib.Complete(ctx, key, ls[0].Token))
				return
			}

			if op == "purge" {
				require.NoError(t, ib.Complete(ctx, key, ls[0].Token))
				clock.Advance(time.Hour)
				p.arm(prefix + "{default}:done:at")
				n, err := ib.Purge(ctx, webhook.InboxDone, clock.Now())
				require.NoError(t, err)
				require.EqualValues(t, 1, p.cut.Load(), "no reply was lost")
				require.Equal(t, 2, n, "a Purge's count was lost with its reply")
				return
			}

			p.arm(key)
			want := map[string]webhook.InboxState{"complete": webhook.InboxDone, "retry": webhook.InboxPending, "kill": webhook.InboxDead}[op]
			switch op {
			case "complete":
				err = ib.Complete(ctx, key, ls[0].Token)
			case "retry":
				err = ib.Retry(ctx, key, ls[0].Token, clock.Now().Add(time.Minute), "boom")
			case "kill":
				err = ib.Kill(ctx, key, ls[0].Token, "boom")
			}
			require.EqualValues(t, 1, p.cut.Load(), "no reply was lost")
			require.NoError(t, err, "a %s that settled reported the lease lost", op)
			got, err := ib.Get(ctx, key)
			require.NoError(t, err)
			require.Equal(t, want, got.State)
			// The token has settled: a second call of its own is refused.
			require.ErrorIs(t, ib.Complete(ctx, key, ls[0].Token), webhook.ErrLeaseLost)
		})
	}
}

// TestInboxLeaseRetryReplyLost: a Lease that takes a due retry from the
// delay set, ahead of a delivery stored after the retry came due, and
// whose reply is lost, answers its second run with the same retry, once,
// and leaves the other delivery due.
func TestInboxLeaseRetryReplyLost(t *testing.T) {
	ctx := context.Background()
	ib, p, prefix, clock := cutInbox(t)

	const key, after = "standard:msg_retry", "standard:msg_after"
	_, err := ib.Store(ctx, entry(key))
	require.NoError(t, err)
	ls, err := ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	require.NoError(t, ib.Retry(ctx, key, ls[0].Token, clock.Now().Add(time.Second), "boom"))
	clock.Advance(2 * time.Second)
	_, err = ib.Store(ctx, entry(after))
	require.NoError(t, err)

	p.arm(prefix + "{default}:meta")
	ls, err = ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.EqualValues(t, 1, p.cut.Load(), "no reply was lost")
	require.Len(t, ls, 1)
	require.Equal(t, key, ls[0].Entry.Key, "the retry came due first")
	require.Equal(t, 2, ls[0].Entry.Attempts, "the lost reply cost an attempt")
	ls2, err := ib.Lease(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Equal(t, []string{after}, leaseKeys(ls2))
	require.NoError(t, ib.Complete(ctx, key, ls[0].Token))
	require.NoError(t, ib.Complete(ctx, after, ls2[0].Token))
	ls, err = ib.Lease(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Empty(t, leaseKeys(ls))
}

// TestInboxRepliesLost: workers drain an inbox through a network that
// loses the reply of every fifth script call after Redis ran it (a
// pipeline of several counts once; a call sent again is not cut again,
// so that go-redis's retries get through), while deliveries are stored.
// Every Store reports its delivery stored, every Complete succeeds, and
// each delivery is leased once: no lost reply strands a lease or costs
// an attempt.
func TestInboxRepliesLost(t *testing.T) {
	ctx := context.Background()
	direct := newClient(t)
	prefix := testPrefix(t, direct)
	p := startReplyCutter(t, redisOptions(t).Addr)
	target := redisOptions(t)
	client := redis.NewClient(&redis.Options{
		Addr: p.addr, Username: target.Username, Password: target.Password, DB: target.DB,
		MaxRetries: 3, MinRetryBackoff: time.Millisecond, MaxRetryBackoff: 2 * time.Millisecond,
	})
	t.Cleanup(func() { client.Close() })
	ib, err := NewInbox(client, WithInboxPrefix(prefix))
	require.NoError(t, err)
	warmScripts(t, ib)
	p.every.Store(5)

	const deliveries, senders, workers = 200, 8, 4
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := s; i < deliveries; i += senders {
				stored, err := ib.Store(ctx, entry(fmt.Sprintf("standard:msg_%03d", i)))
				if err != nil || !stored {
					t.Errorf("store %d: stored %v, %v", i, stored, err)
				}
			}
		})
	}
	var mu sync.Mutex
	leased := map[string]int{}
	var done atomic.Int32
	deadline := time.Now().Add(30 * time.Second)
	for range workers {
		wg.Go(func() {
			for done.Load() < deliveries && time.Now().Before(deadline) {
				ls, err := ib.Lease(ctx, 5, time.Minute)
				if err != nil {
					t.Errorf("lease: %v", err)
					return
				}
				if len(ls) == 0 {
					time.Sleep(5 * time.Millisecond)
				}
				for _, l := range ls {
					mu.Lock()
					leased[l.Entry.Key]++
					mu.Unlock()
					if err := ib.Complete(ctx, l.Entry.Key, l.Token); err != nil {
						t.Errorf("complete %s: %v", l.Entry.Key, err)
						continue
					}
					done.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.GreaterOrEqual(t, p.cut.Load(), int32(10), "too few replies lost")
	require.EqualValues(t, deliveries, done.Load())
	require.Len(t, leased, deliveries)
	for k, n := range leased {
		require.Equal(t, 1, n, "%s leased %d times", k, n)
	}
	stats, err := ib.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, webhook.InboxStats{Done: deliveries + 1}, stats)
	t.Logf("%d replies lost; every delivery stored, leased and completed once", p.cut.Load())
}

// TestInboxReplayRunTwice: a Replay whose reply is lost is sent again by
// go-redis, and a worker may lease, run and complete the replayed
// delivery in between. The second run must not replay it once more,
// which would run its callbacks again, nor report it in flight.
func TestInboxReplayRunTwice(t *testing.T) {
	ctx := context.Background()
	ib, _, client, _ := newTestInbox(t)
	const key = "standard:msg_1"
	_, err := ib.Store(ctx, entry(key))
	require.NoError(t, err)
	ls, err := ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	require.NoError(t, ib.Kill(ctx, key, ls[0].Token, "boom"))

	// One call of Replay, its script run twice with the same arguments.
	keys, args := ib.replayCall(key, newToken())
	n, err := ib.replay.Run(ctx, client, keys, args...).Int()
	require.NoError(t, err)
	require.Equal(t, 1, n)
	ls, err = ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	n, err = ib.replay.Run(ctx, client, keys, args...).Int()
	require.NoError(t, err)
	require.Equal(t, 1, n, "the second run reported the replayed delivery in flight")
	require.NoError(t, ib.Complete(ctx, key, ls[0].Token))
	n, err = ib.replay.Run(ctx, client, keys, args...).Int()
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got, err := ib.Get(ctx, key)
	require.NoError(t, err)
	require.Equal(t, webhook.InboxDone, got.State, "the second run replayed the delivery again")

	// Another call replays it.
	require.NoError(t, ib.Replay(ctx, key))
	got, err = ib.Get(ctx, key)
	require.NoError(t, err)
	require.Equal(t, webhook.InboxPending, got.State)
}

// warmScripts runs a delivery through ib, so that Redis has every script
// the test's calls use and the command whose reply is lost is the one
// that ran a script, not a NOSCRIPT refusal, which runs nothing.
func warmScripts(t *testing.T, ib *Inbox) {
	t.Helper()
	ctx := context.Background()
	_, err := ib.Store(ctx, entry("standard:msg_warm"))
	require.NoError(t, err)
	warm, err := ib.Lease(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, warm, 1)
	require.NoError(t, ib.Complete(ctx, warm[0].Entry.Key, warm[0].Token))
}
