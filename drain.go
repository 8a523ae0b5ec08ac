package webhook

import (
	"context"
	"errors"
	"fmt"
)

// Drain runs the deliveries due in the inbox, as Run's workers would,
// and returns once none is left for it to run, with how many runs it
// made. Each run is Run's: the same Delivery, callbacks, observer calls
// and outcome (done, retried under the WorkerConfig's policy, or dead),
// up to WorkerConfig.Workers at a time, leasing more as runs end. When
// Drain returns, every run's outcome is recorded in the inbox (where the
// inbox fails to record one, Drain logs it as Run does, and the delivery
// runs again once its lease runs out). In a test, ServeHTTP then Drain
// runs the delivery stored; once the clock has moved past a retry's wait
// (at most MaxBackoff, or a StatusError's longer RetryAfter), Drain runs
// the retry.
//
// Drain leases until a Lease brings nothing it has still to run: nothing,
// or only deliveries it has run already or that were received after it
// started (by the handler's clock). It runs those too, as every lease is
// a run that counts in Attempts, but leases no more after them. So it
// ends however fast deliveries come due again (a retry's wait shorter
// than the call, an inbox on another clock) or arrive: it takes at most
// one Lease more than there are deliveries received before it started.
// Like Run, it purges done deliveries past the retention as it starts,
// and each minute while it runs, so a process that empties a shared
// inbox with Drain now and then (a cron job) keeps done deliveries no
// longer than the retention plus the time between its calls.
//
// Once ctx is done Drain leases nothing more and ends as Run does: it
// waits for the callbacks in flight up to the ShutdownTimeout, then
// cancels their context, which cuts their runs short (due again at once,
// neither failed nor done), and waits up to a second more for those runs
// to be recorded. Its error then wraps ctx's, unless Drain had leased
// all it had to and its runs returned in time; past the timeout it wraps
// context.DeadlineExceeded too. An inbox whose Lease fails ends Drain
// with that error, once the runs in flight are recorded. Drain and Run,
// in one process or many, may share an inbox at the same time, and so
// may several Drain calls: a lease holds a delivery for one of them.
// Drain returns an error at once without WithInbox.
func (h *Handler) Drain(ctx context.Context) (runs int, err error) {
	if h.inbox == nil {
		return 0, errors.New("webhook: Drain needs a handler built WithInbox")
	}
	h.warnInboxClock()
	p := h.newWorkerPool(ctx)
	defer p.close()
	started := h.now()
	ran := make(map[string]bool)
	drained := false
	var stopErr error // why it stopped before the inbox was drained
	for ctx.Err() == nil {
		p.purge(ctx)
		leases, ok, lerr := p.lease(ctx)
		if !ok {
			continue
		}
		more := false // the Lease brought a delivery Drain has still to run
		for _, l := range leases {
			e := &l.Entry
			more = more || !ran[e.Key] && !e.ReceivedAt.After(started)
			ran[e.Key] = true
			p.start(l)
		}
		runs += len(leases)
		if lerr != nil {
			stopErr = fmt.Errorf("webhook: Drain: inbox lease: %w", lerr)
			break
		}
		if !more {
			drained = true
			break
		}
	}
	// Past the shutdown timeout it cut runs short: ctx's end is the cause.
	cutErr := p.finish(ctx, "Drain")
	if cutErr != nil || !drained && stopErr == nil {
		stopErr = errors.Join(stopErr, fmt.Errorf("webhook: Drain: %w", ctx.Err()))
	}
	return runs, errors.Join(stopErr, cutErr)
}
