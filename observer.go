package webhook

import (
	"context"
	"time"
)

// An Observer is told what happens to each delivery, for traces, metrics
// and logs: package github.com/inhook/webhook/otelwebhook builds one for
// OpenTelemetry. Set it with WithObserver.
//
// Every field is optional, and a nil field costs the handler one
// comparison, so an observer sets only the hooks it needs, and a hook
// added to this struct later breaks no observer (unlike a method added to
// an interface). It follows net/http/httptrace.ClientTrace.
//
// Hooks run synchronously, on the request's goroutine or on the worker's,
// so they must be quick and must not block; several may run at once for
// different deliveries. They must not modify the Delivery, and must not
// log its Body or Header: the Header holds the signatures. A hook that
// panics on a worker is recovered and logged, so it cannot end the
// process: before the delivery's outcome is recorded (Dispatch) the run
// counts as failed and is retried under the worker policy.
type Observer struct {
	// Rejected reports a request answered with an error status: refused
	// before the callbacks (the Reason says why) or failed by them
	// (ReasonCallback). It is the hook OnError also sees.
	Rejected func(ctx context.Context, r Rejection)
	// Verified reports a request whose signature verified; d.Event is
	// not decoded yet.
	Verified func(ctx context.Context, d *Delivery)
	// Decoded reports a verified request decoded into d.Event; d.ID is
	// set by then for every source that has one.
	Decoded func(ctx context.Context, d *Delivery)
	// Duplicate reports a delivery acknowledged without running the
	// callbacks again: the dedupe store or the inbox has it already.
	Duplicate func(ctx context.Context, d *Delivery)
	// Storing is called in inbox mode just before the delivery is
	// stored. It may add small entries to meta, which the inbox keeps as
	// InboxEntry.Meta and hands back to Dispatch when a worker runs the
	// delivery: the request's W3C trace context under "traceparent", so
	// that every later run can link to the request. It is called for a
	// duplicate too, which the inbox tells only on storing; Duplicate
	// follows then.
	Storing func(ctx context.Context, d *Delivery, meta map[string]string)
	// Stored reports a delivery the inbox has stored durably; the
	// handler answers 200 next.
	Stored func(ctx context.Context, d *Delivery)
	// Dispatch is called before the callbacks run for d: on the request
	// without an inbox (meta is nil), on a worker with one (meta is the
	// stored InboxEntry.Meta, empty but never nil, so that nil always
	// means the request). The context it returns is the one the
	// callbacks get, so a span started here covers them. done, when not
	// nil, is called once with the run's outcome after they return, once
	// that outcome is recorded (or failed to be, which is logged): on the
	// request, in the dedupe store, before the response; on a worker, in
	// the inbox, so a test can wait on done and then read the inbox or
	// advance its clock, without polling.
	Dispatch func(ctx context.Context, d *Delivery, meta map[string]string) (cctx context.Context, done func(Dispatched))
	// Dead reports a delivery a worker has marked dead (see DeadLetter),
	// also when no callback ran: then no Dispatch reports its last run,
	// and this hook is the only one to hear of it after the request.
	// When a run of the callbacks ended it, Dispatch's done learns
	// OutcomeDead after this hook returns.
	Dead func(ctx context.Context, dl DeadLetter)
	// Inbox is called once by NewHandler with the inbox WithInbox
	// configures, so the observer can read Inbox.Stats when its metrics
	// are collected, rather than the handler polling on a timer.
	Inbox func(ib Inbox)
}

// A Rejection is a request the handler answered with an error status.
type Rejection struct {
	// Delivery holds what was known when it was rejected: Source is
	// empty if no configured source's headers were present, Body is nil
	// unless it was verified, Event nil unless it was decoded.
	Delivery *Delivery
	// Status is the HTTP status answered.
	Status int
	// Reason is the class of the failure, few enough to be a metric
	// attribute.
	Reason Reason
	// Err is the error, as OnError receives it in HandlerError.Err. Its
	// text is safe to log but is not a metric attribute: it may hold ids.
	Err error
	// Diagnosis is the evidence about a request that failed verification
	// (a Series token included), a verified Intercom notification refused
	// for its age, its id's length or its app_id, or a request whose body
	// could not be read whole, as HandlerError.Diagnosis has it; nil
	// otherwise. Its Hint suits a metric attribute.
	Diagnosis *Diagnosis
}

