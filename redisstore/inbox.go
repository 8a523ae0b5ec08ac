package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/listcursor"
	"github.com/inhook/webhook/internal/strjson"
	"github.com/redis/go-redis/v9"
)

// Defaults for an Inbox.
const (
	// DefaultInboxPrefix is the prefix of an Inbox's keys unless
	// WithInboxPrefix says otherwise.
	DefaultInboxPrefix = "webhook:inbox:"
	// DefaultInboxName names the inbox, and is its hash tag, unless
	// WithInboxName says otherwise.
	DefaultInboxName = "default"
)

// The consumer group every replica reads the stream through, and the one
// consumer name they share: a lease belongs to the token in the
// delivery's hash, not to a consumer, so per-process consumers would only
// pile up in the group as processes come and go.
const (
	inboxGroup    = "workers"
	inboxConsumer = "worker"
)

// leaseCallKeep is how long a Lease call's list of the deliveries it
// took (or the lease, if shorter) and a Purge batch's count are kept:
// longer than go-redis may take to send the call again after losing its
// reply (MaxRetries times the read timeout and backoff: about 10 s by
// default).
const leaseCallKeep = 15 * time.Second

// Batches of the scripts that walk a set.
const (
	purgeBatch = 500
)

// An Inbox is a webhook.Inbox on Redis Streams, shared by every replica
// that uses the same Redis, prefix and name.
//
// Each delivery is a hash, the record of truth: its bytes, state,
// attempts, lease token and deadline, last error and times. The stream
// is the queue: Store adds an entry, a consumer group shared by the
// replicas hands each entry to one Lease, and the group's pending
// entries list holds it until it is settled, its deadline recorded as the
// entry's delivery time so that XAUTOCLAIM reclaims it once the lease
// runs out. A retry due later waits in a sorted set by due time; once
// due, a Lease takes it from there, in due order with the stream's
// entries, and gives it an entry of its own. Dead deliveries stay in their hashes with
// their last error, listed by a sorted set of their own. Sorted sets by
// ReceivedAt index the states for List and Stats. Acknowledged entries
// are trimmed from the stream.
//
// Every operation but Get is one Lua script (Purge one per batch), so the
// checks and writes are atomic across replicas: two replicas storing the
// same key at the same moment store it once. A call that go-redis sends
// again after losing the reply answers as its first run did. Every key
// carries the hash tag {name}, so the inbox runs on Redis Cluster, on the
// one node that owns the tag's slot.
//
// Times come from the clock (WithInboxClock), as the webhook.Inbox
// contract asks; Redis's clock is only used to express lease deadlines
// as idle times in the pending entries list. Replicas must therefore
// keep their clocks in agreement (NTP): a replica whose clock runs ahead
// by d reclaims leases and runs retries up to d early.
type Inbox struct {
	client   redis.UniversalClient
	now      func() time.Time
	capacity int
	// tenantCap bounds each tenant's backlog; 0 for no bound.
	tenantCap int
	prefix    string
	name      string
	base      string // prefix{name}:
	// listSkip caps the names whose hashes are gone that one List call
	// passes over (maxListSkip; tests lower it).
	listSkip int

	store, lease, settle, replay, purge, list, stats *redis.Script
	// batch sends Store and settling calls made at the same time in one
	// pipeline.
	batch *batcher
}

var _ webhook.Inbox = (*Inbox)(nil)

// An InboxOption configures an Inbox.
type InboxOption func(*Inbox)

// WithInboxPrefix sets the prefix of the inbox's keys (default
// DefaultInboxPrefix). It must not contain braces: the hash tag follows
// it.
func WithInboxPrefix(prefix string) InboxOption {
	return func(ib *Inbox) { ib.prefix = prefix }
}

// WithInboxName names the inbox (default DefaultInboxName). The name is
// the hash tag of every key, so each inbox lives in one Redis Cluster
// slot; inboxes with different names spread across the cluster. It must
// not be empty or contain braces.
func WithInboxName(name string) InboxOption {
	return func(ib *Inbox) { ib.name = name }
}

