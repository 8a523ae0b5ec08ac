package webhook

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/inhook/webhook/event"
)

// maxUnhandledTypes bounds the event types counted apart in Unhandled:
// the types are the senders' (signed), but a sender adding topics should
// not grow the map without end. Types past it are counted together.
const maxUnhandledTypes = 256

// otherTypes is the Unhandled entry for the types past maxUnhandledTypes.
const otherTypes = "(other)"

// unhandled counts the verified events that no callback handled, by type,
// and logs the first of each type.
type unhandled struct {
	logger *slog.Logger
	mu     sync.Mutex
	counts map[string]int64
}

// note records d, whose event ran no callback.
func (u *unhandled) note(ctx context.Context, d *Delivery) {
	if u == nil {
		return
	}
	t := event.SafeName(d.Event.EventType()) // the sender's: bounded, as a key and in the log
	u.mu.Lock()
	if u.counts == nil {
		u.counts = make(map[string]int64)
	}
	_, seen := u.counts[t]
	if !seen && len(u.counts) >= maxUnhandledTypes {
		t, seen = otherTypes, true
	}
	u.counts[t]++
	u.mu.Unlock()
	if !seen {
		u.logger.LogAttrs(ctx, slog.LevelInfo, "webhook event type has no callback; acknowledged (logged once per type, counted in Handler.Unhandled)",
			slog.String("source", string(d.Source)), slog.String("type", t))
	}
}

// Unhandled returns, by event type, how many verified events no callback
// ran for: no callback for their type or topic, no OnUnknown for an
// unknown type, no OnAny. Such an event is still acknowledged (the sender
// would only retry it) and logged at INFO the first time its type comes.
// Past 256 types the rest are counted under "(other)". The types are as
// event.SafeName gives them: a type that is no plain name of at most 64
// bytes is quoted and cut. The map is a copy, the caller's.
func (h *Handler) Unhandled() map[string]int64 {
	u := h.drops
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string]int64, len(u.counts))
	for k, v := range u.counts {
		out[k] = v
	}
	return out
}

// methodError is ErrMethodNotAllowed for one method, so the log can tell
// a browser's GET, which is noise, from anything else.
type methodError struct{ method string }

func methodErr(method string) error { return &methodError{method} }

func (e *methodError) Error() string { return ErrMethodNotAllowed.Error() }
func (e *methodError) Unwrap() error { return ErrMethodNotAllowed }

// rejectLevel is the level and message a rejection is logged with: a
// callback's chosen status as what it is, at INFO below 500 and WARN
// above; a GET (someone opened the URL in a browser) at DEBUG; other
// refusals at WARN, and failures of ours or of a callback at ERROR.
func rejectLevel(code int, reason Reason, err error) (slog.Level, string) {
	var me *methodError
	switch {
	case reason == ReasonCallback && chosenOnly(err):
		if code >= 500 {
			return slog.LevelWarn, "webhook callback chose status"
		}
		return slog.LevelInfo, "webhook callback chose status"
	case errors.As(err, &me) && me.method == http.MethodGet:
		return slog.LevelDebug, "webhook rejected"
	case code >= 500:
		return slog.LevelError, "webhook rejected"
	}
	return slog.LevelWarn, "webhook rejected"
}

// chosenOnly reports whether err, the callbacks' joined errors, is made
// of StatusErrors only (wrapped or not): the callbacks chose the status,
// none failed.
func chosenOnly(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs := j.Unwrap()
		for _, e := range errs {
			if !chosenOnly(e) {
				return false
			}
		}
		return len(errs) > 0
	}
	var se *StatusError
	return errors.As(err, &se)
}

// knownTopic reports whether an OnIntercom topic or prefix ("conversation."
// for "conversation.*") names or starts a topic this package knows.
func knownTopic(topic string, prefix bool) bool {
	for _, t := range event.Topics() {
		if t == topic || prefix && strings.HasPrefix(t, topic) {
			return true
		}
	}
	return false
}

// warnEventType logs a WithEventType pin that names no event of package
// event: a typo, most likely, which would decode every Jam body as an
// *event.UnknownEvent, acknowledged and seen by OnUnknown only.
func (h *Handler) warnEventType(eventType string) {
	switch eventType {
	case "", event.TypeJamCreated, event.TypeRecorderRecorded, event.TypeRecorderOptedOut, event.TypeRecordingLinkCreated, event.TypeSeriesWebhook:
		return
	}
	if !knownTopic(eventType, false) {
		h.logger.LogAttrs(context.Background(), slog.LevelWarn, "webhook WithEventType names no known event type; check its spelling",
			slog.String("event_type", event.SafeName(eventType)))
	}
}

// warnTopic logs an OnIntercom pattern that matches no known topic: a
// typo, most likely, which would otherwise leave the callback silent.
func (h *Handler) warnTopic(pattern, topic string, prefix bool) {
	if !knownTopic(topic, prefix) {
		h.logger.LogAttrs(context.Background(), slog.LevelWarn, "webhook OnIntercom pattern matches no known Intercom topic; check its spelling",
			slog.String("pattern", pattern))
	}
}
