package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/inhook/webhook/event"
)

// ServeHTTP takes a request through the steps of the package doc: admit,
// verify and decode it, then claim it, dispatch it to the callbacks and
// settle the claim, or in inbox mode store it. The first step that refuses
// the request answers it with the status the Handler's table gives, and
// the steps after it do not run.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := serving{h: h, w: w, r: r, ctx: r.Context()}
	defer s.free()
	if !s.admit() || !s.verify() || !s.decode() {
		return
	}
	// The seam between receiving and processing. In inbox mode the
	// verified, decoded delivery is stored and answered now; Run's workers
	// claim it and run the callbacks later.
	if h.inbox != nil {
		h.store(s.ctx, w, r, &s.rs.d)
		return
	}
	if s.claim() {
		s.settle(s.dispatch())
	}
}

// serving is one request on its way through ServeHTTP's steps. It stays
// on ServeHTTP's stack; what outlives the steps (the Delivery callbacks
// see, the callbacks' context) is in rs.
type serving struct {
	h   *Handler
	w   http.ResponseWriter
	r   *http.Request
	ctx context.Context
	rs  *requestState // nil until the method is admitted

	body  []byte // the body read, d.Body once verified
	held  int64  // the body memory budget this request holds
	appID string // the unverified app_id the key function chose Intercom keys by

	key, token string    // the claim on the dedupe store, if any
	claimed    time.Time // when it was claimed

	run observedRun // the observer's run of the callbacks, finished by settle
}

// requestState is what ServeHTTP allocates per request: one allocation
// for the delivery and the contexts of the claim and the callbacks.
type requestState struct {
	d     Delivery
	lease leaseContext // the callbacks'
	claim leaseContext // the Claim's
	// unended is the request's values without its end, made once for
	// the claim, the callbacks and the commit (see detached).
	unended context.Context
}

// detached is the request's context without its end: a verified delivery
// is claimed, processed and its outcome recorded even if the sender hangs
// up meanwhile (see claim and dispatch).
func (s *serving) detached() context.Context {
	if s.rs.unended == nil {
		s.rs.unended = context.WithoutCancel(s.ctx)
	}
	return s.rs.unended
}

// free gives back the body memory the request held (the body and v1a's
// copy of the message) once it is answered.
func (s *serving) free() {
	if s.held != 0 {
		s.h.budget.release(s.held)
	}
}

// admit answers what no sender's delivery is: HEAD (200), other methods
// (405), no configured source's headers (401), a media type the source
// never sends (415), a Series request without its token (401, before the
// body is read, so it holds no body memory), and a body over the limit
// (413) or the memory budget (503). It reads the body of the rest.
func (s *serving) admit() bool {
	h, w, r := s.h, s.w, s.r
	switch r.Method {
	case http.MethodPost, http.MethodPut:
	case http.MethodHead:
		w.WriteHeader(http.StatusOK)
		return false
	default:
		w.Header().Set("Allow", "POST, PUT, HEAD")
		h.reject(s.ctx, w, &Delivery{Header: r.Header}, http.StatusMethodNotAllowed, methodErr(r.Method))
		return false
	}
	s.rs = &requestState{d: Delivery{Source: h.pickSource(r.Header), Header: r.Header}}
	d := &s.rs.d
	switch {
	case d.Source == "":
		dg, err := h.noSource(r)
		h.rejectDiag(s.ctx, w, d, http.StatusUnauthorized, err, dg)
		return false
	case !acceptsMediaType(d.Source, r.Header.Get("Content-Type")):
		h.reject(s.ctx, w, d, http.StatusUnsupportedMediaType, ErrUnsupportedMediaType)
		return false
	case d.Source == event.SourceSeries:
		if err := h.series.Verify(r.Header); err != nil {
			h.rejectDiag(s.ctx, w, d, http.StatusUnauthorized, err, diagnoseSeries(h.series, r, err))
			return false
		}
	}
	var err error
	s.body, s.held, err = h.readBody(w, r)
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrBodyTooLarge):
		h.reject(s.ctx, w, d, http.StatusRequestEntityTooLarge, err)
	case errors.Is(err, ErrBodyMemory):
		w.Header().Set("Retry-After", "1")
		h.reject(s.ctx, w, d, http.StatusServiceUnavailable, err)
	default:
		h.rejectDiag(s.ctx, w, d, http.StatusBadRequest, err, diagnoseRead(d.Source, r, err, h.now()))
	}
	return false
}

