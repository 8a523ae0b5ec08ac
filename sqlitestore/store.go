// Package sqlitestore is a durable webhook.Inbox in one SQLite file, for a
// receiver that must not lose a delivery it acknowledged.
//
// Open creates the file (or migrates an older one) and returns an Inbox to
// give to the handler's inbox mode:
//
//	ib, err := sqlitestore.Open("/var/lib/myapp/inbox.db")
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer ib.Close()
//
// ExampleOpen runs it: a receiver in inbox mode on a file, which answers 200
// once the delivery is stored and runs the callback on a worker.
//
// The file is in WAL mode, and by default (SyncFull) Store returns only
// once its delivery is committed to the write-ahead log and the log has
// been synced to disk since, so an acknowledged delivery survives a
// process crash and an operating system crash or power loss alike: the
// guarantee of synchronous=FULL. WithSync(SyncNormal) gives up the
// latter for speed.
//
// Writes go through one goroutine that commits whatever is waiting in
// one transaction (group commit): under load many deliveries share one
// transaction and one sync. The connection runs with synchronous=NORMAL,
// which in WAL mode differs from FULL only in that FULL syncs the log
// after each commit, holding the write lock; instead a second goroutine,
// the syncer, syncs the log (one fsync of the -wal file) after the
// commit, outside the lock, and only then answers, while the writer
// commits the next transaction. Only transactions holding a Store,
// Replay or Purge are synced: the workers' writes (Lease, Complete,
// Retry, Kill) return once committed, and an operating system crash may
// undo the last of them, which only runs a delivery again (callbacks run
// at least once, the inbox's contract). A reader (Get, List, Stats) may
// see a write whose sync is under way. Checkpoints and the restart of
// the log after one are SQLite's, unchanged: a checkpoint syncs the log
// before copying it into the database and syncs the database before the
// log may be restarted. If a sync fails, the writes waiting for it fail
// and the Inbox refuses every write after: what is on disk is no longer
// known. Nor does a Store succeed once the file or its log has been
// removed or replaced under it (ErrFileMoved): SQLite would go on writing
// to the unlinked file, and the next start would not find what it
// acknowledged.
//
// Several processes on one machine may open the same file: SQLite's
// locks serialize their writes (each waits up to the busy timeout for
// the others), a delivery is leased by one worker at a time across all
// of them, and the counts stay exact. The file must be on a local file
// system; WAL mode does not work over a network file system.
//
// Processes of two versions may share the file during an upgrade. One
// that finds the file's schema newer than its own refuses to open it,
// and an Inbox whose file a newer version migrates while it has it open
// writes nothing more (ErrNewerSchema): only the newer version writes to
// a migrated file.
//
// A tool that only looks into a receiver's inbox opens it with
// WithReadOnly: it reads beside the receiver, and writes nothing, not
// even a migration.
//
// Pure Go (modernc.org/sqlite): no cgo.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inhook/webhook"
	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// A Sync is how hard a commit holds on to its write.
type Sync int

