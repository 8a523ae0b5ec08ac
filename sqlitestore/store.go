// Package sqlitestore is a durable webhook.Inbox in one SQLite file, for a
// receiver that must not lose a delivery it acknowledged.
//
// Open creates the file (or migrates an older one) and returns a Store to
// give to the handler's inbox mode:
//
//	ib, err := sqlitestore.Open("/var/lib/myapp/inbox.db")
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer ib.Close()
//
// The file is in WAL mode with synchronous=FULL: Store returns only once
// its delivery is in the write-ahead log and the log is synced to disk,
// so an acknowledged delivery survives a process crash and an operating
// system crash or power loss alike. WithSync(SyncNormal) gives up the
// latter for speed.
//
// Writes go through one goroutine that commits whatever is waiting in
// one transaction (group commit): under load many deliveries share one
// fsync, and each caller returns when the transaction holding its write
// has committed.
//
// Several processes on one machine may open the same file: SQLite's
// locks serialize their writes (each waits up to the busy timeout for
// the others), a delivery is leased by one worker at a time across all
// of them, and the counts stay exact. The file must be on a local file
// system; WAL mode does not work over a network file system.
//
// Pure Go (modernc.org/sqlite): no cgo.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inhook/webhook"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// A Sync is how hard a commit holds on to its write.
type Sync int

const (
	// SyncFull (the default) syncs the write-ahead log at every commit: a
	// committed delivery survives an operating system crash or a power
	// loss.
	SyncFull Sync = iota
	// SyncNormal syncs only at checkpoints: a committed delivery survives
	// the process crashing, but the last commits before an operating
	// system crash or a power loss may be lost.
	SyncNormal
)

// Defaults for the options.
const (
	// DefaultBusyTimeout is how long a write waits for another process
	// holding the file's write lock.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultMaxBatch caps the writes one transaction commits.
	DefaultMaxBatch = 256
)

// ErrClosed is returned by calls on a closed Store.
var ErrClosed = errors.New("sqlitestore: store closed")

// An Option configures Open.
type Option func(*config)

type config struct {
	now         func() time.Time
	capacity    int
	sync        Sync
	busyTimeout time.Duration
	maxBatch    int
}

// WithClock sets the clock the store reads for due times, leases and
// update times; nil means time.Now. Tests use it to move time.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithCapacity bounds the backlog: once n deliveries are pending or leased,
// Store refuses new ones with an error wrapping webhook.ErrInboxFull
// (the handler answers 503 and the sender retries later). Done and dead
// deliveries do not count; Purge removes them. n <= 0 means no bound, the
// default.
func WithCapacity(n int) Option {
	return func(c *config) { c.capacity = n }
}

// WithSync chooses the durability of a commit; the default is SyncFull.
func WithSync(s Sync) Option {
	return func(c *config) { c.sync = s }
}

// WithBusyTimeout sets how long a write waits for another process that
// holds the file's write lock before failing (DefaultBusyTimeout if d <=
// 0).
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) { c.busyTimeout = d }
}

// WithMaxBatch caps the writes committed in one transaction
// (DefaultMaxBatch if n <= 0). 1 turns group commit off: one transaction,
// and one sync, per write.
func WithMaxBatch(n int) Option {
	return func(c *config) { c.maxBatch = n }
}

// A Store is a webhook.Inbox in a SQLite file. It is safe for concurrent
// use. Close it to stop its writer and release the file.
type Store struct {
	cfg  config
	db   *sql.DB // readers
	wdb  *sql.DB // the writer's single connection
	conn *sql.Conn
	stmt statements

	ops chan *op
	// sendMu makes Close wait for the callers handing ops over, so no op
	// is queued after the writer's last look.
	sendMu   sync.RWMutex
	isClosed bool
	closing  chan struct{}
	closed   chan struct{}
	// commits counts the transactions committed, for tests and
	// benchmarks to tell writes per sync.
	commits   atomic.Int64
	closeOnce sync.Once
	closeErr  error
}

var _ webhook.Inbox = (*Store)(nil)

// Open opens the inbox in the SQLite file at path, creating the file and
// its schema if missing and migrating an older schema. path is a plain
// file name; it may not contain '?'.
func Open(path string, opts ...Option) (*Store, error) {
	cfg := config{now: time.Now, busyTimeout: DefaultBusyTimeout, maxBatch: DefaultMaxBatch}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.busyTimeout <= 0 {
		cfg.busyTimeout = DefaultBusyTimeout
	}
	if cfg.maxBatch <= 0 {
		cfg.maxBatch = DefaultMaxBatch
	}
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, fmt.Errorf("sqlitestore: Open: %q is not a plain file name", path)
	}
	sync := "FULL"
	if cfg.sync == SyncNormal {
		sync = "NORMAL"
	}
	// The pragmas run on every connection the driver opens: the writer's
	// and the readers'. busy_timeout first, so the others wait for a lock
	// held by another process instead of failing.
	dsn := path + "?_pragma=busy_timeout(" + strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10) + ")" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(" + sync + ")"

	wdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: Open: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetConnMaxIdleTime(0)
	wdb.SetConnMaxLifetime(0)
	ctx := context.Background()
	conn, err := wdb.Conn(ctx)
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlitestore: Open %s: %w", path, err)
	}
	if err := migrate(ctx, conn); err != nil {
		conn.Close()
		wdb.Close()
		return nil, err
	}
	stmt, err := prepare(ctx, conn)
	if err != nil {
		conn.Close()
		wdb.Close()
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		stmt.close()
		conn.Close()
		wdb.Close()
		return nil, fmt.Errorf("sqlitestore: Open: %w", err)
	}
	s := &Store{
		cfg:     cfg,
		db:      db,
		wdb:     wdb,
		conn:    conn,
		stmt:    stmt,
		ops:     make(chan *op, cfg.maxBatch),
		closing: make(chan struct{}),
		closed:  make(chan struct{}),
	}
	go s.writer()
	return s, nil
}

// Close stops the writer once the writes already waiting have committed,
// and closes the file. Calls after Close return ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.sendMu.Lock()
		s.isClosed = true
		s.sendMu.Unlock()
		close(s.closing)
		<-s.closed
		err := s.stmt.close()
		err = errors.Join(err, s.conn.Close(), s.wdb.Close(), s.db.Close())
		if err != nil {
			s.closeErr = fmt.Errorf("sqlitestore: Close: %w", err)
		}
	})
	return s.closeErr
}
