package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/inhook/webhook/event"
)

// Run runs the workers of inbox mode until ctx is done: they lease due
// deliveries from the inbox, decode the stored bytes (verified when they
// were stored, and not again) and call the callbacks with the same
// Delivery as outside inbox mode, plus Key and InboxAttempt, but for its
// Header, which holds only the headers the inbox kept (see
// Delivery.Header). A delivery
// whose callbacks all succeed is done; one whose callbacks fail or panic
// is retried or dead under the WorkerConfig's policy. Done deliveries are
// purged after the retention; dead ones stay until replayed or purged.
//
// Callbacks run at least once, not exactly once: a crash, or a lease that
// runs out, between a callback's success and the inbox recording it runs
// the callback again. Make callbacks idempotent, keyed by Delivery.Key.
// A callback's context ends a margin before its lease does (a tenth of the
// lease WithDedupeTimes sets, at most 5 s), as outside inbox mode, so set
// the lease well above the slowest callback. A run whose context its
// lease ended before the callbacks returned has failed, whatever they
// return (nil may be a callback giving up on its context without an
// error, a Permanent error may be about the deadline): its delivery is
// retried or dead under the policy, never done on that run.
//
// Once ctx is done Run leases nothing more, waits for the callbacks in
// flight up to the ShutdownTimeout, and returns nil; past the timeout it
// cancels their context, waits up to a second more for them to return
// and their runs to be recorded, and returns an error. Their deliveries
// run again:
// a callback that returns then has not failed, whatever it returns (an
// error, a Permanent one included, or nil: a callback may give up on its
// context without an error), and its delivery is due at once, neither
// backed off, dead nor done (Attempts counts the run all the same, and
// LastError says it was cut short; one cut short at the policy's last run
// still gets a run after it); one that does not return runs again when
// its lease runs out. Only callbacks that returned before the timeout
// make a delivery done. Several Run calls, in one process or many, may
// share an inbox, and Drain calls beside them. Run returns an error at
// once without WithInbox.
func (h *Handler) Run(ctx context.Context) error {
	if h.inbox == nil {
		return errors.New("webhook: Run needs a handler built WithInbox")
	}
	h.warnInboxClock()
	p := h.newWorkerPool(ctx)
	defer p.close()
	poll := time.NewTimer(h.workers.Poll)
	defer poll.Stop()
	for ctx.Err() == nil {
		p.purge(ctx)
		leases, ok, err := p.lease(ctx)
		if !ok {
			continue
		}
		if err != nil {
			h.logger.LogAttrs(ctx, slog.LevelError, "webhook inbox lease failed", slog.String("error", err.Error()))
		}
		for _, l := range leases {
			p.start(l)
		}
		if len(leases) > 0 {
			continue
		}
		// Nothing due (or the inbox failed): wait for a store, the poll
		// or the end.
		poll.Reset(h.workers.Poll)
		select {
		case <-h.wake:
		case <-poll.C:
		case <-ctx.Done():
		}
	}
	return p.finish(ctx, "Run")
}

// A workerPool runs leased deliveries for Run and Drain, at most
// WorkerConfig.Workers at once, and ends them as Run's docs say.
type workerPool struct {
	h        *Handler
	slots    chan struct{} // one a delivery leased and not yet run
	inflight sync.WaitGroup
	// hard is the callbacks' base context: they outlive the caller's
	// context by up to the shutdown timeout.
	hard       context.Context
	hardCancel context.CancelFunc
	// endedAt has the time the caller's context ended: the shutdown
	// timeout runs from then, not from when the loop sees it, so that a
	// Lease in progress then, which that context does not cancel, does
	// not add to it.
	endedAt     chan time.Time
	stopEndedAt func() bool
	lastPurge   time.Time
}

func (h *Handler) newWorkerPool(ctx context.Context) *workerPool {
	p := &workerPool{h: h, slots: make(chan struct{}, h.workers.Workers), endedAt: make(chan time.Time, 1)}
	p.hard, p.hardCancel = context.WithCancel(context.WithoutCancel(ctx))
	p.stopEndedAt = context.AfterFunc(ctx, func() { p.endedAt <- time.Now() })
	return p
}

func (p *workerPool) close() {
	p.stopEndedAt()
	p.hardCancel()
}

