package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/inhook/webhook"
)

// An op is one write waiting for the writer. run does the write inside
// the writer's transaction and reports two things: outcome, the answer
// for the caller once the transaction commits (nil, or an error such as
// ErrLeaseLost that leaves the transaction good), and err, a failure of
// the database that spoils the transaction. run may be called again, in
// a transaction of its own, when another op spoiled the first one, so it
// keeps its results in variables it resets on each call.
type op struct {
	ctx     context.Context
	run     func(tx *wtx) (outcome, err error)
	outcome error
	done    chan error
	// settled marks the workers' writes (Lease, Complete, Retry, Kill),
	// answered once committed even with SyncFull: an operating system
	// crash that undid one would only run a delivery again, which
	// callbacks allow for (they run at least once).
	settled bool
	// row is a Store's delivery, nil for the other writes. The writer
	// inserts the rows of a transaction's Stores together (see
	// storeRows), and only Stores make it linger.
	row *storeRow
}

// A storeRow is a delivery on its way in, with the answer the writer
// gives its Store.
type storeRow struct {
	key, source, id    string
	tenant             string // webhook.KeyTenant(key)
	signed, received   int64  // received 0: the commit's time
	header, body, meta []byte
	stored             bool
}

// wtx is the writer's view of one transaction.
type wtx struct {
	ctx context.Context
	s   *Inbox
	// backlog is the count of pending and leased deliveries, read at the
	// first Store of the transaction when there is a capacity and kept up
	// to date by the Stores after it; -1 until read.
	backlog int
	// counts are the transaction's changes to the counts by bucket,
	// written to inbox_counts just before it commits: one small update
	// per bucket and transaction instead of one per row.
	counts [numBuckets]int
	// tenants are the transaction's changes to the tenants' backlogs,
	// written to inbox_tenants with the counts; read holds the backlogs
	// read from it in the transaction, before those changes. Both nil
	// until needed.
	tenants, read map[string]int
}

// waiting adds n to the backlog of tenant.
func (tx *wtx) waiting(tenant string, n int) {
	if tx.tenants == nil {
		tx.tenants = make(map[string]int)
	}
	tx.tenants[tenant] += n
}

// tenantBacklog is tenant's backlog, its changes in the transaction
// included: one read of inbox_tenants per tenant and transaction.
func (tx *wtx) tenantBacklog(tenant string) (int, error) {
	n, ok := tx.read[tenant]
	if !ok {
		switch err := tx.s.stmt.tenantBacklog.QueryRowContext(tx.ctx, tenant).Scan(&n); err {
		case nil, sql.ErrNoRows:
		default:
			return 0, err
		}
		if tx.read == nil {
			tx.read = make(map[string]int)
		}
		tx.read[tenant] = n
	}
	return n + tx.tenants[tenant], nil
}

// A bucket is a row of inbox_counts: a state, with the pending split
// into never tried (pending) and tried before (retrying).
type bucket int

const (
	bucketPending bucket = iota
	bucketRetrying
	bucketLeased
	bucketDone
	bucketDead
	numBuckets
)

var bucketNames = [numBuckets]string{"pending", "retrying", "leased", "done", "dead"}

// bucketOf is the bucket of a delivery in state after attempts.
func bucketOf(state webhook.InboxState, attempts int) bucket {
	switch state {
	case webhook.InboxPending:
		if attempts > 0 {
			return bucketRetrying
		}
		return bucketPending
	case webhook.InboxLeased:
		return bucketLeased
	case webhook.InboxDone:
		return bucketDone
	default:
		return bucketDead
	}
}

// move records n deliveries going from one bucket to another.
func (tx *wtx) move(from, to bucket, n int) {
	tx.counts[from] -= n
	tx.counts[to] += n
}

