package webhook

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
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

// A Delivery is what a callback learns about the request besides the
// event: which sender, which message, which attempt, and the exact bytes.
// Callbacks must not modify it; it is shared by every callback of a
// request.
type Delivery struct {
	// Source is the scheme the request was verified with.
	Source event.Source
	// Tenant is the tenant whose keys the delivery was checked against
	// (Keys.Tenant from the WithKeyFunc function): for a delivery that
	// reaches the callbacks, the keys that verified it. Empty without a
	// key function.
	Tenant string
	// ID is the message id (webhook-id) or the Intercom notification id,
	// stable across retries; empty when the sender gives none (Intercom
	// ping, Series).
	ID string
	// Timestamp is the attempt's signed timestamp (Standard Webhooks
	// only; zero otherwise).
	Timestamp time.Time
	// Attempt is the delivery attempt number when the sender states it
	// (Intercom's delivery_attempts), else 0.
	Attempt int
	// Key names the message uniquely and stably: the dedupe key, which is
	// the source and the message id ("standard:msg_…", "intercom:…"), with
	// the tenant between them under WithKeyFunc ("standard:acme:msg_…").
	// In inbox mode a delivery without a message id (an Intercom ping,
	// Series) gets a generated one, so Key is never empty there; outside
	// inbox mode it is empty for those, and when deduplication is off.
	Key string
	// InboxAttempt counts the runs of this delivery's callbacks in inbox
	// mode: 1 on the first run, 2 on the first retry, and so on; 0
	// outside inbox mode. A run may repeat after a crash, so callbacks
	// keyed by Key should be idempotent.
	InboxAttempt int
	// Header is the request's header.
	Header http.Header
	// Body is the verified body, exactly as read. Nil for a request
	// rejected before it was verified.
	Body []byte
	// Event is the decoded event; nil for a request rejected before it
	// was decoded.
	Event event.Event
}

// A StatusError lets a callback choose the response status: for example
// 410 Gone to make the sender stop (Standard Webhooks and Intercom
// disable the endpoint), or 503 with RetryAfter to shed load. A 2xx code
// counts as success: the message is marked processed. Any other code
// counts as failure: the claim is released so a retry runs again. A code
// from 300 to 599 is answered as is; any other (1xx included, which a
// sender would take for success) is answered 500.
type StatusError struct {
	Code       int
	RetryAfter time.Duration // sent as Retry-After in whole seconds when positive
	Err        error         // optional cause, for logs and the error hook
}

// Error names the chosen status and the cause.
func (e *StatusError) Error() string {
	msg := "webhook: respond " + strconv.Itoa(e.Code)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *StatusError) Unwrap() error { return e.Err }

// A PanicError is a recovered callback panic.
type PanicError struct {
	// Value is what the callback panicked with; nil for panic(nil) under
	// GODEBUG=panicnil=1, where recover cannot tell it from no panic.
	Value any
	Stack []byte
}

// Error reports the panic value; the stack is in Stack, for logs.
func (e *PanicError) Error() string { return fmt.Sprintf("webhook: callback panicked: %v", e.Value) }

// Unwrap returns the panic value when it is an error (panic(err)), so
// errors.Is and errors.As find it as they would a returned error;
// otherwise nil. The handler itself does not look inside: a panic is a
// failure whatever its value, never a chosen status.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// asReturned is errors.As for what a callback returned: it does not look
// inside a *PanicError, so a panic's value never chooses a status, a
// Retry-After or a dead letter.
func asReturned[T error](err error) (T, bool) {
	var found T
	ok := walkReturned(err, func(e error) bool {
		if t, ok := e.(T); ok {
			found = t
			return true
		}
		if a, ok := e.(interface{ As(any) bool }); ok && a.As(&found) {
			return true
		}
		return false
	})
	return found, ok
}

