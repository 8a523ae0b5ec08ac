package webhook

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inhook/webhook/event"
)

// DefaultTolerance is the default timestamp window, both into the past and
// into the future, that the Standard Webhooks specification recommends.
const DefaultTolerance = 5 * time.Minute

const (
	// maxSignatures caps the entries read from a signature header. Senders
	// send one per active key, two or three during rotation; a longer list
	// is rejected whatever it holds, and since each key's MAC is computed
	// once and only compared with the entries, it cannot multiply our work.
	maxSignatures = 10
	// maxIDLen bounds the message id, which is also a dedupe key.
	maxIDLen = 256
	// maxTimestampDigits admits every time until year 33658 and rules out
	// overflow without a check.
	maxTimestampDigits = 12
	// maxTokenLen bounds a Series token header before it is hashed.
	maxTokenLen = 4096
)

// Canonical header keys, so lookups index the map directly instead of
// canonicalising a key on every request.
const (
	headerWebhookID        = "Webhook-Id"
	headerWebhookTimestamp = "Webhook-Timestamp"
	headerWebhookSignature = "Webhook-Signature"
	headerSvixID           = "Svix-Id"
	headerSvixTimestamp    = "Svix-Timestamp"
	headerSvixSignature    = "Svix-Signature"
	headerHubSignature     = "X-Hub-Signature"
)

// A VerifyOption configures a Verifier. A nil VerifyOption is an error
// from the constructor given it.
type VerifyOption func(*verifyConfig)

type verifyConfig struct {
	tolerance time.Duration
	now       func() time.Time
	skipTime  bool
}

// WithTolerance sets how far a Standard Webhooks delivery's signed
// timestamp may be from the clock, in either direction (default
// DefaultTolerance). It must be positive; to switch the check off use
// InsecureSkipTimestampCheck. An Intercom notification's age is bounded by
// WithIntercomMaxAge instead, and its lead by DefaultTolerance whatever
// this is.
func WithTolerance(d time.Duration) VerifyOption {
	return func(c *verifyConfig) { c.tolerance = d }
}

// WithClock sets the clock the timestamp window is measured against, for
// tests that replay fixtures signed at a fixed time. The default is time.Now.
//
// Given to NewHandler, it is the handler's one clock, for all that the
// handler times by the clock: the timestamp window, the Intercom max age,
// the default dedupe store's leases and retention (it is the clock
// NewHandler gives NewMemoryStore), and in inbox mode the received times,
// the leases' ends and the retry schedule. One clock, so that a test that
// advances it sees all of them move together, never a delivery fresh by
// one clock and expired by another. A Deduper, an Inbox or a Verifier built
// by the caller keeps the clock it was built with (NewMemoryStore's and
// NewMemoryInbox's now parameter; NewVerifier's WithClock, for the
// timestamp window of WithVerifier's and of the Keys a WithKeyFunc
// function returns): give it the same one.
func WithClock(now func() time.Time) VerifyOption {
	return func(c *verifyConfig) { c.now = now }
}

// InsecureSkipTimestampCheck switches the timestamp window off, so a
// captured delivery verifies forever. Use it only to re-verify stored
// deliveries whose freshness was checked when they arrived.
func InsecureSkipTimestampCheck() VerifyOption {
	return func(c *verifyConfig) { c.skipTime = true }
}

func newVerifyConfig(opts []VerifyOption) (verifyConfig, error) {
	c := verifyConfig{tolerance: DefaultTolerance, now: time.Now}
	for i, o := range opts {
		if o == nil {
			return c, fmt.Errorf("webhook: verify option %d is nil", i)
		}
		o(&c)
	}
	if c.tolerance <= 0 {
		return c, errors.New("webhook: tolerance must be positive; use InsecureSkipTimestampCheck to switch the check off")
	}
	if c.now == nil {
		return c, errors.New("webhook: WithClock needs a non-nil clock")
	}
	return c, nil
}

// errNoKeys refuses a delivery at a verifier not built by its
// constructor, which holds no keys: it verifies nothing, and does not
// panic.
func errNoKeys(src event.Source) error {
	return verifyErr(src, ErrNoMatchingSignature, "verifier has no keys (not built by its constructor)")
}

// usable reports whether a verifier was built by its constructor.
func (v *Verifier) usable() bool         { return v.keys.Load() != nil && v.cfg.now != nil }
func (v *IntercomVerifier) usable() bool { return v.keys.Load() != nil }
func (v *SeriesVerifier) usable() bool   { return v.tokens.Load() != nil }

// A memBudget is memory that the requests of a Handler in progress share:
// their body buffers, and the message copies v1a verification needs.
type memBudget struct {
	held  atomic.Int64
	limit int64

	// For body reads under contention (body.go). Tickets number the
	// reads in the order they began to wait or to be slow; first is the
	// oldest waiting read's (0: none waits): reads younger than it may
	// not charge, and slow reads older than it are cut.
	tickets atomic.Int64
	first   atomic.Int64
	mu      sync.Mutex // waiting, oldest, first's changes
	waiting []*waiter  // the reads waiting
	oldest  *waiter    // the one of them first names
}

// A waiter is a read waiting for memory. Only the oldest may charge, so
// memory given back wakes it alone, and its leaving the next oldest: not
// every waiter for every request done.
type waiter struct {
	ticket int64
	wake   chan struct{} // buffered: a wake-up sent between two tries stays
}

// charge takes n bytes from the budget, and reports false, taking
// nothing, if that would pass the limit. A refused charge never counts,
// even for a moment: adding it and taking it back would refuse a charge
// that fits beside it, and wake none of the reads that saw the moment's
// total and went to wait.
func (b *memBudget) charge(n int64) bool {
	for {
		held := b.held.Load()
		if held+n > b.limit {
			return false
		}
		if b.held.CompareAndSwap(held, held+n) {
			return true
		}
	}
}

// release gives n bytes back, and wakes the oldest read waiting for
// memory, if any.
func (b *memBudget) release(n int64) {
	b.held.Add(-n)
	if b.first.Load() != 0 {
		b.mu.Lock()
		b.oldest.signal()
		b.mu.Unlock()
	}
}

func (w *waiter) signal() {
	if w == nil {
		return
	}
	select {
	case w.wake <- struct{}{}:
	default: // woken already
	}
}

// errMemBudget is what verification returns when the message copy for
// v1a is refused memory.
var errMemBudget = errors.New("webhook: no memory budget left for the v1a message")

// errV1aBudget refuses a v1a delivery whose body and message copy
// together pass the budget on their own: its keys hold whpk_ keys, under
// a budget smaller than three times the max body size.
var errV1aBudget = errors.New("webhook: this v1a delivery and ed25519's copy of its message need more than the max body memory, which with whpk_ keys must be three times the max body size (WithMaxBodyMemory)")
