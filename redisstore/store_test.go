package redisstore

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// redisOptions returns the options for the Redis named by
// WEBHOOK_TEST_REDIS_URL. CI must provide one, so there a missing URL fails
// the test instead of skipping it.
func redisOptions(tb testing.TB) *redis.Options {
	tb.Helper()
	url := os.Getenv("WEBHOOK_TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("WEBHOOK_TEST_REDIS_URL not set: CI must run these tests against a Redis (scripts/redis-test.sh starts one)")
		}
		tb.Skip("WEBHOOK_TEST_REDIS_URL not set; run scripts/redis-test.sh or point it at a disposable Redis, e.g. redis://127.0.0.1:6379/0")
	}
	opts, err := redis.ParseURL(url)
	require.NoError(tb, err, "parse WEBHOOK_TEST_REDIS_URL")
	return opts
}

// newClient connects to the test Redis and closes the client after the
// test.
func newClient(tb testing.TB) *redis.Client {
	tb.Helper()
	client := redis.NewClient(redisOptions(tb))
	ready(tb, client, "WEBHOOK_TEST_REDIS_URL")
	return client
}

// ready closes the client after the test, and fails the test unless the
// Redis it reaches, the one the variable env names, answers a ping.
func ready(tb testing.TB, client redis.UniversalClient, env string) {
	tb.Helper()
	tb.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(tb, client.Ping(ctx).Err(), "ping "+env)
}

// inboxOn makes the conformance suite's Inbox on a client that connect
// opens, under a prefix of the subtest's own.
func inboxOn(connect func(testing.TB) *redis.Client, opts ...InboxOption) func(*testing.T, func() time.Time) webhook.Inbox {
	return func(t *testing.T, now func() time.Time) webhook.Inbox {
		client := connect(t)
		ib, err := NewInbox(client, append([]InboxOption{WithInboxPrefix(testPrefix(t, client)), WithInboxClock(now)}, opts...)...)
		require.NoError(t, err)
		return ib
	}
}

// testPrefix returns a prefix no other test or run uses, and deletes its
// keys after the test.
func testPrefix(tb testing.TB, client *redis.Client) string {
	tb.Helper()
	prefix := fmt.Sprintf("webhooktest:%s:%d:", tb.Name(), time.Now().UnixNano())
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 1000 {
				client.Del(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			client.Del(ctx, keys...)
		}
	})
	return prefix
}

var tokenPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// A lifecycle step acts as the holder of a named token. Tokens are
// recorded by name when a claim succeeds; "bogus" is never recorded.
type step struct {
	op      string // claim, commit, release or sleep
	who     string
	d       time.Duration // lease, retention or sleep
	want    webhook.ClaimStatus
	wantErr error
}

func claim(who string, lease time.Duration, want webhook.ClaimStatus) step {
	return step{op: "claim", who: who, d: lease, want: want}
}
func commit(who string, retention time.Duration, wantErr error) step {
	return step{op: "commit", who: who, d: retention, wantErr: wantErr}
}
func release(who string, wantErr error) step { return step{op: "release", who: who, wantErr: wantErr} }
func sleep(d time.Duration) step             { return step{op: "sleep", d: d} }

// Leases and retentions in the table are short so expiry is quick to
// observe, and the sleeps leave a wide margin above them. A short one is
// only waited out: a step that must see one still in force would fail
// whenever a loaded machine took longer than it between two steps. Those
// take held, which no stall between two steps lasts, and pastHeld.
const (
	long     = time.Minute
	short    = 100 * time.Millisecond
	past     = 250 * time.Millisecond
	held     = time.Second
	pastHeld = held + past - short
)