// walkReturned reports whether match holds for an error in err's tree,
// depth first as errors.As walks it, without entering a *PanicError.
func walkReturned(err error, match func(error) bool) bool {
	if err == nil {
		return false
	}
	if match(err) {
		return true
	}
	switch e := err.(type) {
	case *PanicError:
		return false
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			if walkReturned(x, match) {
				return true
			}
		}
	case interface{ Unwrap() error }:
		return walkReturned(e.Unwrap(), match)
	}
	return false
}

// A HandlerError is what the error hook receives: the status the handler
// answered and why. Status is 0 for callbacks that failed in an inbox
// worker (Handler.Run), where nothing is answered.
//
// Diagnosis, for a request that failed verification (a Series token
// included), a verified Intercom notification refused for its age, its
// id's length or, with WithKeyFunc, its app_id, or a request whose body
// could not be read whole, holds the evidence about why (see Diagnosis);
// it is nil otherwise. The sender never sees it.
type HandlerError struct {
	Status    int
	Err       error
	Diagnosis *Diagnosis
}

// Error gives the status answered and the reason.
func (e *HandlerError) Error() string {
	if e.Status == 0 {
		return "webhook: inbox worker: " + e.Err.Error()
	}
	return "webhook: " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status) + ": " + e.Err.Error()
}

// Unwrap returns the cause: one of the admission errors
// (ErrMethodNotAllowed, ErrUnsupportedMediaType, ErrBodyTooLarge,
// ErrBodyMemory, or the error reading a body that ended before its
// Content-Length or ran past it), a *VerifyError, a decoding error (event.ErrInvalidJSON
// and the like, ErrIDTooLong), ErrInFlight, an error wrapping ErrKeyFunc,
// a dedupe store or inbox error, or the joined callback errors.
func (e *HandlerError) Unwrap() error { return e.Err }

// Errors the handler reports through the error hook and the logger.
var (
	// ErrMethodNotAllowed is reported for methods other than POST, PUT and HEAD.
	ErrMethodNotAllowed = errors.New("webhook: method not allowed")
	// ErrBodyTooLarge is reported when the body exceeds the limit.
	ErrBodyTooLarge = errors.New("webhook: body too large")
	// ErrUnsupportedMediaType is reported for a Content-Type the source
	// never sends: JSON for Standard Webhooks and Intercom, JSON or form
	// for Series. A request without Content-Type is accepted.
	ErrUnsupportedMediaType = errors.New("webhook: unsupported content type")
	// ErrBodyMemory is reported when the bodies of the requests in
	// progress already hold the memory WithMaxBodyMemory allows; the
	// request is answered 503 with Retry-After, and the sender retries.
	ErrBodyMemory = errors.New("webhook: body memory budget exhausted")
	// ErrIDTooLong is reported, with 400, for a verified Intercom
	// notification whose id is longer than a webhook-id may be (256
	// bytes): the id becomes a dedupe key, and the store must not be made
	// to hold keys of any size a signed body can carry.
	ErrIDTooLong = errors.New("webhook: notification id too long")
)

// An Option configures a Handler. Every VerifyOption is also an Option,
// applied to the verifiers the handler builds from secrets. A nil Option
// is an error from NewHandler.
type Option interface {
	apply(*handlerConfig) error
}

type handlerOption func(*handlerConfig) error

func (o handlerOption) apply(c *handlerConfig) error { return o(c) }

func (o VerifyOption) apply(c *handlerConfig) error {
	c.verifyOpts = append(c.verifyOpts, o)
	return nil
}

type handlerConfig struct {
	secrets          []string
	intercomSecrets  []string
	seriesHeader     string
	seriesTokens     []string
	given            [3]bool // WithSecrets, WithIntercomSecrets, WithSeries: named even if given nothing
	std              *Verifier
	intercom         *IntercomVerifier
	series           *SeriesVerifier
	verifyOpts       []VerifyOption
	pinned           string
	maxBody          int64
	maxBodyMemory    int64
	logger           *slog.Logger
	dedupe           Deduper
	noDedupe         bool
	failClosed       bool
	lease, retention time.Duration
	intercomMaxAge   time.Duration
	inbox            Inbox
	workers          WorkerConfig
	observer         *Observer
	keyFunc          KeyFunc
}

