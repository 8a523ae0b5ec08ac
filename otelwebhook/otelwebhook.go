// Package otelwebhook reports what a github.com/inhook/webhook Handler and
// its inbox workers do as OpenTelemetry traces and metrics. It lives in a
// module of its own so that the core module depends on no telemetry
// library.
//
// New returns a *webhook.Observer; give it to the handler with
// webhook.WithObserver, and wrap the handler with otelhttp (package
// go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp) for the
// HTTP server span, which follows the HTTP semantic conventions:
//
//	obs, err := otelwebhook.New() // the global TracerProvider and MeterProvider
//	h, err := webhook.NewHandler(webhook.WithSecrets(secret), webhook.WithObserver(obs))
//	public := otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true })
//	traceOnly := otelhttp.WithPropagators(propagation.TraceContext{}) // no sender's baggage
//	http.Handle("/webhooks", otelhttp.NewHandler(h, "webhook", public, traceOnly)) // every method: Intercom checks the URL with HEAD
//
// The sender is across a trust boundary, and its traceparent and baggage
// headers are not signed: WithPublicEndpointFn makes the request's span
// the root of a trace of the receiver's, linked to the sender's, rather
// than the sender's child; WithPropagators keeps a global Baggage
// propagator from putting the sender's baggage in the callbacks' context,
// whence an instrumented client would forward it.
//
// ExampleNew runs such a handler on SDK providers recording in memory and
// prints the spans and metrics of a delivery and its duplicate;
// ExampleNew_inbox does the same in inbox mode, where a worker's run joins
// the trace of the request that stored the delivery. The repository's
// examples/observability exports to stdout and to Prometheus.
//
// # Traces
//
// The request's span (otelhttp's, or any span in the request's context)
// gets the attributes webhook.source, webhook.message.id,
// webhook.event.type and webhook.outcome: processed (the callbacks ran on
// the request and succeeded), failed (they failed), stored (in the inbox),
// duplicate or rejected; failed and rejected ones get webhook.reason, and
// error.type (the same reason) when the status is a 5xx, the HTTP
// conventions' server errors.
//
// Each run of the callbacks is a CONSUMER span named "process" and the
// destination, following the messaging semantic conventions:
// messaging.system "webhook", messaging.operation.type and
// messaging.operation.name "process", messaging.destination.name the
// source and event type ("standard:jam.created",
// "intercom:conversation.user.replied"; "standard:unknown" for a type
// package event does not know, and "intercom:unknown" for a topic it
// does not name, whose span gets webhook.event.type as
// event.SafeName gives it), messaging.message.id the
// sender's message id, error.type on failure, and webhook.attempt and
// webhook.outcome. Without an inbox the span is a child of the request's.
// With one, the handler stores the request span's trace context with the
// delivery (InboxEntry.Meta "traceparent" and "tracestate"; never the
// sender's headers), and each worker's run links to it and, when the
// worker's context carries no span, is its child: one trace shows the
// request and every retry.
//
// A delivery a worker marks dead without running its callbacks gets such
// a span too, linked and parented the same way, so that the trace shows
// how the delivery ended: one leased past the policy's MaxAttempts runs
// none of which settled (each crashed the process or outlasted its
// lease), error.type "unfinished_runs", and one whose stored body no
// longer decodes ("standard:unknown", say), error.type "undecodable".
// Both have webhook.outcome dead, webhook.attempt the runs counted, and
// the error recorded; neither is a run, so messaging.process.duration
// leaves them out.
//
// # Metrics
//
// Each metric's instrument and unit, then its attributes and what it
// counts:
//
//	messaging.process.duration     histogram (s): each run of the callbacks, by messaging.system,
//	                               messaging.operation.name and .type, messaging.destination.name,
//	                               webhook.source, and error.type on failure
//	webhook.deliveries             counter ({delivery}) by webhook.source and webhook.outcome:
//	                               each run's outcome (success, failure, retry), and stored,
//	                               duplicate and dead
//	webhook.rejections             counter ({request}) by webhook.source, webhook.reason and
//	                               http.response.status_code: requests answered with an error status
//	webhook.verification.failures  counter ({request}) by webhook.source and webhook.reason: the
//	                               rejections whose reason is a verification failure, the one to alert on
//	webhook.duplicates             counter ({delivery}) by webhook.source
//	webhook.inbox.deliveries       asynchronous up-down counter ({delivery}) by webhook.inbox.state:
//	                               pending, retrying, in_flight, done, dead
//	webhook.inbox.oldest_pending   asynchronous gauge (s): the age of the oldest pending or leased
//	                               delivery, 0 when there is none
//
// The inbox's counts add up (across states, across inboxes), so they are
// an up-down counter, as the instrument guidelines have it for the size
// of a queue; the age does not, so it is a gauge. Both inbox metrics
// have webhook.inbox.name too when WithInboxName sets it, as handlers
// with inboxes on one meter provider need: without, their counts are
// added up into one series, and their ages are one series, which shows
// one of their inboxes.
//
// No metric has a message id or any other per-delivery value as an
// attribute. The inbox metrics read Inbox.Stats when the metrics are
// collected; they report nothing for a handler without an inbox, nor
// when Stats fails (its store unreachable or closed), whose error goes
// to otel.Handle: the provider's other metrics are exported all the
// same.
package otelwebhook

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/inhook/webhook/otelwebhook"