// purge purges the done deliveries past the retention, at most once a
// purgeEvery by the handler's clock.
func (p *workerPool) purge(ctx context.Context) {
	h := p.h
	// A clock stepped back starts the period again: waiting
	// for it to catch up would stop purging for as long as the step,
	// and keep records past the retention.
	if now := h.now(); now.Sub(p.lastPurge) >= purgeEvery || now.Before(p.lastPurge) {
		p.lastPurge = now
		if _, err := h.inbox.Purge(ctx, InboxDone, now.Add(-h.keep)); err != nil && ctx.Err() == nil {
			h.logger.LogAttrs(ctx, slog.LevelError, "webhook inbox purge failed", slog.String("error", err.Error()))
		}
	}
}

// lease waits for a free worker, takes every other free one, and leases
// up to as many due deliveries, each holding its worker until start's run
// ends. It reports false, leasing nothing, once ctx is done; err is the
// inbox's.
func (p *workerPool) lease(ctx context.Context) (leases []InboxLease, ok bool, err error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, nil
	}
	if ctx.Err() != nil {
		// Both were ready (ctx ended while purging, say), and select
		// chose at random.
		<-p.slots
		return nil, false, nil
	}
	n := 1
fill:
	for n < cap(p.slots) {
		select {
		case p.slots <- struct{}{}:
			n++
		default:
			break fill
		}
	}
	// Not cancelled with ctx: a lease taken by a call cut short would
	// strand its deliveries until it ran out.
	lctx, lcancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	leases, err = p.h.inbox.Lease(lctx, n, p.h.lease)
	lcancel()
	for range n - len(leases) {
		<-p.slots
	}
	return leases, true, err
}

// start runs l's callbacks and settles it on a goroutine of its own, in
// the worker lease took for it.
func (p *workerPool) start(l InboxLease) {
	p.inflight.Add(1)
	go func() {
		defer func() { <-p.slots; p.inflight.Done() }()
		defer p.h.recoverSettled(l.Entry.Key)
		p.h.process(p.hard, l)
	}()
}