// WithSecrets configures Standard Webhooks verification (Jam) with one or
// more whsec_/base64 HMAC keys or whpk_ ed25519 public keys. To rotate
// keys at runtime, use Handler.SetSecrets or WithVerifier.
func WithSecrets(secrets ...string) Option {
	return handlerOption(func(c *handlerConfig) error {
		c.secrets, c.given[0] = append(c.secrets, secrets...), true
		return nil
	})
}

// WithVerifier configures Standard Webhooks verification with a Verifier
// the caller built with NewVerifier or NewVerifierRaw and may rotate.
// VerifyOptions do not apply to it.
func WithVerifier(v *Verifier) Option {
	return handlerOption(func(c *handlerConfig) error {
		if v == nil || !v.usable() {
			return errors.New("webhook: WithVerifier needs a verifier built by NewVerifier")
		}
		c.std = v
		return nil
	})
}

// WithIntercomSecrets configures Intercom app webhooks with one or more
// client secrets.
func WithIntercomSecrets(clientSecrets ...string) Option {
	return handlerOption(func(c *handlerConfig) error {
		c.intercomSecrets, c.given[1] = append(c.intercomSecrets, clientSecrets...), true
		return nil
	})
}

// WithIntercomVerifier configures Intercom app webhooks with a verifier
// the caller built with NewIntercomVerifier and may rotate.
func WithIntercomVerifier(v *IntercomVerifier) Option {
	return handlerOption(func(c *handlerConfig) error {
		if v == nil || !v.usable() {
			return errors.New("webhook: WithIntercomVerifier needs a verifier built by NewIntercomVerifier")
		}
		c.intercom = v
		return nil
	})
}

// WithSeries configures Intercom Series webhooks: the custom header the
// admin set and the tokens it may carry.
func WithSeries(header string, tokens ...string) Option {
	return handlerOption(func(c *handlerConfig) error {
		c.seriesHeader, c.seriesTokens, c.given[2] = header, tokens, true
		return nil
	})
}

// WithSeriesVerifier configures Intercom Series webhooks with a verifier
// the caller built with NewSeriesVerifier and may rotate.
func WithSeriesVerifier(v *SeriesVerifier) Option {
	return handlerOption(func(c *handlerConfig) error {
		if v == nil || !v.usable() {
			return errors.New("webhook: WithSeriesVerifier needs a verifier built by NewSeriesVerifier")
		}
		c.series = v
		return nil
	})
}

// WithEventType pins the endpoint to one event type, for one-URL-per-event
// setups: every Standard Webhooks body is decoded as that type, and one
// that does not fit is rejected with 400, as is an Intercom body at an
// endpoint pinned to a Jam type. An Intercom notification (a ping too) is
// decoded as itself whatever its topic, and runs the callbacks for its
// topic: Intercom sends every topic an app subscribes to to the app's one
// URL, and a notification keeps its age check and its id for dedupe.
// NewHandler logs a WARN for a type that is none of package event's Type
// or Topic constants (a typo leaves every Jam body an *event.UnknownEvent,
// acknowledged and seen by OnUnknown only), and pins to it all the same.
func WithEventType(eventType string) Option {
	return handlerOption(func(c *handlerConfig) error {
		c.pinned = eventType
		return nil
	})
}

// WithMaxBodySize sets the largest body read; larger ones get 413 and are
// not read past the limit. The default is DefaultMaxBodySize.
func WithMaxBodySize(n int64) Option {
	return handlerOption(func(c *handlerConfig) error {
		if n <= 0 {
			return errors.New("webhook: max body size must be positive")
		}
		c.maxBody = n
		return nil
	})
}

