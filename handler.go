package webhook

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inhook/webhook/event"
)

// Defaults for a Handler.
const (
	// DefaultMaxBodySize is the largest body a Handler reads.
	DefaultMaxBodySize = 1 << 20
	// DefaultMaxBodyMemory is the most memory the body buffers of all
	// requests in progress may take together: thousands of the
	// few-kilobyte bodies senders actually send, or about eight
	// undeclared-length bodies at the default size limit (a growing
	// buffer's earlier allocations count too).
	DefaultMaxBodyMemory = 16 << 20
	// DefaultLease is how long a claim on a message id holds before a
	// retry may process it, covering a crashed process. Svix waits about
	// 15 s for an answer and Intercom 5 s, so callbacks outlasting a
	// minute have already been given up on by the sender.
	DefaultLease = time.Minute
	// DefaultRetention is how long a processed message id is remembered.
	// Jam's retries span about 28 hours; three days covers them with room.
	DefaultRetention = 72 * time.Hour

	// minIntercomMaxAge admits Intercom's one retry, sent a minute after
	// a failed attempt (itself up to 5 s long), with room for the time
	// between created_at and the first attempt and for clock skew.
	minIntercomMaxAge = 5 * time.Minute
)

// A Handler receives webhooks: it reads the body up to a limit, verifies
// it against the configured sources, decodes it, deduplicates it by
// message id and dispatches it to callbacks. The status codes are:
//
//	200  delivered and every callback returned nil; an unknown event type
//	     (acknowledged); a duplicate of a delivery already processed
//	200  HEAD, with no body (Intercom checks endpoints with HEAD)
//	405  other methods, with Allow
//	413  body over the limit
//	401  no, malformed or unmatched signature headers; timestamp outside the
//	     window; an Intercom notification outside its max age
//	     (WithIntercomMaxAge); a source that is not configured; with
//	     WithKeyFunc, no keys, or a notification whose app_id is not the
//	     KeyHint.AppID its keys were chosen by
//	503  the bodies in progress hold WithMaxBodyMemory already, still after
//	     a wait of up to 2 s (for a body, or a v1a delivery's copy of
//	     its message); a body still arriving a second after its
//	     first bytes while a later request waits for memory (Retry-After)
//	415  a Content-Type the source never sends (checked before reading)
//	400  verified but not decodable; an Intercom id over 256 bytes; a
//	     body that ends before its Content-Length or runs past it
//	409  the same message id is in flight in another request, whose claim
//	     holds until its callbacks return (at most the lease): the
//	     sender retries later, and the retry is a duplicate (200) if
//	     they succeeded, or runs them if they failed
//	500  a callback failed or panicked; the dedupe store failed and
//	     WithDedupeFailClosed is set; the WithKeyFunc function failed or
//	     gave unusable keys (ErrKeyFunc), in inbox mode too; a v1a
//	     delivery whose body and ed25519's copy of its message pass
//	     WithMaxBodyMemory on their own (see that option)
//
// A callback may choose another status with a StatusError.
//
// In inbox mode (WithInbox) the callbacks run later, in Handler.Run, and
// a verified, decoded delivery is answered 200 once the inbox has stored
// it (or holds it already), 503 with Retry-After when the inbox is full
// or failing; 409, and 500 for a callback or the dedupe store, do not
// occur.
//
// Callbacks run one after another on the request's goroutine, in this
// order: the callbacks for the event's type (for
// Intercom, exact topics then wildcard patterns), in the order they were
// registered; then OnUnknown callbacks for unknown events; then OnAny
// callbacks. All of them run even when one fails; their errors are joined
// and panics are recovered into *PanicError. Registration is safe at any
// time, also while serving: a request sees the callbacks registered when
// it started dispatching.
//
// Their context is the request's. When the delivery holds a claim (it has
// a message id and deduplication is on), it keeps the request's values but
// not its end: the sender hanging up (Intercom gives up at 5 s, and
// retries once) does not cut the callbacks short, since the delivery was
// delivered and the sender may not retry; it ends instead a margin
// before the claim's lease does (a tenth of it, at most 5 s): past the
// lease a retry may run the callbacks again, so a callback still working
// then should stop and fail. The claim ends with the request on every
// path: committed when the callbacks succeed, released when one fails,
// panics or ends its goroutine with runtime.Goexit (t.FailNow), or stops
// at the lease's margin, and when an Observer's Dispatch hook panics; the
// store is given a context the sender's hanging up does not end. So,
// unless the store fails, a retry is answered 409 only while the first
// copy's callbacks run.
//
// A Handler is safe for concurrent use: ServeHTTP, the On… registrations,
// SetSecrets, Unhandled, Run and Drain may be called from any goroutine at
// once.
type Handler struct {
	std      *Verifier
	intercom *IntercomVerifier
	series   *SeriesVerifier
	pinned   string
	maxBody  int64
	logger   *slog.Logger

	budget    memBudget // WithMaxBodyMemory: body buffers and v1a message copies
	firstBufs sync.Pool // *firstBuf, for the first bytes of each body
	dedupe    Deduper
	fail      bool
	lease     time.Duration
	keep      time.Duration
	now       func() time.Time
	maxAge    time.Duration // for Intercom notifications; 0 when the check is off
	obs       *Observer     // nil unless WithObserver

	inbox   Inbox         // nil unless in inbox mode
	workers WorkerConfig  // with the defaults filled in
	wake    chan struct{} // a delivery was stored: workers look at once

	keyFunc KeyFunc    // nil unless WithKeyFunc
	drops   *unhandled // events no callback ran for

	mu  sync.Mutex // serialises registration
	reg atomic.Pointer[registry]
}