var lifecycle = []struct {
	name  string
	steps []step
}{
	{"claim, duplicate, commit, duplicate", []step{
		claim("a", long, webhook.ClaimAcquired),
		claim("b", long, webhook.ClaimInFlight),
		commit("a", long, nil),
		claim("b", long, webhook.ClaimProcessed),
		commit("a", long, webhook.ErrNotOwner), // committed keys have no owner
		release("a", webhook.ErrNotOwner),
		claim("b", long, webhook.ClaimProcessed),
	}},
	{"release lets the retry claim", []step{
		claim("a", long, webhook.ClaimAcquired),
		release("a", nil),
		release("a", webhook.ErrNotOwner),
		claim("b", long, webhook.ClaimAcquired),
		commit("a", long, webhook.ErrNotOwner),
		commit("b", long, nil),
		claim("c", long, webhook.ClaimProcessed),
	}},
	{"wrong token", []step{
		claim("a", long, webhook.ClaimAcquired),
		commit("bogus", long, webhook.ErrNotOwner),
		release("bogus", webhook.ErrNotOwner),
		commit("empty", long, webhook.ErrNotOwner),
		release("empty", webhook.ErrNotOwner),
		claim("b", long, webhook.ClaimInFlight), // the wrong tokens changed nothing
		commit("a", long, nil),
	}},
	{"expired holder cannot commit over a newer claim", []step{
		claim("a", short, webhook.ClaimAcquired),
		sleep(past),
		claim("b", long, webhook.ClaimAcquired),
		commit("a", long, webhook.ErrNotOwner),
		release("a", webhook.ErrNotOwner),
		claim("c", long, webhook.ClaimInFlight), // b still holds it
		commit("b", long, nil),
		claim("c", long, webhook.ClaimProcessed),
	}},
	{"expired holder cannot settle after a newer release", []step{
		claim("a", short, webhook.ClaimAcquired),
		sleep(past),
		claim("b", long, webhook.ClaimAcquired),
		release("b", nil),
		release("a", webhook.ErrNotOwner),
		commit("a", long, webhook.ErrNotOwner),
		release("b", webhook.ErrNotOwner),
		claim("c", long, webhook.ClaimAcquired), // b's release freed it
		commit("b", long, webhook.ErrNotOwner),
		commit("c", long, nil),
	}},
	{"expired lease cannot be committed", []step{
		claim("a", short, webhook.ClaimAcquired),
		sleep(past),
		commit("a", long, webhook.ErrNotOwner),
		claim("b", long, webhook.ClaimAcquired),
	}},
	{"retention expiry frees the key", []step{
		claim("a", long, webhook.ClaimAcquired),
		commit("a", held, nil),
		claim("b", long, webhook.ClaimProcessed),
		sleep(pastHeld),
		claim("b", long, webhook.ClaimAcquired),
	}},
	{"unknown key", []step{
		commit("bogus", long, webhook.ErrNotOwner),
		release("bogus", webhook.ErrNotOwner),
		claim("a", long, webhook.ClaimAcquired),
	}},
}

// runLifecycle runs the table against d. The same table runs against
// webhook.MemoryStore, so the two stores are held to the same semantics.
func runLifecycle(t *testing.T, d webhook.Deduper, key string, steps []step) {
	t.Helper()
	ctx := context.Background()
	tokens := map[string]string{"bogus": "0123456789abcdef0123456789abcdef", "empty": ""}
	for i, st := range steps {
		where := fmt.Sprintf("step %d: %s %s", i, st.op, st.who)
		switch st.op {
		case "claim":
			token, status, err := d.Claim(ctx, key, st.d)
			require.NoError(t, err, where)
			require.Equal(t, st.want, status, where)
			if status == webhook.ClaimAcquired {
				require.NotEmpty(t, token, where)
				require.NotContains(t, tokens, st.who, "%s: table reuses a token name", where)
				tokens[st.who] = token
			} else {
				require.Empty(t, token, where)
			}
		case "commit", "release":
			token, ok := tokens[st.who]
			require.True(t, ok, "%s: no token named %q yet", where, st.who)
			var err error
			if st.op == "commit" {
				err = d.Commit(ctx, key, token, st.d)
			} else {
				err = d.Release(ctx, key, token)
			}
			if st.wantErr == nil {
				require.NoError(t, err, where)
			} else {
				require.ErrorIs(t, err, st.wantErr, where)
			}
		case "sleep":
			time.Sleep(st.d)
		default:
			t.Fatalf("%s: unknown op", where)
		}
	}
}

func TestLifecycle(t *testing.T) {
	for _, tc := range lifecycle {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client := newClient(t)
			s := New(client, WithPrefix(testPrefix(t, client)))
			runLifecycle(t, s, "standard:msg_1", tc.steps)
		})
	}
}

