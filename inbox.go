package webhook

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/inhook/webhook/event"
)

// An InboxState is where a delivery stands in an Inbox.
type InboxState string

// The states of an InboxEntry. A stored delivery starts pending; a worker
// leases it; it ends done or dead. Replay returns a done or dead one to
// pending.
const (
	// InboxPending is waiting for a worker: new (Attempts == 0) or
	// retrying (Attempts > 0), due at NextAttempt.
	InboxPending InboxState = "pending"
	// InboxLeased is held by a worker until LeaseUntil; past that it is
	// due again, so a crashed worker's delivery runs again.
	InboxLeased InboxState = "leased"
	// InboxDone has run its callbacks successfully. It stays stored as
	// the dedupe record until purged.
	InboxDone InboxState = "done"
	// InboxDead has failed permanently or past the retry policy; it keeps
	// its last error and attempt count until replayed or purged.
	InboxDead InboxState = "dead"
)

// An InboxEntry is a verified delivery as an Inbox keeps it: the exact
// bytes that were verified, what a callback needs besides them, and where
// it stands.
type InboxEntry struct {
	// Key is unique in the inbox: the dedupe key, which names the source
	// (and the tenant, where there are several) and the message id.
	Key string
	// Source is the scheme the delivery was verified with.
	Source event.Source
	// ID is the sender's message id; empty when the sender gives none.
	ID string
	// Timestamp is the signed timestamp of the attempt that was stored
	// (Standard Webhooks only; zero otherwise).
	Timestamp time.Time
	// ReceivedAt is when the handler stored the delivery.
	ReceivedAt time.Time
	// Header holds the request headers kept for callbacks.
	Header http.Header
	// Body is the verified body, exactly as read.
	Body []byte
	// Meta holds small annotations stored with the delivery, such as a
	// W3C trace context under "traceparent".
	Meta map[string]string

	// State is where the delivery stands.
	State InboxState
	// Attempts counts the leases taken: the callback runs started.
	Attempts int
	// NextAttempt is when a pending delivery is due.
	NextAttempt time.Time
	// LeaseUntil is when a leased delivery's lease runs out.
	LeaseUntil time.Time
	// LastError is the last failure's message, for retrying and dead
	// deliveries.
	LastError string
	// UpdatedAt is when the state last changed.
	UpdatedAt time.Time
}

// An InboxLease is a delivery a worker holds. Only its Token may settle it
// (Complete, Retry or Kill); once the lease runs out another worker may
// lease the delivery and the old token stops working.
type InboxLease struct {
	Entry InboxEntry
	Token string
}

// An InboxOrder is the order Inbox.List returns deliveries in.
type InboxOrder int

// The orders of Inbox.List.
const (
	// InboxByReceived lists the oldest ReceivedAt first, in any state.
	InboxByReceived InboxOrder = iota
	// InboxByUpdated lists the oldest UpdatedAt first: for done and dead
	// deliveries, the longest done or dead first. It takes State done or
	// dead only, whose UpdatedAt stays as it is while they stay in it.
	InboxByUpdated
)

// An InboxQuery selects a page of deliveries for Inbox.List.
type InboxQuery struct {
	// State selects one state; empty selects every state.
	State InboxState
	// Order is the order of the deliveries; the zero value is
	// InboxByReceived.
	Order InboxOrder
	// After is a cursor from an earlier page's Next, of the same State
	// and Order: the page starts after it. Empty starts at the first
	// delivery.
	After string
	// Limit caps the page; 0 or less means DefaultListLimit. An
	// implementation may cap it lower (see InboxPage.More).
	Limit int
	// OmitBody leaves the entries' Body nil, for a listing that needs
	// none: an inbox need not read the bodies.
	OmitBody bool
}

// DefaultListLimit is the page Inbox.List returns for an InboxQuery
// without a Limit. It is the contract's, not each implementation's, so a
// tool that lists any inbox (webhook inbox list) pages alike on all of them.
const DefaultListLimit = 100

// An InboxPage is what Inbox.List returns.
type InboxPage struct {
	// Entries are the page's deliveries, in the query's order.
	Entries []InboxEntry
	// Next is the cursor to pass as InboxQuery.After for the page that
	// follows: the position of the last entry, or the query's After when
	// the page is empty. It stays valid whatever happens to that entry,
	// so it also serves to poll for deliveries that come later.
	Next string
	// More reports whether there were deliveries past the page when it
	// was read. A page may hold fewer than the Limit asked with More
	// set: an implementation may cap a page.
	More bool
}

// InboxStats counts an inbox's deliveries by state, for metrics.
type InboxStats struct {
	Pending  int // new, not yet attempted
	Retrying int // pending after at least one failed attempt
	InFlight int // leased
	Done     int
	Dead     int
	// OldestPending is the ReceivedAt of the oldest pending or leased
	// delivery; zero when there is none.
	OldestPending time.Time
}