// NewHandler returns a Handler. At least one source must be configured
// (WithSecrets, WithIntercomSecrets, WithSeries or their verifier forms):
// there is no way to build a handler that accepts unverified requests.
// Each source takes its keys or a verifier, not both. Without WithDeduper,
// WithoutDedupe or WithInbox, the dedupe store is
// NewMemoryStore(DefaultMaxEntries, clock), clock being WithClock's.
func NewHandler(opts ...Option) (*Handler, error) {
	c := handlerConfig{maxBody: DefaultMaxBodySize, maxBodyMemory: DefaultMaxBodyMemory, lease: DefaultLease, retention: DefaultRetention}
	for i, o := range opts {
		if vo, ok := o.(VerifyOption); o == nil || ok && vo == nil {
			return nil, fmt.Errorf("webhook: NewHandler: option %d is nil", i)
		}
		if err := o.apply(&c); err != nil {
			return nil, err
		}
	}
	vc, err := newVerifyConfig(c.verifyOpts)
	if err != nil {
		return nil, err
	}
	if c.maxBodyMemory < 2*c.maxBody {
		// A body of unknown length grows by doubling, and the buffers it
		// outgrows count: reading one at the limit takes up to twice it.
		return nil, errors.New("webhook: max body memory is less than twice the max body size")
	}
	h := &Handler{pinned: c.pinned, maxBody: c.maxBody, logger: c.logger, fail: c.failClosed, lease: c.lease, keep: c.retention,
		now: vc.now, maxAge: c.intercomMaxAge, inbox: c.inbox, workers: c.workers.withDefaults(), wake: make(chan struct{}, 1), obs: c.observer}
	h.budget.limit = c.maxBodyMemory
	if h.maxAge == 0 {
		h.maxAge = c.retention
	}
	if vc.skipTime {
		h.maxAge = 0
	}
	var errs [3]error
	// A source whose option is given builds its verifier, which refuses
	// an empty list or header: left off beside the other sources, it
	// would refuse its every delivery.
	h.std, errs[0] = keysOrVerifier("WithSecrets", "WithVerifier", c.given[0], c.std, func() (*Verifier, error) {
		return NewVerifier(c.secrets, c.verifyOpts...)
	})
	h.intercom, errs[1] = keysOrVerifier("WithIntercomSecrets", "WithIntercomVerifier", c.given[1], c.intercom, func() (*IntercomVerifier, error) {
		return NewIntercomVerifier(c.intercomSecrets...)
	})
	h.series, errs[2] = keysOrVerifier("WithSeries", "WithSeriesVerifier", c.given[2], c.series, func() (*SeriesVerifier, error) {
		return NewSeriesVerifier(c.seriesHeader, c.seriesTokens...)
	})
	if err := cmp.Or(errs[:]...); err != nil {
		return nil, err
	}
	if c.keyFunc != nil {
		if h.std != nil || h.intercom != nil {
			return nil, errors.New("webhook: WithKeyFunc chooses the Standard Webhooks and Intercom keys: use it without WithSecrets, WithIntercomSecrets or their verifier forms")
		}
		h.keyFunc = c.keyFunc
	}
	if h.std == nil && h.intercom == nil && h.series == nil && h.keyFunc == nil {
		return nil, fmt.Errorf("webhook: no source configured: %w", ErrEmptySecret)
	}
	if (h.intercom != nil || h.keyFunc != nil) && h.maxAge > 0 && h.maxAge < minIntercomMaxAge {
		// Raising it over the retention instead would let a resend the
		// store has forgotten run twice.
		return nil, fmt.Errorf("webhook: Intercom max age %v (the dedupe retention unless WithIntercomMaxAge sets it) is under %v: Intercom's retry of a failed notification, a minute later, would be refused as too old and the notification lost; give WithDedupeTimes a retention of at least that, or WithIntercomMaxAge a max age of at least that (duplicates older than the retention then run again)", h.maxAge, minIntercomMaxAge)
	}
	if h.std != nil {
		if err := h.checkV1aBudget(h.std.keys.Load()); err != nil {
			return nil, err
		}
	}
	if h.series != nil && isSignatureHeader(h.series.Header()) {
		return nil, fmt.Errorf("webhook: Series header %s is a signature header of another source", h.series.Header())
	}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	switch {
	case c.inbox != nil && (c.dedupe != nil || c.noDedupe):
		return nil, errors.New("webhook: the inbox is the dedupe: use WithInbox without WithDeduper or WithoutDedupe")
	case c.noDedupe, c.inbox != nil:
	case c.dedupe != nil:
		h.dedupe = c.dedupe
	default:
		h.dedupe = NewMemoryStore(DefaultMaxEntries, vc.now)
	}
	h.drops = &unhandled{logger: h.logger}
	h.reg.Store(&registry{drops: h.drops})
	h.warnEventType(h.pinned)
	h.obs.inbox(h.inbox)
	return h, nil
}