// verify checks the body against the source's keys (the tenant's, with
// WithKeyFunc; a Series token was checked in admit), and takes the message
// id and timestamp a Standard Webhooks signature covers. 401 if it does not
// verify; 503 if v1a's copy of the message is refused body memory, as a
// body read is: after a wait of up to 2 s.
func (s *serving) verify() bool {
	h, d := s.h, &s.rs.d
	std, intercom := h.std, h.intercom
	if h.keyFunc != nil && d.Source != event.SourceSeries {
		if d.Source == event.SourceIntercom {
			s.appID = unverifiedAppID(s.body)
		}
		var ok bool
		if std, intercom, ok = h.tenantKeys(s.ctx, s.w, s.r, d, s.body, s.appID); !ok {
			return false
		}
	}
	var kr *keyring
	var err error
	switch d.Source {
	case event.SourceStandard:
		var copied int64
		var never bool // the copy does not fit beside the body even alone
		charge := func(k int64) bool {
			if s.held+k > h.budget.limit {
				never = true
				return false
			}
			return h.budget.wait(k)
		}
		kr = std.keys.Load()
		d.ID, d.Timestamp, copied, err = std.verify(kr, s.body, s.r.Header, charge)
		s.held += copied
		if errors.Is(err, errMemBudget) {
			if never {
				// Not even an idle handler holds the body and its copy:
				// every retry would be refused alike, and a 503 would
				// read as load. Keys NewHandler and SetSecrets never saw
				// (a key function's, or a verifier's own SetSecrets)
				// escaped their check.
				h.rejectFor(s.ctx, s.w, d, http.StatusInternalServerError, ReasonOther, errV1aBudget)
				return false
			}
			s.w.Header().Set("Retry-After", "1")
			h.reject(s.ctx, s.w, d, http.StatusServiceUnavailable, ErrBodyMemory)
			return false
		}
	case event.SourceIntercom:
		kr = intercom.keys.Load()
		err = intercom.verify(kr, s.body, s.r.Header)
	}
	if err != nil {
		now := h.now()
		if d.Source == event.SourceStandard {
			now = std.cfg.now() // the clock that judged the timestamp
		}
		dg := diagnoseVerify(d.Source, s.r, s.body, kr, err, now)
		dg.noteVerifierClock(h.now())
		h.rejectDiag(s.ctx, s.w, d, http.StatusUnauthorized, err, dg)
		return false
	}
	d.Body = s.body
	h.obs.verified(s.ctx, d)
	return true
}

// decode turns the verified body into d.Event (400 if it does not
// decode), takes an Intercom notification's id and attempt, and bounds
// its age (401) and its id's length (400), which its signature cannot.
// With a key function, a notification must carry the app_id its keys
// were chosen by (401 if not). Then the delivery has its dedupe key, when
// something dedupes it.
func (s *serving) decode() bool {
	h, d := s.h, &s.rs.d
	var err error
	if d.Event, err = h.decode(d.Source, d.Body, s.r.Header); err != nil {
		// Every error here is a decoding one, whether or not it wraps a
		// sentinel ReasonOf knows.
		h.rejectFor(s.ctx, s.w, d, http.StatusBadRequest, ReasonDecode, err)
		return false
	}
	if n, ok := d.Event.(*event.IntercomNotification); ok { // only Intercom's bodies decode to one
		if len(n.ID) <= maxIDLen { // an over-long one is refused below, and not logged
			d.ID = n.ID.String()
		}
		d.Attempt = n.DeliveryAttempts
		if h.keyFunc != nil && n.AppID != s.appID {
			// The lookup read the app_id before verification, by the
			// exact key; encoding/json matches keys in any case and
			// unescaped, and keeps the last of repeated ones. A tenant
			// signs its own bodies, so a body the two read apart would
			// reach the callbacks as another app's.
			h.rejectDiag(s.ctx, s.w, d, http.StatusUnauthorized, errAppIDMismatch, diagnoseAppID(s.r, n, h.now()))
			return false
		}
		if err := h.checkIntercom(n); err != nil {
			var dg *Diagnosis
			if errors.Is(err, ErrIDTooLong) {
				dg = diagnoseIDLen(s.r, n, h.now())
			} else {
				dg = diagnoseAge(s.r, n, h.maxAge, err, h.now())
			}
			h.rejectDiag(s.ctx, s.w, d, intercomStatus(err), err, dg)
			return false
		}
	}
	h.obs.decoded(s.ctx, d)
	if d.ID != "" && (h.dedupe != nil || h.inbox != nil) {
		d.Key = dedupeKey(d)
	}
	return true
}