const (
	// SyncFull (the default) syncs the write-ahead log after a commit
	// that holds a Store, Replay or Purge, before they return: an
	// acknowledged delivery survives an operating system crash or a power
	// loss. The workers' writes (Lease, Complete, Retry, Kill) return at
	// commit, unsynced (see the package doc).
	SyncFull Sync = iota
	// SyncNormal syncs only at checkpoints, and writes return once
	// committed, with no sync: a committed delivery survives the process
	// crashing, but the last commits before an operating system crash or
	// a power loss may be lost.
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

// ErrClosed is returned by calls on a closed Inbox.
var ErrClosed = errors.New("sqlitestore: inbox closed")

// ErrNoInbox is wrapped by the error of Open with WithCreate(false) for a
// file that holds no inbox: missing, empty, or another database.
var ErrNoInbox = errors.New("sqlitestore: no inbox")

// ErrNewerSchema is wrapped by the error of Open for a file whose schema
// a newer version of this package made, and by that of every write of a
// Inbox whose file a newer version migrated while the Inbox had it open
// (two receivers on one file during a rolling upgrade). This version
// would write rows the newer schema does not expect, or leave out what it
// keeps, so it writes nothing more: the handler answers 503, deliveries
// go to a receiver of the newer version, and the leases this one holds
// run out and are taken there. Reads (Get, List, Stats) go on. Restart
// the process with the newer version.
var ErrNewerSchema = errors.New("sqlitestore: the file's schema is newer than this version's")

// ErrReadOnly is returned by every write (Store, Lease, Complete, Retry,
// Kill, Replay, Purge) on an Inbox opened with WithReadOnly.
var ErrReadOnly = errors.New("sqlitestore: inbox opened read-only")

// ErrFileMoved is wrapped by the error of every Store, Replay and Purge
// once the inbox file or its write-ahead log has been removed or replaced
// while the Inbox had it open. SQLite goes on writing to the unlinked
// file, so what it stored would be gone at the next start; the handler
// answers 503 instead, and the sender retries until a receiver runs on a
// file in place. The workers' writes go on, so deliveries acknowledged
// before still run in this process. Restart the receiver to write again.
var ErrFileMoved = errors.New("sqlitestore: the inbox file was removed or replaced while open")

// An Option configures Open.
type Option func(*config)

type config struct {
	noCreate    bool
	readOnly    bool
	now         func() time.Time
	capacity    int
	tenantCap   int
	sync        Sync
	busyTimeout time.Duration
	maxBatch    int
	// wrapSync, set by tests, wraps the sync of the write-ahead log.
	wrapSync func(sync func() error) func() error
	// migrations are the schema's (the package's migrations); tests
	// set others to play another version of the package on one file.
	migrations []string
}

// WithCreate(false) makes Open refuse, with an error wrapping ErrNoInbox,
// a file that does not hold an inbox already (missing, empty, or another
// program's database), leaving it as it was; an inbox of an older schema
// is still migrated. By default Open creates the file and the schema. A
// tool that only looks into an inbox, such as "webhook inbox", opens it
// so, so that a mistyped or wrong file name is an error rather than a new,
// empty inbox.
func WithCreate(create bool) Option {
	return func(c *config) { c.noCreate = !create }
}

// WithReadOnly opens the file for reading only, as a tool that looks
// into a receiver's inbox needs: Get, List and Stats work, and every
// write returns ErrReadOnly. SQLite itself opens the file read-only
// (mode=ro, and query_only), so that no statement can write to the file
// or its log: the file is not created (WithReadOnly implies
// WithCreate(false)), not migrated (a file of another schema version
// than SchemaVersion is refused: an older one may still have an older
// receiver running on it), and its log is neither checkpointed nor
// removed. No writer, syncer or checkpointer runs; the options about
// writing have no effect.
//
// Other processes may write to the file meanwhile: each read sees their
// commits up to its start. Like every reader of a WAL file, the Inbox
// reads the log (path-wal) and keeps its read locks in the shared memory
// file (path-shm). On a file no process has open SQLite creates both,
// the log empty, and leaves them when the Inbox closes, as a read-only
// connection may not remove them; the next read-write Open takes them
// over and removes them on Close. SQLite's documentation says that
// they must exist already or the directory must let them be created.
func WithReadOnly() Option {
	return func(c *config) { c.readOnly = true }
}

// WithClock sets the clock the store reads for due times, leases and
// update times; nil means time.Now. Tests use it to move time: give the
// handler the same clock (webhook.WithClock), or the store judges due
// times and leases by one clock while the handler sets them by another.
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

// WithTenantCapacity bounds each tenant's backlog: once n deliveries of
// one tenant are pending or leased, Store refuses that tenant's new ones
// with an error wrapping webhook.ErrInboxFull (the handler answers that
// tenant 503, and its sender retries later), while the other tenants'
// are stored on. So one tenant whose deliveries pile up (its callbacks
// failing or slow, or a flood) cannot fill the backlog WithCapacity
// allows and have every tenant refused. The tenant is webhook.KeyTenant's,
// that of a WithKeyFunc handler's keys: keys of a handler without one are
// one tenant, "". Done and dead deliveries do not count; a replayed one
// counts again (Replay is never refused). n <= 0 means no bound per
// tenant, the default: the store cannot tell one large tenant from many
// small ones, and a bound below a tenant's bursts refuses them (Intercom
// retries a refused notification once), so choose n for your largest
// tenant. Every process of this version keeps the counts it reads,
// whatever its options, so processes on one file may set it or not.
func WithTenantCapacity(n int) Option {
	return func(c *config) { c.tenantCap = n }
}

// WithSync chooses the durability of a commit; the default is SyncFull.
// Open refuses a value other than SyncFull and SyncNormal.
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
// (DefaultMaxBatch if n <= 0; Open refuses more than 65,536). 1 turns
// group commit off: one transaction, and one sync, per write.
func WithMaxBatch(n int) Option {
	return func(c *config) { c.maxBatch = n }
}

// maxMaxBatch bounds WithMaxBatch: the writer allocates its queue and
// batch at that size.
const maxMaxBatch = 1 << 16

// An Inbox is a webhook.Inbox in a SQLite file. It is safe for concurrent
// use. Close it to stop its writer and release the file.
type Inbox struct {
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

	// With SyncFull: the log file the writer syncs (nil otherwise), the
	// sync (a seam for tests), and the error of a failed sync, after
	// which nothing is written.
	wal     *os.File
	syncWAL func() error
	syncErr atomic.Pointer[error]
	// With SyncFull: syncs hands the syncer the durable ops of each
	// committed transaction; synced closes once it has answered the last.
	syncs  chan []*op
	synced chan struct{}

	// files are the database file and its log as Open found them, by
	// name; moved holds ErrFileMoved's error once either name no longer
	// leads to the file this Inbox writes (see inPlace).
	files [2]struct {
		name string
		info os.FileInfo
	}
	moved atomic.Pointer[error]
	// schemaErr holds checkSchema's error once the file's schema is no
	// longer this Inbox's.
	schemaErr atomic.Pointer[error]

	// The checkpointer's wake-up, stop and end.
	ckptKick           chan struct{}
	ckptStop, ckptDone chan struct{}
}

var _ webhook.Inbox = (*Inbox)(nil)

// Open opens the inbox in the SQLite file at path, creating the file and
// its schema if missing (unless WithCreate(false)) and migrating an older
// schema; a file of a newer schema is refused, and so is one it cannot
// write, which SQLite would open read-only, every write failing. With
// WithReadOnly it writes nothing and refuses a file of another schema.
// path is a plain file name, which may be a symbolic link: not ":memory:",
// not a "file:" URI, and without '?'. Several processes may open the same
// file at once.
func Open(path string, opts ...Option) (*Inbox, error) {
	cfg := config{now: time.Now, busyTimeout: DefaultBusyTimeout, maxBatch: DefaultMaxBatch, migrations: migrations}
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("sqlitestore: Open: option %d is nil", i)
		}
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
	if cfg.sync != SyncFull && cfg.sync != SyncNormal {
		return nil, fmt.Errorf("sqlitestore: Open: unknown Sync %d", cfg.sync)
	}
	if cfg.maxBatch > maxMaxBatch {
		return nil, fmt.Errorf("sqlitestore: Open: WithMaxBatch(%d) is more than %d", cfg.maxBatch, maxMaxBatch)
	}
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, fmt.Errorf("sqlitestore: Open: %q is not a plain file name", path)
	}
	if cfg.readOnly {
		cfg.noCreate = true
	}
	if cfg.noCreate {
		// SQLite would create a missing file, and takes an empty one for
		// a new database.
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoInbox, err)
		}
		if fi.Mode().IsRegular() && fi.Size() == 0 {
			return nil, fmt.Errorf("%w: %s is empty", ErrNoInbox, path)
		}
	}
	// The pragmas run on every connection the driver opens: the writer's
	// and the readers'. busy_timeout first, so the others wait for a lock
	// held by another process instead of failing. synchronous=NORMAL in
	// both modes: in WAL mode it differs from FULL only by the sync of
	// the log after each commit, which, with SyncFull, the syncer does
	// after the commit and before answering, outside the write lock.
	// WAL mode is kept in the file: setWAL sets it once, on the writer's
	// connection, before any reader connects.
	// In whole milliseconds, rounded up (0 would not wait at all), and
	// at most what SQLite's int holds.
	busyMS := cfg.busyTimeout.Milliseconds()
	if cfg.busyTimeout%time.Millisecond != 0 {
		busyMS++
	}
	busyMS = min(busyMS, math.MaxInt32)
	if cfg.readOnly {
		return openReadOnly(path, cfg, busyMS)
	}
	dsn := path + "?_pragma=busy_timeout(" + strconv.FormatInt(busyMS, 10) + ")" +
		"&_pragma=synchronous(NORMAL)"

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
		// SQLite says only "unable to open database file".
		dir := filepath.Dir(path)
		if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
			return nil, fmt.Errorf("sqlitestore: Open %s: the directory %s does not exist (Open creates the file, not its directory): %w", path, dir, err)
		}
		return nil, fmt.Errorf("sqlitestore: Open %s: %w", path, err)
	}
	if cfg.noCreate {
		// Read only: neither the switch to WAL mode nor the schema
		// touches a file found to hold no inbox.
		if _, err := inboxVersion(ctx, conn, path); err != nil {
			conn.Close()
			wdb.Close()
			return nil, err
		}
	}
	if err := setWAL(ctx, conn, cfg.busyTimeout); err != nil {
		conn.Close()
		wdb.Close()
		return nil, fmt.Errorf("sqlitestore: Open %s: %w", path, err)
	}
	if err := migrate(ctx, conn, cfg.migrations); err != nil {
		conn.Close()
		wdb.Close()
		if errors.Is(err, errNotWritable) {
			err = fmt.Errorf("sqlitestore: Open %s: %w", path, err)
		}
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
	s := &Inbox{
		cfg:     cfg,
		db:      db,
		wdb:     wdb,
		conn:    conn,
		stmt:    stmt,
		ops:     make(chan *op, cfg.maxBatch),
		closing: make(chan struct{}),
		closed:  make(chan struct{}),

		ckptKick: make(chan struct{}, 1),
		ckptStop: make(chan struct{}),
		ckptDone: make(chan struct{}),
	}
	if err := s.noteFiles(ctx); err != nil {
		stmt.close()
		conn.Close()
		wdb.Close()
		db.Close()
		return nil, fmt.Errorf("sqlitestore: Open %s: %w", path, err)
	}
	if cfg.sync == SyncFull {
		if err := s.openWAL(); err != nil {
			stmt.close()
			conn.Close()
			wdb.Close()
			db.Close()
			return nil, fmt.Errorf("sqlitestore: Open %s: %w", path, err)
		}
	}
	go s.checkpointer()
	if s.wal != nil {
		s.syncs = make(chan []*op)
		s.synced = make(chan struct{})
		go s.syncer()
	}
	go s.writer()
	return s, nil
}