// do hands a write to the writer and waits for the commit of the
// transaction that holds it. If ctx ends before the writer takes the
// write up, the write is dropped and do returns ctx.Err(); once the writer
// has it, do waits for its result, so a Lease whose transaction committed
// always reaches its caller instead of holding deliveries until the
// lease runs out.
func (s *Inbox) do(ctx context.Context, run func(tx *wtx) (outcome, err error)) error {
	return s.send(ctx, &op{ctx: ctx, run: run})
}

// doSettled is do for a write marked settled.
func (s *Inbox) doSettled(ctx context.Context, run func(tx *wtx) (outcome, err error)) error {
	return s.send(ctx, &op{ctx: ctx, run: run, settled: true})
}

// send hands o, a write or a Store's row, to the writer as do does.
func (s *Inbox) send(ctx context.Context, o *op) error {
	if s.cfg.readOnly {
		return ErrReadOnly // and no writer to take o
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	o.done = make(chan error, 1)
	s.sendMu.RLock()
	if s.isClosed {
		s.sendMu.RUnlock()
		return ErrClosed
	}
	select {
	case s.ops <- o:
	case <-ctx.Done():
		s.sendMu.RUnlock()
		return ctx.Err()
	}
	s.sendMu.RUnlock()
	return <-o.done
}

// writer commits the waiting ops, as many as are waiting (up to
// maxBatch) in each transaction: while one transaction commits (and the
// syncer syncs the one before), the next one's writes queue up, so
// under load a transaction and its sync serve many writes, and a lone
// write is not delayed to wait for company. Under concurrent load it lingers briefly before
// committing (see linger).
func (s *Inbox) writer() {
	defer close(s.closed)
	batch := make([]*op, 0, s.cfg.maxBatch)
	var last lastCommit
	var avg time.Duration
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		batch = batch[:0]
		select {
		case o := <-s.ops:
			batch = append(batch, o)
		case <-s.closing:
			// No sender is left (Close waited for them): commit what
			// is queued, then stop.
			for {
				batch = batch[:0]
				for len(batch) < s.cfg.maxBatch && len(s.ops) > 0 {
					batch = append(batch, <-s.ops)
				}
				if len(batch) == 0 {
					return
				}
				s.commit(batch)
			}
		}
	fill:
		for len(batch) < s.cfg.maxBatch {
			select {
			case o := <-s.ops:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		want := s.gatherTo(last)
		if linger := s.linger(last); linger > 0 && len(batch) < want {
			timer.Reset(linger)
		gather:
			for len(batch) < want {
				select {
				case o := <-s.ops:
					batch = append(batch, o)
				case <-timer.C:
					break gather
				}
			}
			timer.Stop()
		}
		start := time.Now()
		s.commit(batch)
		took := time.Since(start)
		if avg == 0 {
			avg = took
		} else {
			avg += (took - avg) / 8
		}
		stores := 0
		for _, o := range batch {
			if o.row != nil {
				stores++
			}
		}
		peak := max(last.peak, stores)
		if last.n%probeEvery == 0 {
			peak = stores
		}
		last = lastCommit{ops: stores, avg: avg, peak: peak, n: last.n + 1}
	}
}

// lastCommit describes the writer's previous transaction, for linger:
// its Stores' writes, and the moving average of the transactions'
// durations.
type lastCommit struct {
	ops int
	avg time.Duration
	// peak is the most Stores a transaction held since the last probe;
	// n counts the transactions.
	peak, n int
}

// probeEvery is how often the writer lingers its whole linger whatever
// the batch holds. In between it commits once the batch is as large as
// the largest since the probe: once the cohorts have merged, all of
// them are there and waiting longer only delays them.
const probeEvery = 16

// linger is how long the writer keeps gathering writes after the waiting
// ones before it commits. Under concurrent load the callers split into
// cohorts: those whose writes just committed go back to their requests
// while the next transaction commits and syncs the others, so each sync
// serves only part of them. Waiting half a transaction (its commit and
// sync) lets the callers just answered join the next one, and one sync
// then serves them all. A lone caller (the previous transaction held one
// Store) never waits, and only Stores count: a drain's workers are all
// waiting already, and lingering for them only slowed them
// (BenchmarkDrain).
func (s *Inbox) linger(last lastCommit) time.Duration {
	if last.ops < 2 || s.cfg.maxBatch < 2 {
		return 0
	}
	return min(last.avg/2, maxLinger)
}

// gatherTo is the batch size at which the writer stops lingering: the
// most Stores a transaction held since the last probe, or maxBatch on
// every probeEvery-th transaction, which lingers its whole linger to
// find a larger crowd.
func (s *Inbox) gatherTo(last lastCommit) int {
	if last.n%probeEvery == 0 {
		return s.cfg.maxBatch
	}
	return min(max(last.peak, 2), s.cfg.maxBatch)
}

// maxLinger bounds linger, whatever a sync costs.
const maxLinger = time.Millisecond

// commit runs ops in one transaction and answers each (see answer). If
// an op spoils the transaction, it runs each op again in a transaction
// of its own, so one bad write fails alone.
func (s *Inbox) commit(ops []*op) {
	live := ops[:0:0]
	for _, o := range ops {
		if err := o.ctx.Err(); err != nil {
			o.done <- err // its caller has gone: do not write for it
			continue
		}
		if err := s.syncFailed(); err != nil {
			o.done <- err
			continue
		}
		if p := s.schemaErr.Load(); p != nil {
			o.done <- *p // see checkSchema
			continue
		}
		if p := s.moved.Load(); p != nil && !o.settled {
			o.done <- *p // would be written where nothing finds it
			continue
		}
		live = append(live, o)
	}
	if len(live) == 0 {
		return
	}
	spoiled, err := s.runTx(live)
	if err == nil {
		s.answer(live)
		return
	}
	if spoiled == nil || len(live) == 1 {
		// The transaction itself failed (begin or commit): every op
		// shares the failure.
		for _, o := range live {
			o.done <- err
		}
		return
	}
	var committed []*op
	for _, o := range live {
		if _, err := s.runTx([]*op{o}); err != nil {
			o.done <- err
		} else {
			committed = append(committed, o)
		}
	}
	if len(committed) > 0 {
		s.answer(committed)
	}
}

// answer gives the ops of committed transactions their outcomes: the
// settled ops at once; the others, without SyncFull, once the files are
// seen in place (inPlace), and with SyncFull through the syncer, which
// answers them once the log has been synced and the files seen in
// place. A transaction of settled ops alone is not synced.
func (s *Inbox) answer(ops []*op) {
	var durable []*op
	for _, o := range ops {
		if o.settled {
			o.done <- o.outcome
		} else {
			durable = append(durable, o)
		}
	}
	if len(durable) == 0 {
		return
	}
	if s.wal == nil {
		// SyncNormal: answered at commit, once the files are seen in
		// place.
		err := s.inPlace()
		for _, o := range durable {
			if err != nil {
				o.done <- err
			} else {
				o.done <- o.outcome
			}
		}
		return
	}
	// The hand-over waits for the syncer to finish the previous sync, so
	// that one transaction commits while another syncs, and no more: a
	// writer further ahead would commit smaller transactions, each with
	// its fixed cost, for no earlier answer.
	s.syncs <- durable
	// The syncer is now runnable on this goroutine's processor, behind
	// it; yielding lets it start the sync at once instead of after the
	// next transaction's statements.
	runtime.Gosched()
}

// syncer syncs the write-ahead log for each committed transaction handed
// over by the writer, then answers its ops. Every sync begins after the
// commit of the ops it answers, so an answered Store is on disk. After a
// failed sync it syncs no more: on Linux a failed fsync may drop the
// pages it could not write and report success the next time.
func (s *Inbox) syncer() {
	defer close(s.synced)
	for durable := range s.syncs {
		err := s.syncFailed()
		if err == nil {
			if err = s.syncWAL(); err != nil {
				// The log's pages may be lost and will not be written
				// again: what was committed since the last good sync
				// cannot be known to be on disk, nor anything after.
				err = fmt.Errorf("sqlitestore: syncing the write-ahead log: %w", err)
				s.syncErr.CompareAndSwap(nil, &err)
			} else {
				err = s.inPlace()
			}
		}
		for _, o := range durable {
			if err != nil {
				o.done <- err
			} else {
				o.done <- o.outcome
			}
		}
	}
}

// syncFailed is the error of a failed sync of the log, after which the
// store refuses to write: it can no longer say what is on disk.
func (s *Inbox) syncFailed() error {
	if p := s.syncErr.Load(); p != nil {
		return *p
	}
	return nil
}

// runTx runs ops in one transaction: the Stores' rows first, together,
// then the other ops in order (every op of a batch is waiting for its
// answer, so any order is one the callers could have seen). On failure
// it rolls back and returns the error, with the op that caused it, or
// nil if beginning or committing failed.
func (s *Inbox) runTx(ops []*op) (spoiled *op, err error) {
	ctx := context.Background()
	// IMMEDIATE takes the write lock at once, waiting up to the busy
	// timeout for another process: a deferred transaction that reads
	// first could fail to upgrade its lock, and busy_timeout does not
	// help there.
	if _, err := s.stmt.begin.ExecContext(ctx); err != nil {
		return nil, fmt.Errorf("sqlitestore: begin: %w", err)
	}
	if err := s.checkSchema(ctx); err != nil {
		s.rollback()
		return nil, err
	}
	tx := &wtx{ctx: ctx, s: s, backlog: -1}
	var stores []*op
	for _, o := range ops {
		if o.row != nil {
			stores = append(stores, o)
		}
	}
	if len(stores) > 0 {
		if o, err := s.storeRows(tx, stores); err != nil {
			s.rollback()
			return o, fmt.Errorf("sqlitestore: %w", err)
		}
	}
	for _, o := range ops {
		if o.row != nil {
			continue
		}
		var err error
		o.outcome, err = o.run(tx)
		if err != nil {
			s.rollback()
			return o, fmt.Errorf("sqlitestore: %w", err)
		}
	}
	for b, n := range tx.counts {
		if n == 0 {
			continue
		}
		if _, err := s.stmt.count.ExecContext(ctx, n, bucketNames[b]); err != nil {
			s.rollback()
			return ops[0], fmt.Errorf("sqlitestore: counts: %w", err)
		}
	}
	for tenant, n := range tx.tenants {
		if n == 0 {
			continue
		}
		if _, err := s.stmt.tenantCount.ExecContext(ctx, tenant, n); err != nil {
			s.rollback()
			return ops[0], fmt.Errorf("sqlitestore: tenant counts: %w", err)
		}
	}
	if _, err := s.stmt.commit.ExecContext(ctx); err != nil {
		s.rollback()
		return nil, fmt.Errorf("sqlitestore: commit: %w", err)
	}
	s.commits.Add(1)
	s.kickCheckpointer()
	return nil, nil
}

// checkSchema fails, with an error wrapping ErrNewerSchema, once the
// file's schema version is no longer the one this Inbox migrated it to:
// another process, of a newer version, migrated it since (see
// ErrNewerSchema). It runs in each transaction, under the write lock, so
// no migration comes between the check and the commit; a schema_version
// of one row costs the transaction one read of a page in the cache.
// Once it has failed it fails for good: a schema is not migrated back.
func (s *Inbox) checkSchema(ctx context.Context) error {
	if p := s.schemaErr.Load(); p != nil {
		return *p
	}
	var version int
	if err := s.stmt.version.QueryRowContext(ctx).Scan(&version); err != nil {
		return fmt.Errorf("sqlitestore: reading the schema version: %w", err)
	}
	known := len(s.cfg.migrations)
	if version == known {
		return nil
	}
	var err error
	if version > known {
		err = fmt.Errorf("%w: the file has schema version %d since a newer version migrated it while this one, of version %d, had it open: "+
			"this one writes nothing more; restart the process with the newer version", ErrNewerSchema, version, known)
	} else {
		err = fmt.Errorf("sqlitestore: the file's schema version went back from %d to %d while open: this Inbox writes nothing more", known, version)
	}
	s.schemaErr.CompareAndSwap(nil, &err)
	return *s.schemaErr.Load()
}

func (s *Inbox) rollback() {
	// A failed statement may have rolled the transaction back already;
	// "no transaction is active" is then the expected answer.
	_, _ = s.conn.ExecContext(context.Background(), "ROLLBACK")
}

// statements are the writer's prepared statements, on its connection.
type statements struct {
	begin, commit, version        *sql.Stmt
	insertedKeys                  *sql.Stmt
	count, exists, backlog        *sql.Stmt
	tenantCount, tenantBacklog    *sql.Stmt
	duePending, dueLeased, lease  *sql.Stmt
	complete, retry, kill         *sql.Stmt
	state, replay, makeDue, purge *sql.Stmt
	// inserts[n] inserts n rows; prepared when first needed.
	inserts map[int]*sql.Stmt
}

// entryColumns are the columns scanEntry reads, in its order.
const entryColumns = `key, source, msg_id, signed_at, received_at, header, body, meta,
	state, attempts, next_attempt, lease_until, last_error, updated_at`

// The queries whose cost must not grow with the inbox: each names its
// index, as SQLite's planner, without statistics, prefers the (state,
// received_at) index for "state = ?" and then sorts every row in the
// state. TestQueryPlans holds them to their indexes.
const (
	// queryDuePending walks the due pending deliveries in order.
	queryDuePending = `SELECT rowid, ` + entryColumns + ` FROM inbox INDEXED BY inbox_due
		WHERE state = 'pending' AND next_attempt <= ? ORDER BY next_attempt, rowid LIMIT ?`
	// queryDueLeased finds the expired leases; the leased are few (the
	// workers' leases), so sorting them costs little.
	queryDueLeased = `SELECT rowid, ` + entryColumns + ` FROM inbox INDEXED BY inbox_lease
		WHERE state = 'leased' AND lease_until < ? ORDER BY next_attempt, rowid LIMIT ?`
	// queryPurge deletes one chunk of the old done or dead deliveries;
	// the IN term repeats the partial index's condition, which SQLite
	// cannot infer from "state = ?".
	queryPurge = `DELETE FROM inbox WHERE rowid IN (
		SELECT rowid FROM inbox INDEXED BY inbox_updated
		WHERE state IN ('done', 'dead') AND state = ? AND updated_at < ? LIMIT ?)`
	// queryListReceived and queryListUpdated read one state's page of
	// List, from the position after the cursor's row; the rowid that
	// breaks ties is in every index entry, so the page is read in
	// order from the index. The cursor's row may be gone: the position
	// is values, not the row.
	queryListReceived = `SELECT rowid, ` + entryColumns + ` FROM inbox INDEXED BY inbox_received
		WHERE state = ? AND (received_at, rowid) > (?, ?) ORDER BY received_at, rowid LIMIT ?`
	// queryTenantBacklog reads one tenant's backlog, for
	// WithTenantCapacity: a lookup of its row, whatever the tenant holds.
	queryTenantBacklog = `SELECT n FROM inbox_tenants WHERE tenant = ?`
	queryListUpdated   = `SELECT rowid, ` + entryColumns + ` FROM inbox INDEXED BY inbox_updated
		WHERE state IN ('done', 'dead') AND state = ? AND (updated_at, rowid) > (?, ?) ORDER BY updated_at, rowid LIMIT ?`
)

func prepare(ctx context.Context, conn *sql.Conn) (statements, error) {
	var st statements
	list := []struct {
		p *(*sql.Stmt)
		q string
	}{
		{&st.begin, `BEGIN IMMEDIATE`},
		{&st.commit, `COMMIT`},
		{&st.version, `SELECT version FROM schema_version`},
		{&st.insertedKeys, `SELECT key FROM inbox WHERE rowid > ? AND rowid <= ?`},
		{&st.count, `UPDATE inbox_counts SET n = n + ? WHERE bucket = ?`},
		{&st.exists, `SELECT 1 FROM inbox WHERE key = ?`},
		{&st.backlog, `SELECT coalesce(sum(n), 0) FROM inbox_counts WHERE bucket IN ('pending', 'retrying', 'leased')`},
		{&st.tenantCount, `INSERT INTO inbox_tenants (tenant, n) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET n = n + excluded.n`},
		{&st.tenantBacklog, queryTenantBacklog},
		{&st.duePending, queryDuePending},
		{&st.dueLeased, queryDueLeased},
		{&st.lease, `UPDATE inbox SET state = 'leased', attempts = attempts + 1, lease_until = ?, token = ?,
			updated_at = ? WHERE rowid = ?`},
		{&st.complete, `UPDATE inbox SET state = 'done', lease_until = 0, token = '', updated_at = ?
			WHERE key = ? AND token = ? AND state = 'leased'`},
		{&st.retry, `UPDATE inbox SET state = 'pending', next_attempt = ?, lease_until = 0, token = '',
			last_error = ?, updated_at = ? WHERE key = ? AND token = ? AND state = 'leased'`},
		{&st.kill, `UPDATE inbox SET state = 'dead', lease_until = 0, token = '', last_error = ?, updated_at = ?
			WHERE key = ? AND token = ? AND state = 'leased'`},
		{&st.state, `SELECT state FROM inbox WHERE key = ?`},
		{&st.replay, `UPDATE inbox SET state = 'pending', attempts = 0, next_attempt = ?, lease_until = 0,
			token = '', updated_at = ? WHERE key = ? AND state IN ('done', 'dead')`},
		{&st.makeDue, `UPDATE inbox SET next_attempt = ? WHERE key = ? AND state = 'pending' AND next_attempt > ?`},
		{&st.purge, queryPurge},
	}
	for _, l := range list {
		stmt, err := conn.PrepareContext(ctx, l.q)
		if err != nil {
			err = errors.Join(err, st.close())
			return statements{}, fmt.Errorf("sqlitestore: prepare: %w", err)
		}
		*l.p = stmt
	}
	st.inserts = make(map[int]*sql.Stmt)
	return st, nil
}

// maxInsert is the most rows one INSERT statement takes; a larger batch
// is inserted in chunks. Chunks are powers of two, so a few prepared
// statements serve every batch size.
const maxInsert = 128

// insertRowArgs is the number of parameters of a row in insert.
const insertRowArgs = 10

// insert is the statement inserting n rows (a power of two), prepared
// on first use. Only the writer calls it. Its parameters are anonymous:
// the driver looks each numbered one up by name, in a list as long as
// the statement's, which cost a quarter of a large batch.
func (s *Inbox) insert(ctx context.Context, n int) (*sql.Stmt, error) {
	if stmt := s.stmt.inserts[n]; stmt != nil {
		return stmt, nil
	}
	var q strings.Builder
	q.WriteString(`INSERT INTO inbox (key, source, msg_id, signed_at, received_at, header, body, meta,
		state, attempts, next_attempt, lease_until, token, last_error, updated_at) VALUES `)
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, 0, '', '', ?)")
	}
	q.WriteString(" ON CONFLICT (key) DO NOTHING")
	stmt, err := s.conn.PrepareContext(ctx, q.String())
	if err != nil {
		return nil, err
	}
	s.stmt.inserts[n] = stmt
	return stmt, nil
}

func (st *statements) close() error {
	var errs []error
	for _, stmt := range st.inserts {
		errs = append(errs, stmt.Close())
	}
	for _, stmt := range []*sql.Stmt{st.begin, st.commit, st.version, st.insertedKeys, st.count, st.exists, st.backlog, st.tenantCount, st.tenantBacklog, st.duePending, st.dueLeased,
		st.lease, st.complete, st.retry, st.kill, st.state, st.replay, st.makeDue, st.purge} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(errs...)
}