// claim claims the delivery's key in the dedupe store, so that a retry
// or a replay runs the callbacks once. It answers a duplicate of a
// processed delivery (200), one in flight in another request (409: the
// sender retries later, by when dispatch and settle have committed or
// released the claim, whichever way the callbacks ended) and,
// with WithDedupeFailClosed, a store failure (500). Without a key, or
// when the store fails open, the callbacks run unclaimed.
func (s *serving) claim() bool {
	h, d := s.h, &s.rs.d
	if h.dedupe == nil || d.ID == "" {
		return true
	}
	s.claimed = time.Now() // the lease is a real-time deadline, as the context's
	// Not the request's context, which ends when the sender hangs up: the
	// delivery is verified, and its callbacks would run to the end once
	// claimed (see dispatch). A store on the network refuses an ended
	// context, and the claim failed: 500 failing closed, and failing open
	// callbacks run unclaimed on that ended context.
	// Bounded by a leaseContext, whose timer starts only if the store
	// waits on Done: the in-memory store never does.
	cc := &s.rs.claim
	cc.Context, cc.deadline = s.detached(), s.claimed.Add(claimTimeout)
	token, status, err := h.dedupe.Claim(cc, d.Key, h.lease)
	cc.stop()
	switch {
	case err != nil && h.fail:
		h.rejectFor(s.ctx, s.w, d, http.StatusInternalServerError, ReasonStore, fmt.Errorf("webhook: dedupe claim: %w", err))
		return false
	case err != nil:
		h.logger.LogAttrs(s.ctx, slog.LevelError, "webhook dedupe store failed; processing without deduplication",
			slog.String("source", string(d.Source)), slog.String("id", d.ID), slog.String("error", err.Error()))
		return true
	case status == ClaimProcessed:
		h.logger.LogAttrs(s.ctx, slog.LevelInfo, "webhook duplicate acknowledged",
			slog.String("source", string(d.Source)), slog.String("id", d.ID))
		h.obs.duplicate(s.ctx, d)
		s.w.WriteHeader(http.StatusOK)
		return false
	case status == ClaimInFlight:
		h.reject(s.ctx, s.w, d, http.StatusConflict, ErrInFlight)
		return false
	}
	s.key, s.token = d.Key, token
	return true
}

// claimTimeout bounds a Claim, which outlives the request's context.
const claimTimeout = 10 * time.Second

// dispatch runs the callbacks and returns the status they chose and their
// joined errors. Under a claim their context ends a margin before its
// lease, past which a retry may claim the message and run them again,
// concurrently, and not before: the sender hanging up does not end it.
// The delivery was delivered, and a sender that gave up may not retry
// (Intercom gives up at 5 s and retries once): a callback cut short then
// failed, and lost a delivery it would have processed. Without a claim
// nothing else bounds them, and the request's context stays theirs.
func (s *serving) dispatch() (code int, err error) {
	h, d := s.h, &s.rs.d
	ctx, settled := s.ctx, false
	// A callback that calls runtime.Goexit (t.FailNow in a test) skips
	// settle, not deferred calls: release the claim here, or the retry
	// would wait out the lease, and report the run, as a worker does, or
	// the observer's span of it would never end.
	defer func() {
		if settled {
			return
		}
		if s.key != "" {
			h.release(s.detached(), d, s.key, s.token)
		}
		s.run.stop()
		s.run.finish(1, OutcomeFailure, errGoexit)
	}()
	if s.key != "" {
		lc := &s.rs.lease
		lc.Context, lc.deadline = s.detached(), s.claimed.Add(h.lease-leaseMargin(h.lease))
		defer lc.stop()
		ctx = lc
	}
	ctx, s.run = h.obs.dispatch(ctx, d, nil)
	code, err = h.reg.Load().dispatch(ctx, d)
	settled = true
	s.run.stop()
	return code, err
}

// settle records the callbacks' outcome in the dedupe store (processed
// on success; on failure the claim is released, so the sender's retry
// runs them again), then tells the observer, and answers code, or the
// failure's status. The observer hears once the store has the outcome,
// as on a worker: a hook that panics then (net/http recovers it) leaves
// no claim held, which would have the retry answered 409 until the lease
// ran out.
func (s *serving) settle(code int, err error) {
	h, d := s.h, &s.rs.d
	if s.key != "" {
		// Record the outcome even if the sender hung up while the
		// callbacks ran, which cancels ctx: otherwise its retry would find
		// the message in flight until the lease ran out, and a message the
		// callbacks processed would then be processed again.
		sctx := s.detached()
		if err == nil {
			if cerr := h.dedupe.Commit(sctx, s.key, s.token, h.keep); cerr != nil {
				h.logger.LogAttrs(s.ctx, slog.LevelError, "webhook dedupe commit failed",
					slog.String("source", string(d.Source)), slog.String("id", d.ID), slog.String("error", cerr.Error()))
			}
		} else {
			h.release(sctx, d, s.key, s.token)
		}
	}
	if err == nil {
		s.run.finish(1, OutcomeSuccess, nil)
	} else {
		s.run.finish(1, OutcomeFailure, err)
	}
	if err != nil {
		if se, ok := asReturned[*StatusError](err); ok && se.RetryAfter > 0 {
			s.w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(se.RetryAfter), 10))
		}
		h.rejectFor(s.ctx, s.w, d, code, ReasonCallback, err)
		return
	}
	s.w.WriteHeader(code)
}

// retryAfterSeconds is d in whole seconds, rounded up. Rounding by
// adding a second less a nanosecond first would wrap a d near the
// largest Duration (a callback's "a long time") into a negative header.
func retryAfterSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// release gives up the claim on key, so the sender's retry runs the
// callbacks again.
func (h *Handler) release(ctx context.Context, d *Delivery, key, token string) {
	if err := h.dedupe.Release(ctx, key, token); err != nil {
		h.logger.LogAttrs(ctx, slog.LevelError, "webhook dedupe release failed",
			slog.String("source", string(d.Source)), slog.String("id", d.ID), slog.String("error", err.Error()))
	}
}
