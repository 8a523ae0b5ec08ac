package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"github.com/stretchr/testify/require"
)

// The replica test runs receivers in processes of their own: the test
// binary, started again with replicaEnv set, is one replica (see
// TestMain), so that SIGKILL takes a replica down mid-write as a crash
// does.
const (
	replicaEnv       = "WEBHOOK_INBOX_REPLICA_ADDR"
	replicaPrefixEnv = "WEBHOOK_INBOX_REPLICA_PREFIX"
	// replicaWorkers is each replica's callback concurrency: a kill can
	// repeat at most this many successful runs, those whose Complete it
	// cut off.
	replicaWorkers = 8
	// replicaLease is short so that the deliveries a killed replica held
	// run again soon.
	replicaLease = 2 * time.Second
	// replicaFailRate is the share of callback runs that fail.
	replicaFailRate = 0.2
)

func TestMain(m *testing.M) {
	// go-redis logs each failed dial on standard error, through one
	// logger for the whole process (it has none per client); the outage
	// tests fail dials by the hundred on purpose. Each failed dial also
	// reaches its caller as the command's error, so only those lines go
	// (TestFailedDialsQuiet); go-redis's others still print.
	redis.SetLogger(logging.NewBlacklistLogger([]string{"connection pool: failed to dial"}))
	if addr := os.Getenv(replicaEnv); addr != "" {
		os.Exit(replicaMain(addr, os.Getenv(replicaPrefixEnv)))
	}
	os.Exit(m.Run())
}

// Keys of the callbacks' own records, under the test's prefix: per
// message, the successful runs; and the number of runs and of failures.
func successKey(prefix string) string { return prefix + "results:success" }
func runsKey(prefix string) string    { return prefix + "results:runs" }
func failsKey(prefix string) string   { return prefix + "results:fails" }

