package webhook_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// The senders' retry rules, from PROVIDERS.md: Jam (through Svix) tries
// immediately, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h;
// Intercom retries a failed notification once, after a minute, and then
// marks it failed.
var (
	jamSchedule      = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	intercomSchedule = []time.Duration{0, time.Minute}
)

// soakSeed fixes every random choice of the soak: message start times,
// which callback runs fail or panic, which messages are replayed.
const soakSeed = 20261124

// soakOutcome is what a soak callback does on one run.
type soakOutcome int

const (
	soakSucceed soakOutcome = iota
	soakFail
	soakPanic
)

// soakDecide is the callback's fault injection: 1% panics, 20% errors, the
// rest succeeds. It depends only on the message id and how many times the
// callback has run for it, so the soak replays identically whatever the
// goroutine schedule.
func soakDecide(id string, run int) soakOutcome {
	h := fnv.New64a()
	h.Write([]byte(id))
	r := rand.New(rand.NewPCG(soakSeed, h.Sum64()^uint64(run)<<56))
	switch p := r.Float64(); {
	case p < 0.01:
		return soakPanic
	case p < 0.21:
		return soakFail
	}
	return soakSucceed
}

// soakSender is one message's sender: its retry schedule, its attempts so
// far, and how they ended.
type soakSender struct {
	id       string // webhook-id or Intercom notification id
	intercom bool
	start    time.Duration // offset of the first attempt from the soak's start
	schedule []time.Duration
	replay   bool // a Jam message replayed by hand a day after its success

	attempts  int  // requests sent, replay excluded
	delivered bool // answered 2xx
	failed    bool // schedule exhausted without a 2xx
	statuses  []int
}

// soakEvent is one request due at a virtual time.
type soakEvent struct {
	at     time.Duration
	s      *soakSender
	replay bool
}

// soakLedger is what the handler's callbacks and error hook saw.
type soakLedger struct {
	mu        sync.Mutex
	runs      map[string]int // callback runs per id
	successes map[string]int // callback runs that returned nil, per id
	panics    int
	failures  int
	// hookAttempts records, per id, the d.Attempt of every error-hook
	// call with a 500, in order.
	hookAttempts map[string][]int
	hookPanics   int
	hookOther    []string // error-hook calls that are not callback failures
}

func (l *soakLedger) run(id string) soakOutcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs[id]++
	o := soakDecide(id, l.runs[id])
	switch o {
	case soakSucceed:
		l.successes[id]++
	case soakFail:
		l.failures++
	case soakPanic:
		l.panics++
	}
	return o
}

func soakCallback(l *soakLedger, id string) error {
	switch l.run(id) {
	case soakFail:
		return errors.New("downstream unavailable")
	case soakPanic:
		panic("callback bug")
	}
	return nil
}

