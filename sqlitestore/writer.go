package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
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
	// store marks a Store's write: only they make the writer linger.
	store bool
}

// wtx is the writer's view of one transaction.
type wtx struct {
	ctx context.Context
	s   *Store
	// backlog is the count of pending and leased deliveries, read at the
	// first Store of the transaction when there is a capacity and kept up
	// to date by the Stores after it; -1 until read.
	backlog int
}

// do hands a write to the writer and waits for the commit of the
// transaction that holds it. If ctx ends before the writer takes the
// write up, the write is dropped and do returns ctx.Err(); once the writer
// has it, do waits for its result, so a Lease whose transaction committed
// always reaches its caller instead of holding deliveries until the
// lease runs out.
func (s *Store) do(ctx context.Context, run func(tx *wtx) (outcome, err error)) error {
	return s.send(ctx, run, false)
}

// send is do, store telling a Store's write from the others.
func (s *Store) send(ctx context.Context, run func(tx *wtx) (outcome, err error), store bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{ctx: ctx, run: run, done: make(chan error, 1), store: store}
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
// maxBatch) in each transaction: while one transaction syncs, the next
// one's writes queue up, so under load a sync serves many writes, and a
// lone write is not delayed to wait for company. Under concurrent load
// it lingers briefly before committing (see linger).
func (s *Store) writer() {
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
			if o.store {
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
// while the next transaction commits the others, so each sync serves
// only part of them. Waiting a fraction of a sync lets the callers just
// answered join the next transaction, and one sync then serves them all.
// A lone caller (the previous transaction held one Store) never waits,
// nor do the workers' leases and completions: a drain's workers are all
// waiting already, and lingering only slowed them (BenchmarkDrain).
func (s *Store) linger(last lastCommit) time.Duration {
	if last.ops < 2 || s.cfg.maxBatch < 2 {
		return 0
	}
	return min(last.avg/2, maxLinger)
}

// gatherTo is the batch size at which the writer stops lingering: the
// most Stores a transaction held since the last probe, or maxBatch on
// every probeEvery-th transaction, which lingers its whole linger to
// find a larger crowd.
func (s *Store) gatherTo(last lastCommit) int {
	if last.n%probeEvery == 0 {
		return s.cfg.maxBatch
	}
	return min(max(last.peak, 2), s.cfg.maxBatch)
}

// maxLinger bounds linger, whatever a sync costs.
const maxLinger = time.Millisecond

// commit runs ops in one transaction and answers each. If an op spoils
// the transaction, it runs each op again in a transaction of its own, so
// one bad write fails alone.
func (s *Store) commit(ops []*op) {
	live := ops[:0:0]
	for _, o := range ops {
		if err := o.ctx.Err(); err != nil {
			o.done <- err // its caller has gone: do not write for it
			continue
		}
		live = append(live, o)
	}
	if len(live) == 0 {
		return
	}
	spoiled, err := s.runTx(live)
	if err == nil {
		for _, o := range live {
			o.done <- o.outcome
		}
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
	for _, o := range live {
		if _, err := s.runTx([]*op{o}); err != nil {
			o.done <- err
		} else {
			o.done <- o.outcome
		}
	}
}

// runTx runs ops in one transaction. On failure it rolls back and
// returns the error, with the op that caused it, or nil if beginning or
// committing failed.
func (s *Store) runTx(ops []*op) (spoiled *op, err error) {
	ctx := context.Background()
	// IMMEDIATE takes the write lock at once, waiting up to the busy
	// timeout for another process: a deferred transaction that reads
	// first could fail to upgrade its lock, and busy_timeout does not
	// help there.
	if _, err := s.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return nil, fmt.Errorf("sqlitestore: begin: %w", err)
	}
	tx := &wtx{ctx: ctx, s: s, backlog: -1}
	for _, o := range ops {
		var err error
		o.outcome, err = o.run(tx)
		if err != nil {
			s.rollback()
			return o, fmt.Errorf("sqlitestore: %w", err)
		}
	}
	if _, err := s.conn.ExecContext(ctx, "COMMIT"); err != nil {
		s.rollback()
		return nil, fmt.Errorf("sqlitestore: commit: %w", err)
	}
	s.commits.Add(1)
	return nil, nil
}

func (s *Store) rollback() {
	// A failed statement may have rolled the transaction back already;
	// "no transaction is active" is then the expected answer.
	_, _ = s.conn.ExecContext(context.Background(), "ROLLBACK")
}

// statements are the writer's prepared statements, on its connection.
type statements struct {
	insert, exists, backlog       *sql.Stmt
	duePending, dueLeased, lease  *sql.Stmt
	complete, retry, kill         *sql.Stmt
	state, replay, makeDue, purge *sql.Stmt
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
)

func prepare(ctx context.Context, conn *sql.Conn) (statements, error) {
	var st statements
	list := []struct {
		p *(*sql.Stmt)
		q string
	}{
		{&st.insert, `INSERT INTO inbox (key, source, msg_id, signed_at, received_at, header, body, meta,
			state, attempts, next_attempt, lease_until, token, last_error, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, 0, '', '', ?)
			ON CONFLICT (key) DO NOTHING`},
		{&st.exists, `SELECT 1 FROM inbox WHERE key = ?`},
		{&st.backlog, `SELECT coalesce(sum(n), 0) FROM inbox_counts WHERE bucket IN ('pending', 'retrying', 'leased')`},
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
	return st, nil
}

func (st *statements) close() error {
	var errs []error
	for _, stmt := range []*sql.Stmt{st.insert, st.exists, st.backlog, st.duePending, st.dueLeased,
		st.lease, st.complete, st.retry, st.kill, st.state, st.replay, st.makeDue, st.purge} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(errs...)
}