// Attribute keys this package adds besides the semantic conventions' own.
const (
	SourceKey     = attribute.Key("webhook.source")
	MessageIDKey  = attribute.Key("webhook.message.id")
	EventTypeKey  = attribute.Key("webhook.event.type")
	OutcomeKey    = attribute.Key("webhook.outcome")
	ReasonKey     = attribute.Key("webhook.reason")
	AttemptKey    = attribute.Key("webhook.attempt")
	InboxStateKey = attribute.Key("webhook.inbox.state")
	InboxNameKey  = attribute.Key("webhook.inbox.name")
)

// An Option configures New. A nil Option is an error from New.
type Option func(*config)

type config struct {
	tp   trace.TracerProvider
	mp   metric.MeterProvider
	prop propagation.TextMapPropagator
	now  func() time.Time
	name string
}

// WithClock sets the clock the age of the oldest pending delivery is
// measured on; give it the handler's (webhook.WithClock). The default is
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithInboxName gives the inbox metrics the attribute webhook.inbox.name.
// Handlers whose observers report to one meter provider (the global one,
// by default) need a name each for their inboxes: unnamed, their counts
// are added up into one series, and the SDK keeps the age of the oldest
// pending delivery of whichever inbox it read last. Choose a name of your own, such as the endpoint's: it
// becomes a metric attribute.
func WithInboxName(name string) Option {
	return func(c *config) { c.name = name }
}

// WithTracerProvider sets the TracerProvider; the default is the global
// one, otel.GetTracerProvider().
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider sets the MeterProvider; the default is the global one,
// otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithPropagator sets how the request's trace context is written into an
// inbox entry and read back by the workers. The default is W3C Trace
// Context (traceparent and tracestate), not the global propagator: that
// one propagates nothing until a program sets it, which would break the
// link from every retry to its request without a word.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.prop = p }
}

// observer holds the instruments New made, and the inbox the handler
// gave it.
type observer struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	now    func() time.Time

	duration     metric.Float64Histogram
	deliveries   metric.Int64Counter
	rejections   metric.Int64Counter
	verification metric.Int64Counter
	duplicates   metric.Int64Counter

	inbox   atomic.Pointer[inboxRef]
	topics  map[string]bool // event.Topics(), the Intercom topics named apart
	dests   cache[destKey, *destInfo]
	sources cache[string, *sourceInfo]
	sets    cache[setKey, attribute.Set]
	nDests  atomic.Int64
}

type inboxRef struct{ ib webhook.Inbox }

