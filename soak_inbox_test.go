package webhook_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
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
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// TestSoakRetriesInbox plays the senders of TestSoakRetries, with the same
// callbacks failing 20% and panicking 1% of the time, against a handler
// in inbox mode on a MemoryInbox. The handler answers each first attempt
// once it is stored, so the senders' schedules never come into play: the
// workers retry on the inbox's own schedule, with backoff on the fake
// clock. Where TestSoakRetries loses the Intercom notifications whose
// callback failed twice, here every event is processed successfully,
// exactly once (there are no crashes), and the manual replays of Jam
// messages are acknowledged as duplicates.
func TestSoakRetriesInbox(t *testing.T) {
	nJam, nIntercom := 2000, 2000
	if testing.Short() {
		nJam, nIntercom = 400, 400
	}
	const senders = 32
	start := webhooktest.Time()
	clock := webhooktest.NewClock(start)
	ib := webhook.NewMemoryInbox(0, clock.Now)
	h, err := webhook.NewHandler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithClock(clock.Now),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithInbox(ib),
		// The lease outlasts the clock's longest jump, so no delivery is
		// leased twice while its callbacks run.
		webhook.WithDedupeTimes(48*time.Hour, 72*time.Hour),
		webhook.WithWorkers(webhook.WorkerConfig{Workers: 8, MinBackoff: time.Second, MaxBackoff: 30 * time.Second, Poll: time.Millisecond}),
	)
	require.NoError(t, err)

	l := &soakLedger{runs: map[string]int{}, successes: map[string]int{}, hookAttempts: map[string][]int{}}
	var attemptMismatch []string
	check := func(d *webhook.Delivery, source webhook.Source) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if d.InboxAttempt != l.runs[d.ID]+1 || d.Key != string(source)+":"+d.ID {
			attemptMismatch = append(attemptMismatch, fmt.Sprintf("%s: InboxAttempt %d after %d runs", d.Key, d.InboxAttempt, l.runs[d.ID]))
		}
	}
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *webhook.JamCreated) error {
		if want := "jam-" + d.ID; e.JamID != want {
			return fmt.Errorf("jamId %q in message %s", e.JamID, d.ID)
		}
		check(d, webhook.SourceStandard)
		return soakCallback(l, d.ID)
	})
	h.OnIntercom("conversation.user.replied", func(ctx context.Context, d *webhook.Delivery, n *webhook.IntercomNotification) error {
		if n.ID.String() != d.ID || n.DeliveryAttempts != d.Attempt {
			return fmt.Errorf("notification %s attempt %d, delivery %s attempt %d", n.ID, n.DeliveryAttempts, d.ID, d.Attempt)
		}
		check(d, webhook.SourceIntercom)
		return soakCallback(l, d.ID)
	})
	h.OnError(func(ctx context.Context, d *webhook.Delivery, herr *webhook.HandlerError) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if herr.Status != 0 || d.ID == "" {
			l.hookOther = append(l.hookOther, fmt.Sprintf("%d %v", herr.Status, herr.Err))
			return
		}
		if pe := new(webhook.PanicError); errors.As(herr, &pe) {
			l.hookPanics++
		}
		l.hookAttempts[d.ID] = append(l.hookAttempts[d.ID], d.InboxAttempt)
	})
	runCtx, stop := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- h.Run(runCtx) }()
	defer func() {
		stop()
		require.NoError(t, <-runDone)
	}()
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}, Timeout: 15 * time.Second}
	defer client.CloseIdleConnections()

	// The same messages as TestSoakRetries: same seed, same start times.
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

	send := func(ev soakEvent) int {
		now := clock.Now()
		var body []byte
		hd := http.Header{"Content-Type": {"application/json"}}
		if ev.s.intercom {
			body = intercomSoakBody(ev.s.id, ev.s.attempts+1)
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
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhook", bytes.NewReader(body))
		if err != nil {
			panic(err)
		}
		req.Header = hd
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	began := time.Now()
	requests, batches := 0, 0
	var replayStatuses []int
	for len(queue) > 0 {
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
			wg.Go(func() {
				for i := range next {
					statuses[i] = send(batch[i])
				}
			})
		}
		for i := range batch {
			next <- i
		}
		close(next)
		wg.Wait()
		requests += len(batch)
		batches++
		for i, ev := range batch {
			s, code := ev.s, statuses[i]
			if ev.replay {
				replayStatuses = append(replayStatuses, code)
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

	// Drain: the workers' retries come due as the clock moves on, a
	// second at a time, until nothing is pending or in flight.
	drainFrom := clock.Now()
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := ib.Stats(ctx)
		require.NoError(t, err)
		if st.Pending+st.Retrying+st.InFlight == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the inbox did not drain: %+v", st)
		if st.InFlight == 0 {
			clock.Advance(time.Second)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(began)
	st, err := ib.Stats(ctx)
	require.NoError(t, err)

	l.mu.Lock()
	defer l.mu.Unlock()
	require.Empty(t, l.hookOther, "error hook saw something other than worker failures")
	require.Empty(t, attemptMismatch, "Delivery.InboxAttempt counts the runs")

	hist := map[int]int{}
	maxRuns := 0
	for _, s := range all {
		// The sender: answered 200 on the first attempt, never retried.
		require.True(t, s.delivered, "%s not acknowledged: %v", s.id, s.statuses)
		require.Equal(t, 1, s.attempts, "%s: the sender retried: %v", s.id, s.statuses)
		// The receiver: processed successfully exactly once, after as many
		// runs as the inbox counted.
		require.Equal(t, 1, l.successes[s.id], "%s processed %d times", s.id, l.successes[s.id])
		key := "standard:" + s.id
		if s.intercom {
			key = "intercom:" + s.id
		}
		e, err := ib.Get(ctx, key)
		require.NoError(t, err)
		require.Equal(t, webhook.InboxDone, e.State, key)
		require.Equal(t, l.runs[s.id], e.Attempts, key)
		require.Len(t, l.hookAttempts[s.id], e.Attempts-1, "%s: every failed run reaches the error hook", key)
		hist[e.Attempts]++
		maxRuns = max(maxRuns, e.Attempts)
	}
	require.Equal(t, webhook.InboxStats{Done: nJam + nIntercom}, st)
	for _, code := range replayStatuses {
		require.Equal(t, http.StatusOK, code, "a replay of a stored message is acknowledged")
	}
	require.Equal(t, l.panics, l.hookPanics, "every panic reaches the error hook as a PanicError")

	runs := 0
	for _, n := range l.runs {
		runs += n
	}
	require.InDelta(t, 0.20, float64(l.failures)/float64(runs), 0.03)
	require.InDelta(t, 0.01, float64(l.panics)/float64(runs), 0.007)
	require.Positive(t, hist[3], "some events must need a third run")
	byRuns := make([]int, maxRuns)
	for n, c := range hist {
		byRuns[n-1] = c
	}

	t.Logf("inbox soak: %d Jam + %d Intercom messages, %d requests (%d manual replays) in %d virtual instants, drained %s virtual later; %s real",
		nJam, nIntercom, requests, len(replayStatuses), batches, clock.Now().Sub(drainFrom).Round(time.Second), elapsed.Round(time.Millisecond))
	t.Logf("callback runs %d: %d errors (%.1f%%), %d panics (%.2f%%)", runs, l.failures,
		100*float64(l.failures)/float64(runs), l.panics, 100*float64(l.panics)/float64(runs))
	t.Logf("senders: %d/%d first attempts answered 200, 0 sender retries; %d/%d replays acknowledged as duplicates",
		requests-len(replayStatuses), nJam+nIntercom, len(replayStatuses), len(replayStatuses))
	t.Logf("inbox: jam %d/%d and intercom %d/%d processed successfully, each exactly once; 0 dead, 0 lost; events by runs needed %v",
		nJam, nJam, nIntercom, nIntercom, byRuns)
}
