package webhook

import (
	"container/heap"
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/inhook/webhook/internal/listcursor"
)

// DefaultInboxEntries is the default capacity of a MemoryInbox.
const DefaultInboxEntries = 100_000

// A MemoryInbox is an Inbox in the memory of one process, for tests and
// for receivers that accept losing their pending deliveries on a restart
// or a crash. It is not durable: in inbox mode a 200 then means only that
// the delivery is held in this process's memory. It is safe for
// concurrent use.
//
// It is bounded: it holds at most its capacity of deliveries in any state.
// When it is full, Store makes room by forgetting the done delivery that
// finished first (a done delivery is only a dedupe record: forgotten, a
// late retry of it is stored and processed again, where refusing the new
// delivery would have the sender retry it, and Intercom retries once),
// of the tenants of a WithKeyFunc handler (keys source@tenant:id; keys
// source:id count as one more) one holding at least an equal share of the
// deliveries (those held over the tenants holding some) if there is one:
// a tenant's flood of deliveries then pushes out its own done ones, not
// those of a tenant holding less.
// Pending, leased and dead deliveries are never forgotten: once they fill
// it, Store returns an error wrapping ErrInboxFull until some finish or
// are purged (dead ones only by Purge). Size it for the deliveries
// received in a retention period, to keep the dedupe records that long.
//
// It bounds each tenant's backlog (its deliveries pending or leased) too,
// so that one tenant whose deliveries pile up (its callbacks failing or
// slow, or a flood) cannot fill it and have every other tenant refused:
// past its bound a tenant's new deliveries are refused with an error
// wrapping ErrInboxFull (the handler answers that tenant 503 with
// Retry-After, and its sender retries) while the others store on. By
// default the bound is half the capacity, and only while the inbox holds
// deliveries (in any state, done ones included) of more than one tenant:
// a receiver of one tenant has the whole capacity, and a tenant alone
// cannot reserve half of it against tenants to come.
// MemoryInboxTenantCapacity sets another bound, or none.
type MemoryInbox struct {
	mu  sync.Mutex
	max int
	// tenantMax bounds each tenant's backlog: > 0 always, 0 half of max
	// while it holds two tenants or more, < 0 not at all.
	tenantMax int
	now       func() time.Time
	seq       uint64 // lease tokens and due-queue versions
	entries   map[string]*memoryInboxEntry
	due       dueQueue // pending and leased entries, by when they are due
	// done holds, per tenant (KeyTenant), the tenant's done entries in
	// the order they finished, each with the ver its entry took then: a
	// record whose entry has changed since is stale, and skipped. Vers
	// grow, so the oldest record of all is the least of the queues' first.
	done    map[string]*doneQueue
	tenants map[string]int // the entries of each tenant (KeyTenant)
	backlog map[string]int // the pending and leased entries of each tenant
	// looked counts the records stale has looked at (first and the
	// compactions ask it of each record they pass), so that a test can
	// tell what a Store costs by a count, where a timing would flake.
	looked uint64
}

// A doneQueue is one tenant's done records, recs[head:] live or stale.
type doneQueue struct {
	recs []dueRecord
	head int
}

// first drops q's stale records from the front and returns the first
// live one, reporting whether there is one.
func (m *MemoryInbox) first(q *doneQueue) (dueRecord, bool) {
	for q.head < len(q.recs) {
		r := q.recs[q.head]
		if !m.stale(r) && m.entries[r.key].e.State == InboxDone {
			return r, true
		}
		q.recs[q.head] = dueRecord{}
		q.head++
	}
	q.recs, q.head = q.recs[:0], 0
	return dueRecord{}, false
}

type memoryInboxEntry struct {
	e     InboxEntry
	token string // of the current lease; empty unless leased
	ver   uint64 // of the entry's live record in the due or done queue; 0 for none
}