// TestLifecycleCluster runs the table on Redis Cluster (see
// TestInboxConformanceCluster) through go-redis's cluster client: each
// script touches its one key.
func TestLifecycleCluster(t *testing.T) {
	client := clusterClient(t)
	for _, tc := range lifecycle {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := fmt.Sprintf("webhooktest:%s:%d:", t.Name(), time.Now().UnixNano())
			t.Cleanup(func() { client.Del(context.Background(), prefix+"standard:msg_1") })
			runLifecycle(t, New(client, WithPrefix(prefix)), "standard:msg_1", tc.steps)
		})
	}
}

func TestLifecycleMemoryStore(t *testing.T) {
	for _, tc := range lifecycle {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runLifecycle(t, webhook.NewMemoryStore(0, nil), "standard:msg_1", tc.steps)
		})
	}
}

// TestLayout pins what is stored in Redis: under the prefix, a claim holds
// the token and expires with the lease; a commit holds "done:" and the
// id of the Commit call, and expires with the retention; a release holds
// "released:" and the id of the Release call for a minute, a key Claim
// takes as free. Other versions of this package, running on other
// replicas during a rolling deploy, depend on it.
func TestLayout(t *testing.T) {
	ctx := context.Background()
	client := newClient(t)
	prefix := testPrefix(t, client)
	s := New(client, WithPrefix(prefix))
	key := prefix + "intercom:notif_1"

	token, status, err := s.Claim(ctx, "intercom:notif_1", 30*time.Second)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimAcquired, status)
	require.Regexp(t, tokenPattern, token)
	require.Equal(t, "claimed:"+token, client.Get(ctx, key).Val())
	ttl := client.PTTL(ctx, key).Val()
	require.True(t, ttl > 29*time.Second && ttl <= 30*time.Second, "lease TTL %v", ttl)

	require.NoError(t, s.Commit(ctx, "intercom:notif_1", token, time.Hour))
	committed := client.Get(ctx, key).Val()
	require.Regexp(t, `^done:[0-9a-f]{32}$`, committed)
	require.NotEqual(t, "done:"+token, committed, "a Commit's id is its own, not the claim's token")
	ttl = client.PTTL(ctx, key).Val()
	require.True(t, ttl > 59*time.Minute && ttl <= time.Hour, "retention TTL %v", ttl)

	other, status, err := s.Claim(ctx, "intercom:notif_2", time.Second)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimAcquired, status)
	require.NotEqual(t, token, other)
	require.NoError(t, s.Release(ctx, "intercom:notif_2", other))
	released := client.Get(ctx, prefix+"intercom:notif_2").Val()
	require.Regexp(t, `^released:[0-9a-f]{32}$`, released)
	require.NotEqual(t, "released:"+other, released, "a Release's id is its own, not the claim's token")
	ttl = client.PTTL(ctx, prefix+"intercom:notif_2").Val()
	require.True(t, ttl > 59*time.Second && ttl <= time.Minute, "released TTL %v", ttl)
	_, status, err = s.Claim(ctx, "intercom:notif_2", time.Second)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimAcquired, status, "a released key is free")

	// A key that an earlier build committed holds "done" alone.
	require.NoError(t, client.Set(ctx, prefix+"intercom:notif_3", "done", time.Minute).Err())
	_, status, err = s.Claim(ctx, "intercom:notif_3", time.Second)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimProcessed, status)

	n, err := client.Exists(ctx, DefaultPrefix+"intercom:notif_1", "intercom:notif_1").Result()
	require.NoError(t, err)
	require.Zero(t, n, "keys written outside the prefix")
}

func TestDefaultPrefix(t *testing.T) {
	ctx := context.Background()
	client := newClient(t)
	key := fmt.Sprintf("test:%d", time.Now().UnixNano())
	t.Cleanup(func() { client.Del(context.Background(), DefaultPrefix+key) })

	token, status, err := New(client).Claim(ctx, key, time.Minute)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimAcquired, status)
	require.Equal(t, "claimed:"+token, client.Get(ctx, DefaultPrefix+key).Val())
}

