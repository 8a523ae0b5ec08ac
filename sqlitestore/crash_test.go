package sqlitestore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/sqlitestore"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// crashChildEnv, when set to a directory, makes TestCrash the receiver:
// the child process the test starts and kills.
const crashChildEnv = "SQLITESTORE_CRASH_CHILD"

// The crash test's shape.
const (
	crashDeliveries = 5000 // half Jam, half Intercom; crashDeliveriesRace under -race
	// crashDeliveriesRace keeps the test within a minute under the race
	// detector; .ci/run also runs it without, at full size.
	crashDeliveriesRace = 1000
	crashFailRate       = 0.20 // callback runs that fail
	crashWorkers        = 8
	crashSenders        = 16
	crashKills          = 4 // three while deliveries arrive, one while the last ones drain
	crashLease          = 2 * time.Second
	crashTimeout        = 4 * time.Minute
)

// TestCrash runs the receiver and its workers on a SQLite inbox in a
// child process (this test binary again), sends it 5,000 deliveries,
// Jam's and Intercom's, whose callbacks fail 20% of the time, kills the
// child with SIGKILL at random moments (three while deliveries arrive,
// one while the inbox drains) and starts it again each time. A delivery
// that was not answered 200 is sent again, as the senders do. At the
// end, every delivery answered 200 has been processed successfully, and
// the successes run more than once are no more than the kills could
// cause: the callbacks in flight at each kill.
//
// Callbacks record each success durably by appending a line to a file
// of their own before returning, so a success survives the kill that
// follows it.
func TestCrash(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("runs and kills a receiver process for tens of seconds")
	}
	if runtime.GOOS == "windows" {
		t.Skip("uses SIGKILL")
	}
	n := crashDeliveries
	if raceEnabled {
		n = crashDeliveriesRace
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), crashTimeout)
	defer cancel()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 16))

	c := &crashChildProc{t: t, dir: dir}
	c.start()
	defer func() { _ = c.stop() }()

	// Kill points: one at a random count of deliveries acknowledged in
	// each third of the sending, one at a random count of successes
	// while the rest drains.
	var killAt []int
	third := n / (crashKills - 1)
	for k := range crashKills - 1 {
		killAt = append(killAt, k*third+1+rng.IntN(third-1))
	}

	type delivery struct {
		i     int
		key   string
		acked bool
	}
	ds := make([]*delivery, n)
	queue := make(chan *delivery, n)
	for i := range ds {
		key := fmt.Sprintf("standard:msg_crash_%d", i)
		if i%2 == 1 {
			key = fmt.Sprintf("intercom:notif_crash_%d", i)
		}
		ds[i] = &delivery{i: i, key: key}
		queue <- ds[i]
	}
	var acked, sendFailures atomic.Int64
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: crashSenders}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	for range crashSenders {
		wg.Go(func() {
			for ctx.Err() == nil && acked.Load() < int64(n) {
				var d *delivery
				select {
				case d = <-queue:
				case <-time.After(10 * time.Millisecond):
					continue
				}
				status, err := crashSend(ctx, client, c.url(), d.i)
				if err != nil || status != http.StatusOK {
					sendFailures.Add(1)
					time.Sleep(5 * time.Millisecond) // the sender's retry, soon
					queue <- d
					continue
				}
				d.acked = true
				acked.Add(1)
			}
		})
	}

	// The killer: kills at the kill points, and starts the child again.
	kills := 0
	for _, at := range killAt {
		for acked.Load() < int64(at) && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		c.kill()
		kills++
		c.start()
	}
	wg.Wait()
	require.NoError(t, ctx.Err(), "sending took too long: %d of %d acknowledged", acked.Load(), n)
	for _, d := range ds {
		require.True(t, d.acked)
	}
	drainKillAt := countSuccesses(t, dir).unique
	if left := n - drainKillAt; left > 1 {
		drainKillAt += 1 + rng.IntN(left/2)
	}
	// Lines, not distinct keys: cheap to count, and close enough to pick
	// a moment.
	for countLines(t, filepath.Join(dir, "successes")) < drainKillAt && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	drainedBeforeKill := countSuccesses(t, dir).unique
	c.kill()
	kills++
	c.start()

	// Drain: every delivery succeeds, in the end.
	// Done when the inbox says so, read from this process as a second
	// user of the file: every key having a success is not enough, as a
	// success whose completion a kill cut off runs again, and that run
	// may fail and wait for its retry.
	watch, err := sqlitestore.Open(filepath.Join(dir, "inbox.db"))
	require.NoError(t, err)
	drained := func() bool {
		st, err := watch.Stats(ctx)
		return err == nil && st.Done == n && st.Pending+st.Retrying+st.InFlight == 0
	}
	for last := time.Now(); ctx.Err() == nil && !drained(); {
		time.Sleep(50 * time.Millisecond)
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			t.Logf("crash: draining, %d of %d processed", countSuccesses(t, dir).unique, n)
		}
	}
	require.NoError(t, watch.Close())
	require.NoError(t, c.stop(), "the last child's graceful stop")
	got := countSuccesses(t, dir)
	var missing []string
	for _, d := range ds {
		if d.acked && got.runs[d.key] == 0 {
			missing = append(missing, d.key)
		}
	}
	require.Empty(t, missing[:min(len(missing), 10)], "%d acknowledged but never processed successfully, of %d", len(missing), n)
	require.Len(t, got.runs, n, "successes for keys never sent")

	// The inbox agrees: all done, nothing dead or left.
	ib, err := sqlitestore.Open(filepath.Join(dir, "inbox.db"))
	require.NoError(t, err)
	defer ib.Close()
	st, err := ib.Stats(context.Background())
	require.NoError(t, err)
	require.Equal(t, webhook.InboxStats{Done: n}, st)

	repeats := got.lines - got.unique
	failures := countLines(t, filepath.Join(dir, "failures"))
	t.Logf("crash: %d deliveries (%d Jam, %d Intercom), %d kills (SIGKILL: 3 at %v acknowledged, 1 at %d of %d processed), %d starts",
		n, n/2, n/2, kills, killAt, drainedBeforeKill, n, c.starts)
	t.Logf("crash: %d acknowledged (200), %d sends refused or cut off by a kill and sent again; %d processed successfully, 0 lost, 0 dead",
		acked.Load(), sendFailures.Load(), got.unique)
	t.Logf("crash: %d callback runs failed (%.1f%% of %d runs) and were retried; %d successes ran again after a kill (bound: %d kills × %d workers = %d)",
		failures, 100*float64(failures)/float64(failures+got.lines), failures+got.lines, repeats, kills, crashWorkers, kills*crashWorkers)
	require.LessOrEqual(t, repeats, kills*crashWorkers, "repeated successes beyond what the kills explain")
}