// New returns an observer that reports to OpenTelemetry; pass it to
// webhook.WithObserver. Use one per handler: the inbox metrics follow the
// inbox of the last handler it was given to, and stop, their callback
// unregistered from the meter provider, once every handler it was given
// to has been garbage collected. Give each handler's inbox a name
// (WithInboxName) when several report to one meter provider.
func New(opts ...Option) (*webhook.Observer, error) {
	c := config{}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("otelwebhook: option %d is nil", i)
		}
		o(&c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.prop == nil {
		c.prop = propagation.TraceContext{}
	}
	if c.now == nil {
		c.now = time.Now
	}
	o := &observer{tracer: c.tp.Tracer(ScopeName), prop: c.prop, now: c.now, topics: map[string]bool{}}
	for _, t := range event.Topics() {
		o.topics[t] = true
	}
	meter := c.mp.Meter(ScopeName)
	var err, e error
	o.duration, e = meter.Float64Histogram("messaging.process.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of a run of the callbacks for one delivery."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	err = errors.Join(err, e)
	o.deliveries, e = meter.Int64Counter("webhook.deliveries", metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries by outcome: each run of the callbacks, and each delivery stored, acknowledged as a duplicate or dead."))
	err = errors.Join(err, e)
	o.rejections, e = meter.Int64Counter("webhook.rejections", metric.WithUnit("{request}"),
		metric.WithDescription("Requests answered with an error status, by reason."))
	err = errors.Join(err, e)
	o.verification, e = meter.Int64Counter("webhook.verification.failures", metric.WithUnit("{request}"),
		metric.WithDescription("Requests whose signature or timestamp did not verify, by reason."))
	err = errors.Join(err, e)
	o.duplicates, e = meter.Int64Counter("webhook.duplicates", metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries acknowledged without running the callbacks again."))
	err = errors.Join(err, e)
	states, e := meter.Int64ObservableUpDownCounter("webhook.inbox.deliveries", metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries in the inbox, by state."))
	err = errors.Join(err, e)
	oldest, e := meter.Float64ObservableGauge("webhook.inbox.oldest_pending", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest pending or leased delivery in the inbox; 0 when there is none."))
	err = errors.Join(err, e)
	if err != nil {
		return nil, err
	}
	// The meter provider may outlive the handler (a global one, or one
	// shared by the handlers an app builds on each reload), so its
	// callback holds the observer weakly and is unregistered once the
	// handler's hooks, the observer's only strong holders, are gone.
	reg, err := meter.RegisterCallback(observeInbox(weak.Make(o), c.name, states, oldest), states, oldest)
	if err != nil {
		return nil, err
	}
	runtime.AddCleanup(o, func(r metric.Registration) { _ = r.Unregister() }, reg)
	return &webhook.Observer{
		Rejected:  o.rejected,
		Verified:  o.verified,
		Decoded:   o.decoded,
		Duplicate: o.duplicate,
		Storing:   o.storing,
		Stored:    o.stored,
		Dispatch:  o.dispatch,
		Dead:      o.dead,
		Inbox:     func(ib webhook.Inbox) { o.inbox.Store(&inboxRef{ib}) },
	}, nil
}

// The HTTP request's span.

func (o *observer) verified(ctx context.Context, d *webhook.Delivery) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(SourceKey.String(string(d.Source)))
	}
}

func (o *observer) decoded(ctx context.Context, d *webhook.Delivery) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(EventTypeKey.String(event.SafeName(d.Event.EventType())))
		if d.ID != "" {
			span.SetAttributes(MessageIDKey.String(d.ID))
		}
	}
}

func (o *observer) rejected(ctx context.Context, r webhook.Rejection) {
	src := string(r.Delivery.Source)
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		outcome := "rejected"
		if r.Reason == webhook.ReasonCallback {
			outcome = "failed"
		}
		span.SetAttributes(OutcomeKey.String(outcome), ReasonKey.String(string(r.Reason)))
		// The HTTP conventions count only a 5xx as the server's error; a
		// 4xx (a forged signature, a stale timestamp) is the client's, and
		// gets no error.type, so that probes do not read as failures.
		if r.Status >= 500 {
			span.SetAttributes(semconv.ErrorTypeKey.String(string(r.Reason)))
		}
		if src != "" {
			span.SetAttributes(SourceKey.String(src))
		}
	}
	set := o.sets.get(setKey{source: src, reason: r.Reason, status: r.Status}, func() attribute.Set {
		return attribute.NewSet(SourceKey.String(src), ReasonKey.String(string(r.Reason)), semconv.HTTPResponseStatusCode(r.Status))
	})
	o.rejections.Add(ctx, 1, metric.WithAttributeSet(set))
	if r.Reason.Verification() {
		set := o.sets.get(setKey{source: src, reason: r.Reason}, func() attribute.Set {
			return attribute.NewSet(SourceKey.String(src), ReasonKey.String(string(r.Reason)))
		})
		o.verification.Add(ctx, 1, metric.WithAttributeSet(set))
	}
}

