package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/testwait"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// The timeouts of webhook serve's http.Server (cmd/webhook), which the
// attack tests run the handler behind.
// slowBodyForTest is how long a body read may go on before it gives way
// to a delivery waiting for memory.
const slowBodyForTest = webhook.SlowBody

// attackSettle bounds the wait for an attack's requests to take their
// share of the budget: a few hundred milliseconds on an idle machine,
// seconds on a loaded one under the race detector.
const attackSettle = 20 * time.Second

const (
	attackReadHeaderTimeout = 5 * time.Second
	attackReadTimeout       = 10 * time.Second
	attackWriteTimeout      = 30 * time.Second
	attackMaxHeaderBytes    = 16 << 10
)

// attackRig is a handler with every source behind a real http.Server on
// loopback with webhook serve's settings, its callbacks counting each
// message id they see.
type attackRig struct {
	h    *webhook.Handler
	addr string
	mu   sync.Mutex
	runs map[string]int // message id → callback runs
}

func newAttackRig(t *testing.T) *attackRig {
	t.Helper()
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken),
		webhook.WithClock(webhooktest.NewClock(webhooktest.Time()).Now),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	require.NoError(t, err)
	r := &attackRig{h: h, runs: map[string]int{}}
	h.OnAny(func(_ context.Context, d *webhook.Delivery, _ event.Event) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.runs[d.ID]++
		return nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: attackReadHeaderTimeout, ReadTimeout: attackReadTimeout,
		WriteTimeout: attackWriteTimeout, MaxHeaderBytes: attackMaxHeaderBytes, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	r.addr = ln.Addr().String()
	return r
}

func (r *attackRig) runsOf() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.runs))
	for k, v := range r.runs {
		out[k] = v
	}
	return out
}

// deliver sends raw as a sender would: on 503 it waits the Retry-After and
// sends it again, until a status other than 503 or until the deadline.
// It returns the last status and the attempts made.
func deliver(addr string, raw []byte, deadline time.Time) (status, attempts int, err error) {
	for {
		attempts++
		status, retryAfter, err := exchangeRetry(addr, raw, deadline)
		if err != nil || status != http.StatusServiceUnavailable {
			return status, attempts, err
		}
		if retryAfter <= 0 {
			return status, attempts, fmt.Errorf("503 without Retry-After")
		}
		if time.Now().Add(retryAfter).After(deadline) {
			return status, attempts, nil
		}
		time.Sleep(retryAfter)
	}
}

func exchangeRetry(addr string, raw []byte, deadline time.Time) (int, time.Duration, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	if err := c.SetDeadline(deadline); err != nil {
		return 0, 0, err
	}
	if _, err := c.Write(raw); err != nil {
		return 0, 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, 0, err
	}
	resp.Body.Close()
	secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, time.Duration(secs) * time.Second, nil
}

// attacker runs one attack loop on its goroutine until stop, each round
// on a new connection; close ends the connection of the round in progress.
type attacker struct {
	wg     sync.WaitGroup
	stop   chan struct{}
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	rounds atomic.Int64
}

func newAttacker() *attacker {
	return &attacker{stop: make(chan struct{}), conns: map[net.Conn]struct{}{}}
}

// run starts n goroutines, each sending head and then body on a new
// connection, and waiting for the server's answer or its hanging up, over
// and over until the attack stops.
func (a *attacker) run(addr string, n int, raw []byte) {
	for range n {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			for {
				select {
				case <-a.stop:
					return
				default:
				}
				c, err := net.Dial("tcp", addr)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				a.mu.Lock()
				a.conns[c] = struct{}{}
				a.mu.Unlock()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				if _, err := c.Write(raw); err == nil {
					// Wait for the server: an answer, or the close.
					_, _ = http.ReadResponse(bufio.NewReader(c), nil)
				}
				c.Close()
				a.mu.Lock()
				delete(a.conns, c)
				a.mu.Unlock()
				a.rounds.Add(1)
				time.Sleep(5 * time.Millisecond) // no busy loop when answered at once
			}
		}()
	}
}

// end stops every attack loop and waits for them.
func (a *attacker) end(t testing.TB) {
	close(a.stop)
	a.mu.Lock()
	for c := range a.conns {
		c.Close()
	}
	a.mu.Unlock()
	testwait.For(t, "the attack loops to stop", a.wg.Wait)
}

