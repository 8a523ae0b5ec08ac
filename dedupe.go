package webhook

import (
	"context"
	"errors"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ClaimStatus is the outcome of Deduper.Claim.
type ClaimStatus int

const (
	// ClaimAcquired means the caller now holds the message under a lease and
	// should process it, then Commit or Release.
	ClaimAcquired ClaimStatus = iota + 1
	// ClaimProcessed means the message was committed earlier: acknowledge it
	// without processing it again.
	ClaimProcessed
	// ClaimInFlight means another caller holds a live lease on the message.
	ClaimInFlight
)

// String returns the status in words, for logs.
func (s ClaimStatus) String() string {
	switch s {
	case ClaimAcquired:
		return "claimed"
	case ClaimProcessed:
		return "processed"
	case ClaimInFlight:
		return "in flight"
	}
	return "invalid"
}

// ErrNotOwner is returned by Commit and Release when the token no longer
// owns the key: its lease expired and another caller claimed the message.
var ErrNotOwner = errors.New("webhook: dedupe claim no longer owned")

// A Deduper records which messages have been processed, so a message
// delivered twice is processed once. The handler calls Claim before the
// callbacks run, then Commit when they succeed or Release when they fail,
// so the sender's retry runs them again. Its contexts carry the request's
// values but do not end when the sender hangs up: the delivery is verified,
// and is processed all the same (Claim's ends after 10 s).
//
// A claim is a lease: if its holder crashes, the key frees itself after
// the lease and a retry processes the message. Only the holder's token may
// Commit or Release, so a holder whose lease expired cannot overwrite a
// newer claim. Implementations must be safe for concurrent use; keys are
// already namespaced by source (and by tenant, with WithKeyFunc), as
// Delivery.Key shows them.
type Deduper interface {
	// Claim takes key for lease unless it is processed or held.
	Claim(ctx context.Context, key string, lease time.Duration) (token string, status ClaimStatus, err error)
	// Commit marks key processed for retention, if token still owns it.
	Commit(ctx context.Context, key, token string, retention time.Duration) error
	// Release drops the claim, if token still owns it.
	Release(ctx context.Context, key, token string) error
}

// DefaultMaxEntries is the default capacity of a MemoryStore.
const DefaultMaxEntries = 100_000

// A MemoryStore is a Deduper for one process, bounded in time (leases and
// retention) and in size. At capacity it forgets the processed ids written
// least recently, so under a flood of new ids a very old duplicate may be
// processed again; size it for the ids you receive in a retention period.
//
// The capacity is shared fairly by the tenants of a WithKeyFunc handler
// (keys source@tenant:id; the keys of a handler without one, source:id,
// count as one more tenant): at capacity it forgets an id of a tenant
// holding at least an equal share (the capacity divided by the number of
// tenants holding ids), the least recently written of those. A tenant
// that signs a flood of new ids then pushes out its own oldest ones, not
// those of a tenant holding less than its share, whose senders' retries
// would otherwise run their callbacks again.
//
// It keeps claims in progress over processed ids: only a store holding
// nothing but claims in progress (maxEntries deliveries in flight at
// once) forgets one, the oldest, whose duplicate may then run alongside
// it, and whose Commit returns ErrNotOwner. It is safe for concurrent use
// within the process; replicas behind a load balancer need a shared store
// instead.
//
// It holds no pointers, so the garbage collector does not trace its
// entries: a store of a hundred thousand ids costs no collector work.
// Keys are kept as 128-bit hashes with seeds chosen per store; two keys
// colliding is as likely as guessing a random 128-bit number.
type MemoryStore struct {
	mu      sync.Mutex
	seeds   [2]maphash.Seed
	seq     uint64 // claim tokens and write order: unique within the store
	max     int
	now     func() time.Time
	entries map[memoryKey]memoryEntry
	// tenants counts the entries of each tenant, by tenantHash.
	tenants map[uint64]int
	// order holds a record per write, least recent first from head on.
	// A record whose seq is no longer its entry's is stale: the entry
	// was written again or removed since. Stale records are skipped, and
	// dropped with the swept ones before head when they outnumber the
	// entries.
	order []memoryRecord
	head  int
}

type memoryKey [2]uint64

type memoryEntry struct {
	token   uint64 // 0 once committed
	expires int64  // unix nanoseconds
	seq     uint64 // of the entry's current order record
	tenant  uint64 // tenantHash of the key's tenant
}

type memoryRecord struct {
	key memoryKey
	seq uint64
}

// NewMemoryStore returns a MemoryStore holding at most maxEntries keys
// (DefaultMaxEntries if maxEntries <= 0). now is its clock; nil means
// time.Now.
func NewMemoryStore(maxEntries int, now func() time.Time) *MemoryStore {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{
		seeds:   [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		max:     maxEntries,
		now:     now,
		entries: make(map[memoryKey]memoryEntry),
		tenants: make(map[uint64]int),
	}
}

func (s *MemoryStore) hash(key string) memoryKey {
	return memoryKey{maphash.String(s.seeds[0], key), maphash.String(s.seeds[1], key)}
}

// KeyTenant returns the tenant a dedupe or inbox key names, as the
// handler writes keys under a key function (source@tenant:id): what lies
// between the '@' right after the source and the next ':' (Keys.Tenant
// holds no ':'). It returns "" for a key of another form (source:id, of
// a handler without a key function, or a key of the caller's own), so
// all of those are one tenant. The in-memory stores share their
// capacity fairly by it, and the inboxes bound each tenant's backlog by
// it (MemoryInboxTenantCapacity, and the stores' options of that kind).
func KeyTenant(key string) string {
	if i := strings.IndexAny(key, "@:"); i >= 0 && key[i] == '@' {
		if j := strings.IndexByte(key[i+1:], ':'); j >= 0 {
			return key[i+1 : i+1+j]
		}
	}
	return ""
}

// tenantHash is the hash of the tenant of key (KeyTenant). Two tenants
// hashing alike share one share, which costs them fairness, not
// correctness.
func (s *MemoryStore) tenantHash(key string) uint64 {
	return maphash.String(s.seeds[0], KeyTenant(key))
}

// remove forgets k, whose entry is e.
func (s *MemoryStore) remove(k memoryKey, e memoryEntry) {
	delete(s.entries, k)
	if n := s.tenants[e.tenant]; n > 1 {
		s.tenants[e.tenant] = n - 1
	} else {
		delete(s.tenants, e.tenant)
	}
}

// Claim implements Deduper.
func (s *MemoryStore) Claim(_ context.Context, key string, lease time.Duration) (string, ClaimStatus, error) {
	k := s.hash(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UnixNano()
	s.expire(now)
	if e, ok := s.entries[k]; ok {
		if now < e.expires {
			if e.token == 0 {
				return "", ClaimProcessed, nil
			}
			return "", ClaimInFlight, nil
		}
		s.remove(k, e)
	}
	for len(s.entries) >= s.max {
		s.evictOldest(now)
	}
	tenant := s.tenantHash(key)
	s.tenants[tenant]++
	token := s.write(k, tenant, until(now, lease), true)
	return strconv.FormatUint(token, 36), ClaimAcquired, nil
}

// Commit implements Deduper.
func (s *MemoryStore) Commit(_ context.Context, key, token string, retention time.Duration) error {
	k := s.hash(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UnixNano()
	if !s.owned(k, token, now) {
		return ErrNotOwner
	}
	s.write(k, s.entries[k].tenant, until(now, retention), false)
	return nil
}

// Release implements Deduper.
func (s *MemoryStore) Release(_ context.Context, key, token string) error {
	k := s.hash(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.owned(k, token, s.now().UnixNano()) {
		return ErrNotOwner
	}
	s.remove(k, s.entries[k])
	return nil
}

// Len reports how many keys the store holds, expired ones included until
// they are swept.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// write stores k, of tenant (counted by the caller), as the most recent
// write, expiring at expires, and returns its seq. A claim's token is the
// seq of its write; a committed entry has token 0.
func (s *MemoryStore) write(k memoryKey, tenant uint64, expires int64, claim bool) uint64 {
	s.seq++
	e := memoryEntry{expires: expires, seq: s.seq, tenant: tenant}
	if claim {
		e.token = s.seq
	}
	s.entries[k] = e
	s.order = append(s.order, memoryRecord{key: k, seq: s.seq})
	// Compact when the records before head, or the stale ones after it,
	// outnumber the live ones: each record is then copied O(1) times.
	if dead := len(s.order) - len(s.entries); dead > len(s.entries)+64 {
		s.compact()
	}
	return s.seq
}

// until is now plus d, in unix nanoseconds, saturating: a lease or a
// retention meant as "for ever" must not wrap into the past.
func until(now int64, d time.Duration) int64 {
	if d > 0 && now > math.MaxInt64-int64(d) {
		return math.MaxInt64
	}
	return now + int64(d)
}

func (s *MemoryStore) owned(k memoryKey, token string, now int64) bool {
	t, err := strconv.ParseUint(token, 36, 64)
	e, ok := s.entries[k]
	return err == nil && ok && t != 0 && e.token == t && now < e.expires
}

// expire sweeps expired entries from the front, where the least recently
// written ones are; entries further back are checked when next touched.
func (s *MemoryStore) expire(now int64) {
	for s.head < len(s.order) {
		r := s.order[s.head]
		e, ok := s.entries[r.key]
		if ok && e.seq == r.seq {
			if now < e.expires {
				return
			}
			s.remove(r.key, e)
		}
		s.head++
	}
	s.order, s.head = s.order[:0], 0
}

// evictOldest forgets the least recently written entry that is neither a
// claim in progress nor of a tenant holding less than an equal share of
// the entries (an expired one goes first, whatever it is). Forgotten, a
// claim in progress would let a duplicate claim the message and run its
// callbacks alongside the holder's; a small tenant's processed id, that a
// flood of another tenant's ids could push out, would let its sender's
// retry run them again. An entry kept is moved to the back, as if
// written now, each at most once a pass (it keeps its place among its
// tenant's entries, each moved in turn); when every entry is kept so, a
// second pass keeps only the claims in progress, so the oldest processed
// id goes, of any tenant, and only when every entry is a claim in
// progress the oldest claim. Each entry is moved once per pass of the
// write order, which the evictions of the tenants over their share pay
// for.
func (s *MemoryStore) evictOldest(now int64) {
	moved, shares := 0, true
	// A tenant's equal share is held entries over tenants holding some.
	held, tenants := int64(len(s.entries)), int64(len(s.tenants))
	for ; s.head < len(s.order); s.head++ {
		r := s.order[s.head]
		e, ok := s.entries[r.key]
		if !ok || e.seq != r.seq {
			continue
		}
		inProgress := now < e.expires && e.token != 0
		keep := inProgress || shares && now < e.expires && int64(s.tenants[e.tenant])*tenants < held
		if keep && shares && moved == len(s.entries) {
			// Every entry was kept: the tenants over their share hold
			// only claims in progress. Keep those over the others'
			// processed ids, in a second pass.
			shares, moved, keep = false, 0, inProgress
		}
		if keep && moved < len(s.entries) {
			moved++
			s.seq++
			e.seq = s.seq
			s.entries[r.key] = e
			s.order = append(s.order, memoryRecord{key: r.key, seq: e.seq})
			continue
		}
		s.remove(r.key, e)
		s.head++
		return
	}
}

// compact drops the stale records, keeping the order of the live ones.
// Those before head are all stale: swept, evicted, or moved to the back.
func (s *MemoryStore) compact() {
	s.order = slices.DeleteFunc(s.order, func(r memoryRecord) bool {
		e, ok := s.entries[r.key]
		return !ok || e.seq != r.seq
	})
	s.head = 0
}
