// Package load drives webhook receivers over loopback with concurrent
// clients and reports deliveries per second and latency percentiles, so
// the webhook handler can be compared with a bare net/http handler (the
// ceiling) and with a handler written by hand on the Standard Webhooks
// reference library, in the same run.
package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Secret is the signing secret every target is configured with.
const Secret = webhooktest.Secret

// Target names, in the order they run within a round.
const (
	Ours      = "ours"
	Ceiling   = "ceiling"
	Reference = "reference"
)

// JamCreated is a realistic jam.created body of about 1.5 KB.
var JamCreated = []byte(`{"jamId":"9c3f6a1e-7b2d-4e58-a0c4-5d8e1f2b3a67",` +
	`"jamUrl":"https://jam.dev/c/9c3f6a1e-7b2d-4e58-a0c4-5d8e1f2b3a67",` +
	`"teamId":"c2a7e9d4-18f3-4b6a-9e05-7d1c3b8f2e90",` +
	`"type":"video",` +
	`"createdAt":"2026-11-24T08:58:41.512Z",` +
	`"title":"Checkout: 'Place order' spins forever after applying a gift card",` +
	`"description":"Steps: add two items to the cart, open checkout, apply gift card GC-2291-TEST, choose express shipping and press Place order. ` +
	`The button shows a spinner for over a minute and nothing happens; the network tab shows the /api/orders request pending and then a 504 from the gateway. ` +
	`Reloading the page shows the cart still full and no order in the account history, but the gift card balance was already reduced. ` +
	`Happens on both staging and production, only when a gift card is applied, regardless of shipping option.",` +
	`"originalUrl":"https://shop.northwind.example/checkout?step=review&cart=7f3a91c2&utm_source=newsletter&utm_campaign=winter-sale",` +
	`"origin":"extension_chrome",` +
	`"isIncognito":false,` +
	`"author":{"email":"dana.okafor@northwind.example","name":"Dana Okafor"},` +
	`"media":{"videoUrl":"https://cdn.jam.dev/recordings/9c3f6a1e-7b2d-4e58-a0c4-5d8e1f2b3a67/video.mp4?sig=3Jk9a7QxLr2VbN8m",` +
	`"thumbnailUrl":"https://cdn.jam.dev/recordings/9c3f6a1e-7b2d-4e58-a0c4-5d8e1f2b3a67/thumbnail.jpg?sig=3Jk9a7QxLr2VbN8m"},` +
	`"systemInfo":{"browser":{"name":"Chrome","version":"131.0.6778.86"},"os":{"name":"macOS","version":"15.1.1"},` +
	`"screen":{"width":1728,"height":1117}}}`)

// A Target is a receiver under load.
type Target struct {
	Name    string
	Handler http.Handler
	// Calls counts the callback runs of the target, so a run can check
	// that every accepted delivery reached the user's code; for the flush
	// target, which runs no callbacks, the records its Settle read back
	// from its log. Nil for the ceiling, which has no callback.
	Calls *atomic.Int64
	// Settle, when set, waits until the work behind the target's answers
	// is done (an inbox's workers have run every stored delivery), so
	// Calls is final. Run calls it once, after the last round.
	Settle func(context.Context) error
}

// Targets returns the three receivers: our handler with its default
// in-memory dedupe store and one OnJamCreated callback, the ceiling (a
// bare handler that reads the body and answers 200), and a hand-written
// handler on the reference library with one callback.
func Targets() ([]Target, error) {
	ours, err := webhook.NewHandler(webhook.WithSecrets(Secret), webhook.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	var oursCalls, refCalls atomic.Int64
	ours.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		if e.JamID == "" {
			return errors.New("jam.created without jamId")
		}
		oursCalls.Add(1)
		return nil
	})

	ceiling := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	})

	wh, err := standardwebhooks.NewWebhook(Secret)
	if err != nil {
		return nil, err
	}
	callback := func(ctx context.Context, e *event.JamCreated) error {
		if e.JamID == "" {
			return errors.New("jam.created without jamId")
		}
		refCalls.Add(1)
		return nil
	}
	reference := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if err := wh.Verify(body, r.Header); err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var e event.JamCreated
		if err := json.Unmarshal(body, &e); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if err := callback(r.Context(), &e); err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})

	return []Target{
		{Name: Ours, Handler: ours, Calls: &oursCalls},
		{Name: Ceiling, Handler: ceiling},
		{Name: Reference, Handler: reference, Calls: &refCalls},
	}, nil
}

