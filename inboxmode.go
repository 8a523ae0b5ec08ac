package webhook

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// inboxRetryAfter is the Retry-After of a 503 for a full or failing
// inbox: long enough for workers to drain some, short of Intercom's minute.
const inboxRetryAfter = "5"

// WithInbox switches the handler to inbox mode: it verifies and decodes
// each delivery as before, then stores it in ib and answers 200 once
// Store has returned, without running the callbacks. Handler.Run runs
// them from the inbox, with retries. The inbox is the dedupe: a delivery
// already stored is acknowledged without a second copy, and no Deduper is
// used. A full or failing inbox answers 503 with Retry-After, so the
// sender retries. A verified delivery is stored even if its sender hangs
// up first: it was delivered, and the sender may not retry.
//
// WithDedupeTimes sets the workers' lease and how long done deliveries
// are kept as dedupe records (DefaultLease, DefaultRetention).
func WithInbox(ib Inbox) Option {
	return handlerOption(func(c *handlerConfig) error {
		if ib == nil {
			return errors.New("webhook: WithInbox(nil)")
		}
		c.inbox = ib
		return nil
	})
}

// clockSkewWarned is how far apart the handler's clock and its
// MemoryInbox's may read before Run and Drain warn: far more than the two
// readings take, far less than a fixed test clock is from the real time.
const clockSkewWarned = time.Minute

// warnInboxClock logs a MemoryInbox whose clock is not the handler's, as
// when a test gives NewHandler WithClock(webhooktest.Time) and
// NewMemoryInbox a nil clock: the handler then sets retry times by one
// clock and the inbox finds them due by the other, so retries come due at
// once (or never), and leases end off time. Run checks, when both clocks
// are set (a test may set its clock after building the inbox). Other
// inboxes keep their clock out of reach; their docs say to give them the
// same one.
func (h *Handler) warnInboxClock() {
	m, ok := h.inbox.(*MemoryInbox)
	if !ok {
		return
	}
	skew := m.now().Sub(h.now())
	if skew.Abs() <= clockSkewWarned {
		return
	}
	h.logger.LogAttrs(context.Background(), slog.LevelWarn,
		"webhook MemoryInbox runs on another clock than the handler's; give NewMemoryInbox the clock given to WithClock",
		slog.Duration("inbox_ahead_by", skew))
}

// keptHeaders are the request headers an inbox stores for callbacks. The
// signatures are not among them (verified already), nor anything that may
// carry a credential, such as the Series token's header: store skips it
// also when it is one of these.
var keptHeaders = []string{
	"Content-Type", "User-Agent",
	headerWebhookID, headerWebhookTimestamp, headerSvixID, headerSvixTimestamp,
}

// store is the handler's last step in inbox mode: d is verified and
// decoded.
func (h *Handler) store(ctx context.Context, w http.ResponseWriter, r *http.Request, d *Delivery) {
	e := &InboxEntry{
		Key:        d.Key,
		Source:     d.Source,
		ID:         d.ID,
		Timestamp:  d.Timestamp,
		ReceivedAt: h.now(),
		Header:     make(http.Header, len(keptHeaders)),
		Body:       d.Body,
	}
	if e.Key == "" {
		// Of dedupeKey's form, its tenant's under a key function: the
		// in-memory inbox shares its capacity by the key's tenant, and
		// a tenant's pings were no tenant's.
		e.Key = keyOf(d.Source, d.Tenant, generatedKeyPrefix+crand.Text())
		d.Key = e.Key // for the observer and the error hook
	}
	for _, k := range keptHeaders {
		if h.series != nil && k == h.series.Header() {
			// The admin chose a header kept for callbacks to carry the
			// token: it is still the credential.
			continue
		}
		if v := r.Header[k]; len(v) > 0 {
			e.Header[k] = v
		}
	}
	// The trace context a worker continues is the observer's, the
	// request's own span. The sender's traceparent and tracestate headers
	// are not kept: they are not signed, and a sender's trace is across a
	// trust boundary, for the request span to link to at most (otelhttp's
	// WithPublicEndpointFn); as a parent it would choose every run's trace
	// and sampling.
	e.Meta = h.obs.storing(ctx, d, e.Meta)
	if d.Tenant != "" {
		if e.Meta == nil {
			e.Meta = make(map[string]string, 1)
		}
		e.Meta[metaTenant] = d.Tenant
	}
	// The sender may hang up now (Intercom gives up at 5 s) and not
	// retry, but it has delivered: store the delivery all the same, for
	// a bounded time, rather than drop it with the request's context.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	stored, err := h.inbox.Store(sctx, e)
	scancel()
	if err != nil {
		w.Header().Set("Retry-After", inboxRetryAfter)
		reason := ReasonOf(err)
		if reason == ReasonOther {
			reason = ReasonStore
		}
		h.rejectFor(ctx, w, d, http.StatusServiceUnavailable, reason, fmt.Errorf("webhook: inbox store: %w", err))
		return
	}
	if stored {
		h.obs.stored(ctx, d)
		select {
		case h.wake <- struct{}{}:
		default:
		}
	} else {
		h.logger.LogAttrs(ctx, slog.LevelInfo, "webhook duplicate acknowledged",
			slog.String("source", string(d.Source)), slog.String("id", d.ID))
		h.obs.duplicate(ctx, d)
	}
	w.WriteHeader(http.StatusOK)
}

// storeTimeout bounds a Store in inbox mode, which outlives the request's
// context. The body memory budget bounds the requests waiting on it.
const storeTimeout = 10 * time.Second

// metaTenant is the InboxEntry.Meta entry that keeps Delivery.Tenant.
const metaTenant = "webhook.tenant"

// generatedKeyPrefix marks the keys of deliveries without a message id.
const generatedKeyPrefix = "gen-"
