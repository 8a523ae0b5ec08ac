package redisstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// These tests run webhook.Handler end to end against Redis: several
// handlers, each with its own Store and client on one Redis and prefix,
// stand in for replicas behind a load balancer, and simulated senders
// deliver signed jam.created messages to them and retry as Svix does.

const msgDedupeDown = "webhook dedupe store failed; processing without deduplication"

func msgID(id int) string { return fmt.Sprintf("msg_%04d", id) }

func jamID(id int) string { return fmt.Sprintf("3f6c1e2a-9b7d-4c5e-8a1f-%012d", id) }

func jamBody(id int) []byte {
	return []byte(`{"jamId":"` + jamID(id) + `","teamId":"team_1","type":"video","createdAt":"2026-11-24T08:59:00Z"}`)
}

// logBuffer collects a logger's output from many goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the JSON log records written so far.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	data := bytes.Clone(b.buf.Bytes())
	b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), "log line %s", sc.Text())
		out = append(out, rec)
	}
	require.NoError(t, sc.Err())
	return out
}

// A fleet is several handlers sharing one Redis and prefix, with callbacks
// that count, per message, the runs that succeeded. The first run of the
// messages marked in failFirst fails.
type fleet struct {
	handlers  []*webhook.Handler
	index     map[string]int // jamId to message
	succeeded []atomic.Int32
	failFirst []bool
	failed    []atomic.Bool
	failures  atomic.Int32 // callback runs that failed
	wrongID   atomic.Int32 // runs whose delivery id is not the message's
	outage    atomic.Bool  // set by the test while Redis is cut off
	inOutage  atomic.Int32 // callback runs that started during the outage
	logs      *logBuffer
}

// newFleet builds one handler per client, each with its own Store on
// prefix, for messages 0 to n-1.
func newFleet(t *testing.T, n int, clients []*redis.Client, prefix string, opts ...webhook.Option) *fleet {
	t.Helper()
	f := &fleet{
		index:     make(map[string]int, n),
		succeeded: make([]atomic.Int32, n),
		failFirst: make([]bool, n),
		failed:    make([]atomic.Bool, n),
		logs:      &logBuffer{},
	}
	for id := range n {
		f.index[jamID(id)] = id
	}
	clock := webhooktest.NewClock(webhooktest.Time())
	logger := slog.New(slog.NewJSONHandler(f.logs, nil))
	for _, client := range clients {
		h, err := webhook.NewHandler(append([]webhook.Option{
			webhook.WithSecrets(webhooktest.Secret),
			webhook.WithClock(clock.Now),
			webhook.WithLogger(logger),
			webhook.WithDeduper(New(client, WithPrefix(prefix))),
		}, opts...)...)
		require.NoError(t, err)
		h.OnJamCreated(f.callback)
		f.handlers = append(f.handlers, h)
	}
	return f
}

func (f *fleet) callback(_ context.Context, d *webhook.Delivery, e *event.JamCreated) error {
	id, ok := f.index[e.JamID]
	if !ok || d.ID != msgID(id) {
		f.wrongID.Add(1)
		return fmt.Errorf("unexpected delivery %s of jam %s", d.ID, e.JamID)
	}
	if f.outage.Load() {
		f.inOutage.Add(1)
	}
	// Long enough for a concurrent copy to find the message in flight.
	time.Sleep(200 * time.Microsecond)
	if f.failFirst[id] && f.failed[id].CompareAndSwap(false, true) {
		f.failures.Add(1)
		return errors.New("downstream unavailable")
	}
	f.succeeded[id].Add(1)
	return nil
}

// attempt sends message id once to handler h and returns the status.
func (f *fleet) attempt(id, h int) (int, error) {
	r := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody(id), webhooktest.WithID(msgID(id)))
	w := httptest.NewRecorder()
	f.handlers[h].ServeHTTP(w, r)
	return w.Code, nil
}

// statuses counts the answers senders got.
type statuses struct {
	mu sync.Mutex
	n  map[int]int
}

func (s *statuses) add(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = make(map[int]int)
	}
	s.n[code]++
}

func (s *statuses) snapshot() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int]int, len(s.n))
	for k, v := range s.n {
		out[k] = v
	}
	return out
}

const maxAttempts = 200

// backoff is the wait before retry number attempt: short, growing, and
// jittered so that copies of a message drift apart.
func backoff(attempt int) time.Duration {
	d := time.Millisecond << min(attempt-1, 5)
	return d + rand.N(d)
}