// TestSoakRetries plays Jam's and Intercom's retry schedules against a
// handler whose callback fails 20% of the time and panics 1% of the time.
// Time is virtual: a scheduler sets the handler's fake clock to each
// instant at which requests are due, sends them all concurrently over a
// real loopback connection, and schedules the retries of those that
// failed. Every attempt is signed at the instant it is sent, so only the
// id stays the same across a message's attempts.
//
// It asserts that every Jam message is processed exactly once and none is
// lost, that a manual replay of a processed message does not run the
// callback again, and that every Intercom notification Intercom would
// mark failed (its callback failed on both attempts) reached the error
// hook with Attempt 2.
func TestSoakRetries(t *testing.T) {
	nJam, nIntercom := 2000, 2000
	if testing.Short() {
		nJam, nIntercom = 400, 400
	}
	const senders = 32
	start := webhooktest.Time()
	clock := webhooktest.NewClock(start)
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithClock(clock.Now),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	require.NoError(t, err)

	l := newSoakLedger()
	onSoakEvents(h, l, nil)
	h.OnError(func(ctx context.Context, d *webhook.Delivery, herr *webhook.HandlerError) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if herr.Status != http.StatusInternalServerError || d.ID == "" {
			l.hookOther = append(l.hookOther, fmt.Sprintf("%d %v", herr.Status, herr.Err))
			return
		}
		if pe := new(webhook.PanicError); errors.As(herr, &pe) {
			l.hookPanics++
		}
		l.hookAttempts[d.ID] = append(l.hookAttempts[d.ID], d.Attempt)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()

	all, queue := soakMessages(nJam, nIntercom)
	began := time.Now()
	p := soakPlay(clock, start, srv.URL, senders, queue)
	elapsed := time.Since(began)

	l.mu.Lock()
	defer l.mu.Unlock()
	require.Empty(t, l.hookOther, "error hook saw something other than callback failures")

	var jamAttempts, jamReplays, intercomDelivered, intercomLost, intercomRetried int
	attemptsHist := make([]int, len(jamSchedule)+1)
	for _, s := range all {
		runs := l.runs[s.id]
		if !s.intercom {
			// Jam: delivered, processed exactly once, and every attempt ran
			// the callback (no attempt was answered from the dedupe store).
			require.True(t, s.delivered, "jam %s lost after %v", s.id, s.statuses)
			require.Equal(t, 1, l.successes[s.id], "jam %s processed %d times", s.id, l.successes[s.id])
			require.Equal(t, s.attempts, runs, "jam %s", s.id)
			require.Len(t, l.hookAttempts[s.id], s.attempts-1, "jam %s: every failed attempt reaches the error hook", s.id)
			jamAttempts += s.attempts
			attemptsHist[s.attempts]++
			if s.replay {
				jamReplays++
			}
			continue
		}
		require.Equal(t, s.attempts, runs, "intercom %s", s.id)
		if s.attempts > 1 {
			intercomRetried++
		}
		if s.delivered {
			intercomDelivered++
			require.Equal(t, 1, l.successes[s.id], "intercom %s", s.id)
			require.Len(t, l.hookAttempts[s.id], s.attempts-1, "intercom %s", s.id)
			continue
		}
		// Lost on Intercom's side: failed twice. The user must have seen
		// both failures, the final one with Attempt 2.
		require.True(t, s.failed)
		intercomLost++
		require.Zero(t, l.successes[s.id], "intercom %s", s.id)
		require.Equal(t, []int{1, 2}, l.hookAttempts[s.id], "intercom %s: failures seen by the error hook", s.id)
	}
	require.Len(t, p.replayStatuses, jamReplays)
	for _, code := range p.replayStatuses {
		require.Equal(t, http.StatusOK, code, "a replay of a processed message is acknowledged")
	}
	require.Equal(t, l.panics, l.hookPanics, "every panic reaches the error hook as a PanicError")
	totalHook := 0
	for _, a := range l.hookAttempts {
		totalHook += len(a)
	}
	require.Equal(t, l.failures+l.panics, totalHook, "every callback failure reaches the error hook")

	require.Positive(t, intercomLost, "some notifications must fail twice for the Intercom assertions to mean anything")
	require.Positive(t, attemptsHist[3], "some Jam messages must need a third attempt")
	requireSoakFaults(t, l)

	t.Logf("soak: %d Jam + %d Intercom messages, %d requests in %d virtual instants over %s virtual, %s real",
		nJam, nIntercom, p.requests, p.batches, clock.Now().Sub(start).Round(time.Second), elapsed.Round(time.Millisecond))
	logSoakFaults(t, l)
	t.Logf("jam: %d/%d delivered, each processed exactly once; %d attempts; messages by attempts needed %v; %d replays acknowledged without a callback run",
		nJam, nJam, jamAttempts, attemptsHist[1:], jamReplays)
	t.Logf("intercom: %d delivered, %d retried, %d lost (failed on both attempts; expected about %.0f), every loss seen by the error hook with Attempt 2",
		intercomDelivered, intercomRetried, intercomLost, float64(nIntercom)*0.21*0.21)
}

func newSoakLedger() *soakLedger {
	return &soakLedger{runs: map[string]int{}, successes: map[string]int{}, hookAttempts: map[string][]int{}}
}

// onSoakEvents registers the soak's two callbacks on h. Each checks that
// the event agrees with its delivery, calls check (if not nil) and then
// soakCallback.
func onSoakEvents(h *webhook.Handler, l *soakLedger, check func(*webhook.Delivery, event.Source)) {
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		if want := "jam-" + d.ID; e.JamID != want {
			return fmt.Errorf("jamId %q in message %s", e.JamID, d.ID)
		}
		if check != nil {
			check(d, event.SourceStandard)
		}
		return soakCallback(l, d.ID)
	})
	h.OnIntercom("conversation.user.replied", func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
		if n.ID.String() != d.ID || n.DeliveryAttempts != d.Attempt {
			return fmt.Errorf("notification %s attempt %d, delivery %s attempt %d", n.ID, n.DeliveryAttempts, d.ID, d.Attempt)
		}
		if check != nil {
			check(d, event.SourceIntercom)
		}
		return soakCallback(l, d.ID)
	})
}