// replicaMain is one replica: a receiver in inbox mode on the Redis inbox
// under prefix, with its workers, serving addr until SIGINT or SIGTERM.
// Its callback records each run in Redis, and fails replicaFailRate of
// them.
func replicaMain(addr, prefix string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "replica:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := redis.ParseURL(os.Getenv("WEBHOOK_TEST_REDIS_URL"))
	if err != nil {
		return fail(err)
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, time.Second, time.Second
	client := redis.NewClient(opts)
	defer client.Close()
	ib, err := NewInbox(client, WithInboxPrefix(prefix))
	if err != nil {
		return fail(err)
	}
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithInbox(ib),
		webhook.WithDedupeTimes(replicaLease, time.Hour),
		webhook.WithWorkers(webhook.WorkerConfig{
			Workers:         replicaWorkers,
			MaxAttempts:     1000,
			MinBackoff:      10 * time.Millisecond,
			MaxBackoff:      200 * time.Millisecond,
			Poll:            20 * time.Millisecond,
			ShutdownTimeout: time.Second,
		}),
	)
	if err != nil {
		return fail(err)
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		if e.JamID == "" || d.ID == "" {
			return webhook.Permanent(errors.New("delivery without ids"))
		}
		pipe := client.Pipeline()
		pipe.Incr(ctx, runsKey(prefix))
		if rand.Float64() < replicaFailRate {
			pipe.Incr(ctx, failsKey(prefix))
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
			return errors.New("downstream unavailable")
		}
		pipe.HIncrBy(ctx, successKey(prefix), d.ID, 1)
		_, err := pipe.Exec(ctx)
		return err
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fail(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	go srv.Serve(ln)
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return fail(err)
	}
	return 0
}

// A replica is a child process serving on a fixed loopback address, so a
// restarted one takes its predecessor's place behind the "load balancer".
type replica struct {
	t      *testing.T
	addr   string
	prefix string
	log    string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

func (r *replica) start() {
	r.t.Helper()
	logf, err := os.OpenFile(r.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(r.t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), replicaEnv+"="+r.addr, replicaPrefixEnv+"="+r.prefix)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(r.t, cmd.Start())
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	r.mu.Lock()
	r.cmd, r.exited = cmd, exited
	r.starts++
	r.mu.Unlock()
	require.Eventually(r.t, func() bool {
		c, err := net.DialTimeout("tcp", r.addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 30*time.Second, 20*time.Millisecond, "replica on %s did not start listening", r.addr)
}

// kill sends SIGKILL and waits for the process to be gone.
func (r *replica) kill() {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.mu.Unlock()
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// stop asks the replica to shut down, and kills it if it has not within
// a few seconds.
func (r *replica) stop() {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.mu.Unlock()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		r.kill()
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// sendStandard posts message id to addr, signed now, and returns the
// status, or an error when there was no answer.
func sendStandard(ctx context.Context, c *http.Client, addr string, id int) (int, error) {
	body := jamBody(id)
	ts := time.Now()
	sig, err := webhooktest.SignStandard(webhooktest.Secret, msgID(id), ts, body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", msgID(id))
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestInboxReplicas: three replicas, each its own process, share one
// Redis inbox. Senders deliver 10,000 messages and retry any answer but
// 200; 30% of the messages are sent twice at the same moment to
// different replicas; 20% of the callback runs fail; two replicas are
// killed with SIGKILL during the run and restarted. Every message answered
// 200 must be processed successfully, none lost; the runs repeated after
// a success are counted, and bounded by the kills.
func TestInboxReplicas(t *testing.T) {
	messages := 10_000
	if testing.Short() {
		messages = 1_000
	}
	const (
		replicas = 3
		senders  = 24
		kills    = 2
	)
	client := newClient(t)
	prefix := testPrefix(t, client)
	dir := t.TempDir()
	var reps []*replica
	for i := range replicas {
		r := &replica{t: t, addr: freeAddr(t), prefix: prefix, log: filepath.Join(dir, fmt.Sprintf("replica%d.log", i))}
		r.start()
		reps = append(reps, r)
	}
	t.Cleanup(func() {
		for _, r := range reps {
			r.stop()
		}
		if t.Failed() {
			for _, r := range reps {
				b, _ := os.ReadFile(r.log)
				t.Logf("%s (%d starts):\n%s", r.log, r.starts, b)
			}
		}
	})

	rng := rand.New(rand.NewPCG(17, 16))
	duplicated := make([]bool, messages)
	for _, id := range rng.Perm(messages)[:messages*3/10] {
		duplicated[id] = true
	}
	type job struct{ id, first, second int }
	var jobs []job
	for _, id := range rng.Perm(messages) {
		j := job{id: id, first: rng.IntN(replicas), second: -1}
		if duplicated[id] {
			j.second = (j.first + 1 + rng.IntN(replicas-1)) % replicas
		}
		jobs = append(jobs, j)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	httpc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: senders * 2}}
	var (
		answered200 = make([]atomic.Int32, messages)
		attempts    atomic.Int64
		noAnswer    atomic.Int64 // connection refused or reset: a replica was down
		codes       sync.Map     // status → *atomic.Int64
		lost        atomic.Int64
		progress    atomic.Int64
	)
	count := func(code int) {
		v, _ := codes.LoadOrStore(code, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	// deliver sends one copy as a sender does: again after a short
	// backoff, to any replica, until it is answered 200.
	deliver := func(id, first int) {
		r := first
		for attempt := 1; ; attempt++ {
			attempts.Add(1)
			code, err := sendStandard(ctx, httpc, reps[r].addr, id)
			if err != nil {
				noAnswer.Add(1)
			} else {
				count(code)
				if code == http.StatusOK {
					answered200[id].Add(1)
					return
				}
			}
			if ctx.Err() != nil || attempt == 500 {
				lost.Add(1)
				return
			}
			time.Sleep(time.Duration(1+rand.IntN(20)) * time.Millisecond)
			r = rand.IntN(replicas)
		}
	}

	start := time.Now()
	queue := make(chan job)
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for j := range queue {
				if j.second < 0 {
					deliver(j.id, j.first)
				} else {
					var both sync.WaitGroup
					gate := make(chan struct{})
					for _, r := range []int{j.first, j.second} {
						both.Go(func() { <-gate; deliver(j.id, r) })
					}
					close(gate)
					both.Wait()
				}
				progress.Add(1)
			}
		})
	}
	// The kills: replica 1 at a quarter of the run, replica 2 at three
	// fifths, each restarted after a pause, while senders keep sending.
	var killer sync.WaitGroup
	killer.Go(func() {
		for i, at := range []int64{int64(messages) / 4, int64(messages) * 3 / 5}[:kills] {
			for progress.Load() < at && ctx.Err() == nil {
				time.Sleep(5 * time.Millisecond)
			}
			reps[1+i].kill()
			time.Sleep(300 * time.Millisecond)
			reps[1+i].start()
		}
	})
	for _, j := range jobs {
		queue <- j
	}
	close(queue)
	wg.Wait()
	killer.Wait()
	sent := time.Since(start)
	require.Zero(t, lost.Load(), "copies never answered 200")

	// Drain: every delivery done, none pending, leased or dead.
	ib, err := NewInbox(client, WithInboxPrefix(prefix))
	require.NoError(t, err)
	var stats webhook.InboxStats
	require.Eventually(t, func() bool {
		stats, err = ib.Stats(ctx)
		return err == nil && stats.Pending+stats.Retrying+stats.InFlight == 0
	}, 2*time.Minute, 50*time.Millisecond, "inbox not drained: %+v", stats)
	drained := time.Since(start)
	require.Equal(t, webhook.InboxStats{Done: messages}, stats, "every message stored once and done")

	success, err := client.HGetAll(ctx, successKey(prefix)).Result()
	require.NoError(t, err)
	runs, err := client.Get(ctx, runsKey(prefix)).Int()
	require.NoError(t, err)
	fails, err := client.Get(ctx, failsKey(prefix)).Int()
	require.NoError(t, err)
	repeated, processed, copies200 := 0, 0, 0
	for id := range messages {
		copies200 += int(answered200[id].Load())
		require.NotZero(t, answered200[id].Load(), "message %d never answered 200", id)
		n, _ := strconv.Atoi(success[msgID(id)])
		require.NotZero(t, n, "message %d answered 200 but never processed successfully", id)
		processed++
		repeated += n - 1
		e, err := ib.Get(ctx, "standard:"+msgID(id))
		require.NoError(t, err)
		require.Equal(t, webhook.InboxDone, e.State, msgID(id))
	}
	require.Len(t, success, messages, "successful runs of messages never sent")
	require.Equal(t, messages+messages*3/10, copies200, "copies answered 200")
	require.LessOrEqual(t, repeated, kills*replicaWorkers, "repeated successful runs beyond what the kills can cause")

	var codeList []string
	codes.Range(func(k, v any) bool {
		codeList = append(codeList, fmt.Sprintf("%v: %d", k, v.(*atomic.Int64).Load()))
		return true
	})
	dups := messages * 3 / 10
	t.Logf("%d messages (%d sent twice at once to different replicas) over %d replicas, %d killed with SIGKILL and restarted; "+
		"senders done in %v, inbox drained in %v", messages, dups, replicas, kills, sent.Round(time.Millisecond), drained.Round(time.Millisecond))
	t.Logf("sender attempts %d: answers %v, %d without an answer (replica down); copies answered 200: %d",
		attempts.Load(), codeList, noAnswer.Load(), copies200)
	t.Logf("callback runs %d: %d failed (%.1f%%), %d succeeded; messages processed successfully %d of %d, lost 0; "+
		"repeated successful runs %d (bound %d = kills × workers per replica)",
		runs, fails, 100*float64(fails)/float64(runs), runs-fails, processed, messages, repeated, kills*replicaWorkers)
}