func TestPrefixesAreSeparate(t *testing.T) {
	ctx := context.Background()
	client := newClient(t)
	prefix := testPrefix(t, client)
	a := New(client, WithPrefix(prefix+"a:"))
	b := New(client, WithPrefix(prefix+"b:"))
	_, status, err := a.Claim(ctx, "k", time.Minute)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimAcquired, status)
	_, status, err = b.Claim(ctx, "k", time.Minute)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimAcquired, status)
}

// TestCrashedHolder: a replica claims a message and dies before Commit or
// Release. Once the lease runs out, the sender's retry is processed.
func TestCrashedHolder(t *testing.T) {
	ctx := context.Background()
	client := newClient(t)
	prefix := testPrefix(t, client)
	crashed := New(client, WithPrefix(prefix))
	survivor := New(newClient(t), WithPrefix(prefix))
	// The retry during the lease must come within it, on a loaded machine
	// too.
	const lease = time.Second

	_, status, err := crashed.Claim(ctx, "standard:msg_crash", lease)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimAcquired, status)

	_, status, err = survivor.Claim(ctx, "standard:msg_crash", lease)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimInFlight, status, "retry during the lease")

	time.Sleep(lease + 100*time.Millisecond)
	token, status, err := survivor.Claim(ctx, "standard:msg_crash", lease)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimAcquired, status, "retry after the lease")
	require.NoError(t, survivor.Commit(ctx, "standard:msg_crash", token, time.Minute))
}

// TestConcurrentReplicas stands in for replicas behind a load balancer:
// two Stores on two clients share one Redis, and many goroutines deliver
// 1,000 messages, 30% of them twice at once. The first processing of 10%
// of the messages fails and is released, and the sender retries. Each
// message must be processed successfully exactly once.
func TestConcurrentReplicas(t *testing.T) {
	const (
		messages = 1000
		workers  = 32
	)
	client := newClient(t)
	prefix := testPrefix(t, client)
	replicas := [2]*Store{New(client, WithPrefix(prefix)), New(newClient(t), WithPrefix(prefix))}

	rng := rand.New(rand.NewPCG(1, 2))
	var deliveries []int
	duplicated := 0
	for _, id := range rng.Perm(messages) {
		deliveries = append(deliveries, id)
		if rng.IntN(10) < 3 {
			// Adjacent, so two workers take the copies at about the same time.
			deliveries = append(deliveries, id)
			duplicated++
		}
	}
	failFirst := make([]bool, messages)
	for _, id := range rng.Perm(messages)[:messages/10] {
		failFirst[id] = true
	}

	var (
		processed [messages]atomic.Int32
		failed    [messages]atomic.Bool
		failures  atomic.Int32
		inFlight  atomic.Int32
		dups      atomic.Int32
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// deliver runs one delivery to the end, retrying as a sender would
	// while the handler answers with an error or "in flight".
	deliver := func(s *Store, id int) error {
		key := "standard:msg_" + strconv.Itoa(id)
		for {
			token, status, err := s.Claim(ctx, key, 10*time.Second)
			if err != nil {
				return err
			}
			switch status {
			case webhook.ClaimProcessed:
				dups.Add(1)
				return nil
			case webhook.ClaimInFlight:
				inFlight.Add(1)
				time.Sleep(time.Millisecond)
				continue
			}
			time.Sleep(100 * time.Microsecond) // the callbacks
			if failFirst[id] && failed[id].CompareAndSwap(false, true) {
				failures.Add(1)
				if err := s.Release(ctx, key, token); err != nil {
					return fmt.Errorf("release: %w", err)
				}
				continue
			}
			processed[id].Add(1)
			if err := s.Commit(ctx, key, token, time.Minute); err != nil {
				return fmt.Errorf("commit: %w", err)
			}
			return nil
		}
	}

	queue := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			s := replicas[w%2]
			for id := range queue {
				if err := deliver(s, id); err != nil {
					errs <- fmt.Errorf("message %d: %w", id, err)
					cancel()
					return
				}
			}
		})
	}