// WithMaxBodyMemory sets the most memory the bodies of all requests in
// progress may hold together (default DefaultMaxBodyMemory). A request
// whose body would take more is answered 503 with Retry-After, so a flood
// of large or endless uploads costs bounded memory however many
// connections carry it, and senders retry later. A request is charged for
// the bytes it has sent, never for a declared length, so connections that
// send headers and then nothing hold none of it. It must be at least
// twice the max body size: a body grows by doubling, and the buffers it
// outgrows count until the garbage collector frees them. With whpk_ keys,
// the copy of the message that ed25519 needs counts too, so it must be
// three times the max body size: NewHandler and Handler.SetSecrets refuse
// whpk_ keys with less. Keys they do not see (a WithKeyFunc tenant's, or a
// WithVerifier verifier's set later by its own SetSecrets) need the same.
func WithMaxBodyMemory(n int64) Option {
	return handlerOption(func(c *handlerConfig) error {
		if n <= 0 {
			return errors.New("webhook: max body memory must be positive")
		}
		c.maxBodyMemory = n
		return nil
	})
}

// WithLogger sets the logger for rejections and failures. The default is
// slog.Default(). Bodies, secrets and signatures are never logged.
func WithLogger(l *slog.Logger) Option {
	return handlerOption(func(c *handlerConfig) error {
		if l == nil {
			return errors.New("webhook: WithLogger(nil)")
		}
		c.logger = l
		return nil
	})
}

// WithDeduper sets the store that makes each message id run the callbacks
// once. The default is a MemoryStore on the handler's clock (WithClock),
// which sees one process only: give replicas a shared store. A store given
// here keeps its own clock.
func WithDeduper(d Deduper) Option {
	return handlerOption(func(c *handlerConfig) error {
		if d == nil {
			return errors.New("webhook: WithDeduper(nil); use WithoutDedupe to switch deduplication off")
		}
		c.dedupe = d
		return nil
	})
}

// WithoutDedupe switches deduplication off, for callers that are
// idempotent themselves: every verified delivery runs the callbacks.
func WithoutDedupe() Option {
	return handlerOption(func(c *handlerConfig) error {
		c.noDedupe = true
		return nil
	})
}

// WithDedupeTimes sets the claim lease and the retention of processed ids
// (defaults DefaultLease and DefaultRetention). The retention is also the
// default Intercom max age, which must be at least 5 minutes (see
// WithIntercomMaxAge).
func WithDedupeTimes(lease, retention time.Duration) Option {
	return handlerOption(func(c *handlerConfig) error {
		if lease <= 0 || retention <= 0 {
			return errors.New("webhook: dedupe lease and retention must be positive")
		}
		c.lease, c.retention = lease, retention
		return nil
	})
}

// WithIntercomMaxAge sets how old an Intercom notification may be, by its
// signed created_at, before it is refused with 401 (see
// VerifyIntercomAge). The default is the dedupe retention (DefaultRetention
// or the one WithDedupeTimes sets): a replay younger than that is caught by
// its id while the store remembers it, an older one by its age. A longer
// max age leaves replays between the two to the dedupe store alone.
// The max age, set or by default, must be at least 5 minutes wherever
// Intercom notifications are accepted (WithIntercomSecrets, its verifier
// form, WithKeyFunc), or NewHandler returns an error: Intercom retries a
// failed notification once, a minute after the attempt, and a shorter
// max age would refuse that retry and lose the notification. So a
// retention under 5 minutes needs a longer one here, which leaves the
// retry's duplicates past the retention to run again.
// A refused notification reaches no callback and is not claimed in the
// dedupe store or stored in an inbox; the error hook sees it, wrapping
// ErrMessageTooOld or ErrMessageTooNew. Pings are checked too: their id is
// null, so within the window nothing but their age bounds a replay.
// InsecureSkipTimestampCheck switches this check off too.
func WithIntercomMaxAge(d time.Duration) Option {
	return handlerOption(func(c *handlerConfig) error {
		if d <= 0 {
			return errors.New("webhook: Intercom max age must be positive")
		}
		c.intercomMaxAge = d
		return nil
	})
}

