// Package redisstore keeps a receiver's shared state in Redis, for
// receivers that run as several replicas: a webhook.Deduper (Store) and a
// webhook.Inbox on Redis Streams (Inbox, see NewInbox), for the handler's
// inbox mode.
//
// A webhook.MemoryStore only knows what its own process has seen. Behind a
// load balancer a sender's retry, or a duplicate delivery, lands on any
// replica, so each replica would process the message once. A Store keeps
// claims and processed ids in one Redis that every replica shares: a
// message is processed once however many replicas receive it.
//
// Build a Store from any go-redis client (a single node, Sentinel or
// Cluster) and give it to the handler as its Deduper:
//
//	client := redis.NewClient(&redis.Options{Addr: "redis:6379"})
//	store := redisstore.New(client, redisstore.WithPrefix("myapp:webhook:"))
//
// Each Claim, Commit and Release is one round trip running a Lua script
// on one key, so the checks and writes are atomic and work under Redis
// Cluster. Leases and retention are Redis key expirations, timed by the
// Redis server, so the replicas' clocks do not need to agree. Redis must
// not evict these keys before they expire: keep its maxmemory-policy at
// noeviction. A failover to a replica that had not yet received a write
// can forget a claim or a commit, and the message is then processed
// again.
//
// When Redis cannot be reached, the methods return an error (never
// webhook.ErrNotOwner) as soon as the client's timeouts and retries
// allow. With go-redis's defaults that is about 1.7s per call against a
// refused connection, so set short DialTimeout and ReadTimeout and
// DialerRetries: 1 (see ExampleNew). The handler then processes the
// delivery anyway and logs the error: duplicates are possible while Redis
// is down, but no message is lost. With the handler's
// WithDedupeFailClosed option it answers 500 instead, and the sender
// retries later. Example_redisDown runs both against a port where no
// Redis listens. go-redis logs each failed dial on standard error through
// one logger for the whole process (redis.SetLogger replaces it); this
// package logs nothing of its own.
//
// ExampleNew (the dedupe Store) and ExampleNewInbox (the inbox, shared by
// replicas running the handler's workers) show the configuration for a
// real Redis; they are compiled, not run, as they need one.
package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/inhook/webhook"
	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the prefix of a Store's Redis keys unless WithPrefix
// says otherwise.
const DefaultPrefix = "webhook:dedupe:"

// A claimed key holds claimedPrefix followed by the owner's token, a
// processed key donePrefix followed by the id of the Commit call that
// recorded it, and a released key releasedPrefix followed by the id of
// the Release call for releasedFor. The ids are fresh for each call, so
// that the call go-redis sends again after losing its reply (the same
// arguments) finds its own write, while another call, even of the same
// holder, does not. Claim takes any value starting with "done" as
// processed ("done" alone was an earlier build's), and a released key as
// free.
const (
	claimedPrefix  = "claimed:"
	donePrefix     = "done:"
	releasedPrefix = "released:"
)

// releasedFor is how long a released key holds its Release's id: longer
// than go-redis takes to send a command again with its default options
// (three retries, each up to a 5s dial and 3s write and read timeouts).
// A Claim takes the key meanwhile, so its only cost is the memory.
const releasedFor = time.Minute

// Script replies.
const (
	replyClaimed   = 1
	replyProcessed = 2
	replyInFlight  = 3
)

// KEYS[1] is the key, ARGV[1] the value of a claim, ARGV[2] the lease in
// milliseconds. A claim holding ARGV[1] already is this call's own: the
// client sent it again after losing the reply (go-redis retries a
// command on a broken connection), and the retry must not read as
// another request's claim in flight. The literals are releasedPrefix and
// donePrefix without its colon.
const claimScript = `
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, 9) == 'released:' then
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
	return 1
elseif v == ARGV[1] then
	return 1
elseif string.sub(v, 1, 4) == 'done' then
	return 2
end
return 3
`

// KEYS[1] is the key, ARGV[1] the owner's claim value, ARGV[2] the value
// to write, ARGV[3] its expiry in milliseconds: Commit and Release
// differ only in what they write. A key holding ARGV[2]
// already was written by this call: the client sent it again after
// losing the reply. Out of memory (maxmemory, noeviction), Redis refuses
// a script's first write that may take memory (SET) but lets a script
// that has written go on: PEXPIRE, which takes none, goes first, so a
// message claimed before Redis filled up is still recorded or released.
const settleScript = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
	redis.call('PEXPIRE', KEYS[1], ARGV[3])
	redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
	return 1
elseif v == ARGV[2] then
	return 1