// Errors an Inbox returns.
var (
	// ErrInboxFull means the inbox refuses new deliveries; the handler
	// answers 503 with Retry-After, and the sender retries.
	ErrInboxFull = errors.New("webhook: inbox full")
	// ErrLeaseLost is returned when settling with a token that no longer
	// holds the delivery: its lease ran out and another worker leased it,
	// or it was replayed or purged.
	ErrLeaseLost = errors.New("webhook: inbox lease lost")
	// ErrNotFound is returned for a key the inbox does not hold.
	ErrNotFound = errors.New("webhook: inbox: no such delivery")
	// ErrBadCursor is returned by Inbox.List for an After that is no
	// cursor of that kind of inbox, or one from a query of another
	// State or Order.
	ErrBadCursor = errors.New("webhook: inbox: bad list cursor")
	// ErrInFlight is reported (409) when, outside inbox mode, the same
	// message is being processed by another request, whose sender
	// retries later; and returned by Inbox.Replay for a delivery a
	// worker holds.
	ErrInFlight = errors.New("webhook: message already in flight")
)

// An Inbox stores verified deliveries durably and hands them to workers.
// It is the dedupe store in inbox mode: a key is stored once, in any
// state, until it is purged.
//
// Implementations must be safe for concurrent use, also by several
// processes where the store is shared, and must take the current time
// from a clock given at construction, so tests can move it. They keep the
// caller's fields exactly (Body byte for byte, times to the nanosecond,
// a zero Timestamp as zero) and share no memory with the caller: an entry
// passed in or handed out is the caller's to change. The package
// inboxtest holds the conformance suite every implementation runs.
//
// Settling (Complete, Retry, Kill) with a token that does not hold the
// delivery, or for a key the inbox does not hold, returns an error
// wrapping ErrLeaseLost and changes nothing. A token whose lease ran out
// may still settle the delivery until another lease is taken, or may be
// refused then already; either is correct, as long as a delivery is never
// both settled by the old token and leased again.
type Inbox interface {
	// Store adds a copy of e as pending and due now, and returns only
	// once it is stored durably. The inbox sets the copy's state fields
	// (State, Attempts 0, NextAttempt, LeaseUntil, LastError and
	// UpdatedAt), and its ReceivedAt to now when e's is zero; it does not
	// change *e. If e.Key is already stored, in any state, it stores
	// nothing and reports false. A full inbox returns an error wrapping
	// ErrInboxFull; a nil e, or one without a Key, is an error.
	Store(ctx context.Context, e *InboxEntry) (stored bool, err error)
	// Lease takes up to max due deliveries (pending with NextAttempt not
	// after now, or leased with LeaseUntil before now) for lease, oldest
	// NextAttempt first (an implementation's Lease says where it cannot
	// keep that order), incrementing Attempts, setting LeaseUntil to now
	// plus lease and keeping LastError. Each delivery is held by one lease
	// at a time; each lease has a new token. A lease that is not positive
	// is an error, whatever max is, and leases nothing; a max of 0 or
	// less leases nothing.
	Lease(ctx context.Context, max int, lease time.Duration) ([]InboxLease, error)
	// Complete marks a leased delivery done.
	Complete(ctx context.Context, key, token string) error
	// Retry returns a leased delivery to pending, due at next, recording
	// lastErr.
	Retry(ctx context.Context, key, token string, next time.Time, lastErr string) error
	// Kill marks a leased delivery dead, recording lastErr.
	Kill(ctx context.Context, key, token string, lastErr string) error

	// Get returns one delivery, or ErrNotFound.
	Get(ctx context.Context, key string) (InboxEntry, error)
	// List returns a page of the deliveries in q.State, in q.Order,
	// starting after the cursor q.After, with the cursor to read on
	// from. A page should be one bounded read of an index, costing the
	// same wherever it starts (MemoryInbox, for tests, looks at every
	// delivery instead). Paging is stable: reading
	// page after page from an empty After while deliveries arrive,
	// change state or are purged yields every delivery that stayed in
	// q.State throughout exactly once, in order; one that arrived, left
	// or came back meanwhile may be listed or not (by update order, a
	// delivery that died again comes again). Deliveries of one time (to
	// the implementation's resolution) come in an order of its own, the
	// same on every page. An unknown state selects nothing. An After
	// that is no cursor of this kind of inbox, or one of a query of
	// another State or Order, is an error wrapping ErrBadCursor (a
	// cursor of another inbox of the same kind may read as a position in
	// this one); an unknown Order, or InboxByUpdated of a state other
	// than done or dead, is an error.
	List(ctx context.Context, q InboxQuery) (InboxPage, error)
	// Replay returns a done or dead delivery to pending, due now, with
	// Attempts reset to 0 and LastError kept. It makes a pending one due
	// now, if it is not due already (one due keeps its NextAttempt, and
	// its place in Lease's order), leaving its UpdatedAt: its state does
	// not change. It returns ErrInFlight for a leased one, its lease run
	// out or not, and ErrNotFound for an unknown key.
	Replay(ctx context.Context, key string) error
	// Purge deletes done and dead deliveries (only state, when it is not
	// empty) whose UpdatedAt is before before, and returns how many it
	// deleted. Pending and leased deliveries are never purged; a state
	// that is none of the four is an error, and deletes nothing.
	Purge(ctx context.Context, state InboxState, before time.Time) (int, error)
	// Stats counts the deliveries by state.
	Stats(ctx context.Context) (InboxStats, error)
}