// soakMessages returns the soak's senders, nJam Jam messages then
// nIntercom Intercom notifications, and the queue of their first
// attempts. Messages start within the first minute, so the first attempts
// of late messages meet the retries of early ones; the seed makes every
// soak play the same messages.
func soakMessages(nJam, nIntercom int) ([]*soakSender, []soakEvent) {
	rnd := rand.New(rand.NewPCG(soakSeed, 1))
	var queue []soakEvent
	var all []*soakSender
	for i := range nJam + nIntercom {
		s := &soakSender{start: time.Duration(rnd.IntN(60)) * time.Second}
		if i < nJam {
			s.id, s.schedule, s.replay = fmt.Sprintf("msg_soak_%05d", i), jamSchedule, rnd.IntN(20) == 0
		} else {
			s.id, s.schedule, s.intercom = fmt.Sprintf("notif_8c1d%04x-2b7e-4f3a-9d6c-%012d", i, i), intercomSchedule, true
		}
		all = append(all, s)
		queue = append(queue, soakEvent{at: s.start, s: s})
	}
	return all, queue
}

// soakPlayed is what soakPlay sent.
type soakPlayed struct {
	requests, batches int
	replayStatuses    []int // the answers to the manual replays
}

// soakPlay plays the senders' schedules from queue against the handler at
// url, whose clock is clock and whose virtual time starts at start. It
// sets the clock to each instant at which requests are due, sends them
// all concurrently (senders at a time), each signed at the instant it is
// sent, and schedules the retries of those that failed, until no sender
// has anything left to send. It records each attempt's outcome in its
// soakSender.
func soakPlay(clock *webhooktest.Clock, start time.Time, url string, senders int, queue []soakEvent) soakPlayed {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}, Timeout: 15 * time.Second}
	defer client.CloseIdleConnections()
	send := func(ev soakEvent) int {
		now := clock.Now()
		var body []byte
		hd := http.Header{"Content-Type": {"application/json"}}
		if ev.s.intercom {
			body = intercomSoakBody(ev.s.id, ev.s.attempts+1)
			hd.Set("User-Agent", "intercom-parrot-service-client/1.0")
			hd.Set("X-Hub-Signature", webhooktest.SignIntercom(webhooktest.IntercomSecret, body))
		} else {
			body = jamSoakBody(ev.s.id)
			sig, err := webhooktest.SignStandard(webhooktest.Secret, ev.s.id, now, body)
			if err != nil {
				panic(err)
			}
			hd.Set("Svix-Id", ev.s.id)
			hd.Set("Svix-Timestamp", strconv.FormatInt(now.Unix(), 10))
			hd.Set("Svix-Signature", sig)
		}
		req, err := http.NewRequest(http.MethodPost, url+"/webhook", bytes.NewReader(body))
		if err != nil {
			panic(err)
		}
		req.Header = hd
		resp, err := client.Do(req)
		if err != nil {
			return 0 // a transport error counts as a failed attempt, as for the sender
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	var p soakPlayed
	for len(queue) > 0 {
		// Everything due at the earliest instant goes out at once.
		slices.SortStableFunc(queue, func(a, b soakEvent) int { return cmp.Compare(a.at, b.at) })
		at := queue[0].at
		n := 0
		for n < len(queue) && queue[n].at == at {
			n++
		}
		batch := queue[:n:n]
		queue = queue[n:]
		clock.Set(start.Add(at))
		statuses := make([]int, len(batch))
		var wg sync.WaitGroup
		next := make(chan int)
		for range min(senders, len(batch)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					statuses[i] = send(batch[i])
				}
			}()
		}
		for i := range batch {
			next <- i
		}
		close(next)
		wg.Wait()
		p.requests += len(batch)
		p.batches++

		for i, ev := range batch {
			s, code := ev.s, statuses[i]
			if ev.replay {
				p.replayStatuses = append(p.replayStatuses, code)
				continue
			}
			s.attempts++
			s.statuses = append(s.statuses, code)
			switch {
			case code >= 200 && code < 300:
				s.delivered = true
				if s.replay {
					queue = append(queue, soakEvent{at: at + 24*time.Hour, s: s, replay: true})
				}
			case s.attempts < len(s.schedule):
				queue = append(queue, soakEvent{at: at + s.schedule[s.attempts], s: s})
			default:
				s.failed = true
			}
		}
	}
	return p
}