// deliver sends message id as a sender does: to handler first, then,
// after any answer other than 2xx (409 included), again after a backoff
// to a handler the load balancer picks, until one answers 2xx.
func (f *fleet) deliver(ctx context.Context, id, first int, got *statuses) error {
	h := first
	for attempt := 1; ; attempt++ {
		code, err := f.attempt(id, h)
		if err != nil {
			return fmt.Errorf("message %d: %w", id, err)
		}
		got.add(code)
		if code >= 200 && code < 300 {
			return nil
		}
		if attempt == maxAttempts {
			return fmt.Errorf("message %d: lost: %d attempts, last answered %d", id, attempt, code)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("message %d: lost: %w after %d attempts, last answered %d", id, ctx.Err(), attempt, code)
		case <-time.After(backoff(attempt)):
		}
		h = rand.IntN(len(f.handlers))
	}
}

// A job is a message to deliver, first to handler first and, if second
// is not -1, a duplicate to handler second at the same moment.
type job struct{ id, first, second int }

// run delivers jobs with a bounded number of workers and returns the
// messages that were lost.
func (f *fleet) run(ctx context.Context, jobs []job, workers int, got *statuses) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	deliver := func(id, h int) {
		if err := f.deliver(ctx, id, h, got); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	queue := make(chan job)
	for range workers {
		wg.Go(func() {
			for j := range queue {
				if j.second < 0 {
					deliver(j.id, j.first)
					continue
				}
				var copies sync.WaitGroup
				start := make(chan struct{})
				for _, h := range []int{j.first, j.second} {
					copies.Go(func() {
						<-start
						deliver(j.id, h)
					})
				}
				close(start)
				copies.Wait()
			}
		})
	}
	for _, j := range jobs {
		queue <- j
	}
	close(queue)
	wg.Wait()
	return errs
}

// jobsFor returns one job per message from lo to hi-1, spread over the
// handlers, without duplicates.
func (f *fleet) jobsFor(lo, hi int) []job {
	var jobs []job
	for id := lo; id < hi; id++ {
		jobs = append(jobs, job{id: id, first: id % len(f.handlers), second: -1})
	}
	return jobs
}

// requireProcessedOnce checks that messages lo to hi-1 each ran the
// callbacks successfully exactly once, and that the store now answers a
// further delivery of each, to any handler, with 200 without running them,
// except for the message ids in uncommitted.
func (f *fleet) requireProcessedOnce(t *testing.T, lo, hi int, uncommitted ...map[string]bool) {
	t.Helper()
	for id := lo; id < hi; id++ {
		require.EqualValues(t, 1, f.succeeded[id].Load(), "successful callback runs of message %d", id)
	}
	for id := lo; id < hi; id++ {
		if len(uncommitted) > 0 && uncommitted[0][msgID(id)] {
			continue
		}
		code, err := f.attempt(id, rand.IntN(len(f.handlers)))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code, "redelivery of message %d", id)
		require.EqualValues(t, 1, f.succeeded[id].Load(), "message %d processed again on redelivery", id)
	}
	require.Zero(t, f.wrongID.Load(), "callbacks saw deliveries of unknown messages")
}