func (o *observer) duplicate(ctx context.Context, d *webhook.Delivery) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(OutcomeKey.String("duplicate"))
	}
	si := o.source(d.Source)
	o.duplicates.Add(ctx, 1, si.duplicates...)
	o.deliveries.Add(ctx, 1, si.duplicate...)
}

// storing writes the request's trace context into the entry's Meta.
func (o *observer) storing(ctx context.Context, d *webhook.Delivery, meta map[string]string) {
	o.prop.Inject(ctx, propagation.MapCarrier(meta))
}

func (o *observer) stored(ctx context.Context, d *webhook.Delivery) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(OutcomeKey.String("stored"))
	}
	o.deliveries.Add(ctx, 1, o.source(d.Source).stored...)
}

// dead counts every death, and gives one without a run of the callbacks
// (its runs crashed, or its body no longer decodes) the process span that
// a run's death has: the only trace of such a delivery after its request.
func (o *observer) dead(ctx context.Context, dl webhook.DeadLetter) {
	d := dl.Delivery
	o.deliveries.Add(ctx, 1, o.source(d.Source).dead...)
	if dl.Ran {
		return // the run's span reports it, told by its done
	}
	_, span, _ := o.startProcess(ctx, d, dl.Meta)
	if span.IsRecording() {
		span.SetAttributes(AttemptKey.Int(d.InboxAttempt), OutcomeKey.String(string(webhook.OutcomeDead)), semconv.ErrorTypeKey.String(errorType(dl.Err)))
		span.RecordError(dl.Err)
		span.SetStatus(codes.Error, "dead without a run of the callbacks")
	}
	span.End()
}

// startProcess starts the process span of a delivery on a worker (meta
// not nil) or on the request (meta nil): on a worker it links to the
// trace context stored with the delivery, and is its child unless ctx
// carries a span.
func (o *observer) startProcess(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, trace.Span, *destInfo) {
	di := o.dest(d)
	opts := di.start
	if len(meta) > 0 {
		stored := trace.SpanContextFromContext(o.prop.Extract(context.Background(), propagation.MapCarrier(meta)))
		if stored.IsValid() {
			opts = append(opts[:len(opts):len(opts)], trace.WithLinks(trace.Link{SpanContext: stored}))
			if !trace.SpanContextFromContext(ctx).IsValid() {
				ctx = trace.ContextWithRemoteSpanContext(ctx, stored)
			}
		}
	}
	ctx, span := o.tracer.Start(ctx, di.name, opts...)
	if span.IsRecording() {
		if d.ID != "" {
			span.SetAttributes(semconv.MessagingMessageID(d.ID))
		}
		if di.unknown && d.Event != nil {
			span.SetAttributes(EventTypeKey.String(event.SafeName(d.Event.EventType())))
		}
	}
	return ctx, span, di
}

// dispatch starts the process span for a run of the callbacks.
func (o *observer) dispatch(ctx context.Context, d *webhook.Delivery, meta map[string]string) (context.Context, func(webhook.Dispatched)) {
	// Without meta the run is on the request: its span is the parent,
	// and learns the outcome.
	var onRequest trace.Span
	if meta == nil {
		onRequest = trace.SpanFromContext(ctx)
	}
	ctx, span, di := o.startProcess(ctx, d, meta)
	return ctx, func(r webhook.Dispatched) {
		si := o.source(d.Source)
		if r.Err == nil {
			if span.IsRecording() {
				span.SetAttributes(AttemptKey.Int(r.Attempt), OutcomeKey.String(string(r.Outcome)))
			}
			if onRequest != nil && onRequest.IsRecording() {
				onRequest.SetAttributes(OutcomeKey.String("processed"))
			}
			// The metrics first: who sees the span ended finds the run
			// counted.
			o.duration.Record(ctx, r.Duration.Seconds(), di.ok...)
			o.deliveries.Add(ctx, 1, si.outcome(r.Outcome)...)
			span.End()
			return
		}
		errType := errorType(r.Err)
		if span.IsRecording() {
			span.SetAttributes(AttemptKey.Int(r.Attempt), OutcomeKey.String(string(r.Outcome)), semconv.ErrorTypeKey.String(errType))
			span.RecordError(r.Err)
			span.SetStatus(codes.Error, "callback failed")
		}
		defer span.End() // after the metrics, as above
		set := o.sets.get(setKey{dest: di.dest, errType: errType}, func() attribute.Set {
			return attribute.NewSet(append(di.metricAttrs[:len(di.metricAttrs):len(di.metricAttrs)], semconv.ErrorTypeKey.String(errType))...)
		})
		o.duration.Record(ctx, r.Duration.Seconds(), metric.WithAttributeSet(set))
		if r.Outcome != webhook.OutcomeDead { // counted by the Dead hook, which also sees deaths without a run
			o.deliveries.Add(ctx, 1, si.outcome(r.Outcome)...)
		}
	}
}

