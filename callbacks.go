package webhook

import (
	"context"
	"strconv"
	"strings"

	"github.com/inhook/webhook/event"
)

// OnJamCreated registers fn for Jam's jam.created.
func (h *Handler) OnJamCreated(fn func(ctx context.Context, d *Delivery, e *event.JamCreated) error) {
	h.onType(event.TypeJamCreated, adapt(fn))
}

// OnRecorderRecorded registers fn for Jam's intercom.recorder.recorded: a
// customer submitted a recording through the Intercom integration.
func (h *Handler) OnRecorderRecorded(fn func(ctx context.Context, d *Delivery, e *event.RecorderRecorded) error) {
	h.onType(event.TypeRecorderRecorded, adapt(fn))
}

// OnRecorderOptedOut registers fn for Jam's intercom.recorder.opted_out: a
// customer declined to record.
func (h *Handler) OnRecorderOptedOut(fn func(ctx context.Context, d *Delivery, e *event.RecorderOptedOut) error) {
	h.onType(event.TypeRecorderOptedOut, adapt(fn))
}

// OnRecordingLinkCreated registers fn for Jam's recording_link.created.
func (h *Handler) OnRecordingLinkCreated(fn func(ctx context.Context, d *Delivery, e *event.RecordingLinkCreated) error) {
	h.onType(event.TypeRecordingLinkCreated, adapt(fn))
}

// OnSeries registers fn for Intercom Series webhooks.
func (h *Handler) OnSeries(fn func(ctx context.Context, d *Delivery, e *event.SeriesWebhook) error) {
	h.onType(event.TypeSeriesWebhook, adapt(fn))
}

// OnAny registers fn for every dispatched event, known or unknown, after
// the event's own callbacks.
func (h *Handler) OnAny(fn func(ctx context.Context, d *Delivery, e event.Event) error) {
	h.register(func(r *registry) {
		r.any = append(r.any, func(ctx context.Context, d *Delivery) error { return fn(ctx, d, d.Event) })
	})
}

// OnUnknown registers fn for events of a type this package does not know.
// They are acknowledged with 200 unless a callback fails.
func (h *Handler) OnUnknown(fn func(ctx context.Context, d *Delivery, e *event.UnknownEvent) error) {
	h.register(func(r *registry) {
		r.unknown = append(r.unknown, adapt(fn))
	})
}

// OnError registers fn for every request not answered with a 2xx status:
// each rejection (with the status and the reason) and each callback
// failure; and in inbox mode for each failed run of the callbacks on a
// worker (HandlerError.Status 0). A dedupe store failure that the handler
// processes through (without WithDedupeFailClosed) is answered 200 and
// only logged. It is for metrics and alerts; its return cannot change the
// response.
// For a rejected request, d holds what was known by then: Body is nil
// unless the body was verified, Event nil unless it was decoded.
func (h *Handler) OnError(fn func(ctx context.Context, d *Delivery, err *HandlerError)) {
	h.register(func(r *registry) { r.errs = append(r.errs, fn) })
}

// OnIntercom registers fn for Intercom notifications whose topic is
// pattern: an exact topic such as "conversation.user.replied", a prefix
// wildcard such as "conversation.*" (every topic that starts with
// "conversation."), or "*" for every topic. It panics on any other use of
// "*", as http.ServeMux does on a bad pattern. A topic or prefix that
// matches none of the Topic constants is registered all the same (Intercom
// adds topics) and logged at WARN, since it is most often a typo.
func (h *Handler) OnIntercom(topic string, fn func(ctx context.Context, d *Delivery, n *event.IntercomNotification) error) {
	cb := adapt(fn)
	switch {
	case topic == "*":
		h.register(func(r *registry) { r.patterns = append(r.patterns, pattern{prefix: "", fn: cb}) })
	case len(topic) > 2 && strings.HasSuffix(topic, ".*") && !strings.Contains(topic[:len(topic)-2], "*"):
		prefix := topic[:len(topic)-1]
		h.warnTopic(topic, prefix, true)
		h.register(func(r *registry) { r.patterns = append(r.patterns, pattern{prefix: prefix, fn: cb}) })
	case topic == "" || strings.Contains(topic, "*"):
		panic("webhook: bad Intercom topic pattern " + strconv.Quote(topic))
	default:
		h.warnTopic(topic, topic, false)
		h.onType(topic, cb)
	}
}

// adapt adapts a callback for one event type. Callbacks are looked up by
// type name, so a different Go type under the same name is skipped rather
// than asserted.
func adapt[T event.Event](fn func(context.Context, *Delivery, T) error) callback {
	return func(ctx context.Context, d *Delivery) error {
		e, ok := d.Event.(T)
		if !ok {
			return nil
		}
		return fn(ctx, d, e)
	}
}