// WithInboxClock sets the clock the inbox takes every time from (default
// time.Now): due times, lease deadlines, and the times it records.
func WithInboxClock(now func() time.Time) InboxOption {
	return func(ib *Inbox) { ib.now = now }
}

// WithInboxCapacity caps the deliveries not yet done or dead (pending,
// retrying and leased together); Store returns webhook.ErrInboxFull
// beyond it, and the handler answers 503. 0, the default, means no cap
// beyond Redis's memory.
func WithInboxCapacity(n int) InboxOption {
	return func(ib *Inbox) { ib.capacity = n }
}

// WithInboxTenantCapacity caps each tenant's deliveries not yet done or
// dead (pending, retrying and leased) at n: Store refuses a tenant's new
// delivery past it with an error wrapping webhook.ErrInboxFull (the
// handler answers that tenant 503, and its sender retries later) while
// the other tenants' are stored on, so one tenant whose deliveries pile
// up (its callbacks failing or slow, or a flood) cannot fill the inbox
// for all. The tenant is webhook.KeyTenant's, that of a WithKeyFunc
// handler's keys: keys of a handler without one are one tenant, "". A
// replayed delivery counts again (Replay is never refused). The check
// is in the Store script, atomic across replicas: replicas storing at
// once fill a tenant's bound exactly. 0, the default, means no bound per
// tenant: the inbox cannot tell one large tenant from many small ones,
// and a bound below a tenant's bursts refuses them, so choose n for your
// largest tenant.
//
// Each tenant has a set of the keys of its deliveries waiting, which
// every replica of this version keeps whatever its options (about the
// size of the keys in memory). Deliveries stored by an older version are
// not in it, and do not count until they finish; ones that an older
// replica finished stay in it until a Store finding the tenant at its
// bound looks at them, so run the bound once every replica is of this
// version.
func WithInboxTenantCapacity(n int) InboxOption {
	return func(ib *Inbox) { ib.tenantCap = n }
}

// NewInbox returns an Inbox keeping its keys in client. The Inbox does
// not own client: closing it is the caller's job. It reports an error
// only for invalid options; nothing is sent to Redis until it is used.
func NewInbox(client redis.UniversalClient, opts ...InboxOption) (*Inbox, error) {
	ib := &Inbox{
		client: client,
		now:    time.Now,
		prefix: DefaultInboxPrefix,
		name:   DefaultInboxName,
		store:  redis.NewScript(inboxStoreScript),
		lease:  redis.NewScript(inboxLeaseScript),
		settle: redis.NewScript(inboxSettleScript),
		replay: redis.NewScript(inboxReplayScript),
		purge:  redis.NewScript(inboxPurgeScript),
		list:   redis.NewScript(inboxListScript),
		stats:  redis.NewScript(inboxStatsScript),
		batch:  &batcher{client: client},
	}
	ib.listSkip = maxListSkip
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("redisstore: NewInbox: option %d is nil", i)
		}
		opt(ib)
	}
	switch {
	case client == nil:
		return nil, errors.New("redisstore: inbox: nil client")
	case ib.now == nil:
		return nil, errors.New("redisstore: inbox: nil clock")
	case ib.capacity < 0:
		return nil, errors.New("redisstore: inbox: negative capacity")
	case ib.tenantCap < 0:
		return nil, errors.New("redisstore: inbox: negative tenant capacity")
	case ib.name == "":
		return nil, errors.New("redisstore: inbox: empty name")
	case strings.ContainsAny(ib.prefix+ib.name, "{}"):
		return nil, errors.New("redisstore: inbox: prefix and name must not contain braces")
	}
	ib.base = ib.prefix + "{" + ib.name + "}:"
	return ib, nil
}