feed:
	for _, id := range deliveries {
		select {
		case queue <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(queue)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, ctx.Err(), "deliveries did not finish in time")

	for id := range messages {
		require.EqualValues(t, 1, processed[id].Load(), "message %d processed", id)
		_, status, err := replicas[id%2].Claim(context.Background(), "standard:msg_"+strconv.Itoa(id), time.Minute)
		require.NoError(t, err)
		require.Equal(t, webhook.ClaimProcessed, status, "message %d", id)
	}
	require.EqualValues(t, messages/10, failures.Load())
	// Every delivery ends processed or answered "processed", so the second
	// copies all end the second way.
	require.EqualValues(t, duplicated, dups.Load())
	t.Logf("%d deliveries: %d duplicates answered processed, %d in-flight answers, %d failures retried",
		len(deliveries), dups.Load(), inFlight.Load(), failures.Load())
}

// fastFail bounds a call to a Redis that is down: under fastFailing's
// 5 s timeouts, so a call within it failed on the refusal, the closed
// connection or TestRedisHanging's shorter read timeout rather than
// waiting one of those out, with seconds to spare for a loaded machine
// (at 500 ms it had little more than a stall's worth).
const fastFail = 3 * time.Second

// unreachable checks that every method fails fast with an error that is
// not ErrNotOwner: a handler must not take "Redis is down" for "someone
// else owns this message".
func unreachable(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	calls := map[string]func() error{
		"claim": func() error {
			_, _, err := s.Claim(ctx, "standard:msg_down", time.Minute)
			return err
		},
		"commit": func() error {
			return s.Commit(ctx, "standard:msg_down", "0123456789abcdef0123456789abcdef", time.Minute)
		},
		"release": func() error { return s.Release(ctx, "standard:msg_down", "0123456789abcdef0123456789abcdef") },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		elapsed := time.Since(start)
		require.Error(t, err, name)
		require.NotErrorIs(t, err, webhook.ErrNotOwner, name)
		require.Less(t, elapsed, fastFail, "%s took %v", name, elapsed)
		require.Contains(t, err.Error(), "redisstore: "+name+": ")
	}
}

// fastFailing are client options for a Redis that goes away: one dial,
// no retries, so a call fails at once on a refused or closed connection.
// With go-redis's defaults (five dials 100ms apart, three retries of each
// command) a refused connection costs each call about 1.7s. The timeouts
// are generous: they are for a Redis that hangs (TestRedisHanging sets a
// short one), and at 200 ms a reply that a loaded machine was slow to
// deliver while Redis was up failed calls that the tests count on.
func fastFailing(addr string) *redis.Options {
	return &redis.Options{
		Addr:          addr,
		DialerRetries: 1,
		DialTimeout:   5 * time.Second,
		ReadTimeout:   5 * time.Second,
		WriteTimeout:  5 * time.Second,
		MaxRetries:    -1,
	}
}

func TestRedisRefusing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	client := redis.NewClient(fastFailing(addr))
	t.Cleanup(func() { client.Close() })
	unreachable(t, New(client))
}

// TestRedisHanging: a server that accepts connections and never answers,
// as a Redis does when its host is wedged or packets are dropped. Only the
// client's read timeout stands between the handler and a hang.
func TestRedisHanging(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns sync.WaitGroup
	t.Cleanup(func() { ln.Close(); conns.Wait() })
	conns.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				// Read and drop until the client gives up and closes.
				io.Copy(io.Discard, c)
				c.Close()
			})
		}
	})

	opts := fastFailing(ln.Addr().String())
	opts.ReadTimeout, opts.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	unreachable(t, New(client))
}

// TestRedisStopsMidRun: the Store works through a proxy to the test Redis,
// then the proxy goes away with its connections, as when Redis stops.
// Calls fail fast, and work again once Redis is back.
func TestRedisStopsMidRun(t *testing.T) {
	target := redisOptions(t)
	direct := newClient(t)
	prefix := testPrefix(t, direct)
	ctx := context.Background()

	p := startProxy(t, "127.0.0.1:0", target.Addr)
	opts := fastFailing(p.addr)
	opts.Username, opts.Password, opts.DB = target.Username, target.Password, target.DB
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	s := New(client, WithPrefix(prefix))

	token, status, err := s.Claim(ctx, "standard:msg_before", time.Minute)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimAcquired, status)

	p.stop()
	unreachable(t, s)

	// The held claim is still in Redis: once it is reachable again, its
	// owner can commit.
	startProxy(t, p.addr, target.Addr)
	require.NoError(t, s.Commit(ctx, "standard:msg_before", token, time.Minute))
	_, status, err = s.Claim(ctx, "standard:msg_before", time.Minute)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimProcessed, status)
}