end
return 0
`

// A Store is a webhook.Deduper that keeps its state in Redis. It is safe
// for concurrent use, and any number of Stores, in any number of
// processes, may share one Redis and prefix.
type Store struct {
	client redis.UniversalClient
	prefix string
	claim  *redis.Script
	settle *redis.Script
}

var _ webhook.Deduper = (*Store)(nil)

// An Option configures a Store.
type Option func(*Store)

// WithPrefix sets the prefix of the Store's Redis keys, so that several
// applications, or a test and production, can share one Redis. Stores
// that must see each other's claims need the same prefix: a receiver's
// replicas. Receivers that must each run a message need different ones:
// a sender delivering a message to two endpoints gives it the same id at
// both, and under one prefix the second answers it as a duplicate.
func WithPrefix(prefix string) Option {
	return func(s *Store) { s.prefix = prefix }
}

// New returns a Store that keeps its keys in client. The Store does not
// own client: closing it is the caller's job. A nil option panics.
func New(client redis.UniversalClient, opts ...Option) *Store {
	s := &Store{
		client: client,
		prefix: DefaultPrefix,
		claim:  redis.NewScript(claimScript),
		settle: redis.NewScript(settleScript),
	}
	for i, opt := range opts {
		if opt == nil {
			// New has no error to return; say which option, rather
			// than fail on a nil func call.
			panic(fmt.Sprintf("redisstore: New: option %d is nil", i))
		}
		opt(s)
	}
	return s
}

// Claim implements webhook.Deduper. The lease is rounded up to whole
// milliseconds; a lease that is not positive is an error.
func (s *Store) Claim(ctx context.Context, key string, lease time.Duration) (string, webhook.ClaimStatus, error) {
	ms, err := millis(lease)
	if err != nil {
		return "", 0, fmt.Errorf("redisstore: claim: lease %w", err)
	}
	token := newToken()
	reply, err := s.claim.Run(ctx, s.client, []string{s.prefix + key}, claimedPrefix+token, ms).Int()
	if err != nil {
		return "", 0, fmt.Errorf("redisstore: claim: %w", err)
	}
	switch reply {
	case replyClaimed:
		return token, webhook.ClaimAcquired, nil
	case replyProcessed:
		return "", webhook.ClaimProcessed, nil
	case replyInFlight:
		return "", webhook.ClaimInFlight, nil
	}
	return "", 0, fmt.Errorf("redisstore: claim: unexpected reply %d", reply)
}

// Commit implements webhook.Deduper. The retention is rounded up to whole
// milliseconds; a retention that is not positive is an error.
//
// A Commit that go-redis sends again after losing its reply (the
// connection broke after Redis ran it) finds the key recorded by this
// call and returns nil, as its first run did; another Commit of the same
// token, once the first has returned, finds the key owned by no claim
// and returns webhook.ErrNotOwner.
func (s *Store) Commit(ctx context.Context, key, token string, retention time.Duration) error {
	ms, err := millis(retention)
	if err != nil {
		return fmt.Errorf("redisstore: commit: retention %w", err)
	}
	return s.ifOwner(ctx, "commit", key, token, donePrefix, ms)
}

// Release implements webhook.Deduper. The key is free to Claim at once.
//
// Like a Commit, a Release that go-redis sends again after losing its
// reply returns nil, as its first run did: the released key remembers
// the call for a minute. If another holder claimed the key in between,
// or the minute passed, the retry returns webhook.ErrNotOwner, though
// this call released the key.
func (s *Store) Release(ctx context.Context, key, token string) error {
	return s.ifOwner(ctx, "release", key, token, releasedPrefix, releasedFor.Milliseconds())
}

// ifOwner writes prefix followed by a fresh call id to key, expiring
// after ms milliseconds, if token still owns key, or finds the write
// already done by this call.
func (s *Store) ifOwner(ctx context.Context, op, key, token, prefix string, ms int64) error {
	if token == "" {
		// Claim hands out no empty tokens, and "claimed:" alone would
		// never match; skip the round trip.
		return webhook.ErrNotOwner
	}
	reply, err := s.settle.Run(ctx, s.client, []string{s.prefix + key}, claimedPrefix+token, prefix+newToken(), ms).Int()
	if err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if reply != 1 {
		return webhook.ErrNotOwner
	}
	return nil
}

var errNotPositive = errors.New("must be positive")

// millis converts d for PX, which takes whole milliseconds and rejects 0,
// rounding up without overflowing near the longest Duration.
func millis(d time.Duration) (int64, error) {
	if d <= 0 {
		return 0, errNotPositive
	}
	ms := int64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		ms++
	}
	return ms, nil
}

// newToken returns 16 random bytes in hex: unguessable and unique across
// every process sharing the Redis, unlike a per-process counter.
func newToken() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: crypto/rand crashes the program instead
	return hex.EncodeToString(b[:])
}