// openReadOnly opens the file at path for WithReadOnly: one pool of
// read-only connections, and nothing else.
func openReadOnly(path string, cfg config, busyMS int64) (*Inbox, error) {
	// mode=ro has SQLite open the file read-only, so no statement can
	// write to it whatever it is; query_only refuses one before it gets
	// that far. mode is a URI parameter, hence the file: URI.
	dsn := fileURI(path) + "?mode=ro&_pragma=busy_timeout(" + strconv.FormatInt(busyMS, 10) + ")" +
		"&_pragma=query_only(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: Open: %w", err)
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitestore: Open %s: %w", path, err)
	}
	version, err := inboxVersion(ctx, conn, path)
	conn.Close()
	known := len(cfg.migrations)
	switch {
	case err != nil:
	case version < known:
		err = fmt.Errorf("sqlitestore: %s has schema version %d, older than this version's %d, and a read-only Open does not migrate: "+
			"open it read-write once to migrate it (a receiver of this version does), or read it with the version that wrote it",
			path, version, known)
	case version > known:
		err = fmt.Errorf("%w: %s has schema version %d, newer than this version's %d: read it with a newer version",
			ErrNewerSchema, path, version, known)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Inbox{cfg: cfg, db: db}, nil
}

// fileURI is the SQLite URI of the file at path, a plain file name.
func fileURI(path string) string {
	p := strings.NewReplacer("%", "%25", "#", "%23").Replace(filepath.ToSlash(path))
	if filepath.IsAbs(path) && !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive: file:///C:/…
	}
	if strings.HasPrefix(p, "/") {
		return "file://" + p // an empty authority: file://dir/… would name a host
	}
	return "file:" + p
}