// stalledUpload is a wrongly signed Standard Webhooks request of unknown
// length whose body stops after n bytes, the last chunk never sent: it
// holds what those bytes cost of the body memory budget until the server
// gives up on it (ReadTimeout).
func stalledUpload(n int) []byte {
	return rawRequestKeepAlive(append(bogusStd, "Transfer-Encoding: chunked"),
		fmt.Appendf(nil, "%x\r\n%s\r\n", n, bytes.Repeat([]byte("A"), n)))
}

// stalledDeclared is a wrongly signed Standard Webhooks request that
// declares 8000 bytes and sends n of them (at most 4096).
func stalledDeclared(n int) []byte {
	return rawRequestKeepAlive(append(bogusStd, "Content-Length: 8000"), bytes.Repeat([]byte("A"), n))
}

// rawRequestKeepAlive is rawPost without Connection: close.
func rawRequestKeepAlive(headers []string, body []byte) []byte {
	raw := rawPost(headers, body)
	return bytes.Replace(raw, []byte("Connection: close\r\n"), nil, 1)
}

// TestAttackStalledUploadsGiveWay: attackers fill the body memory budget
// to the byte with wrongly signed uploads that stop part way and then send
// nothing until the server gives up on them (webhook serve's ReadTimeout,
// 10 s; for ever without one), starting again at once when answered.
// Before, every delivery got 503 until the uploads timed out, so an
// attacker sending about 4 MiB every ReadTimeout (the buffers a body
// grows through count) kept every sender out
// (Intercom's one retry comes a minute later). Legitimate deliveries from
// Jam and Intercom sent meanwhile must each be answered 200 within a few
// seconds (503 with Retry-After, retried, would be allowed within that),
// and run their callbacks exactly once; the attackers' requests run none.
func TestAttackStalledUploadsGiveWay(t *testing.T) {
	raiseOpenFiles(t, 4096)
	r := newAttackRig(t)
	a := newAttacker()
	t.Cleanup(func() { a.end(t) })
	// Uploads of unknown length that stop just past half the size limit
	// hold most of it (the buffers a body grows through count), then
	// declared ones that stop within the pooled first buffer, charged
	// byte for byte, fill it to the byte: no attacker's request is
	// refused, so none lets go until the server's ReadTimeout.
	//
	// The test waits for each step to hold exactly what it must, not
	// for the total to look still: on a loaded machine an upload's bytes
	// can pause longer than any interval between two readings, and
	// the rest would then be measured short, leaving room in the budget.
	const uploads, uploaded = 8, 512<<10 + 1
	a.run(r.addr, uploads, stalledUpload(uploaded))
	big := uploads * webhook.StalledHold(r.h, uploaded)
	require.Eventually(t, func() bool { return webhook.BodyHeld(r.h) == big }, attackSettle, 10*time.Millisecond,
		"the stalled uploads do not hold %d bytes", big)
	rest := webhook.DefaultMaxBodyMemory - big
	require.Positive(t, rest)
	a.run(r.addr, int(rest/4096), stalledDeclared(4096))
	if rest%4096 > 0 {
		a.run(r.addr, 1, stalledDeclared(int(rest%4096)))
	}
	require.Eventually(t, func() bool { return webhook.BodyHeld(r.h) == webhook.DefaultMaxBodyMemory },
		attackSettle, 10*time.Millisecond, "the attack does not fill the budget")
	time.Sleep(slowBodyForTest) // the uploads are old enough to give way
	t.Logf("budget held: %d of %d", webhook.BodyHeld(r.h), webhook.DefaultMaxBodyMemory)
	const perSender = 3
	type result struct {
		id               string
		status, attempts int
		err              error
	}
	results := make(chan result, 2*perSender)
	var wg sync.WaitGroup
	deadline := time.Now().Add(8 * time.Second)
	jam := func(i int) (string, []byte) {
		id := fmt.Sprintf("msg_attack_stall_%d", i)
		return id, rawPost(append(stdHeaders(t, "Webhook", id, jamBody), "Content-Type: application/json"), jamBody)
	}
	intercom := func(i int) (string, []byte) {
		id := fmt.Sprintf("notif_attack_stall_%d", i)
		body := bytes.Replace(intercomBody, []byte(`"notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c"`), []byte(strconv.Quote(id)), 1)
		return id, rawPost([]string{"X-Hub-Signature: " + webhooktest.SignIntercom(webhooktest.IntercomSecret, body)}, body)
	}
	for i := range perSender {
		for _, mk := range []func(int) (string, []byte){jam, intercom} {
			id, raw := mk(i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, attempts, err := deliver(r.addr, raw, deadline)
				results <- result{id, status, attempts, err}
			}()
		}
	}
	wg.Wait()
	close(results)
	want := map[string]int{}
	for res := range results {
		require.NoError(t, res.err, res.id)
		require.Equal(t, http.StatusOK, res.status, "%s after %d attempts", res.id, res.attempts)
		t.Logf("%s: 200 after %d attempts", res.id, res.attempts)
		want[res.id] = 1
	}
	require.Equal(t, want, r.runsOf(), "each delivery ran once, no attacker's request ran")
	// The uploads cut to let the deliveries in are answered; their
	// attackers may read the answer after the last delivery's.
	require.Eventually(t, func() bool { return a.rounds.Load() > 0 }, attackSettle, 10*time.Millisecond,
		"no stalled upload was cut")
}