// TestHandlersConcurrentReplicas: three handlers, each with its own Store
// and client on one Redis, receive 1,000 messages from senders that
// retry every answer but 2xx. 30% of the messages are also sent a second
// time, at the same moment, to a different handler, and the first
// callback run of 10% of them fails. Every message must be processed
// successfully exactly once, and none lost.
func TestHandlersConcurrentReplicas(t *testing.T) {
	const (
		messages = 1000
		replicas = 3
		workers  = 32
	)
	client := newClient(t)
	prefix := testPrefix(t, client)
	clients := []*redis.Client{client}
	for range replicas - 1 {
		clients = append(clients, newClient(t))
	}
	f := newFleet(t, messages, clients, prefix)

	rng := rand.New(rand.NewPCG(3, 4))
	duplicated := make([]bool, messages)
	for _, id := range rng.Perm(messages)[:messages*3/10] {
		duplicated[id] = true
	}
	for _, id := range rng.Perm(messages)[:messages/10] {
		f.failFirst[id] = true
	}
	var jobs []job
	dups, both := 0, 0
	for _, id := range rng.Perm(messages) {
		j := job{id: id, first: rng.IntN(replicas), second: -1}
		if duplicated[id] {
			j.second = (j.first + 1 + rng.IntN(replicas-1)) % replicas
			dups++
			if f.failFirst[id] {
				both++
			}
		}
		jobs = append(jobs, j)
	}
	require.Equal(t, messages*3/10, dups)
	require.NotZero(t, both, "no duplicated message has a failing first run")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var got statuses
	start := time.Now()
	errs := f.run(ctx, jobs, workers, &got)
	elapsed := time.Since(start)
	require.Empty(t, errs, "messages lost")

	codes := got.snapshot()
	attempts := 0
	for _, n := range codes {
		attempts += n
	}
	t.Logf("%d messages, %d duplicated (%d of them with a failing first run), %d attempts in %v: "+
		"%d answered 200, %d answered 409 (in flight), %d answered 500 (callback failed); %d failing callback runs",
		messages, dups, both, attempts, elapsed.Round(time.Millisecond),
		codes[http.StatusOK], codes[http.StatusConflict], codes[http.StatusInternalServerError], f.failures.Load())

	f.requireProcessedOnce(t, 0, messages)
	require.EqualValues(t, messages/10, f.failures.Load(), "failing callback runs")
	// Every copy ends with exactly one 200; a failed run answers 500.
	require.Equal(t, messages+dups, codes[http.StatusOK], "200 answers")
	require.Equal(t, messages/10, codes[http.StatusInternalServerError], "500 answers")
	for code := range codes {
		require.Contains(t, []int{http.StatusOK, http.StatusConflict, http.StatusInternalServerError}, code, "unexpected status")
	}
	for _, rec := range f.logs.records(t) {
		require.NotContains(t, rec["msg"], "webhook dedupe", "the store failed with Redis up: %v", rec)
	}
}

// outageFleet is a fleet of two handlers whose clients reach Redis
// through a proxy the test can cut, and fail fast while it is cut.
func outageFleet(t *testing.T, n int, opts ...webhook.Option) (f *fleet, cut, restore func()) {
	t.Helper()
	target := redisOptions(t)
	prefix := testPrefix(t, newClient(t))
	p := startProxy(t, "127.0.0.1:0", target.Addr)
	var clients []*redis.Client
	for range 2 {
		o := fastFailing(p.addr)
		o.Username, o.Password, o.DB = target.Username, target.Password, target.DB
		client := redis.NewClient(o)
		t.Cleanup(func() { client.Close() })
		clients = append(clients, client)
	}
	f = newFleet(t, n, clients, prefix, opts...)
	cut = func() {
		p.stop()
		f.outage.Store(true)
	}
	restore = func() {
		f.outage.Store(false)
		startProxy(t, p.addr, target.Addr)
		for _, c := range clients {
			require.Eventually(t, func() bool { return c.Ping(context.Background()).Err() == nil },
				5*time.Second, 10*time.Millisecond, "Redis back through the proxy")
		}
	}
	return f, cut, restore
}