// inboxVersion is the schema version of the inbox in the file conn is
// on, or an error wrapping ErrNoInbox for a file that holds none. A
// schema_version table without its row, which no migration commits,
// reads as version 0, as migrate takes it.
func inboxVersion(ctx context.Context, conn *sql.Conn, path string) (int, error) {
	var n int
	err := conn.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: Open %s: %w", path, err)
	}
	if n == 0 {
		return 0, fmt.Errorf("%w in %s", ErrNoInbox, path)
	}
	var version int
	switch err := conn.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version); err {
	case nil, sql.ErrNoRows:
		return version, nil
	default:
		return 0, fmt.Errorf("sqlitestore: Open %s: reading the schema version: %w", path, err)
	}
}

// setWAL puts the file in WAL mode, which the file keeps. Switching a
// new file to WAL takes an exclusive lock for which SQLite answers
// SQLITE_BUSY at once, without waiting out the busy timeout, when
// another process is opening or switching the same file: that case is
// retried here until the busy timeout passes. A file that stays in
// another mode (a file system without the shared memory WAL needs) is an
// error rather than a store without the durability it promises.
func setWAL(ctx context.Context, conn *sql.Conn, busyTimeout time.Duration) error {
	deadline := time.Now().Add(busyTimeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		var mode string
		err := conn.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		var se *sqlite.Error
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("the file stays in journal mode %q, not WAL", mode)
		case errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY && time.Now().Before(deadline):
			time.Sleep(wait)
		default:
			return err
		}
	}
}