// TestSlowBodyNotCutAlone: a delivery whose body arrives in two parts more
// than a second apart is read and answered 200 when no other request
// waits for memory: only contention cuts a slow body.
func TestSlowBodyNotCutAlone(t *testing.T) {
	r := newAttackRig(t)
	raw := rawPost(append(stdHeaders(t, "Webhook", "msg_slow_alone", jamBody), "Content-Type: application/json"), jamBody)
	c, err := net.Dial("tcp", r.addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	half := len(raw) - len(jamBody)/2
	_, err = c.Write(raw[:half])
	require.NoError(t, err)
	time.Sleep(slowBodyForTest + 300*time.Millisecond)
	_, err = c.Write(raw[half:])
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, map[string]int{"msg_slow_alone": 1}, r.runsOf())
}

// statusCounts counts the answers an attack got, by status (0: none, the
// connection closed).
type statusCounts struct {
	mu sync.Mutex
	n  map[int]int
}

func (s *statusCounts) add(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[int]int{}
	}
	s.n[code]++
}

func (s *statusCounts) get() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int]int{}
	for k, v := range s.n {
		out[k] = v
	}
	return out
}

// hammer sends raw, one of raws in turn, from n goroutines over new
// connections, as fast as answered, counting the answers, until stop.
func hammer(addr string, n int, raws [][]byte, counts *statusCounts, stop <-chan struct{}, wg *sync.WaitGroup) {
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, _, err := exchangeRetry(addr, raws[i%len(raws)], time.Now().Add(10*time.Second))
				if err != nil {
					code = 0
				}
				counts.add(code)
			}
		}()
	}
}