// NewMemoryInbox returns a MemoryInbox holding at most capacity deliveries
// (DefaultInboxEntries if capacity <= 0). now is its clock; nil means
// time.Now. Give it the handler's clock (WithClock's, in a test): the
// handler sets due times by its own, and Handler.Run warns when the two
// read far apart.
func NewMemoryInbox(capacity int, now func() time.Time, opts ...MemoryInboxOption) *MemoryInbox {
	if capacity <= 0 {
		capacity = DefaultInboxEntries
	}
	if now == nil {
		now = time.Now
	}
	m := &MemoryInbox{max: capacity, now: now, entries: make(map[string]*memoryInboxEntry),
		done: make(map[string]*doneQueue), tenants: make(map[string]int), backlog: make(map[string]int)}
	for _, opt := range opts {
		if opt != nil {
			opt(m)
		}
	}
	return m
}

// A MemoryInboxOption configures NewMemoryInbox.
type MemoryInboxOption func(*MemoryInbox)

// MemoryInboxTenantCapacity bounds each tenant's backlog at n deliveries
// pending or leased, however many tenants the inbox holds: a tenant's
// (KeyTenant's: keys of a handler without a key function are one tenant)
// new delivery past it is refused with an error wrapping ErrInboxFull.
// Done and dead deliveries do not count; a replayed one counts again,
// and Replay is never refused. n < 0 means no bound but the capacity; 0
// the default (see MemoryInbox).
func MemoryInboxTenantCapacity(n int) MemoryInboxOption {
	return func(m *MemoryInbox) { m.tenantMax = n }
}

// tenantBound is the bound on each tenant's backlog now, 0 for none.
func (m *MemoryInbox) tenantBound() int {
	switch {
	case m.tenantMax > 0:
		return m.tenantMax
	case m.tenantMax < 0 || len(m.tenants) < 2:
		return 0
	}
	return max(m.max/2, 1)
}

// waiting adds n to the backlog of the tenant of key.
func (m *MemoryInbox) waiting(key string, n int) {
	t := KeyTenant(key)
	if b := m.backlog[t] + n; b > 0 {
		m.backlog[t] = b
	} else {
		delete(m.backlog, t)
	}
}