// openWAL opens the write-ahead log for the writer to sync. The migration's
// transaction has created it, and it stays the same file while the
// writer's connection is open: SQLite deletes it only when the last
// connection to the database closes, and restarts it in place after a
// checkpoint. An fsync of the file carries every process's commits to
// disk. The directory is synced once, so the log's name is on disk too.
//
// The log is named after the database file as SQLite resolved it, which
// follows symbolic links: beside a link there is no log, or a stale one.
func (s *Inbox) openWAL() error {
	path := s.files[0].name
	f, err := os.OpenFile(path+"-wal", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if runtime.GOOS != "windows" { // Windows cannot sync a directory
		d, err := os.Open(filepath.Dir(path))
		if err == nil {
			err = errors.Join(d.Sync(), d.Close())
		}
		if err != nil {
			f.Close()
			return err
		}
	}
	s.wal = f
	s.syncWAL = f.Sync
	if s.cfg.wrapSync != nil {
		s.syncWAL = s.cfg.wrapSync(f.Sync)
	}
	return nil
}

// noteFiles records the database file and its log, named as SQLite
// resolved the file, for inPlace.
func (s *Inbox) noteFiles(ctx context.Context) error {
	var path string
	if err := s.conn.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&path); err != nil {
		return fmt.Errorf("the database file's name: %w", err)
	}
	for i, name := range []string{path, path + "-wal"} {
		fi, err := os.Stat(name)
		if err != nil {
			return err
		}
		s.files[i].name, s.files[i].info = name, fi
	}
	return nil
}

// inPlace reports, as an error wrapping ErrFileMoved, that the database
// file is no longer at its name (removed, replaced, or its directory
// moved), or that logInPlace found the log gone. SQLite would go on
// writing to the file it has open, which nothing finds at the next start.
// It costs one stat, once for each transaction holding a Store, Replay or
// Purge. Once it has failed it fails for good: the Inbox cannot tell
// which of its writes went where.
func (s *Inbox) inPlace() error {
	return s.fileInPlace(0)
}

// logInPlace is inPlace for the write-ahead log, which the checkpointer
// checks after each pass rather than each transaction: a stat of the log
// just synced costs its transaction some 40 µs here, where the
// database's costs nothing to speak of. What was committed to a log
// removed under the Inbox is lost only with a crash before the
// checkpointer has copied it into the database, which it does every few
// milliseconds; its next check refuses the writes after.
func (s *Inbox) logInPlace() error {
	return s.fileInPlace(1)
}

func (s *Inbox) fileInPlace(i int) error {
	if p := s.moved.Load(); p != nil {
		return *p
	}
	f := s.files[i]
	if fi, err := os.Stat(f.name); err != nil || !os.SameFile(fi, f.info) {
		err := fmt.Errorf("%w: %s", ErrFileMoved, f.name)
		s.moved.CompareAndSwap(nil, &err)
		return *s.moved.Load()
	}
	return nil
}

// Close stops the writer once the writes already waiting have committed,
// and closes the file. Calls after Close return ErrClosed (a read-only
// Inbox's writes still return ErrReadOnly).
func (s *Inbox) Close() error {
	s.closeOnce.Do(func() {
		s.sendMu.Lock()
		s.isClosed = true
		s.sendMu.Unlock()
		if s.cfg.readOnly {
			if err := s.db.Close(); err != nil {
				s.closeErr = fmt.Errorf("sqlitestore: Close: %w", err)
			}
			return
		}
		close(s.closing)
		<-s.closed
		if s.syncs != nil {
			close(s.syncs)
			<-s.synced
		}
		close(s.ckptStop)
		<-s.ckptDone
		err := s.stmt.close()
		if s.wal != nil {
			err = errors.Join(err, s.wal.Close())
		}
		err = errors.Join(err, s.conn.Close(), s.wdb.Close(), s.db.Close())
		if err != nil {
			s.closeErr = fmt.Errorf("sqlitestore: Close: %w", err)
		}
	})
	return s.closeErr
}
