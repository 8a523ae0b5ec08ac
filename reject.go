package webhook

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/inhook/webhook/event"
)

// reject answers a request that will not reach the callbacks, or whose
// callbacks failed, and reports it to the logger, the error hook and the
// observer, with the reason its error's sentinel gives.
func (h *Handler) reject(ctx context.Context, w http.ResponseWriter, d *Delivery, code int, err error) {
	h.rejectFor(ctx, w, d, code, "", err)
}

// rejectFor is reject for an error whose reason its sentinels do not say:
// a callback's or a store's. An empty reason is ReasonOf(err), worked out
// only if an observer asks.
func (h *Handler) rejectFor(ctx context.Context, w http.ResponseWriter, d *Delivery, code int, reason Reason, err error) {
	h.rejectWith(ctx, w, d, code, reason, err, nil)
}

// rejectWith is rejectFor with a diagnosis, which may be nil.
func (h *Handler) rejectWith(ctx context.Context, w http.ResponseWriter, d *Delivery, code int, reason Reason, err error, dg *Diagnosis) {
	level, msg := rejectLevel(code, reason, err)
	attrs := []slog.Attr{slog.Int("status", code), slog.String("reason", err.Error())}
	if reason != "" {
		attrs = append(attrs, slog.String("class", string(reason)))
	}
	if d.Source != "" {
		attrs = append(attrs, slog.String("source", string(d.Source)))
	}
	if d.ID != "" {
		attrs = append(attrs, slog.String("id", d.ID))
	}
	if d.Event != nil {
		attrs = append(attrs, slog.String("type", event.SafeName(d.Event.EventType())))
	}
	var pe *PanicError
	if errors.As(err, &pe) {
		attrs = append(attrs, slog.String("stack", string(pe.Stack)))
	}
	if d.Tenant != "" {
		attrs = append(attrs, slog.String("tenant", d.Tenant))
	}
	if dg != nil {
		attrs = dg.attrs(attrs)
	}
	h.logger.LogAttrs(ctx, level, msg, attrs...)
	h.reg.Load().reportError(ctx, h.logger, d, &HandlerError{Status: code, Err: err, Diagnosis: dg})
	h.obs.rejected(ctx, d, code, reason, err, dg)
	http.Error(w, http.StatusText(code), code)
}

// rejectDiag is reject with a diagnosis for the log and the error hook.
func (h *Handler) rejectDiag(ctx context.Context, w http.ResponseWriter, d *Delivery, code int, err error, dg *Diagnosis) {
	h.rejectWith(ctx, w, d, code, ReasonOf(err), err, dg)
}