// intReply is a script's integer reply.
func (ib *Inbox) intReply(reply any, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	n, ok := reply.(int64)
	if !ok {
		return 0, fmt.Errorf("unexpected reply %T", reply)
	}
	return n, nil
}

// Key names under base.
func (ib *Inbox) k(name string) string { return ib.base + name }

// Store implements webhook.Inbox. It returns once Redis has applied the
// write; how durable that is depends on Redis's persistence settings (see
// the repository README's "The inbox across replicas").
func (ib *Inbox) Store(ctx context.Context, e *webhook.InboxEntry) (bool, error) {
	if e == nil || e.Key == "" {
		return false, errors.New("redisstore: inbox: store: an entry needs a key")
	}
	now := ib.now()
	received := e.ReceivedAt
	if received.IsZero() {
		received = now
	}
	fields := []any{
		"k", e.Key, "src", string(e.Source), "id", e.ID,
		"ts", nsString(e.Timestamp), "recv", nsString(received), "recvus", usString(received),
		"st", string(webhook.InboxPending), "att", "0", "next", nsString(now),
		"lease", "", "leasems", "", "tok", "", "err", "", "upd", nsString(now),
	}
	if e.Body != nil {
		fields = append(fields, "body", e.Body)
	}
	if e.Header != nil {
		b, err := strjson.MarshalHeader(e.Header)
		if err != nil {
			return false, fmt.Errorf("redisstore: inbox: store: header: %w", err)
		}
		fields = append(fields, "hdr", b)
	}
	if e.Meta != nil {
		b, err := strjson.MarshalMeta(e.Meta)
		if err != nil {
			return false, fmt.Errorf("redisstore: inbox: store: meta: %w", err)
		}
		fields = append(fields, "meta", b)
	}
	args := append([]any{ib.base, e.Key, usString(received), ib.capacity, newToken(), ib.tenantCap}, fields...)
	keys := []string{ib.k("q"), ib.k("new"), ib.k("retry"), ib.k("leased"), ib.k("all")}
	reply, err := ib.intReply(ib.batch.run(ctx, ib.store, keys, args...))
	if err != nil {
		return false, fmt.Errorf("redisstore: inbox: store: %w", err)
	}
	switch reply {
	case 1:
		return true, nil
	case 0:
		return false, nil
	case -1:
		return false, fmt.Errorf("redisstore: inbox: store: %w (capacity %d)", webhook.ErrInboxFull, ib.capacity)
	case -2:
		return false, fmt.Errorf("redisstore: inbox: store: %w (tenant %q holds its bound of %d waiting)", webhook.ErrInboxFull, webhook.KeyTenant(e.Key), ib.tenantCap)
	}
	return false, fmt.Errorf("redisstore: inbox: store: unexpected reply %d", reply)
}