// totalRuns is how many times the callbacks ran. The caller holds l.mu.
func (l *soakLedger) totalRuns() int {
	runs := 0
	for _, n := range l.runs {
		runs += n
	}
	return runs
}

// requireSoakFaults checks that the fault injection really happened at
// the advertised rates, so a soak's assertions were exercised. The caller
// holds l.mu.
func requireSoakFaults(t *testing.T, l *soakLedger) {
	t.Helper()
	runs := l.totalRuns()
	require.InDelta(t, 0.20, float64(l.failures)/float64(runs), 0.03)
	require.InDelta(t, 0.01, float64(l.panics)/float64(runs), 0.007)
}

// logSoakFaults logs the fault injection's counts. The caller holds l.mu.
func logSoakFaults(t *testing.T, l *soakLedger) {
	t.Helper()
	runs := l.totalRuns()
	t.Logf("callback runs %d: %d errors (%.1f%%), %d panics (%.2f%%)", runs, l.failures,
		100*float64(l.failures)/float64(runs), l.panics, 100*float64(l.panics)/float64(runs))
}

func jamSoakBody(id string) []byte {
	return fmt.Appendf(nil, `{"jamId":"jam-%s","jamUrl":"https://jam.dev/c/jam-%s","teamId":"c2a7e9d4-18f3-4b6a-9e05-7d1c3b8f2e90",`+
		`"type":"screenshot","createdAt":"2026-11-24T08:58:41.512Z","title":"Soak","origin":"extension_chrome",`+
		`"author":{"email":"dana.okafor@northwind.example","name":"Dana Okafor"}}`, id, id)
}

func intercomSoakBody(id string, attempt int) []byte {
	return fmt.Appendf(nil, `{"type":"notification_event","app_id":"x7k2p9m4","id":%q,"topic":"conversation.user.replied",`+
		`"created_at":%d,"first_sent_at":%d,"delivery_attempts":%d,"delivery_status":"pending","delivered_at":0,"self":null,"links":{},`+
		`"data":{"type":"notification_event_data","item":{"type":"conversation","id":"215471234567890","state":"open"}}}`,
		id, webhooktest.Unix, webhooktest.Unix, attempt)
}