type proxy struct {
	addr string
	ln   net.Listener
	mu   sync.Mutex
	open map[net.Conn]bool
	wg   sync.WaitGroup
}

// startProxy forwards connections on addr to target until stop or the end
// of the test.
func startProxy(t *testing.T, addr, target string) *proxy {
	return startProxyWith(t, addr, target, func(wg *sync.WaitGroup, c, up net.Conn) {
		wg.Go(func() { io.Copy(up, c); up.Close() })
		wg.Go(func() { io.Copy(c, up); c.Close() })
	})
}

// startProxyWith is startProxy with the bytes of each pair of connections
// (the client's c, Redis's up) moved by goroutines forward starts on wg.
func startProxyWith(t *testing.T, addr, target string, forward func(wg *sync.WaitGroup, c, up net.Conn)) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	p := &proxy{addr: ln.Addr().String(), ln: ln, open: make(map[net.Conn]bool)}
	t.Cleanup(p.stop)
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			if !p.track(c, up) {
				return
			}
			forward(&p.wg, c, up)
		}
	})
	return p
}

// track records conns to close on stop; it reports false, having closed
// them, if stop came first.
func (p *proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open == nil {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.open[c] = true
	}
	return true
}

func (p *proxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.open {
		c.Close()
	}
	p.open = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// TestLongTimes: a lease or retention up to the longest Duration (a
// retention meant as "for good") is stored as such, not wrapped round to
// a negative expiry that Redis refuses, which would fail every Commit
// and leave each processed message to be processed again.
func TestLongTimes(t *testing.T) {
	ctx := context.Background()
	client := newClient(t)
	prefix := testPrefix(t, client)
	s := New(client, WithPrefix(prefix))
	for _, d := range []time.Duration{math.MaxInt64, math.MaxInt64 - time.Millisecond + 2, 100 * 365 * 24 * time.Hour} {
		key := fmt.Sprintf("standard:msg_%d", d)
		token, status, err := s.Claim(ctx, key, d)
		require.NoError(t, err, "lease %v", d)
		require.Equal(t, webhook.ClaimAcquired, status)
		require.NoError(t, s.Commit(ctx, key, token, d), "retention %v", d)
		require.Regexp(t, `^done:[0-9a-f]{32}$`, client.Get(ctx, prefix+key).Val())
		ms, err := client.Do(ctx, "PTTL", prefix+key).Int64()
		require.NoError(t, err)
		require.Greater(t, ms, int64(d/time.Millisecond)-60_000, "retention %v", d)
	}
}

// TestStoreOutOfMemory: a Redis at its maxmemory (noeviction) refuses
// new claims, so the handler processes without them (or answers 500 with
// WithDedupeFailClosed), but a message claimed before must still be
// recorded processed when its callbacks succeed: a Commit refused then
// leaves the claim to run out, and the sender's retry runs the callbacks
// again.
func TestStoreOutOfMemory(t *testing.T) {
	ctx := context.Background()
	srv := startRedisServer(t)
	client := redis.NewClient(&redis.Options{Addr: srv.addr})
	t.Cleanup(func() { client.Close() })
	s := New(client)
	token, status, err := s.Claim(ctx, "standard:msg_before", time.Minute)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimAcquired, status)
	released, status, err := s.Claim(ctx, "standard:msg_released", time.Minute)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimAcquired, status)

	// Redis past its maxmemory: every write that may take memory, as a
	// script's first, is refused.
	require.NoError(t, client.ConfigSet(ctx, "maxmemory", "1").Err())
	_, _, err = s.Claim(ctx, "standard:msg_during", time.Minute)
	require.ErrorContains(t, err, "OOM", "a Claim while Redis is out of memory")

	require.NoError(t, s.Commit(ctx, "standard:msg_before", token, time.Hour), "a Commit while Redis is out of memory")
	require.NoError(t, s.Release(ctx, "standard:msg_released", released), "a Release while Redis is out of memory")
	_, status, err = s.Claim(ctx, "standard:msg_before", time.Minute)
	require.NoError(t, err)
	require.Equal(t, webhook.ClaimProcessed, status)
}