// Lease implements webhook.Inbox. The lease is rounded up to whole
// milliseconds, the resolution of Redis's pending entries list. A call
// takes at most 10,000 deliveries, whatever max asks: the script blocks
// Redis while it runs.
//
// Due deliveries are leased oldest NextAttempt first: the stream's, in
// the order they joined it (which is their NextAttempt's, the replicas'
// clocks agreeing), merged with the due retries of the delay set by their
// NextAttempt. Expired leases are taken before the others, in an order
// of their own: that of the pending entries list, walked from where the
// last call left off. Within one call, the leases are sorted by
// NextAttempt.
func (ib *Inbox) Lease(ctx context.Context, max int, lease time.Duration) ([]webhook.InboxLease, error) {
	if lease <= 0 {
		return nil, fmt.Errorf("redisstore: inbox: lease %w", errNotPositive)
	}
	if max <= 0 {
		return nil, nil
	}
	// Redis sizes XAUTOCLAIM's work by its COUNT: one past about 10^17
	// is refused, one near 10^15 fails to allocate, and the script's
	// numbers are doubles, exact only to 2^53.
	max = min(max, maxLeaseBatch)
	now := ib.now()
	until := now.Add(lease)
	untilMs := until.UnixMilli()
	if until.UnixNano()%1e6 != 0 {
		untilMs++ // never report a lease as expired before its deadline
	}
	tok := newToken()
	keys := []string{ib.k("q"), ib.k("delay"), ib.k("new"), ib.k("retry"), ib.k("leased"), ib.k("meta"), ib.k("lease:" + tok), ib.k("all")}
	args := []any{ib.base, inboxGroup, inboxConsumer, max,
		nsString(now), usString(now), now.UnixMilli(),
		nsString(until), untilMs, tok, min(untilMs-now.UnixMilli(), leaseCallKeep.Milliseconds())}
	reply, err := ib.lease.Run(ctx, ib.client, keys, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("redisstore: inbox: lease: %w", err)
	}
	leases := make([]webhook.InboxLease, 0, len(reply))
	for _, r := range reply {
		e, tok, err := decodeEntry(r)
		if err != nil {
			return nil, fmt.Errorf("redisstore: inbox: lease: %w", err)
		}
		leases = append(leases, webhook.InboxLease{Entry: e, Token: tok})
	}
	// The stream holds deliveries in the order they became due; within
	// one call, hand them out oldest NextAttempt first.
	slices.SortStableFunc(leases, func(a, b webhook.InboxLease) int {
		return a.Entry.NextAttempt.Compare(b.Entry.NextAttempt)
	})
	return leases, nil
}

// Complete implements webhook.Inbox.
func (ib *Inbox) Complete(ctx context.Context, key, token string) error {
	return ib.settleOp(ctx, "complete", key, token, time.Time{}, "")
}

// Retry implements webhook.Inbox. A next not after now queues the
// delivery at once.
func (ib *Inbox) Retry(ctx context.Context, key, token string, next time.Time, lastErr string) error {
	return ib.settleOp(ctx, "retry", key, token, next, lastErr)
}

// Kill implements webhook.Inbox.
func (ib *Inbox) Kill(ctx context.Context, key, token string, lastErr string) error {
	return ib.settleOp(ctx, "kill", key, token, time.Time{}, lastErr)
}

func (ib *Inbox) settleOp(ctx context.Context, op, key, token string, next time.Time, lastErr string) error {
	if token == "" {
		return webhook.ErrLeaseLost
	}
	now := ib.now()
	if op == "retry" && next.Before(now) {
		next = now
	}
	keys := []string{ib.k("q"), ib.k("delay"), ib.k("leased"), ib.k("retry"),
		ib.k("done"), ib.k("dead"), ib.k("done:at"), ib.k("dead:at")}
	args := []any{ib.base, inboxGroup, key, token, op,
		nsString(now), usString(now), nsString(next), usString(next), lastErr, newToken()}
	reply, err := ib.intReply(ib.batch.run(ctx, ib.settle, keys, args...))
	if err != nil {
		return fmt.Errorf("redisstore: inbox: %s: %w", op, err)
	}
	if reply != 1 {
		return webhook.ErrLeaseLost
	}
	return nil
}

// Get implements webhook.Inbox.
func (ib *Inbox) Get(ctx context.Context, key string) (webhook.InboxEntry, error) {
	m, err := ib.client.HGetAll(ctx, ib.k("d:"+key)).Result()
	if err != nil {
		return webhook.InboxEntry{}, fmt.Errorf("redisstore: inbox: get: %w", err)
	}
	if len(m) == 0 {
		return webhook.InboxEntry{}, webhook.ErrNotFound
	}
	e, _, err := entryFromMap(m)
	if err != nil {
		return webhook.InboxEntry{}, fmt.Errorf("redisstore: inbox: get: %w", err)
	}
	return e, nil
}