// TestAttackFloodsBesideSenders runs, beside Jam, Intercom and Series
// senders, attackers that send at once: wrongly signed 700 KiB bodies, as
// many at once as take the body memory budget; deliveries validly signed
// but outside the time window (Standard Webhooks, 10 minutes old) or past
// the max age (Intercom, 100 hours old); the senders' own deliveries,
// replayed over and over from the start (an attacker holding captures of
// them); and header blocks over webhook serve's 16 KiB. Every sender's
// delivery must be answered 200 within a few seconds (a 503 with
// Retry-After, or a 409 while a replay of it is in flight, retried as the
// senders do), the callbacks must run once for each delivery and never
// for an attacker's request, and each attack must get the answer that
// refuses it. Without the dedupe, the time window, the Intercom max age
// or MaxHeaderBytes it fails.
func TestAttackFloodsBesideSenders(t *testing.T) {
	r := newAttackRig(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); testwait.For(t, "the hammering goroutines to stop", wg.Wait) })

	const perSource = 5
	var jams, intercoms, series [][]byte
	want := map[string]int{"": perSource} // Series deliveries have no id
	for i := range perSource {
		id := fmt.Sprintf("msg_flood_sender_%d", i)
		jams = append(jams, rawPost(append(stdHeaders(t, "Webhook", id, jamBody), "Content-Type: application/json"), jamBody))
		want[id] = 1
		nid := fmt.Sprintf("notif_flood_sender_%d", i)
		body := bytes.Replace(intercomBody, []byte(`"notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c"`), []byte(strconv.Quote(nid)), 1)
		intercoms = append(intercoms, rawPost([]string{"X-Hub-Signature: " + webhooktest.SignIntercom(webhooktest.IntercomSecret, body)}, body))
		want[nid] = 1
		series = append(series, rawPost([]string{webhooktest.SeriesHeader + ": " + webhooktest.SeriesToken, "Content-Type: application/json"}, seriesJSON))
	}

	// The attacks.
	var forged, stale, replayed, oversized statusCounts
	big := bytes.Repeat([]byte("A"), 700<<10)
	hammer(r.addr, 12, [][]byte{rawPost(bogusStd, big), rawPost([]string{"X-Hub-Signature: sha1=" + strings.Repeat("0", 40)}, big)}, &forged, stop, &wg)
	var stales [][]byte
	old := webhooktest.Time().Add(-10 * time.Minute)
	oldIntercom := strings.NewReplacer(`"created_at":1795510790`, `"created_at":`+strconv.FormatInt(webhooktest.Unix-100*3600, 10),
		`"first_sent_at":1795510791`, `"first_sent_at":`+strconv.FormatInt(webhooktest.Unix-100*3600, 10))
	for i := range 20 {
		id := fmt.Sprintf("msg_stale_%d", i)
		sig, err := webhooktest.SignStandard(webhooktest.Secret, id, old, jamBody)
		require.NoError(t, err)
		stales = append(stales, rawPost([]string{"Webhook-Id: " + id, "Webhook-Timestamp: " + strconv.FormatInt(old.Unix(), 10),
			"Webhook-Signature: " + sig, "Content-Type: application/json"}, jamBody))
		body := []byte(oldIntercom.Replace(strings.Replace(string(intercomBody), "notif_3e1f7a2c", fmt.Sprintf("notif_stale_%d", i), 1)))
		require.NotEqual(t, intercomBody, body)
		stales = append(stales, rawPost([]string{"X-Hub-Signature: " + webhooktest.SignIntercom(webhooktest.IntercomSecret, body)}, body))
	}
	hammer(r.addr, 4, stales, &stale, stop, &wg)
	hammer(r.addr, 4, append(append([][]byte(nil), jams...), intercoms...), &replayed, stop, &wg)
	hammer(r.addr, 2, [][]byte{rawPost(append(bogusStd, "X-Pad: "+strings.Repeat("p", 20<<10)), jamBody)}, &oversized, stop, &wg)
	require.Eventually(t, func() bool {
		return len(forged.get()) > 0 && len(stale.get()) > 0 && len(replayed.get()) > 0 && len(oversized.get()) > 0
	}, 5*time.Second, 10*time.Millisecond, "every attack is under way")

	// The senders, each delivery retried as its sender would.
	type result struct {
		name             string
		status, attempts int
		err              error
	}
	results := make(chan result, 3*perSource)
	var senders sync.WaitGroup
	deadline := time.Now().Add(8 * time.Second)
	for i := range perSource {
		for name, raw := range map[string][]byte{fmt.Sprint("jam ", i): jams[i], fmt.Sprint("intercom ", i): intercoms[i], fmt.Sprint("series ", i): series[i]} {
			senders.Add(1)
			go func() {
				defer senders.Done()
				time.Sleep(time.Duration(i) * 100 * time.Millisecond) // the deliveries spread over the attack
				status, attempts, err := deliverRetrying409(r.addr, raw, deadline)
				results <- result{name, status, attempts, err}
			}()
		}
	}
	senders.Wait()
	close(results)
	for res := range results {
		require.NoError(t, res.err, res.name)
		require.Equal(t, http.StatusOK, res.status, "%s after %d attempts", res.name, res.attempts)
	}
	// The replays go on a moment more, then the answers are counted.
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, want, r.runsOf(), "each delivery ran once, no attacker's request ran")

	t.Logf("forged %v, stale %v, replayed %v, oversized headers %v", forged.get(), stale.get(), replayed.get(), oversized.get())
	for code := range forged.get() {
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusServiceUnavailable}, code, "forged")
	}
	require.Equal(t, []int{http.StatusUnauthorized}, keys(stale.get()), "stale")
	require.Equal(t, []int{http.StatusRequestHeaderFieldsTooLarge}, keys(oversized.get()), "oversized headers")
	for code := range replayed.get() {
		require.Contains(t, []int{http.StatusOK, http.StatusConflict}, code, "replayed")
	}
}

func keys(m map[int]int) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	return out
}

// deliverRetrying409 is deliver, also sending again after a 409 (the same
// message in flight in another request), as senders retry any non-2xx
// answer; they wait longer, this a tenth of a second.
func deliverRetrying409(addr string, raw []byte, deadline time.Time) (status, attempts int, err error) {
	for {
		var n int
		status, n, err = deliver(addr, raw, deadline)
		attempts += n
		if err != nil || status != http.StatusConflict || time.Now().Add(100*time.Millisecond).After(deadline) {
			return status, attempts, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