// TestHandlersRedisOutage: Redis stops between two batches of deliveries
// and comes back later, under the two policies for a failing store.
func TestHandlersRedisOutage(t *testing.T) {
	const batch = 100
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// By default a delivery is processed when the store fails, and the
	// failure is logged: none is lost, and only a duplicate arriving
	// during the outage would be processed twice.
	t.Run("default", func(t *testing.T) {
		f, cut, restore := outageFleet(t, 3*batch)

		var got statuses
		require.Empty(t, f.run(ctx, f.jobsFor(0, batch), 16, &got))
		cut()
		require.Empty(t, f.run(ctx, f.jobsFor(batch, 2*batch), 16, &got))
		require.EqualValues(t, batch, f.inOutage.Load(), "callback runs during the outage")
		restore()
		require.Empty(t, f.run(ctx, f.jobsFor(2*batch, 3*batch), 16, &got))

		require.Equal(t, map[int]int{http.StatusOK: 3 * batch}, got.snapshot(), "every first attempt answered 200")
		for id := range 3 * batch {
			require.EqualValues(t, 1, f.succeeded[id].Load(), "message %d", id)
		}
		// Each delivery during the outage logged the store's failure.
		logged := map[string]int{}
		for _, rec := range f.logs.records(t) {
			if rec["msg"] == msgDedupeDown {
				require.Equal(t, "ERROR", rec["level"], "%v", rec)
				require.Contains(t, rec["error"], "redisstore: claim: ", "%v", rec)
				logged[fmt.Sprint(rec["id"])]++
			}
		}
		require.Len(t, logged, batch, "deliveries logging %q", msgDedupeDown)
		for id := batch; id < 2*batch; id++ {
			require.Equal(t, 1, logged[msgID(id)], "logs of message %d", id)
		}
		// Messages processed while Redis was up are deduplicated again now
		// that it is back. Those processed during the outage were never
		// recorded, so a redelivery would run them again: that is the
		// price of this policy, and not checked here.
		f.requireProcessedOnce(t, 0, batch)
		f.requireProcessedOnce(t, 2*batch, 3*batch)
	})

	// Failing closed, a delivery during the outage is answered 500 without
	// running the callbacks; the senders retry until Redis is back, and
	// then every message is processed exactly once, including duplicates
	// of messages processed before the outage.
	t.Run("fail closed", func(t *testing.T) {
		f, cut, restore := outageFleet(t, 2*batch, webhook.WithDedupeFailClosed())

		var before statuses
		require.Empty(t, f.run(ctx, f.jobsFor(0, batch), 16, &before))
		require.Equal(t, map[int]int{http.StatusOK: batch}, before.snapshot())

		cut()
		// New messages, and duplicates of half the processed ones.
		var jobs []job
		for id := batch; id < 2*batch; id++ {
			jobs = append(jobs, job{id: id, first: id % 2, second: -1})
		}
		for id := range batch / 2 {
			jobs = append(jobs, job{id: id, first: id % 2, second: -1})
		}
		for _, j := range jobs {
			code, err := f.attempt(j.id, j.first)
			require.NoError(t, err)
			require.Equal(t, http.StatusInternalServerError, code, "message %d during the outage", j.id)
		}

		// The senders retry while Redis is still down, and it comes back
		// in the middle of their run.
		var during statuses
		done := make(chan []error, 1)
		go func() { done <- f.run(ctx, jobs, 16, &during) }()
		time.Sleep(300 * time.Millisecond)
		require.Zero(t, f.inOutage.Load(), "callback runs during the outage")
		for id := batch; id < 2*batch; id++ {
			require.Zero(t, f.succeeded[id].Load(), "message %d processed during the outage", id)
		}
		retried := during.snapshot()[http.StatusInternalServerError]
		restore()
		require.Empty(t, <-done, "messages lost")

		codes := during.snapshot()
		t.Logf("outage: %d deliveries answered 500 at once, %d retries answered 500 before Redis was back; the retry run's answers: %v",
			len(jobs), retried, codes)
		require.NotZero(t, retried, "no sender retried during the outage")
		require.Equal(t, len(jobs), codes[http.StatusOK], "200 answers")
		for code := range codes {
			require.Contains(t, []int{http.StatusOK, http.StatusInternalServerError}, code, "unexpected status")
		}
		require.Zero(t, f.inOutage.Load(), "callback runs during the outage")
		f.requireProcessedOnce(t, 0, 2*batch)

		// The outage answers were logged as rejections with the store's
		// error, and nothing was processed without deduplication.
		rejected := 0
		for _, rec := range f.logs.records(t) {
			require.NotEqual(t, msgDedupeDown, rec["msg"], "%v", rec)
			if rec["msg"] == "webhook rejected" && rec["status"] == float64(http.StatusInternalServerError) {
				require.Contains(t, rec["reason"], "webhook: dedupe claim: redisstore: claim: ", "%v", rec)
				rejected++
			}
		}
		require.Equal(t, len(jobs)+codes[http.StatusInternalServerError], rejected, "500s logged")
	})

	// Failing closed, with Redis cut while deliveries are in flight: a
	// claim may be made in Redis whose reply is lost, or a commit lost
	// after the callbacks ran. Every message must still be processed
	// exactly once and none lost. The short lease frees orphaned claims
	// quickly; the default would keep their retries at 409 for a minute.
	//
	// A message whose commit was lost answered 200 but is not recorded as
	// processed: once its lease runs out, a later duplicate runs it again.
	// No policy can avoid that while Redis is unreachable, so those
	// messages are left out of the redelivery check.
	t.Run("fail closed, cut under load", func(t *testing.T) {
		const n = 1000
		f, cut, restore := outageFleet(t, n, webhook.WithDedupeFailClosed(), webhook.WithDedupeTimes(time.Second, time.Hour))
		var got statuses
		done := make(chan []error, 1)
		go func() { done <- f.run(ctx, f.jobsFor(0, n), 16, &got) }()
		processed := func() int {
			total := 0
			for id := range n {
				total += int(f.succeeded[id].Load())
			}
			return total
		}
		require.Eventually(t, func() bool { return processed() >= n/10 }, 30*time.Second, 100*time.Microsecond,
			"a tenth of the messages processed before the cut")
		cut()
		atCut := processed()
		time.Sleep(300 * time.Millisecond)
		restore()
		require.Empty(t, <-done, "messages lost")

		codes := got.snapshot()
		uncommitted := map[string]bool{}
		for _, rec := range f.logs.records(t) {
			if rec["msg"] == "webhook dedupe commit failed" {
				uncommitted[fmt.Sprint(rec["id"])] = true
			}
		}
		t.Logf("cut after %d of %d messages were processed; answers: %v; commits lost: %d",
			atCut, n, codes, len(uncommitted))
		require.Less(t, atCut, n, "every message was processed before the cut")
		require.NotZero(t, codes[http.StatusInternalServerError], "no delivery failed during the outage")
		f.requireProcessedOnce(t, 0, n, uncommitted)
	})
}