// Store implements Inbox.
func (m *MemoryInbox) Store(_ context.Context, e *InboxEntry) (bool, error) {
	if e == nil || e.Key == "" {
		return false, fmt.Errorf("webhook: MemoryInbox: Store: an entry needs a key")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[e.Key]; ok {
		return false, nil
	}
	if bound := m.tenantBound(); bound > 0 {
		if t := KeyTenant(e.Key); m.backlog[t] >= bound {
			return false, fmt.Errorf("webhook: memory inbox: tenant %q has %d deliveries waiting, its bound: %w", t, m.backlog[t], ErrInboxFull)
		}
	}
	if len(m.entries) >= m.max && !m.forgetDone() {
		return false, fmt.Errorf("webhook: memory inbox holds %d deliveries, none of them done: %w", m.max, ErrInboxFull)
	}
	now := m.now()
	c := copyEntry(e)
	c.State, c.Attempts, c.NextAttempt, c.LeaseUntil, c.LastError, c.UpdatedAt = InboxPending, 0, now, time.Time{}, "", now
	if c.ReceivedAt.IsZero() {
		c.ReceivedAt = now
	}
	me := &memoryInboxEntry{e: c}
	m.entries[c.Key] = me
	m.tenants[KeyTenant(c.Key)]++
	m.waiting(c.Key, 1)
	m.schedule(me, now)
	return true, nil
}

// forgetDone deletes the done entry that finished first of a tenant
// holding at least an equal share of the entries, or of any tenant if
// none has one done, reporting whether there was one. It looks at the
// first done record of each tenant holding one, not at every record:
// walking the records of the tenants under their share, on every Store
// of a full inbox, took time growing with them.
func (m *MemoryInbox) forgetDone() bool {
	held, tenants := len(m.entries), len(m.tenants)
	var oldest, fair *doneQueue
	var oldestVer, fairVer uint64
	for t, q := range m.done {
		r, ok := m.first(q)
		if !ok {
			delete(m.done, t)
			continue
		}
		if oldest == nil || r.ver < oldestVer {
			oldest, oldestVer = q, r.ver
		}
		if m.tenants[t]*tenants >= held && (fair == nil || r.ver < fairVer) {
			fair, fairVer = q, r.ver
		}
	}
	q := fair
	if q == nil {
		q = oldest
	}
	if q == nil {
		return false
	}
	key := q.recs[q.head].key
	q.recs[q.head] = dueRecord{}
	q.head++
	m.remove(key)
	return true
}

// remove deletes the entry of key.
func (m *MemoryInbox) remove(key string) {
	delete(m.entries, key)
	t := KeyTenant(key)
	if n := m.tenants[t]; n > 1 {
		m.tenants[t] = n - 1
	} else {
		// Its done records, if any, are all stale.
		delete(m.tenants, t)
		delete(m.done, t)
	}
}

// finished records that me is done, superseding its earlier records.
func (m *MemoryInbox) finished(me *memoryInboxEntry) {
	m.seq++
	me.ver = m.seq
	t := KeyTenant(me.e.Key)
	q := m.done[t]
	if q == nil {
		q = &doneQueue{}
		m.done[t] = q
	}
	// Records of entries replayed or purged since they finished wait
	// for their turn to be skipped. Drop them before they outnumber the
	// tenant's entries.
	if len(q.recs)-q.head > 2*m.tenants[t]+64 {
		q.recs = slices.DeleteFunc(q.recs[q.head:], m.stale)
		q.head = 0
	}
	q.recs = append(q.recs, dueRecord{at: me.e.UpdatedAt, key: me.e.Key, ver: me.ver})
}

// stale reports whether r is no longer its entry's record: the entry
// was settled, scheduled again or deleted since.
func (m *MemoryInbox) stale(r dueRecord) bool {
	m.looked++
	e, ok := m.entries[r.key]
	return !ok || e.ver != r.ver
}

// schedule queues me to be due at at, superseding its earlier record.
func (m *MemoryInbox) schedule(me *memoryInboxEntry, at time.Time) {
	m.seq++
	me.ver = m.seq
	heap.Push(&m.due, dueRecord{at: at, key: me.e.Key, ver: me.ver})
	if len(m.due) > 2*len(m.entries)+64 {
		// Superseded records wait for their time to be skipped; drop them
		// before they outnumber the live ones.
		m.due = slices.DeleteFunc(m.due, m.stale)
		heap.Init(&m.due)
	}
}

// Lease implements Inbox.
func (m *MemoryInbox) Lease(_ context.Context, max int, lease time.Duration) ([]InboxLease, error) {
	if lease <= 0 {
		return nil, fmt.Errorf("webhook: MemoryInbox: Lease: lease %v is not positive", lease)
	}
	if max <= 0 {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []InboxLease
	for len(out) < max && len(m.due) > 0 {
		r := m.due[0]
		me, ok := m.entries[r.key]
		if !ok || me.ver != r.ver {
			heap.Pop(&m.due) // superseded or purged
			continue
		}
		if r.at.After(now) {
			break
		}
		heap.Pop(&m.due)
		m.seq++
		me.token = strconv.FormatUint(m.seq, 36)
		me.e.State = InboxLeased
		me.e.Attempts++
		me.e.LeaseUntil = now.Add(lease)
		me.e.UpdatedAt = now
		// A lease is due again once its time is past, not at it.
		m.schedule(me, me.e.LeaseUntil.Add(time.Nanosecond))
		out = append(out, InboxLease{Entry: copyEntry(&me.e), Token: me.token})
	}
	return out, nil
}

// held returns the entry key's lease token holds, or ErrLeaseLost.
func (m *MemoryInbox) held(key, token string) (*memoryInboxEntry, error) {
	me, ok := m.entries[key]
	if !ok || me.e.State != InboxLeased || me.token != token || token == "" {
		return nil, ErrLeaseLost
	}
	return me, nil
}

// Complete implements Inbox.
func (m *MemoryInbox) Complete(_ context.Context, key, token string) error {
	return m.settle(key, token, InboxDone, time.Time{}, "", false)
}

// Retry implements Inbox.
func (m *MemoryInbox) Retry(_ context.Context, key, token string, next time.Time, lastErr string) error {
	return m.settle(key, token, InboxPending, next, lastErr, true)
}

// Kill implements Inbox.
func (m *MemoryInbox) Kill(_ context.Context, key, token string, lastErr string) error {
	return m.settle(key, token, InboxDead, time.Time{}, lastErr, true)
}

func (m *MemoryInbox) settle(key, token string, state InboxState, next time.Time, lastErr string, setErr bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	me, err := m.held(key, token)
	if err != nil {
		return err
	}
	me.token = ""
	me.ver = 0
	me.e.State = state
	me.e.LeaseUntil = time.Time{}
	me.e.UpdatedAt = m.now()
	if setErr {
		me.e.LastError = lastErr
	}
	switch state {
	case InboxPending:
		me.e.NextAttempt = next
		m.schedule(me, next)
	case InboxDone:
		m.waiting(key, -1)
		m.finished(me)
	case InboxDead:
		m.waiting(key, -1)
	}
	return nil
}

// Get implements Inbox.
func (m *MemoryInbox) Get(_ context.Context, key string) (InboxEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	me, ok := m.entries[key]
	if !ok {
		return InboxEntry{}, ErrNotFound
	}
	return copyEntry(&me.e), nil
}

// List implements Inbox. It looks at every delivery under the lock, one
// pass keeping the page's worth that come first: the inbox keeps no
// ordered index, which would cost every Lease and settle.
func (m *MemoryInbox) List(_ context.Context, q InboxQuery) (InboxPage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	if err := checkListQuery(q); err != nil {
		return InboxPage{}, fmt.Errorf("webhook: MemoryInbox: List: %w", err)
	}
	var after *listPos
	if q.After != "" {
		c, err := listcursor.Parse(q.After, memoryCursorKind, int(q.Order), string(q.State))
		if err != nil {
			return InboxPage{}, fmt.Errorf("webhook: MemoryInbox: List: %w: %v", ErrBadCursor, err)
		}
		at, err := time.Parse(time.RFC3339Nano, c.At)
		if err != nil {
			return InboxPage{}, fmt.Errorf("webhook: MemoryInbox: List: %w: its time does not parse", ErrBadCursor)
		}
		after = &listPos{at: at, key: c.Tie}
	}
	// Positions are wall-clock times, as the cursor keeps them: times
	// from time.Now carry a monotonic reading too, which Compare prefers
	// between two of them, and which disagrees with the wall clock once
	// that is set back or when two readings share a wall time. Ordered by
	// those readings, a page could end on a delivery that the wall clock
	// puts after another left for the next page, which the cursor skips.
	posOf := func(e *InboxEntry) listPos {
		if q.Order == InboxByUpdated {
			return listPos{at: e.UpdatedAt.Round(0), key: e.Key}
		}
		return listPos{at: e.ReceivedAt.Round(0), key: e.Key}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// The first limit+1 past after, in a max-heap by position: one more
	// than the page, to tell whether there are more.
	var h listHeap
	for _, me := range m.entries {
		if q.State != "" && me.e.State != q.State {
			continue
		}
		p := posOf(&me.e)
		if after != nil && p.compare(*after) <= 0 {
			continue
		}
		if len(h) <= limit {
			heap.Push(&h, listItem{p, me})
		} else if p.compare(h[0].pos) < 0 {
			h[0] = listItem{p, me}
			heap.Fix(&h, 0)
		}
	}
	page := InboxPage{Next: q.After, More: len(h) > limit}
	if page.More {
		heap.Pop(&h)
	}
	page.Entries = make([]InboxEntry, len(h))
	for i := len(h) - 1; i >= 0; i-- {
		it := heap.Pop(&h).(listItem)
		if q.OmitBody {
			body := it.me.e.Body
			it.me.e.Body = nil
			page.Entries[i] = copyEntry(&it.me.e)
			it.me.e.Body = body
		} else {
			page.Entries[i] = copyEntry(&it.me.e)
		}
		if i == len(page.Entries)-1 {
			page.Next = listcursor.Cursor{Kind: memoryCursorKind, Order: int(q.Order), State: string(q.State),
				At: it.pos.at.UTC().Format(time.RFC3339Nano), Tie: it.pos.key}.String()
		}
	}
	return page, nil
}

// memoryCursorKind marks a MemoryInbox's list cursors.
const memoryCursorKind = "memory"

// checkListQuery checks what every Inbox refuses in a query, but its
// cursor.
func checkListQuery(q InboxQuery) error {
	switch q.Order {
	case InboxByReceived:
	case InboxByUpdated:
		if q.State != InboxDone && q.State != InboxDead {
			return fmt.Errorf("update order lists done or dead deliveries, not state %q", q.State)
		}
	default:
		return fmt.Errorf("unknown order %d", q.Order)
	}
	return nil
}

// A listPos is a delivery's place in a List order.
type listPos struct {
	at  time.Time
	key string
}

func (p listPos) compare(o listPos) int {
	if c := p.at.Compare(o.at); c != 0 {
		return c
	}
	return strings.Compare(p.key, o.key)
}

type listItem struct {
	pos listPos
	me  *memoryInboxEntry
}

// listHeap is a max-heap of listItems by position.
type listHeap []listItem

func (h listHeap) Len() int           { return len(h) }
func (h listHeap) Less(i, j int) bool { return h[i].pos.compare(h[j].pos) > 0 }
func (h listHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *listHeap) Push(x any)        { *h = append(*h, x.(listItem)) }
func (h *listHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// Replay implements Inbox.
func (m *MemoryInbox) Replay(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	me, ok := m.entries[key]
	if !ok {
		return ErrNotFound
	}
	now := m.now()
	switch me.e.State {
	case InboxLeased:
		return ErrInFlight
	case InboxPending:
		// Its state stays, and so does UpdatedAt; one due already keeps
		// its place in the lease order.
		if me.e.NextAttempt.After(now) {
			me.e.NextAttempt = now
			m.schedule(me, now)
		}
		return nil
	}
	me.e.Attempts = 0
	me.e.State = InboxPending
	me.e.NextAttempt = now
	me.e.UpdatedAt = now
	m.waiting(key, 1)
	m.schedule(me, now)
	return nil
}

// Purge implements Inbox.
func (m *MemoryInbox) Purge(_ context.Context, state InboxState, before time.Time) (int, error) {
	switch state {
	case "", InboxPending, InboxLeased, InboxDone, InboxDead:
	default:
		return 0, fmt.Errorf("webhook: MemoryInbox: purge: unknown state %q", state)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, me := range m.entries {
		s := me.e.State
		if (s == InboxDone || s == InboxDead) && (state == "" || state == s) && me.e.UpdatedAt.Before(before) {
			m.remove(k)
			n++
		}
	}
	return n, nil
}

// Stats implements Inbox.
func (m *MemoryInbox) Stats(context.Context) (InboxStats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s InboxStats
	for _, me := range m.entries {
		switch me.e.State {
		case InboxPending:
			if me.e.Attempts == 0 {
				s.Pending++
			} else {
				s.Retrying++
			}
		case InboxLeased:
			s.InFlight++
		case InboxDone:
			s.Done++
			continue
		case InboxDead:
			s.Dead++
			continue
		}
		if s.OldestPending.IsZero() || me.e.ReceivedAt.Before(s.OldestPending) {
			s.OldestPending = me.e.ReceivedAt
		}
	}
	return s, nil
}

// copyEntry copies e deeply, so neither the caller nor the inbox sees the
// other's later changes.
func copyEntry(e *InboxEntry) InboxEntry {
	c := *e
	c.Body = slices.Clone(e.Body)
	if e.Header != nil {
		c.Header = make(http.Header, len(e.Header))
		for k, v := range e.Header {
			c.Header[k] = slices.Clone(v)
		}
	}
	c.Meta = maps.Clone(e.Meta)
	return c
}

// A dueRecord says key is due at at. It is live while ver is its entry's
// ver; the others are skipped when they come up.
type dueRecord struct {
	at  time.Time
	key string
	ver uint64
}

// dueQueue is a min-heap of dueRecords by at, then by ver, so ties go in
// the order they were scheduled.
type dueQueue []dueRecord

func (q dueQueue) Len() int { return len(q) }
func (q dueQueue) Less(i, j int) bool {
	if c := q[i].at.Compare(q[j].at); c != 0 {
		return c < 0
	}
	return q[i].ver < q[j].ver
}
func (q dueQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)   { *q = append(*q, x.(dueRecord)) }
func (q *dueQueue) Pop() any {
	old := *q
	r := old[len(old)-1]
	*q = old[:len(old)-1]
	return r
}