// WithDedupeFailClosed answers 500 when the dedupe store fails, so the
// sender retries later. The default is to process the delivery anyway and
// log the failure: Intercom retries only once, so failing closed during
// an outage loses its events, while processing risks a duplicate only if
// one arrives during the outage.
func WithDedupeFailClosed() Option {
	return handlerOption(func(c *handlerConfig) error {
		c.failClosed = true
		return nil
	})
}

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
//	503  the bodies in progress hold WithMaxBodyMemory already (Retry-After)
//	415  a Content-Type the source never sends (checked before reading)
//	400  verified but not decodable; an Intercom id over 256 bytes; a
//	     body that ends before its Content-Length or runs past it
//	409  the same message id is in flight in another request
//	500  a callback failed or panicked; the dedupe store failed and
//	     WithDedupeFailClosed is set; the WithKeyFunc function failed or
//	     gave unusable keys (ErrKeyFunc), in inbox mode too
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
// a message id and deduplication is on), that context also ends a margin
// before the claim's lease does (a tenth of it, at most 5 s): past the
// lease a retry may run the callbacks again, so a callback still working
// then should stop and fail. A callback that ends its goroutine with
// runtime.Goexit (t.FailNow) releases the claim, as a failure does.
//
// A Handler is safe for concurrent use: ServeHTTP, the On… registrations,
// SetSecrets, Unhandled and Run may be called from any goroutine at once.
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
// Verifier.SetSecrets. It fails if Standard Webhooks is not configured,
// and for whpk_ keys when the body memory budget is under three times the
// max body size (see WithMaxBodyMemory); the old keys then stay.
func (h *Handler) SetSecrets(secrets ...string) error {
	if h.std == nil {
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

// pickSource chooses the verifier by the headers present, before the body
// is read: the first configured source whose headers appear.
func (h *Handler) pickSource(hd http.Header) event.Source {
	if (h.std != nil || h.keyFunc != nil) && hasAny(hd, headerWebhookID, headerWebhookTimestamp, headerWebhookSignature, headerSvixID, headerSvixTimestamp, headerSvixSignature) {
		return event.SourceStandard
	}
	if (h.intercom != nil || h.keyFunc != nil) && hasAny(hd, headerHubSignature) {
		return event.SourceIntercom
	}
	if h.series != nil && hasAny(hd, h.series.Header()) {
		return event.SourceSeries
	}
	return ""
}

// acceptsMediaType reports whether ct, with any parameters such as
// charset, suits src. It is checked before the body is read, and parsed
// by hand because mime.ParseMediaType allocates on every request.
func acceptsMediaType(src event.Source, ct string) bool {
	if ct == "" {
		return true
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	switch {
	case strings.EqualFold(ct, "application/json"):
		return true
	case len(ct) > len("application/+json") && strings.EqualFold(ct[:len("application/")], "application/") &&
		strings.EqualFold(ct[len(ct)-len("+json"):], "+json"):
		return true
	case src == event.SourceSeries:
		return strings.EqualFold(ct, "application/x-www-form-urlencoded")
	}
	return false
}

func hasAny(h http.Header, keys ...string) bool {
	for _, k := range keys {
		if _, ok := h[k]; ok {
			return true
		}
	}
	return false
}

func isSignatureHeader(k string) bool {
	switch k {
	case headerWebhookID, headerWebhookTimestamp, headerWebhookSignature, headerSvixID, headerSvixTimestamp, headerSvixSignature, headerHubSignature:
		return true
	}
	return false
}

// firstRead is the size of the buffer a request's first body bytes are
// read into. It comes from a pool and goes back to it when readBody
// returns; it is charged to the budget byte by byte as data arrives, so a
// request that sent only headers holds none of the budget. The spare byte
// catches a body longer than declared.
const firstRead = 4 << 10

type firstBuf [firstRead + 1]byte

// readBody reads at most maxBody bytes, and returns how many bytes of
// the handler's body memory budget it holds, for the caller to give back
// when the request is done, also on error.
//
// What a request holds follows what it sent, never what it declared: a
// declared length costs the sender nothing. The first bytes go into a
// pooled buffer, charged as they arrive; a body that fits (nearly all do)
// is copied into a buffer of its exact size. A longer one grows by
// doubling, for declared lengths too (a declared length only caps the
// growth), and every buffer counts in full, since the ones it outgrew stay
// on the heap until the collector runs. So a request holds less than four
// times the bytes it sent, and a body at the limit less than twice the
// limit. A declared length over the limit is refused
// before reading; a body longer than declared (which a server outside
// net/http might pass on) is refused, not truncated.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) (body []byte, held int64, err error) {
	n := r.ContentLength // -1 when unknown
	if n > h.maxBody {
		return nil, 0, ErrBodyTooLarge
	}
	limit := h.maxBody + 1 // the spare byte shows the body goes on
	if n >= 0 {
		limit = n + 1
	}
	charge := func(k int64) bool {
		if !h.budget.charge(k) {
			return false
		}
		held += k
		return true
	}
	rc := r.Body
	if rc == nil { // never from net/http's server; from http.NewRequest(…, nil) served by hand
		rc = http.NoBody
	}
	rd := http.MaxBytesReader(w, rc, h.maxBody)

	fb, _ := h.firstBufs.Get().(*firstBuf)
	if fb == nil {
		fb = new(firstBuf)
	}
	defer h.firstBufs.Put(fb)
	first := fb[:min(limit, int64(len(fb)))]
	got := 0
	for got < len(first) {
		m, err := rd.Read(first[got:])
		if m > 0 && !charge(int64(m)) {
			return nil, held, ErrBodyMemory
		}
		got += m
		switch {
		case n >= 0 && int64(got) > n:
			return nil, held, errLongerThanDeclared
		case err == io.EOF && n >= 0 && int64(got) < n:
			return nil, held, &shortBodyError{got: int64(got), declared: n}
		case err == io.EOF:
			// The pooled buffer goes back; the body is what the
			// request keeps, and it replaces the charge for the bytes.
			h.budget.held.Add(-held)
			held = 0
			if !charge(int64(got)) {
				return nil, held, ErrBodyMemory
			}
			body = make([]byte, got)
			copy(body, first) // make and copy together: no zeroing first
			return body, held, nil
		case err != nil:
			return nil, held, bodyErr(err)
		}
	}

	body = first[:got:got] // full: the first step copies it out of the pool
	pooled := held         // what the pooled buffer's bytes were charged
	for {
		if len(body) == cap(body) {
			size := 2 * int64(len(body))
			if size > limit/2 {
				// Take the limit now rather than one more doubling
				// short of it, so that the buffers together stay
				// within twice the limit.
				size = limit
			}
			if size <= int64(len(body)) {
				return nil, held, ErrBodyTooLarge
			}
			if pooled > 0 {
				// The pooled buffer goes back to the pool, not to the
				// collector: its charge passes to the new buffer before
				// that is charged. Charged side by side, the two
				// outgrew twice a limit of 4097 (4097+4098 bytes), and
				// a body of exactly that limit was refused on an idle
				// handler.
				h.budget.held.Add(-pooled)
				held, pooled = held-pooled, 0
			}
			// The whole new buffer counts, not just its growth: a heap
			// buffer it replaces stays on the heap until the collector
			// runs.
			if !charge(size) {
				return nil, held, ErrBodyMemory
			}
			grown := make([]byte, len(body), size) // exactly size, as counted
			copy(grown, body)
			body = grown
		}
		m, err := rd.Read(body[len(body):cap(body)])
		body = body[:len(body)+m]
		switch {
		case n >= 0 && int64(len(body)) > n:
			return nil, held, errLongerThanDeclared
		case err == io.EOF && n >= 0 && int64(len(body)) < n:
			return nil, held, &shortBodyError{got: int64(len(body)), declared: n}
		case err == io.EOF:
			return body, held, nil
		case err != nil:
			return nil, held, bodyErr(err)
		}
	}
}

var errLongerThanDeclared = errors.New("webhook: body longer than Content-Length")

func bodyErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return ErrBodyTooLarge
	}
	return fmt.Errorf("webhook: reading body: %w", err)
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