// errorType classes a failure for error.type: "undecodable" and
// "unfinished_runs" for the deaths without a run of the callbacks, and
// for a callback's, "panic", the failure status they chose with a
// StatusError, or "callback".
func errorType(err error) string {
	switch {
	case errors.Is(err, webhook.ErrUndecodable):
		return "undecodable"
	case errors.Is(err, webhook.ErrUnfinishedRuns):
		return "unfinished_runs"
	}
	var pe *webhook.PanicError
	if errors.As(err, &pe) {
		return "panic"
	}
	if code := chosenStatus(err); code != 0 {
		return strconv.Itoa(code)
	}
	return "callback"
}

// chosenStatus is the failure status the callbacks chose, as the handler
// answers it: of each callback's error (err joins them), the first
// StatusError, and of those the first from 300 to 599; 0 if none. A 2xx
// one chose success for its callback, whatever another returned, and a
// code outside 200 to 599 is answered 500, chosen by none.
func chosenStatus(err error) int {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var se *webhook.StatusError
		if errors.As(e, &se) && se.Code >= 300 && se.Code <= 599 {
			return se.Code
		}
	}
	return 0
}

// observeInbox reports the inbox's counts when the metrics are collected.
func observeInbox(wo weak.Pointer[observer], name string, states metric.Int64ObservableUpDownCounter, oldest metric.Float64ObservableGauge) metric.Callback {
	var named []attribute.KeyValue
	if name != "" {
		named = []attribute.KeyValue{InboxNameKey.String(name)}
	}
	set := func(state string) metric.ObserveOption {
		return metric.WithAttributeSet(attribute.NewSet(append(named[:len(named):len(named)], InboxStateKey.String(state))...))
	}
	pending, retrying, inFlight, done, dead := set("pending"), set("retrying"), set("in_flight"), set("done"), set("dead")
	age := metric.WithAttributeSet(attribute.NewSet(named...))
	return func(ctx context.Context, obs metric.Observer) error {
		o := wo.Value()
		if o == nil {
			return nil // its handler is gone; the cleanup unregisters this
		}
		ref := o.inbox.Load()
		if ref == nil {
			return nil
		}
		st, err := ref.ib.Stats(ctx)
		if err != nil {
			// Not returned: the SDK fails the whole collection on a
			// callback's error, and a PeriodicReader then exports none
			// of the provider's metrics, the final flush of Shutdown
			// included, for as long as the store is unreachable.
			otel.Handle(fmt.Errorf("otelwebhook: reading the inbox's counts: %w", err))
			return nil
		}
		obs.ObserveInt64(states, int64(st.Pending), pending)
		obs.ObserveInt64(states, int64(st.Retrying), retrying)
		obs.ObserveInt64(states, int64(st.InFlight), inFlight)
		obs.ObserveInt64(states, int64(st.Done), done)
		obs.ObserveInt64(states, int64(st.Dead), dead)
		secs := 0.0
		if !st.OldestPending.IsZero() {
			secs = max(o.now().Sub(st.OldestPending).Seconds(), 0)
		}
		obs.ObserveFloat64(oldest, secs, age)
		return nil
	}
}

// What follows is built once per source, destination or attribute set
// and reused, so that a delivery costs no attribute sorting and, on no-op
// providers, almost no allocation.