// keysOrVerifier is the one rule for configuring a source: keys (the
// option named keys, which builds the verifier) or a verifier the caller
// built and may rotate (the option named verifier), not both; neither
// leaves the source off.
func keysOrVerifier[V any](keys, verifier string, haveKeys bool, v *V, build func() (*V, error)) (*V, error) {
	switch {
	case v != nil && haveKeys:
		return nil, errors.New("webhook: use " + keys + " or " + verifier + ", not both")
	case v != nil:
		return v, nil
	case haveKeys:
		return build()
	}
	return nil, nil
}

// SetSecrets replaces the Standard Webhooks keys at runtime; see
// Verifier.SetSecrets. It fails if Standard Webhooks is not configured
// (with WithKeyFunc, each tenant's Verifier holds its keys), and for
// whpk_ keys when the body memory budget is under three times the max
// body size (see WithMaxBodyMemory); the old keys then stay.
func (h *Handler) SetSecrets(secrets ...string) error {
	switch {
	case h.keyFunc != nil:
		return errors.New("webhook: the Standard Webhooks keys come from the WithKeyFunc function: call SetSecrets on the tenant's Verifier")
	case h.std == nil:
		return errors.New("webhook: Standard Webhooks is not configured")
	}
	kr, err := parseStandardSecrets(secrets)
	if err != nil {
		return err
	}
	if err := h.checkV1aBudget(kr); err != nil {
		return err
	}
	h.std.keys.Store(kr)
	return nil
}

// checkV1aBudget refuses ed25519 keys for a budget that cannot hold, on
// an idle handler, a v1a delivery of the largest size: up to twice the
// limit for the buffers it was read into, and once more, with its id and
// timestamp, for ed25519's copy of the message. Without the refusal such
// a delivery is answered 503 on every attempt, and the sender drops it.
func (h *Handler) checkV1aBudget(kr *keyring) error {
	const prefix = maxIDLen + maxTimestampDigits + 2 // "id.ts." around the body in the copy
	if kr == nil || len(kr.pubs) == 0 || h.budget.limit >= 2*h.maxBody+max(h.maxBody, prefix) {
		return nil
	}
	return errors.New("webhook: max body memory is less than three times the max body size, which a v1a delivery of that size needs with whpk_ keys (its body, and ed25519's copy of the message)")
}

// checkIntercom applies to a verified notification what its signature
// cannot: a bounded age, and a bounded id before it becomes a dedupe key.
func (h *Handler) checkIntercom(n *event.IntercomNotification) error {
	if h.maxAge > 0 {
		if err := VerifyIntercomAge(n, h.now(), h.maxAge); err != nil {
			return err
		}
	}
	if len(n.ID) > maxIDLen {
		return ErrIDTooLong
	}
	return nil
}

// intercomStatus is the status for an error of checkIntercom: 401 for an
// age outside the window, as for a Standard Webhooks timestamp; 400 for an
// id that is signed but unusable.
func intercomStatus(err error) int {
	if errors.Is(err, ErrIDTooLong) {
		return http.StatusBadRequest
	}
	return http.StatusUnauthorized
}

// decode turns verified bytes into an event; the event keeps body, the
// handler's own buffer.
func (h *Handler) decode(src event.Source, body []byte, hd http.Header) (event.Event, error) {
	return event.Decode(src, h.pinned, hd.Get("Content-Type"), body)
}