// BenchmarkHandlerRedis is a handler with a Store receiving new messages:
// verification, decoding and the callback, plus Claim and Commit.
func BenchmarkHandlerRedis(b *testing.B) {
	client := newClient(b)
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithDeduper(New(client, WithPrefix(testPrefix(b, client)))),
	)
	if err != nil {
		b.Fatal(err)
	}
	var seen int
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		seen++
		return nil
	})
	body := jamBody(1)
	// Signed ahead, at the current time, so the loop measures the handler.
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	headers := make([]http.Header, b.N)
	for i := range headers {
		id := "msg_bench_" + strconv.Itoa(i)
		sig, err := webhooktest.SignStandard(webhooktest.Secret, id, now, body)
		if err != nil {
			b.Fatal(err)
		}
		headers[i] = http.Header{
			"Content-Type":      {"application/json"},
			"Webhook-Id":        {id},
			"Webhook-Timestamp": {ts},
			"Webhook-Signature": {sig},
		}
	}
	target, _ := url.Parse("/webhook")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := &http.Request{
			Method: http.MethodPost, URL: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: headers[i], Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r.WithContext(context.Background()))
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
	b.StopTimer()
	if seen != b.N {
		b.Fatalf("callback ran %d times for %d messages", seen, b.N)
	}
}

// TestHandlerStoreAfterSenderHangsUp: the sender gives up waiting (Svix
// after about 15 s) while the callbacks run, which cancels the request's
// context. When the callbacks then succeed, the message must still be
// recorded as processed, or the sender's retry is answered 409 until the
// lease runs out and then runs them again. When they fail, the claim must
// still be released, or the retry is answered 409 until the lease runs out.
func TestHandlerStoreAfterSenderHangsUp(t *testing.T) {
	client := newClient(t)
	f := newFleet(t, 2, []*redis.Client{client}, testPrefix(t, client))
	f.failFirst[1] = true
	h := f.handlers[0]
	var hangUp atomic.Pointer[context.CancelFunc]
	h.OnAny(func(context.Context, *webhook.Delivery, event.Event) error {
		if cancel := hangUp.Load(); cancel != nil {
			(*cancel)()
		}
		return nil
	})

	for id, want := range []int{http.StatusOK, http.StatusInternalServerError} {
		ctx, cancel := context.WithCancel(context.Background())
		hangUp.Store(&cancel)
		r := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody(id), webhooktest.WithID(msgID(id)))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r.WithContext(ctx))
		require.Equal(t, want, w.Code, "message %d", id)
		require.Error(t, ctx.Err(), "the callbacks did not hang up")
	}
	hangUp.Store(nil)
	require.EqualValues(t, 1, f.succeeded[0].Load())
	require.EqualValues(t, 1, f.failures.Load())

	for id := range 2 {
		code, err := f.attempt(id, 0) // the sender's retry
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code, "retry of message %d", id)
		require.EqualValues(t, 1, f.succeeded[id].Load(), "message %d", id)
	}
	for _, rec := range f.logs.records(t) {
		require.NotContains(t, rec["msg"], "webhook dedupe", "%v", rec)
	}
}