// List implements webhook.Inbox. Its order is that of the indexes:
// ReceivedAt (for InboxByUpdated, UpdatedAt) in whole microseconds,
// ties by key; a page is one script, which finds where the cursor's
// position falls in each index by binary search and reads a page's
// worth from there. A page holds at most 10,000 deliveries, whatever
// q.Limit asks (More says whether there are others): the script blocks
// Redis while it reads. A name in an index whose hash is gone (deleted
// from outside, or evicted under a policy other than noeviction) is
// passed over, and the page reads on to fill up; the names it passed
// leave the indexes, so that they no longer count against the capacity
// nor cost a later page. A page passes at most 10,000 of them, and may
// then hold fewer deliveries, or none, with More set.
func (ib *Inbox) List(ctx context.Context, q webhook.InboxQuery) (webhook.InboxPage, error) {
	var keys []string
	switch q.Order {
	case webhook.InboxByReceived:
		switch q.State {
		case "":
			keys = []string{ib.k("all")}
		case webhook.InboxPending:
			keys = []string{ib.k("new"), ib.k("retry")}
		case webhook.InboxLeased, webhook.InboxDone, webhook.InboxDead:
			keys = []string{ib.k(string(q.State))}
		}
	case webhook.InboxByUpdated:
		if q.State != webhook.InboxDone && q.State != webhook.InboxDead {
			return webhook.InboxPage{}, fmt.Errorf("redisstore: inbox: list: update order lists done or dead deliveries, not state %q", q.State)
		}
		keys = []string{ib.k(string(q.State) + ":at")}
	default:
		return webhook.InboxPage{}, fmt.Errorf("redisstore: inbox: list: unknown order %d", q.Order)
	}
	var score, member string
	if q.After != "" {
		c, err := listcursor.Parse(q.After, cursorKind, int(q.Order), string(q.State))
		if err == nil {
			_, err = strconv.ParseInt(c.At, 10, 64)
		}
		if err != nil {
			return webhook.InboxPage{}, fmt.Errorf("redisstore: inbox: list: %w: %v", webhook.ErrBadCursor, err)
		}
		score, member = c.At, c.Tie
	}
	if keys == nil {
		return webhook.InboxPage{Next: q.After}, nil // no delivery is in a state that does not exist
	}
	limit := q.Limit
	if limit <= 0 {
		limit = webhook.DefaultListLimit
	}
	limit = min(limit, maxListLimit)
	nobody := "0"
	if q.OmitBody {
		nobody = "1"
	}
	reply, err := ib.list.Run(ctx, ib.client, keys, ib.base, limit, score, member, nobody, ib.listSkip).Slice()
	if err != nil {
		return webhook.InboxPage{}, fmt.Errorf("redisstore: inbox: list: %w", err)
	}
	if len(reply) < 3 {
		return webhook.InboxPage{}, fmt.Errorf("redisstore: inbox: list: unexpected reply of %d values", len(reply))
	}
	more, _ := reply[0].(int64)
	lastScore, _ := reply[1].(string)
	lastKey, _ := reply[2].(string)
	page := webhook.InboxPage{Next: q.After, More: more == 1, Entries: make([]webhook.InboxEntry, 0, len(reply)-3)}
	for _, r := range reply[3:] {
		e, _, err := decodeEntry(r)
		if err != nil {
			return webhook.InboxPage{}, fmt.Errorf("redisstore: inbox: list: %w", err)
		}
		page.Entries = append(page.Entries, e)
	}
	if lastScore != "" {
		// The score as Redis prints it: a whole number of microseconds.
		if _, err := strconv.ParseInt(lastScore, 10, 64); err != nil {
			return webhook.InboxPage{}, fmt.Errorf("redisstore: inbox: list: unexpected score %q", lastScore)
		}
		page.Next = listcursor.Cursor{Kind: cursorKind, Order: int(q.Order), State: string(q.State), At: lastScore, Tie: lastKey}.String()
	}
	return page, nil
}

// cursorKind marks an Inbox's list cursors.
const cursorKind = "redis"