// finish waits for the runs in flight to be recorded. Once ctx is done it
// waits up to the shutdown timeout from ctx's end, then cancels the
// callbacks' context, waits up to cutGrace more, and returns an error
// naming the caller, name.
func (p *workerPool) finish(ctx context.Context, name string) error {
	cfg := p.h.workers
	done := make(chan struct{})
	go func() { p.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	ended := time.Now() // if the AfterFunc has yet to run, about when it will
	select {
	case ended = <-p.endedAt:
	default:
	}
	timeout := time.NewTimer(max(cfg.ShutdownTimeout-time.Since(ended), 0))
	defer timeout.Stop()
	select {
	case <-done:
		return nil
	case <-timeout.C:
		select {
		case <-done: // both were ready: they returned in time
			return nil
		default:
		}
		p.hardCancel()
		// Those that return once cancelled record it before the call
		// returns: an inbox closed after it would otherwise keep their
		// deliveries leased until the leases ran out.
		grace := time.NewTimer(cutGrace)
		defer grace.Stop()
		select {
		case <-done:
		case <-grace.C:
		}
		return fmt.Errorf("webhook: %s: callbacks still running after the shutdown timeout (%v): %w", name, cfg.ShutdownTimeout, context.DeadlineExceeded)
	}
}

// recoverSettled keeps a panic in the hooks that run after a delivery is
// settled (OnError's, an observer's done) from ending the process, as
// process does for those before; the outcome is recorded by then.
func (h *Handler) recoverSettled(key string) {
	if p := recover(); p != nil {
		h.logger.LogAttrs(context.Background(), slog.LevelError, "webhook inbox worker panicked after settling a delivery, in a hook (OnError's or an observer's)",
			slog.String("key", key), slog.String("error", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
	}
}

// purgeEvery is how often, by the handler's clock, Run purges done
// deliveries past the retention.
const purgeEvery = time.Minute

// process runs the callbacks for one leased delivery and settles it.
func (h *Handler) process(base context.Context, l InboxLease) {
	e := &l.Entry
	// The lease is on the handler's clock, the context on real time. It
	// ends a margin before the lease, as outside inbox mode, so that a
	// callback can stop and its outcome be settled before another worker
	// may lease the delivery.
	left := e.LeaseUntil.Sub(h.now()) - leaseMargin(h.lease)
	lc := newLeaseContext(base, time.Now().Add(left))
	defer lc.stop()
	d := &Delivery{Source: e.Source, ID: e.ID, Timestamp: e.Timestamp, Header: e.Header, Body: e.Body, Key: e.Key, InboxAttempt: e.Attempts, Tenant: e.Meta[metaTenant]}
	if d.Header == nil {
		d.Header = http.Header{}
	}
	settled := false
	ran := false // Dispatch returned, and the callbacks were called
	var run observedRun
	// A callback that calls runtime.Goexit (t.FailNow in a test) skips
	// the rest of this function, not its deferred calls.
	//
	// A panic outside the callbacks (theirs are recovered as PanicErrors),
	// in an observer's hook, is recovered here too: on a worker's
	// goroutine it would end the process and every delivery in flight
	// with it, where net/http keeps a handler's panic to its request.
	defer func() {
		if !settled {
			err := errGoexit
			if p := recover(); p != nil {
				err = fmt.Errorf("webhook: panic outside the callbacks, in an observer's hook?: %v", p)
				h.logger.LogAttrs(context.Background(), slog.LevelError, "webhook inbox worker panicked outside the callbacks",
					slog.String("key", e.Key), slog.String("error", err.Error()), slog.String("stack", string(debug.Stack())))
			}
			run.stop()
			outcome, err := h.settle(base, l, d, err, ran, false)
			run.finish(e.Attempts, outcome, err)
		}
	}()
	var err error
	leaseCut := false // the callbacks' context reached the lease's deadline before they returned
	if d.Event, err = h.decode(e.Source, e.Body, d.Header); err != nil {
		err = Permanent(fmt.Errorf("%w: %w", ErrUndecodable, err))
	} else if e.Attempts-cutShort(e.LastError) > h.workers.MaxAttempts {
		// The earlier runs settled nothing: each crashed the process or
		// outlasted its lease. Running it again may crash it again. (Runs
		// cut short by a shutdown settled, but failed nothing: they do
		// not count against the policy here. Taken from the attempts, not
		// added to a MaxAttempts of math.MaxInt, which would wrap.)
		err = Permanent(overRun(e))
	} else {
		if n, ok := d.Event.(*event.IntercomNotification); ok {
			d.Attempt = n.DeliveryAttempts
		}
		var cctx context.Context
		cctx, run = h.obs.dispatchStored(lc, d, e.Meta)
		ran = true
		_, err = h.reg.Load().dispatch(cctx, d)
		leaseCut = !time.Now().Before(lc.deadline)
		run.stop()
	}
	settled = true
	outcome, err := h.settle(base, l, d, err, ran, leaseCut)
	run.finish(e.Attempts, outcome, err)
}

// cutShortPrefix begins the LastError of a delivery whose last run was
// cut short by Run's shutdown timeout, with the count of such runs
// since its last failure, which process does not hold against it: a run
// cut short at the policy's last attempt would otherwise find it past
// MaxAttempts and dead, without the run the docs promise.
const cutShortPrefix = "webhook: run cut short by the shutdown ("

// cutShort is the count of runs cut short by a shutdown that lastErr
// records, 0 if none.
func cutShort(lastErr string) int {
	rest, ok := strings.CutPrefix(lastErr, cutShortPrefix)
	if !ok {
		return 0
	}
	n := 0
	for _, c := range []byte(rest) {
		if c < '0' || c > '9' || n > 1<<20 {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// overRun is the error of a delivery leased past MaxAttempts runs.
func overRun(e *InboxEntry) error {
	msg := fmt.Sprintf("already %d runs, the policy's most, and the last unfinished (a crash, or a lease that ran out)", e.Attempts-1)
	if e.LastError != "" {
		msg += "; the last error before them: " + e.LastError
	}
	return fmt.Errorf("%w: %s", ErrUnfinishedRuns, msg)
}

// settle records the outcome of a run of l's callbacks: done for a nil
// err, else retrying or dead under the worker policy; ran says whether the
// callbacks ran, leaseCut whether their context reached the lease's
// deadline before they returned. It returns which, and the error it
// settled the run with: err, or for callbacks that returned nil once cut
// short by the shutdown or the lease, errCutShort or errLeaseCut.
func (h *Handler) settle(base context.Context, l InboxLease, d *Delivery, err error, ran, leaseCut bool) (Outcome, error) {
	e := &l.Entry
	// Settle even if the callbacks' context was cancelled.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(base), settleTimeout)
	defer scancel()
	attrs := []slog.Attr{slog.String("key", e.Key), slog.String("source", string(e.Source)), slog.Int("attempt", e.Attempts)}
	_, perm := asReturned[*permanentError](err)
	// Callbacks whose context Run's shutdown timeout cancelled before
	// they returned were cut short, not failed, whatever they returned:
	// nil may be a callback giving up on its context without an error,
	// and a Permanent error may be about the cancellation. Only what
	// ended a delivery before its callbacks (a body that no longer
	// decodes, runs unfinished) stays permanent.
	cut := base.Err() != nil && (ran || !perm)
	// Callbacks whose lease ran out before they returned were cut short
	// too, for the same reasons, but the run counts against the policy:
	// a callback slower than its lease would otherwise run for ever.
	// The lease may be another worker's by now; settling then fails
	// with ErrLeaseLost, and that worker's run decides.
	leaseCut = leaseCut && !cut
	if leaseCut {
		perm = false
		if err == nil {
			err = errLeaseCut
		}
	}
	if err == nil && !cut {
		if serr := h.inbox.Complete(sctx, e.Key, l.Token); serr != nil {
			h.settleFailed(sctx, "complete", serr, attrs)
		}
		return OutcomeSuccess, nil
	}
	if err == nil {
		err = errCutShort
	}
	attrs = append(attrs, slog.String("error", err.Error()))
	var pe *PanicError
	if errors.As(err, &pe) {
		attrs = append(attrs, slog.String("stack", string(pe.Stack)))
	}
	if cut {
		// Due again at once, neither backed off, judged dead nor done.
		h.logger.LogAttrs(sctx, slog.LevelWarn, "webhook inbox delivery interrupted by the shutdown; due again", attrs...)
		lastErr := fmt.Sprintf("%s%d): %v", cutShortPrefix, cutShort(e.LastError)+1, err)
		if serr := h.inbox.Retry(sctx, e.Key, l.Token, h.now(), lastErr); serr != nil {
			h.settleFailed(sctx, "retry", serr, attrs)
		}
		return OutcomeRetry, err
	}
	cfg := h.workers
	wait := cfg.backoff(e.Attempts)
	if se, ok := asReturned[*StatusError](err); ok && se.RetryAfter > wait {
		wait = se.RetryAfter
	}
	next := h.now().Add(wait)
	outcome := OutcomeRetry
	switch {
	case perm, e.Attempts >= cfg.MaxAttempts, next.Sub(e.ReceivedAt) > cfg.MaxAge:
		h.logger.LogAttrs(sctx, slog.LevelError, "webhook inbox delivery dead", attrs...)
		if serr := h.inbox.Kill(sctx, e.Key, l.Token, err.Error()); serr != nil {
			// Not dead yet: it runs again once the lease runs out.
			h.settleFailed(sctx, "kill", serr, attrs)
		} else {
			outcome = OutcomeDead
			h.obs.dead(sctx, DeadLetter{Delivery: d, Meta: e.Meta, Ran: ran, Err: err})
		}
	default:
		attrs = append(attrs, slog.Time("next", next))
		h.logger.LogAttrs(sctx, slog.LevelWarn, "webhook inbox delivery failed; retrying", attrs...)
		if serr := h.inbox.Retry(sctx, e.Key, l.Token, next, err.Error()); serr != nil {
			h.settleFailed(sctx, "retry", serr, attrs)
		}
	}
	h.reg.Load().reportError(sctx, h.logger, d, &HandlerError{Err: err})
	return outcome, err
}

// errCutShort is the error of a run whose callbacks returned nil once the
// shutdown had cancelled their context: not known to have finished.
var errCutShort = fmt.Errorf("webhook: the callbacks returned no error once the shutdown had cancelled their context, so may not have finished: %w", context.Canceled)

// errLeaseCut is the error of a run whose callbacks returned nil once
// their lease had ended their context: not known to have finished.
var errLeaseCut = fmt.Errorf("webhook: the callbacks returned no error once their lease had ended their context, so may not have finished: %w", context.DeadlineExceeded)

// errGoexit is the failure of a run whose callback ended its goroutine.
var errGoexit = errors.New("webhook: callback exited without returning (runtime.Goexit)")

// settleTimeout bounds settling a delivery after its callbacks returned.
const settleTimeout = 10 * time.Second

// cutGrace is how long Run waits, past the shutdown timeout, for the
// callbacks it cancelled to return and their runs to be recorded.
const cutGrace = time.Second

func (h *Handler) settleFailed(ctx context.Context, op string, err error, attrs []slog.Attr) {
	msg := "webhook inbox " + op + " failed; the delivery runs again when its lease runs out"
	if errors.Is(err, ErrLeaseLost) {
		msg = "webhook inbox lease lost before " + op + "; the delivery runs again"
	}
	h.logger.LogAttrs(ctx, slog.LevelError, msg, append(attrs, slog.String("inbox_error", err.Error()))...)
}