// A DeadLetter is a delivery a worker has marked dead, as the Dead hook
// hears of it.
type DeadLetter struct {
	// Delivery is the delivery as the worker read it from the inbox,
	// its Key and InboxAttempt (the runs counted, the one that ended it
	// included) set. Event is nil when the stored body no longer
	// decodes.
	Delivery *Delivery
	// Meta is the entry's InboxEntry.Meta, what Storing added when it was
	// stored (the request's trace context, for one): empty but never nil.
	Meta map[string]string
	// Ran reports whether the callbacks ran in the run that ended it. It
	// is false for a delivery dead without running them: one leased past
	// WorkerConfig.MaxAttempts runs none of which settled
	// (ErrUnfinishedRuns), or whose stored body no longer decodes
	// (ErrUndecodable).
	Ran bool
	// Err is the error that ended it, whose text the inbox keeps as
	// InboxEntry.LastError.
	Err error
}

// Dispatched is the outcome of one run of the callbacks for a delivery.
type Dispatched struct {
	// Duration is how long the callbacks took, together.
	Duration time.Duration
	// Attempt counts the runs of this delivery: 1 on the request; on a
	// worker, the inbox's attempt count, including this run.
	Attempt int
	// Outcome is what becomes of the delivery.
	Outcome Outcome
	// Err is the callbacks' joined error, nil on success.
	Err error
}

// An Outcome is what became of a delivery after a run of its callbacks.
type Outcome string

// The outcomes of a run of the callbacks.
const (
	// OutcomeSuccess means every callback returned nil (or a 2xx
	// StatusError).
	OutcomeSuccess Outcome = "success"
	// OutcomeFailure means a callback failed on the request, without an
	// inbox: the handler answers an error status and the sender may
	// retry.
	OutcomeFailure Outcome = "failure"
	// OutcomeRetry means a callback failed on a worker and the delivery
	// is due again later.
	OutcomeRetry Outcome = "retry"
	// OutcomeDead means a callback failed on a worker and the delivery is
	// dead: a permanent error, or past the retry policy.
	OutcomeDead Outcome = "dead"
)

// WithObserver sets the observer told about every delivery (see
// Observer). The handler copies it, so changing o later has no effect.
// Nil means none, the default, which costs nothing.
func WithObserver(o *Observer) Option {
	return handlerOption(func(c *handlerConfig) error {
		if o == nil {
			c.observer = nil
			return nil
		}
		cp := *o
		c.observer = &cp
		return nil
	})
}

// The methods below are what the handler and the workers call. Each is
// safe on a nil *Observer and small enough to inline, so an unset hook
// costs a comparison.

func (o *Observer) rejected(ctx context.Context, d *Delivery, status int, reason Reason, err error, dg *Diagnosis) {
	if o != nil && o.Rejected != nil {
		if reason == "" {
			reason = ReasonOf(err)
		}
		o.Rejected(ctx, Rejection{Delivery: d, Status: status, Reason: reason, Err: err, Diagnosis: dg})
	}
}

func (o *Observer) verified(ctx context.Context, d *Delivery) {
	if o != nil && o.Verified != nil {
		o.Verified(ctx, d)
	}
}

func (o *Observer) decoded(ctx context.Context, d *Delivery) {
	if o != nil && o.Decoded != nil {
		o.Decoded(ctx, d)
	}
}

func (o *Observer) duplicate(ctx context.Context, d *Delivery) {
	if o != nil && o.Duplicate != nil {
		o.Duplicate(ctx, d)
	}
}

// storing lets the observer annotate meta before a store, allocating the
// map only when there is a hook to fill it.
func (o *Observer) storing(ctx context.Context, d *Delivery, meta map[string]string) map[string]string {
	if o == nil || o.Storing == nil {
		return meta
	}
	if meta == nil {
		meta = make(map[string]string, 2)
	}
	o.Storing(ctx, d, meta)
	if len(meta) == 0 {
		return nil
	}
	return meta
}

func (o *Observer) stored(ctx context.Context, d *Delivery) {
	if o != nil && o.Stored != nil {
		o.Stored(ctx, d)
	}
}

func (o *Observer) dead(ctx context.Context, dl DeadLetter) {
	if o != nil && o.Dead != nil {
		if dl.Meta == nil {
			dl.Meta = map[string]string{}
		}
		o.Dead(ctx, dl)
	}
}

func (o *Observer) inbox(ib Inbox) {
	if o != nil && o.Inbox != nil && ib != nil {
		o.Inbox(ib)
	}
}

// dispatch starts a run of the callbacks: it returns their context and
// the run, whose finish reports the outcome. Without a hook it returns ctx
// and a zero run, and reads no clock.
func (o *Observer) dispatch(ctx context.Context, d *Delivery, meta map[string]string) (context.Context, observedRun) {
	if o == nil || o.Dispatch == nil {
		return ctx, observedRun{}
	}
	return o.startDispatch(ctx, d, meta)
}