// maxListLimit caps a page: the script holds the page in Redis's memory
// and runs, blocking every other client, for as long as it reads it.
const maxListLimit = 10_000

// maxLeaseBatch caps the deliveries one Lease call takes.
const maxLeaseBatch = 10_000

// maxListSkip caps the names whose hashes are gone (see List) one List
// call passes over, for the same reason.
const maxListSkip = 10_000

// Replay implements webhook.Inbox.
func (ib *Inbox) Replay(ctx context.Context, key string) error {
	keys, args := ib.replayCall(key, newToken())
	reply, err := ib.replay.Run(ctx, ib.client, keys, args...).Int()
	if err != nil {
		return fmt.Errorf("redisstore: inbox: replay: %w", err)
	}
	switch reply {
	case 1:
		return nil
	case -1:
		return webhook.ErrNotFound
	case -2:
		return fmt.Errorf("redisstore: inbox: replay %q: %w", key, webhook.ErrInFlight)
	}
	return fmt.Errorf("redisstore: inbox: replay: unexpected reply %d", reply)
}

// replayCall returns the keys and arguments of the replay script for one
// call.
func (ib *Inbox) replayCall(key, callID string) ([]string, []any) {
	keys := []string{ib.k("q"), ib.k("delay"), ib.k("new"), ib.k("done"), ib.k("dead"), ib.k("done:at"), ib.k("dead:at")}
	return keys, []any{ib.base, key, nsString(ib.now()), callID}
}

// Purge implements webhook.Inbox. It deletes in batches, each one
// atomic, so a large purge does not hold Redis for long.
func (ib *Inbox) Purge(ctx context.Context, state webhook.InboxState, before time.Time) (int, error) {
	var states []webhook.InboxState
	switch state {
	case "":
		states = []webhook.InboxState{webhook.InboxDone, webhook.InboxDead}
	case webhook.InboxDone, webhook.InboxDead:
		states = []webhook.InboxState{state}
	case webhook.InboxPending, webhook.InboxLeased:
		return 0, nil // never purged
	default:
		return 0, fmt.Errorf("redisstore: inbox: purge: unknown state %q", state)
	}
	total := 0
	for _, st := range states {
		for {
			keys := []string{ib.k(string(st)), ib.k(string(st) + ":at"), ib.k("all"), ib.k("purge:" + newToken())}
			n, err := ib.purge.Run(ctx, ib.client, keys, ib.base, usString(before), purgeBatch, leaseCallKeep.Milliseconds(), nsString(before)).Int()
			if err != nil {
				return total, fmt.Errorf("redisstore: inbox: purge: %w", err)
			}
			total += n
			if n < purgeBatch {
				break
			}
		}
	}
	return total, nil
}

// Stats implements webhook.Inbox; the counts are one consistent snapshot.
func (ib *Inbox) Stats(ctx context.Context) (webhook.InboxStats, error) {
	keys := []string{ib.k("new"), ib.k("retry"), ib.k("leased"), ib.k("done"), ib.k("dead")}
	reply, err := ib.stats.Run(ctx, ib.client, keys, ib.base).Slice()
	if err != nil {
		return webhook.InboxStats{}, fmt.Errorf("redisstore: inbox: stats: %w", err)
	}
	if len(reply) != 6 {
		return webhook.InboxStats{}, fmt.Errorf("redisstore: inbox: stats: unexpected reply of %d values", len(reply))
	}
	var n [5]int
	for i := range n {
		v, ok := reply[i].(int64)
		if !ok {
			return webhook.InboxStats{}, fmt.Errorf("redisstore: inbox: stats: unexpected count %v", reply[i])
		}
		n[i] = int(v)
	}
	s := webhook.InboxStats{Pending: n[0], Retrying: n[1], InFlight: n[2], Done: n[3], Dead: n[4]}
	if recv, _ := reply[5].(string); recv != "" {
		if s.OldestPending, err = parseNS(recv); err != nil {
			return webhook.InboxStats{}, fmt.Errorf("redisstore: inbox: stats: %w", err)
		}
	}
	return s, nil
}