// maxDestinations bounds the destinations named: event types come from
// verified senders, but a sender that invented types by the thousand
// should not make the metrics unbounded.
const maxDestinations = 512

type destKey struct{ source, eventType string }

// destInfo is what a destination's runs share.
type destInfo struct {
	dest        string // "standard:jam.created"
	name        string // the span's name, "process " + dest
	unknown     bool   // an unknown event type: the span gets the type itself
	start       []trace.SpanStartOption
	metricAttrs []attribute.KeyValue
	ok          []metric.RecordOption // the duration's attributes for a run that succeeded
}

// dest names each delivery's destination, "source:event type". Unknown
// event types, and Intercom topics package event does not name (the
// sender's to choose, so the metrics' attribute sets would be too), share
// "source:unknown", as do stored bodies that no longer decode (no Event),
// and past maxDestinations new ones share "source:other".
func (o *observer) dest(d *webhook.Delivery) *destInfo {
	typ := ""
	unknown := d.Event == nil
	if !unknown {
		typ = d.Event.EventType()
		_, unknown = d.Event.(*event.UnknownEvent)
	}
	if _, ok := d.Event.(*event.IntercomNotification); ok && !o.topics[typ] {
		unknown = true
	}
	if unknown {
		typ = "unknown"
	}
	k := destKey{string(d.Source), typ}
	if di, ok := o.dests.lookup(k); ok {
		return di
	}
	if o.nDests.Load() >= maxDestinations {
		k.eventType, unknown = "other", true
	}
	return o.dests.get(k, func() *destInfo {
		o.nDests.Add(1)
		dest := k.source + ":" + k.eventType
		di := &destInfo{dest: dest, name: "process " + dest, unknown: unknown}
		di.metricAttrs = []attribute.KeyValue{
			semconv.MessagingSystemKey.String("webhook"),
			semconv.MessagingOperationName("process"),
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingDestinationName(dest),
			SourceKey.String(k.source),
		}
		spanAttrs := di.metricAttrs[:len(di.metricAttrs):len(di.metricAttrs)]
		if !unknown {
			spanAttrs = append(spanAttrs, EventTypeKey.String(k.eventType))
		}
		di.start = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(spanAttrs...)}
		di.ok = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(di.metricAttrs...))}
		return di
	})
}

// sourceInfo holds a source's counter options, one per outcome.
type sourceInfo struct {
	success, failure, retry, stored, duplicate, dead []metric.AddOption
	duplicates                                       []metric.AddOption
}

func (si *sourceInfo) outcome(o webhook.Outcome) []metric.AddOption {
	switch o {
	case webhook.OutcomeSuccess:
		return si.success
	case webhook.OutcomeFailure:
		return si.failure
	case webhook.OutcomeRetry:
		return si.retry
	}
	return si.dead
}

func (o *observer) source(src event.Source) *sourceInfo {
	return o.sources.get(string(src), func() *sourceInfo {
		s := SourceKey.String(string(src))
		opt := func(outcome string) []metric.AddOption {
			return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(s, OutcomeKey.String(outcome)))}
		}
		return &sourceInfo{
			success: opt("success"), failure: opt("failure"), retry: opt("retry"),
			stored: opt("stored"), duplicate: opt("duplicate"), dead: opt("dead"),
			duplicates: []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(s))},
		}
	})
}

// setKey names an attribute set of the rejections, the verification
// failures or a failed run's duration.
type setKey struct {
	source  string
	reason  webhook.Reason
	status  int
	dest    string
	errType string
}

// A cache maps keys to values built once. Reads take no lock and
// allocate nothing: the map is replaced, never changed, on a miss. The
// keys are few (sources, destinations, reasons), so copying is cheap.
type cache[K comparable, V any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[K]V]
}

func (c *cache[K, V]) lookup(k K) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

func (c *cache[K, V]) get(k K, build func() V) V {
	if v, ok := c.lookup(k); ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	n := make(map[K]V, 1)
	if old != nil {
		n = make(map[K]V, len(*old)+1)
		for k, v := range *old {
			n[k] = v
		}
	}
	v := build()
	n[k] = v
	c.m.Store(&n)
	return v
}