// dispatchStored is dispatch for a worker's run of a stored delivery:
// meta is never nil there, so a hook can tell the run from one on the
// request even for an entry stored without meta.
func (o *Observer) dispatchStored(ctx context.Context, d *Delivery, meta map[string]string) (context.Context, observedRun) {
	if o == nil || o.Dispatch == nil {
		return ctx, observedRun{}
	}
	if meta == nil {
		meta = map[string]string{}
	}
	return o.startDispatch(ctx, d, meta)
}

func (o *Observer) startDispatch(ctx context.Context, d *Delivery, meta map[string]string) (context.Context, observedRun) {
	cctx, done := o.Dispatch(ctx, d, meta)
	if cctx == nil {
		cctx = ctx
	}
	return cctx, observedRun{done: done, start: time.Now()}
}

// observedRun is one run of the callbacks being observed.
type observedRun struct {
	done  func(Dispatched)
	start time.Time
	took  time.Duration // set by stop, when the outcome is known later
}

// stop ends the timing when the callbacks return, before their outcome is
// settled.
func (r *observedRun) stop() {
	if r.done != nil {
		r.took = time.Since(r.start)
	}
}

func (r *observedRun) finish(attempt int, outcome Outcome, err error) {
	if r.done != nil {
		r.report(attempt, outcome, err)
	}
}

func (r *observedRun) report(attempt int, outcome Outcome, err error) {
	took := r.took
	if took == 0 {
		took = time.Since(r.start)
	}
	done := r.done
	r.done = nil // once only
	done(Dispatched{Duration: took, Attempt: attempt, Outcome: outcome, Err: err})
}

// JoinObservers returns an Observer that calls each of obs in turn, so
// that OpenTelemetry and your own hooks can watch the same handler. Nil
// observers and nil hooks are skipped; a hook none of them sets stays nil,
// and so costs nothing. Dispatch hooks nest: each gets the context the
// one before it returned, and their done funcs run in reverse order, the
// first observer's last: put first an observer a test waits on, so that
// when its done runs the others' have (otelwebhook's has ended the span).
func JoinObservers(obs ...*Observer) *Observer {
	var list []*Observer
	for _, o := range obs {
		if o != nil {
			list = append(list, o)
		}
	}
	j := &Observer{}
	each := func(set func(o *Observer) bool) []*Observer {
		var with []*Observer
		for _, o := range list {
			if set(o) {
				with = append(with, o)
			}
		}
		return with
	}
	if os := each(func(o *Observer) bool { return o.Rejected != nil }); len(os) > 0 {
		j.Rejected = func(ctx context.Context, r Rejection) {
			for _, o := range os {
				o.Rejected(ctx, r)
			}
		}
	}
	deliveryHook := func(get func(o *Observer) func(context.Context, *Delivery)) func(context.Context, *Delivery) {
		os := each(func(o *Observer) bool { return get(o) != nil })
		if len(os) == 0 {
			return nil
		}
		return func(ctx context.Context, d *Delivery) {
			for _, o := range os {
				get(o)(ctx, d)
			}
		}
	}
	j.Verified = deliveryHook(func(o *Observer) func(context.Context, *Delivery) { return o.Verified })
	j.Decoded = deliveryHook(func(o *Observer) func(context.Context, *Delivery) { return o.Decoded })
	j.Duplicate = deliveryHook(func(o *Observer) func(context.Context, *Delivery) { return o.Duplicate })
	j.Stored = deliveryHook(func(o *Observer) func(context.Context, *Delivery) { return o.Stored })
	if os := each(func(o *Observer) bool { return o.Storing != nil }); len(os) > 0 {
		j.Storing = func(ctx context.Context, d *Delivery, meta map[string]string) {
			for _, o := range os {
				o.Storing(ctx, d, meta)
			}
		}
	}
	if os := each(func(o *Observer) bool { return o.Dispatch != nil }); len(os) > 0 {
		j.Dispatch = func(ctx context.Context, d *Delivery, meta map[string]string) (context.Context, func(Dispatched)) {
			dones := make([]func(Dispatched), 0, len(os))
			for _, o := range os {
				cctx, done := o.Dispatch(ctx, d, meta)
				if cctx != nil {
					ctx = cctx
				}
				if done != nil {
					dones = append(dones, done)
				}
			}
			return ctx, func(r Dispatched) {
				for i := len(dones) - 1; i >= 0; i-- {
					dones[i](r)
				}
			}
		}
	}
	if os := each(func(o *Observer) bool { return o.Dead != nil }); len(os) > 0 {
		j.Dead = func(ctx context.Context, dl DeadLetter) {
			for _, o := range os {
				o.Dead(ctx, dl)
			}
		}
	}
	if os := each(func(o *Observer) bool { return o.Inbox != nil }); len(os) > 0 {
		j.Inbox = func(ib Inbox) {
			for _, o := range os {
				o.Inbox(ib)
			}
		}
	}
	return j
}