// Exists reports whether Redis holds the inbox: its stream or meta hash,
// which the first Store or Lease on it creates and which stay when
// everything it held is purged, or its index of deliveries. A tool that
// only looks into an inbox asks first, so that a wrong prefix, name or
// database reads as no inbox rather than as an empty one.
func (ib *Inbox) Exists(ctx context.Context) (bool, error) {
	n, err := ib.client.Exists(ctx, ib.k("q"), ib.k("meta"), ib.k("all")).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: inbox: exists: %w", err)
	}
	return n > 0, nil
}

// decodeEntry decodes an HGETALL reply from a script: field, value, ….
func decodeEntry(r any) (webhook.InboxEntry, string, error) {
	flat, ok := r.([]any)
	if !ok || len(flat)%2 != 0 {
		return webhook.InboxEntry{}, "", fmt.Errorf("unexpected entry reply %T", r)
	}
	m := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, ok1 := flat[i].(string)
		v, ok2 := flat[i+1].(string)
		if !ok1 || !ok2 {
			return webhook.InboxEntry{}, "", errors.New("unexpected entry field")
		}
		m[k] = v
	}
	return entryFromMap(m)
}

// entryFromMap builds an entry, and its lease token, from its hash.
func entryFromMap(m map[string]string) (webhook.InboxEntry, string, error) {
	e := webhook.InboxEntry{
		Key:       m["k"],
		Source:    event.Source(m["src"]),
		ID:        m["id"],
		State:     webhook.InboxState(m["st"]),
		LastError: m["err"],
	}
	if e.Key == "" {
		return e, "", errors.New("delivery hash without key")
	}
	if b, ok := m["body"]; ok {
		e.Body = []byte(b)
	}
	if h, ok := m["hdr"]; ok {
		if err := strjson.UnmarshalHeader([]byte(h), &e.Header); err != nil {
			return e, "", fmt.Errorf("delivery %q: header: %w", e.Key, err)
		}
		if e.Header == nil {
			e.Header = http.Header{}
		}
	}
	if mt, ok := m["meta"]; ok {
		if err := strjson.UnmarshalMeta([]byte(mt), &e.Meta); err != nil {
			return e, "", fmt.Errorf("delivery %q: meta: %w", e.Key, err)
		}
		if e.Meta == nil {
			e.Meta = map[string]string{}
		}
	}
	var err error
	if e.Attempts, err = strconv.Atoi(m["att"]); err != nil {
		return e, "", fmt.Errorf("delivery %q: attempts: %w", e.Key, err)
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{
		{"ts", &e.Timestamp}, {"recv", &e.ReceivedAt}, {"next", &e.NextAttempt},
		{"lease", &e.LeaseUntil}, {"upd", &e.UpdatedAt},
	} {
		if *f.dst, err = parseNS(m[f.name]); err != nil {
			return e, "", fmt.Errorf("delivery %q: %s: %w", e.Key, f.name, err)
		}
	}
	return e, m["tok"], nil
}

// nsString formats t as zero-padded Unix nanoseconds, so the scripts can
// compare times as strings; the zero time is "". A time beyond what an
// int64 of nanoseconds holds (a lease or retry a Duration's span ahead
// ends past 2262) saturates instead of wrapping round into the past.
func nsString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	ns := t.UnixNano()
	switch {
	case t.After(time.Unix(0, math.MaxInt64)):
		ns = math.MaxInt64
	case t.Before(time.Unix(0, math.MinInt64)):
		ns = math.MinInt64
	}
	return fmt.Sprintf("%020d", ns)
}

// usString formats t as whole Unix microseconds, a sorted-set score.
func usString(t time.Time) string {
	return strconv.FormatInt(t.UnixMicro(), 10)
}

func parseNS(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	ns, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, ns).UTC(), nil
}