// crashSend sends delivery i, signed now, and returns the status.
func crashSend(ctx context.Context, client *http.Client, url string, i int) (int, error) {
	if url == "" {
		return 0, errors.New("no receiver")
	}
	var req *http.Request
	if i%2 == 0 {
		id := fmt.Sprintf("msg_crash_%d", i)
		body := fmt.Appendf(nil, `{"jamId":"jam-%d","jamUrl":"https://jam.dev/c/jam-%d","teamId":"c2a7e9d4-18f3-4b6a-9e05-7d1c3b8f2e90",`+
			`"type":"screenshot","createdAt":"2026-11-24T08:58:41.512Z","title":"Crash","origin":"extension_chrome",`+
			`"author":{"email":"dana.okafor@northwind.example","name":"Dana Okafor"}}`, i, i)
		req = webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithID(id), webhooktest.WithTime(time.Now()))
	} else {
		now := time.Now().Unix()
		body := fmt.Appendf(nil, `{"type":"notification_event","app_id":"x7k2p9m4","id":"notif_crash_%d","topic":"conversation.user.replied",`+
			`"created_at":%d,"first_sent_at":%d,"delivery_attempts":1,"delivery_status":"pending","delivered_at":0,"self":null,"links":{},`+
			`"data":{"type":"notification_event_data","item":{"type":"conversation","id":"215471234567890","state":"open"}}}`, i, now, now)
		req = webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body)
	}
	out, err := http.NewRequestWithContext(ctx, http.MethodPost, url, req.Body)
	if err != nil {
		return 0, err
	}
	out.Header = req.Header
	resp, err := client.Do(out)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// crashChildProc is the receiver process of TestCrash.