// Config bounds a run.
type Config struct {
	Clients  int           // concurrent clients, each with its own keep-alive connection
	Duration time.Duration // per target and round
	Max      int           // deliveries per target and round: the pre-signed pool
	Rounds   int           // rounds; each runs every target once, in turn
	Body     []byte        // payload; JamCreated if nil
}

// Result is what one target achieved over all rounds.
type Result struct {
	Name    string
	Sent    int           // deliveries answered 200
	Errors  int           // transport errors and non-200 answers
	Calls   int64         // callback runs (-1 when the target has none)
	Elapsed time.Duration // summed over rounds
	// FirstError is the first transport error or non-200 status seen.
	FirstError error
	// Rounds holds the deliveries per second of each round.
	Rounds []float64
	// CPU is the CPU time, user and system, the whole process used while
	// the target's rounds ran, summed over rounds: the clients' share
	// included (the same for every target), a separate server's (Redis)
	// not. Zero where the system does not report it.
	CPU       time.Duration
	latencies []time.Duration
}

// PerSecond is deliveries answered 200 per second.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Elapsed.Seconds()
}

// CPUPerDelivery is CPU over the deliveries answered 200, or 0 when
// either is unknown. A target whose work waits on a disk or a network pays
// for the idle processors too: each wake-up after a wait costs CPU.
func (r Result) CPUPerDelivery() time.Duration {
	if r.Sent == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Sent)
}

// Quantile returns the q-quantile (0 < q <= 1) of the request latencies.
func (r Result) Quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(r.latencies))+0.5) - 1
	return r.latencies[min(max(i, 0), len(r.latencies)-1)]
}

// pool is a set of pre-signed deliveries: unique message ids signed now.
// It holds its signatures in one pointer-free array and builds each
// request's header when it is sent, so the pool adds nothing for the
// garbage collector to trace: clients and servers share this process,
// and a pool of header maps would make every collection, and so every
// allocation of the target under test, dearer.
type pool struct {
	prefix string
	ts     string
	sigLen int
	sigs   []byte
}

func (p *pool) len() int { return len(p.sigs) / p.sigLen }

func (p *pool) header(i int) http.Header {
	return http.Header{
		"Content-Type":      {"application/json"},
		"User-Agent":        {"Svix-Webhooks/1.44.0"},
		"Webhook-Id":        {p.prefix + strconv.Itoa(i)},
		"Webhook-Timestamp": {p.ts},
		"Webhook-Signature": {string(p.sigs[i*p.sigLen : (i+1)*p.sigLen])},
	}
}

// sign signs n deliveries of body, each with its own id, at the current
// time; every target gets pools signed the same way.
func sign(prefix string, body []byte, n int) (*pool, error) {
	now := time.Now()
	p := &pool{prefix: prefix, ts: strconv.FormatInt(now.Unix(), 10)}
	for i := range n {
		sig, err := webhooktest.SignStandard(Secret, prefix+strconv.Itoa(i), now, body)
		if err != nil {
			return nil, err
		}
		if p.sigLen == 0 {
			p.sigLen = len(sig)
			p.sigs = make([]byte, 0, n*len(sig))
		}
		p.sigs = append(p.sigs, sig...)
	}
	return p, nil
}

