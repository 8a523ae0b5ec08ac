package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/testwait"
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

	l := newSoakLedger()
	var attemptMismatch []string
	check := func(d *webhook.Delivery, source event.Source) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if d.InboxAttempt != l.runs[d.ID]+1 || d.Key != string(source)+":"+d.ID {
			attemptMismatch = append(attemptMismatch, fmt.Sprintf("%s: InboxAttempt %d after %d runs", d.Key, d.InboxAttempt, l.runs[d.ID]))
		}
	}
	onSoakEvents(h, l, check)
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
		require.NoError(t, testwait.Recv(t, runDone, "Run's return once stopped"))
	}()
	srv := httptest.NewServer(h)
	defer srv.Close()
	// The same messages as TestSoakRetries: same seed, same start times.
	all, queue := soakMessages(nJam, nIntercom)
	began := time.Now()
	p := soakPlay(clock, start, srv.URL, senders, queue)

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
	for _, code := range p.replayStatuses {
		require.Equal(t, http.StatusOK, code, "a replay of a stored message is acknowledged")
	}
	require.Equal(t, l.panics, l.hookPanics, "every panic reaches the error hook as a PanicError")

	require.Positive(t, hist[3], "some events must need a third run")
	requireSoakFaults(t, l)
	byRuns := make([]int, maxRuns)
	for n, c := range hist {
		byRuns[n-1] = c
	}

	t.Logf("inbox soak: %d Jam + %d Intercom messages, %d requests (%d manual replays) in %d virtual instants, drained %s virtual later; %s real",
		nJam, nIntercom, p.requests, len(p.replayStatuses), p.batches, clock.Now().Sub(drainFrom).Round(time.Second), elapsed.Round(time.Millisecond))
	logSoakFaults(t, l)
	t.Logf("senders: %d/%d first attempts answered 200, 0 sender retries; %d/%d replays acknowledged as duplicates",
		p.requests-len(p.replayStatuses), nJam+nIntercom, len(p.replayStatuses), len(p.replayStatuses))
	t.Logf("inbox: jam %d/%d and intercom %d/%d processed successfully, each exactly once; 0 dead, 0 lost; events by runs needed %v",
		nJam, nJam, nIntercom, nIntercom, byRuns)
}
