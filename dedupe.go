package webhook

import (
	"container/list"
	"context"
	"errors"
	"strconv"
	"sync"
	"time"
)

// ClaimStatus is the outcome of Deduper.Claim.
type ClaimStatus int

const (
	// Claimed means the caller now holds the message under a lease and
	// should process it, then Commit or Release.
	Claimed ClaimStatus = iota + 1
	// Processed means the message was committed earlier: acknowledge it
	// without processing it again.
	Processed
	// InFlight means another caller holds a live lease on the message.
	InFlight
)

func (s ClaimStatus) String() string {
	switch s {
	case Claimed:
		return "claimed"
	case Processed:
		return "processed"
	case InFlight:
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
// so the sender's retry runs them again.
//
// A claim is a lease: if its holder crashes, the key frees itself after
// the lease and a retry processes the message. Only the holder's token may
// Commit or Release, so a holder whose lease expired cannot overwrite a
// newer claim. Implementations must be safe for concurrent use; keys are
// already namespaced by source.
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
// retention) and in size. At capacity it forgets the entries written least
// recently, so under a flood of new ids a very old duplicate may be
// processed again; size it for the ids you receive in a retention period.
// Replicas behind a load balancer need a shared store instead.
type MemoryStore struct {
	mu      sync.Mutex
	seq     uint64 // claim tokens: unique within the process is enough
	max     int
	now     func() time.Time
	entries map[string]*list.Element
	order   *list.List // of *memoryEntry, least recently written first
}

type memoryEntry struct {
	key     string
	token   string // empty once committed
	expires time.Time
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
	return &MemoryStore{max: maxEntries, now: now, entries: make(map[string]*list.Element), order: list.New()}
}

// Claim implements Deduper.
func (s *MemoryStore) Claim(_ context.Context, key string, lease time.Duration) (string, ClaimStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.expire(now)
	if el, ok := s.entries[key]; ok {
		e := el.Value.(*memoryEntry)
		if now.Before(e.expires) {
			if e.token == "" {
				return "", Processed, nil
			}
			return "", InFlight, nil
		}
		s.remove(el)
	}
	for s.order.Len() >= s.max {
		s.remove(s.order.Front())
	}
	s.seq++
	token := strconv.FormatUint(s.seq, 36)
	s.entries[key] = s.order.PushBack(&memoryEntry{key: key, token: token, expires: now.Add(lease)})
	return token, Claimed, nil
}

// Commit implements Deduper.
func (s *MemoryStore) Commit(_ context.Context, key, token string, retention time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.owned(key, token)
	if !ok {
		return ErrNotOwner
	}
	e := el.Value.(*memoryEntry)
	e.token = ""
	e.expires = s.now().Add(retention)
	s.order.MoveToBack(el)
	return nil
}

// Release implements Deduper.
func (s *MemoryStore) Release(_ context.Context, key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.owned(key, token)
	if !ok {
		return ErrNotOwner
	}
	s.remove(el)
	return nil
}

// Len reports how many keys the store holds, expired ones included until
// they are swept.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len()
}

func (s *MemoryStore) owned(key, token string) (*list.Element, bool) {
	el, ok := s.entries[key]
	if !ok || token == "" || el.Value.(*memoryEntry).token != token || !s.now().Before(el.Value.(*memoryEntry).expires) {
		return nil, false
	}
	return el, true
}

// expire sweeps expired entries from the front, where the least recently
// written ones are; entries further back are checked when next touched.
func (s *MemoryStore) expire(now time.Time) {
	for el := s.order.Front(); el != nil && !now.Before(el.Value.(*memoryEntry).expires); el = s.order.Front() {
		s.remove(el)
	}
}

func (s *MemoryStore) remove(el *list.Element) {
	delete(s.entries, el.Value.(*memoryEntry).key)
	s.order.Remove(el)
}