// Run serves every target on its own loopback listener and drives them in
// interleaved rounds (ABCABC…), so drift in the machine's speed affects
// every target alike. Results come back in the order of targets.
func Run(ctx context.Context, cfg Config, targets []Target) ([]Result, error) {
	if cfg.Clients <= 0 || cfg.Duration <= 0 || cfg.Max <= 0 || cfg.Rounds <= 0 {
		return nil, errors.New("load: Clients, Duration, Max and Rounds must be positive")
	}
	if cfg.Body == nil {
		cfg.Body = JamCreated
	}
	urls := make([]string, len(targets))
	for i, t := range targets {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srv := &http.Server{Handler: t.Handler, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		urls[i] = "http://" + ln.Addr().String() + "/webhook"
	}
	tr := &http.Transport{
		MaxIdleConns:        2 * cfg.Clients * len(targets),
		MaxIdleConnsPerHost: 2 * cfg.Clients,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	results := make([]Result, len(targets))
	for i, t := range targets {
		results[i].Name = t.Name
		results[i].Calls = -1
	}
	for round := 0; round < cfg.Rounds; round++ {
		for i, t := range targets {
			pool, err := sign(fmt.Sprintf("msg_%s_r%d_", t.Name, round), cfg.Body, cfg.Max)
			if err != nil {
				return nil, err
			}
			if err := runOne(ctx, client, urls[i], cfg, pool, &results[i]); err != nil {
				return nil, fmt.Errorf("load: %s round %d: %w", t.Name, round, err)
			}
		}
	}
	for i, t := range targets {
		if t.Settle != nil {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			err := t.Settle(sctx)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("load: %s: %w", t.Name, err)
			}
		}
		if t.Calls != nil {
			results[i].Calls = t.Calls.Load()
		}
		slices.Sort(results[i].latencies)
	}
	return results, nil
}

// runOne sends pool's deliveries to url from cfg.Clients goroutines until
// the pool is used up or cfg.Duration has passed.
func runOne(ctx context.Context, client *http.Client, url string, cfg Config, pool *pool, res *Result) error {
	var next atomic.Int64
	lat := make([]time.Duration, pool.len())
	ok := make([]bool, pool.len())
	var errs atomic.Int64
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) {
		errs.Add(1)
		errOnce.Do(func() { firstErr = err })
	}
	cpu0, cpuKnown := processCPU()
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	for c := 0; c < cfg.Clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= pool.len() || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if t0.After(deadline) {
					return
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(cfg.Body))
				if err != nil {
					fail(err)
					continue
				}
				req.Header = pool.header(i)
				resp, err := client.Do(req)
				if err != nil {
					fail(err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if resp.StatusCode != http.StatusOK {
					fail(fmt.Errorf("status %d", resp.StatusCode))
					continue
				}
				ok[i] = true
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if cpu1, ok := processCPU(); ok && cpuKnown {
		res.CPU += cpu1 - cpu0
	}
	res.Elapsed += elapsed
	res.Errors += int(errs.Load())
	sent := 0
	for i, done := range ok {
		if done {
			sent++
			res.latencies = append(res.latencies, lat[i])
		}
	}
	res.Sent += sent
	res.Rounds = append(res.Rounds, float64(sent)/elapsed.Seconds())
	if firstErr != nil && res.FirstError == nil {
		res.FirstError = firstErr
	}
	return ctx.Err()
}

// Report formats results as a Markdown table with ratios against ours,
// the ceiling and the reference.
func Report(results []Result) string {
	base := map[string]Result{}
	for _, r := range results {
		switch r.Name {
		case Ours, Ceiling, Reference:
			base[r.Name] = r
		}
	}
	ratio := func(a Result, name string) string {
		b, ok := base[name]
		if !ok || b.PerSecond() == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", a.PerSecond()/b.PerSecond())
	}
	median := func(a Result, name string) string {
		b, ok := base[name]
		if !ok {
			return "-"
		}
		return medianRatio(a.Rounds, b.Rounds)
	}
	var b bytes.Buffer
	fmt.Fprintln(&b, "| target | deliveries | errors | deliveries/s | p50 | p99 | CPU per delivery | × ours | × ceiling | × reference | × ours, median of rounds | × ceiling, median of rounds | × reference, median of rounds |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		cpu := "-"
		if per := r.CPUPerDelivery(); per > 0 {
			cpu = per.Round(100 * time.Nanosecond).String()
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Name, r.Sent, r.Errors, r.PerSecond(),
			r.Quantile(0.50).Round(time.Microsecond), r.Quantile(0.99).Round(time.Microsecond), cpu,
			ratio(r, Ours), ratio(r, Ceiling), ratio(r, Reference),
			median(r, Ours), median(r, Ceiling), median(r, Reference))
	}
	fmt.Fprint(&b, floorLine(results))
	return b.String()
}

// floorLine says how close the inbox target comes to the flush target,
// the least a store that answers after a sync costs on the same disk, or
// nothing when the run has not both.
func floorLine(results []Result) string {
	var inbox, flush *Result
	for i := range results {
		switch results[i].Name {
		case Inbox:
			inbox = &results[i]
		case Flush:
			flush = &results[i]
		}
	}
	if inbox == nil || flush == nil || flush.PerSecond() == 0 {
		return ""
	}
	return fmt.Sprintf("\n%s reaches ×%.2f of the %s floor on this disk (×%s, median of rounds)\n",
		Inbox, inbox.PerSecond()/flush.PerSecond(), Flush, medianRatio(inbox.Rounds, flush.Rounds))
}

// medianRatio is the median over rounds of a[i]/b[i]: each round's
// targets ran back to back, so the ratio within a round is less exposed
// to drift in the machine's speed than the ratio of totals.
func medianRatio(a, b []float64) string {
	var rs []float64
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			rs = append(rs, a[i]/b[i])
		}
	}
	if len(rs) == 0 {
		return "-"
	}
	slices.Sort(rs)
	m := rs[len(rs)/2]
	if len(rs)%2 == 0 {
		m = (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
	}
	return fmt.Sprintf("%.2f", m)
}