type crashChildProc struct {
	t      *testing.T
	dir    string
	cmd    *exec.Cmd
	addr   atomic.Value // string: the receiver's URL, "" while down
	starts int
}

func (c *crashChildProc) url() string {
	s, _ := c.addr.Load().(string)
	return s
}

func (c *crashChildProc) start() {
	c.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+c.dir)
	cmd.Stderr = &prefixWriter{t: c.t}
	stdout, err := cmd.StdoutPipe()
	require.NoError(c.t, err)
	require.NoError(c.t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(c.t, err, "the child did not say where it listens")
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	require.True(c.t, ok, "child said %q", line)
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	c.cmd = cmd
	c.starts++
	c.addr.Store("http://" + addr + "/webhooks")
}

func (c *crashChildProc) kill() {
	c.addr.Store("")
	require.NoError(c.t, c.cmd.Process.Signal(syscall.SIGKILL))
	_ = c.cmd.Wait()
	c.cmd = nil
}

// stop ends the child gracefully, if it runs, and reports how it exited
// (under -race, a data race in the child makes it exit non-zero).
func (c *crashChildProc) stop() error {
	if c.cmd == nil {
		return nil
	}
	c.addr.Store("")
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		err = fmt.Errorf("did not stop within 30s: %w", <-done)
	}
	c.cmd = nil
	return err
}

// prefixWriter passes the child's standard error to the test log.
type prefixWriter struct{ t *testing.T }

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.t.Logf("child: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// crashChild is the receiver: the handler in inbox mode on dir/inbox.db,
// its workers, and callbacks that fail 20% of the time and append each
// success to dir/successes. It runs until killed, or until SIGTERM.
func crashChild(dir string) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	ib, err := sqlitestore.Open(filepath.Join(dir, "inbox.db"))
	if err != nil {
		fail(err)
	}
	// O_APPEND writes of one short line each: whole lines in the page
	// cache, which a SIGKILL does not lose.
	successes, err := os.OpenFile(filepath.Join(dir, "successes"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		fail(err)
	}
	failures, err := os.OpenFile(filepath.Join(dir, "failures"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		fail(err)
	}
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithInbox(ib),
		webhook.WithDedupeTimes(crashLease, time.Hour),
		webhook.WithWorkers(webhook.WorkerConfig{
			Workers: crashWorkers, MaxAttempts: 100, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
			Poll: 20 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
		}),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		fail(err)
	}
	h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error {
		if rand.Float64() < crashFailRate {
			if _, err := fmt.Fprintf(failures, "%s %d\n", d.Key, d.InboxAttempt); err != nil {
				return err
			}
			return errors.New("flaky callback")
		}
		_, err := fmt.Fprintf(successes, "%s %d\n", d.Key, d.InboxAttempt)
		return err
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("listening %s\n", ln.Addr())
	if err := h.Run(ctx); err != nil {
		fail(err)
	}
	_ = srv.Close()
	if err := ib.Close(); err != nil {
		fail(err)
	}
	os.Exit(0)
}

type successCount struct {
	runs          map[string]int
	lines, unique int
}

func countSuccesses(t *testing.T, dir string) successCount {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "successes"))
	if errors.Is(err, os.ErrNotExist) {
		return successCount{runs: map[string]int{}}
	}
	require.NoError(t, err)
	c := successCount{runs: map[string]int{}}
	for line := range strings.Lines(string(b)) {
		if !strings.HasSuffix(line, "\n") {
			break // being written as we read
		}
		key, _, ok := strings.Cut(strings.TrimSpace(line), " ")
		require.True(t, ok, "torn line %q", line)
		c.runs[key]++
		c.lines++
	}
	c.unique = len(c.runs)
	return c
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	require.NoError(t, err)
	return strings.Count(string(b), "\n")
}
