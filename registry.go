package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/inhook/webhook/event"
)

// callback is a registered function, type-checked at registration.
type callback func(ctx context.Context, d *Delivery) error

// registry holds the callbacks. It is copied on every registration and
// swapped atomically, so dispatch reads it without locking.
type registry struct {
	byType   map[string][]callback // Jam event types, Intercom topics, the Series type
	patterns []pattern             // Intercom topic wildcards
	unknown  []callback
	any      []callback
	errs     []func(context.Context, *Delivery, *HandlerError)
	drops    *unhandled // the handler's, shared by every copy
}

type pattern struct {
	prefix string // "conversation." for "conversation.*", "" for "*"
	fn     callback
}

func (r *registry) clone() *registry {
	c := &registry{
		byType:   make(map[string][]callback, len(r.byType)+1),
		patterns: append([]pattern(nil), r.patterns...),
		unknown:  append([]callback(nil), r.unknown...),
		any:      append([]callback(nil), r.any...),
		errs:     r.errs[:len(r.errs):len(r.errs)],
		drops:    r.drops,
	}
	for k, v := range r.byType {
		c.byType[k] = v[:len(v):len(v)]
	}
	return c
}

func (h *Handler) register(update func(*registry)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.reg.Load().clone()
	update(r)
	h.reg.Store(r)
}

func (h *Handler) onType(eventType string, fn callback) {
	h.register(func(r *registry) { r.byType[eventType] = append(r.byType[eventType], fn) })
}

// dispatch runs the callbacks for d and returns the status to answer
// with, and the joined errors.
func (r *registry) dispatch(ctx context.Context, d *Delivery) (int, error) {
	var errs []error
	ran := 0
	run := func(fn callback) {
		ran++
		if err := call(ctx, d, fn); err != nil {
			errs = append(errs, err)
		}
	}
	_, unknown := d.Event.(*event.UnknownEvent)
	if !unknown {
		for _, fn := range r.byType[d.Event.EventType()] {
			run(fn)
		}
		// The one rule for Intercom callbacks, exact topics and patterns
		// alike: they run for notifications, which only Intercom-signed
		// bodies decode to.
		if n, ok := d.Event.(*event.IntercomNotification); ok {
			topic := n.Topic
			for _, p := range r.patterns {
				if strings.HasPrefix(topic, p.prefix) {
					run(p.fn)
				}
			}
		}
	} else {
		for _, fn := range r.unknown {
			run(fn)
		}
	}
	for _, fn := range r.any {
		run(fn)
	}
	if ran == 0 {
		r.drops.note(ctx, d)
	}
	return statusOf(errs)
}

// statusOf resolves the callbacks' errors into a status: success (200, or
// the first 2xx a callback chose) when every error is a 2xx StatusError;
// else the first 3xx to 5xx status a callback chose, or 500.
func statusOf(errs []error) (int, error) {
	if len(errs) == 0 {
		return http.StatusOK, nil
	}
	success, failure := 0, 0
	failed := false
	for _, err := range errs {
		se, chose := asReturned[*StatusError](err)
		switch {
		case chose && se.Code >= 200 && se.Code < 300:
			if success == 0 {
				success = se.Code
			}
		case chose && se.Code >= 300 && se.Code <= 599:
			failed = true
			if failure == 0 {
				failure = se.Code
			}
		default:
			failed = true
		}
	}
	if !failed {
		return success, nil
	}
	if failure == 0 {
		failure = http.StatusInternalServerError
	}
	return failure, errors.Join(errs...)
}

// call runs one callback, turning a panic into a *PanicError. It tells
// a panic by fn not returning, not by recover's value: under
// GODEBUG=panicnil=1 (the default of a main module declaring go 1.20 or
// older) panic(nil) recovers as nil, and would pass for success. (A
// runtime.Goexit, which nothing recovers, leaves the same way; its
// goroutine ends all the same.)
func call(ctx context.Context, d *Delivery, fn callback) (err error) {
	returned := false
	defer func() {
		if !returned {
			err = &PanicError{Value: recover(), Stack: debug.Stack()}
		}
	}()
	err = fn(ctx, d)
	returned = true
	return readable(err)
}

// readable returns err, or for an error whose Error method panics (a
// typed nil, such as a nil *StatusError, whose method reads its
// receiver) an error saying so. Such an error is read for the logs and
// the inbox's LastError after the callbacks, where its panic would drop
// the sender's connection, or leave a delivery leased until its lease
// ran out as though its worker had crashed. It is a failure that chooses
// nothing: the error it replaces is not reachable by errors.As, whose
// *StatusError would be nil.
func readable(err error) (safe error) {
	if err == nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			safe = &unreadableError{typ: fmt.Sprintf("%T", err), panic: fmt.Sprint(p)}
		}
	}()
	_ = err.Error()
	return err
}

// An unreadableError stands for a callback's error whose Error method
// panicked.
type unreadableError struct{ typ, panic string }

func (e *unreadableError) Error() string {
	return "webhook: callback returned a " + e.typ + " whose Error method panicked: " + e.panic
}

func (r *registry) reportError(ctx context.Context, logger *slog.Logger, d *Delivery, err *HandlerError) {
	for _, fn := range r.errs {
		func() {
			defer func() {
				if v := recover(); v != nil {
					logger.LogAttrs(ctx, slog.LevelError, "webhook error hook panicked", slog.String("panic", fmt.Sprint(v)))
				}
			}()
			fn(ctx, d, err)
		}()
	}
}
