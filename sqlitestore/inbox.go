package sqlitestore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/listcursor"
	"github.com/inhook/webhook/internal/strjson"
)

// purgeChunk is the number of rows one Purge transaction deletes: a large
// purge runs as many short transactions, so Stores keep committing
// between them instead of waiting for the whole purge.
const purgeChunk = 500

// Store adds e as pending and due now, returning once the transaction
// holding it has committed (and, with SyncFull, is on disk). A key already
// stored, in any state, is left as it is and Store reports false.
func (s *Inbox) Store(ctx context.Context, e *webhook.InboxEntry) (bool, error) {
	if s.cfg.readOnly {
		return false, ErrReadOnly
	}
	if e == nil || e.Key == "" {
		return false, errors.New("sqlitestore: Store: an entry needs a key")
	}
	header, err := strjson.MarshalHeader(e.Header)
	if err != nil {
		return false, fmt.Errorf("sqlitestore: Store: header: %w", err)
	}
	meta, err := strjson.MarshalMeta(e.Meta)
	if err != nil {
		return false, fmt.Errorf("sqlitestore: Store: meta: %w", err)
	}
	body := e.Body
	if body == nil {
		body = []byte{} // the column is NOT NULL; a nil slice binds as NULL
	}
	row := &storeRow{key: e.Key, tenant: webhook.KeyTenant(e.Key), source: string(e.Source), id: e.ID, signed: nanos(e.Timestamp),
		received: nanos(e.ReceivedAt), header: header, body: body, meta: meta}
	if err := s.send(ctx, &op{ctx: ctx, row: row}); err != nil {
		return false, err
	}
	return row.stored, nil
}

// storeRows inserts the rows of ops, Stores all, in tx. Under the
// capacity and the tenants' bounds it inserts them all at once; near one
// of them, one at a time, each checking the backlogs. It returns an op
// to blame if the database fails.
func (s *Inbox) storeRows(tx *wtx, ops []*op) (*op, error) {
	now := nanos(s.cfg.now())
	for _, o := range ops {
		o.row.stored = false
		o.outcome = nil
	}
	near, err := s.nearFull(tx, ops)
	if err != nil {
		return ops[0], err
	}
	if near {
		for _, o := range ops {
			if err := s.storeNearFull(tx, o, now); err != nil {
				return o, err
			}
		}
		return nil, nil
	}
	// A key twice in one batch is stored for the first and a duplicate
	// for the others, as if they had come one after the other.
	first := make(map[string]*op, len(ops))
	rows := make([]*storeRow, 0, len(ops))
	for _, o := range ops {
		if _, ok := first[o.row.key]; !ok {
			first[o.row.key] = o
			rows = append(rows, o.row)
		}
	}
	n, err := s.insertRows(tx, rows, now)
	if err != nil {
		return ops[0], err
	}
	tx.counts[bucketPending] += n
	if tx.backlog >= 0 {
		tx.backlog += n
	}
	for _, r := range rows {
		if r.stored {
			tx.waiting(r.tenant, 1)
		}
	}
	return nil, nil
}

// nearFull reports whether storing every row of ops could pass the
// capacity or a tenant's bound, reading the backlogs it needs.
func (s *Inbox) nearFull(tx *wtx, ops []*op) (bool, error) {
	if s.cfg.capacity > 0 {
		if tx.backlog < 0 {
			if err := tx.s.stmt.backlog.QueryRowContext(tx.ctx).Scan(&tx.backlog); err != nil {
				return false, err
			}
		}
		if tx.backlog+len(ops) > s.cfg.capacity {
			return true, nil
		}
	}
	if s.cfg.tenantCap <= 0 {
		return false, nil
	}
	// The rows of each tenant, the batch's first tenant (most often its
	// only one) counted without a map.
	first, firstN := ops[0].row.tenant, 0
	var others map[string]int
	for _, o := range ops {
		if o.row.tenant == first {
			firstN++
			continue
		}
		if others == nil {
			others = make(map[string]int)
		}
		others[o.row.tenant]++
	}
	b, err := tx.tenantBacklog(first)
	if err != nil || b+firstN > s.cfg.tenantCap {
		return err == nil, err
	}
	for tenant, n := range others {
		b, err := tx.tenantBacklog(tenant)
		if err != nil || b+n > s.cfg.tenantCap {
			return err == nil, err
		}
	}
	return false, nil
}

// storeNearFull stores o's row alone, refusing it if the backlog is at
// the capacity or its tenant's at its bound.
func (s *Inbox) storeNearFull(tx *wtx, o *op, now int64) error {
	full := ""
	if s.cfg.capacity > 0 && tx.backlog >= s.cfg.capacity {
		full = fmt.Sprintf("%d deliveries waiting", tx.backlog)
	} else if s.cfg.tenantCap > 0 {
		b, err := tx.tenantBacklog(o.row.tenant)
		if err != nil {
			return err
		}
		if b >= s.cfg.tenantCap {
			full = fmt.Sprintf("tenant %q has %d deliveries waiting, its bound", o.row.tenant, b)
		}
	}
	if full != "" {
		// Full, but a key already stored is still only a duplicate to
		// acknowledge.
		var one int
		switch err := tx.s.stmt.exists.QueryRowContext(tx.ctx, o.row.key).Scan(&one); err {
		case nil:
		case sql.ErrNoRows:
			o.outcome = fmt.Errorf("sqlitestore: %s: %w", full, webhook.ErrInboxFull)
		default:
			return err
		}
		return nil
	}
	n, err := s.insertRows(tx, []*storeRow{o.row}, now)
	if err != nil {
		return err
	}
	tx.counts[bucketPending] += n
	if tx.backlog >= 0 {
		tx.backlog += n
	}
	tx.waiting(o.row.tenant, n)
	return nil
}

// insertRows inserts rows, whose keys differ, as pending and due at now,
// leaving a key already stored as it is. It marks the rows it stored and
// returns their number.
//
// Each chunk is one INSERT … ON CONFLICT DO NOTHING run with Exec: when
// it inserted every row (a duplicate key is rare) its changes count says
// so, without RETURNING's buffered result rows. Otherwise the rows it
// inserted are the last ones of the table: without AUTOINCREMENT each
// new rowid is one past the largest, so they hold the rowids up to the
// last one inserted, and a query of those rowids names them.
func (s *Inbox) insertRows(tx *wtx, rows []*storeRow, now int64) (int, error) {
	stored := 0
	args := make([]any, 0, insertRowArgs*min(len(rows), maxInsert))
	for len(rows) > 0 {
		n := maxInsert
		for n > len(rows) {
			n /= 2
		}
		chunk := rows[:n]
		rows = rows[n:]
		stmt, err := s.insert(tx.ctx, n)
		if err != nil {
			return 0, err
		}
		args = args[:0]
		for _, r := range chunk {
			received := r.received
			if received == 0 {
				received = now
			}
			args = append(args, r.key, r.source, r.id, r.signed, received, r.header, r.body, r.meta, now, now)
		}
		res, err := stmt.ExecContext(tx.ctx, args...)
		if err != nil {
			return 0, err
		}
		inserted, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		switch {
		case inserted == int64(len(chunk)):
			for _, r := range chunk {
				r.stored = true
			}
		case inserted > 0:
			last, err := res.LastInsertId()
			if err != nil {
				return 0, err
			}
			if err := s.markInserted(tx, chunk, last-inserted, last); err != nil {
				return 0, err
			}
		}
		stored += int(inserted)
	}
	return stored, nil
}

// markInserted marks the rows of chunk whose rows have rowids in (from,
// to], those the chunk's insert added. It fails unless it finds one row
// of the chunk for each rowid, so that a rowid chosen otherwise (SQLite
// picks them at random once the largest is the largest integer) spoils
// the transaction instead of misreporting a Store: each Store is then
// run again alone, where the changes count is the whole answer.
func (s *Inbox) markInserted(tx *wtx, chunk []*storeRow, from, to int64) error {
	byKey := make(map[string]*storeRow, len(chunk))
	for _, r := range chunk {
		byKey[r.key] = r
	}
	res, err := tx.s.stmt.insertedKeys.QueryContext(tx.ctx, from, to)
	if err != nil {
		return err
	}
	found := int64(0)
	for res.Next() {
		var key string
		if err := res.Scan(&key); err != nil {
			res.Close()
			return err
		}
		r := byKey[key]
		if r == nil || r.stored {
			res.Close()
			return fmt.Errorf("inserted row %q is not the batch's", key)
		}
		r.stored = true
		found++
	}
	if err := errors.Join(res.Err(), res.Close()); err != nil {
		return err
	}
	if found != to-from {
		return fmt.Errorf("found %d of the %d rows inserted", found, to-from)
	}
	return nil
}

// Lease takes up to max due deliveries for lease, oldest NextAttempt
// first: pending ones due by now and leased ones whose lease ran out. It
// returns once committed, without waiting for a sync (see the package
// doc), as do Complete, Retry and Kill.
func (s *Inbox) Lease(ctx context.Context, max int, lease time.Duration) ([]webhook.InboxLease, error) {
	if s.cfg.readOnly {
		return nil, ErrReadOnly
	}
	if lease <= 0 {
		return nil, fmt.Errorf("sqlitestore: Lease: lease %v is not positive", lease)
	}
	if max <= 0 {
		return nil, nil
	}
	var leases []webhook.InboxLease
	err := s.doSettled(ctx, func(tx *wtx) (error, error) {
		leases = leases[:0]
		now := s.cfg.now()
		cands, err := queryDue(tx, tx.s.stmt.duePending, nanos(now), max, nil)
		if err != nil {
			return nil, err
		}
		cands, err = queryDue(tx, tx.s.stmt.dueLeased, nanos(now), max, cands)
		if err != nil {
			return nil, err
		}
		sort.Slice(cands, func(i, j int) bool {
			a, b := cands[i], cands[j]
			if !a.e.NextAttempt.Equal(b.e.NextAttempt) {
				return a.e.NextAttempt.Before(b.e.NextAttempt)
			}
			return a.rowid < b.rowid
		})
		if len(cands) > max {
			cands = cands[:max]
		}
		until := now.Add(lease)
		for _, c := range cands {
			tx.move(bucketOf(c.e.State, c.e.Attempts), bucketLeased, 1)
			token := newToken()
			if _, err := tx.s.stmt.lease.ExecContext(tx.ctx, nanos(until), token, nanos(now), c.rowid); err != nil {
				return nil, err
			}
			c.e.State = webhook.InboxLeased
			c.e.Attempts++
			c.e.LeaseUntil = until
			c.e.UpdatedAt = now
			leases = append(leases, webhook.InboxLease{Entry: c.e, Token: token})
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return leases, nil
}

type candidate struct {
	rowid int64
	e     webhook.InboxEntry
}

func queryDue(tx *wtx, stmt *sql.Stmt, now int64, max int, into []candidate) ([]candidate, error) {
	rows, err := stmt.QueryContext(tx.ctx, now, max)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var c candidate
		if err := scanEntry(rows, &c.rowid, &c.e); err != nil {
			return nil, err
		}
		into = append(into, c)
	}
	return into, rows.Err()
}

// Complete marks a leased delivery done.
func (s *Inbox) Complete(ctx context.Context, key, token string) error {
	return s.settle(ctx, key, bucketDone, func(tx *wtx, now int64) (sql.Result, error) {
		return tx.s.stmt.complete.ExecContext(tx.ctx, now, key, token)
	})
}

// Retry returns a leased delivery to pending, due at next, recording
// lastErr.
func (s *Inbox) Retry(ctx context.Context, key, token string, next time.Time, lastErr string) error {
	return s.settle(ctx, key, bucketRetrying, func(tx *wtx, now int64) (sql.Result, error) {
		return tx.s.stmt.retry.ExecContext(tx.ctx, nanos(next), lastErr, now, key, token)
	})
}

// Kill marks a leased delivery dead, recording lastErr.
func (s *Inbox) Kill(ctx context.Context, key, token string, lastErr string) error {
	return s.settle(ctx, key, bucketDead, func(tx *wtx, now int64) (sql.Result, error) {
		return tx.s.stmt.kill.ExecContext(tx.ctx, lastErr, now, key, token)
	})
}

// settle runs an update that applies only while token holds key's lease,
// moving the delivery to bucket to, and reports ErrLeaseLost when it
// applied to nothing. (A leased delivery has been attempted, so one
// returned to pending is retrying.)
func (s *Inbox) settle(ctx context.Context, key string, to bucket, update func(tx *wtx, now int64) (sql.Result, error)) error {
	return s.doSettled(ctx, func(tx *wtx) (error, error) {
		res, err := update(tx, nanos(s.cfg.now()))
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return fmt.Errorf("sqlitestore: %q: %w", key, webhook.ErrLeaseLost), nil
		}
		tx.move(bucketLeased, to, int(n))
		if to == bucketDone || to == bucketDead {
			tx.waiting(webhook.KeyTenant(key), -int(n))
		}
		return nil, nil
	})
}

// Replay returns a done or dead delivery to pending, due now, with
// Attempts reset and LastError kept; it makes a pending one due now. A
// leased one is refused with an error wrapping webhook.ErrInFlight.
func (s *Inbox) Replay(ctx context.Context, key string) error {
	return s.do(ctx, func(tx *wtx) (error, error) {
		var state string
		switch err := tx.s.stmt.state.QueryRowContext(tx.ctx, key).Scan(&state); err {
		case nil:
		case sql.ErrNoRows:
			return fmt.Errorf("sqlitestore: %q: %w", key, webhook.ErrNotFound), nil
		default:
			return nil, err
		}
		now := nanos(s.cfg.now())
		switch webhook.InboxState(state) {
		case webhook.InboxLeased:
			return fmt.Errorf("sqlitestore: replay %q: %w", key, webhook.ErrInFlight), nil
		case webhook.InboxPending:
			_, err := tx.s.stmt.makeDue.ExecContext(tx.ctx, now, key, now)
			return nil, err
		default:
			res, err := tx.s.stmt.replay.ExecContext(tx.ctx, now, now, key)
			if err != nil {
				return nil, err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return nil, err
			}
			tx.move(bucketOf(webhook.InboxState(state), 0), bucketPending, int(n))
			tx.waiting(webhook.KeyTenant(key), int(n))
			return nil, nil
		}
	})
}

// Purge deletes the done and dead deliveries (only those in state, when
// it is not empty) last updated before before, and reports how many it
// deleted. It deletes in short transactions, so deliveries keep being
// stored meanwhile; if it fails part way, the count says what was
// deleted.
func (s *Inbox) Purge(ctx context.Context, state webhook.InboxState, before time.Time) (int, error) {
	if s.cfg.readOnly {
		return 0, ErrReadOnly
	}
	var states []webhook.InboxState
	switch state {
	case "":
		states = []webhook.InboxState{webhook.InboxDone, webhook.InboxDead}
	case webhook.InboxDone, webhook.InboxDead:
		states = []webhook.InboxState{state}
	case webhook.InboxPending, webhook.InboxLeased:
		return 0, nil // never purged
	default:
		return 0, fmt.Errorf("sqlitestore: Purge: unknown state %q", state)
	}
	total := 0
	for _, st := range states {
		for {
			var n int64
			err := s.do(ctx, func(tx *wtx) (error, error) {
				res, err := tx.s.stmt.purge.ExecContext(tx.ctx, string(st), nanos(before), purgeChunk)
				if err != nil {
					return nil, err
				}
				if n, err = res.RowsAffected(); err != nil {
					return nil, err
				}
				tx.counts[bucketOf(st, 0)] -= int(n)
				return nil, nil
			})
			if err != nil {
				return total, err
			}
			total += int(n)
			if n < purgeChunk {
				break
			}
		}
	}
	return total, nil
}

// Get returns the delivery stored under key, or an error wrapping
// webhook.ErrNotFound.
func (s *Inbox) Get(ctx context.Context, key string) (webhook.InboxEntry, error) {
	if err := s.checkOpen(); err != nil {
		return webhook.InboxEntry{}, err
	}
	row := s.db.QueryRowContext(ctx, `SELECT 0, `+entryColumns+` FROM inbox WHERE key = ?`, key)
	var e webhook.InboxEntry
	var rowid int64
	switch err := scanEntry(row, &rowid, &e); {
	case err == nil:
		return e, nil
	case errors.Is(err, sql.ErrNoRows):
		return webhook.InboxEntry{}, fmt.Errorf("sqlitestore: %q: %w", key, webhook.ErrNotFound)
	default:
		return webhook.InboxEntry{}, fmt.Errorf("sqlitestore: Get: %w", err)
	}
}

// List returns a page of the deliveries in q.State (every state if
// empty), at most q.Limit of them (webhook.DefaultListLimit if 0 or less), as
// webhook.Inbox.List says. Each state's part of the page is one walk of
// its index, inbox_received (state, received_at) or inbox_updated
// (state, updated_at), from the cursor's position; rowid breaks ties.
// The states are read in one read transaction, at one moment.
func (s *Inbox) List(ctx context.Context, q webhook.InboxQuery) (webhook.InboxPage, error) {
	if err := s.checkOpen(); err != nil {
		return webhook.InboxPage{}, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = webhook.DefaultListLimit
	}
	fetch := limit
	if fetch < math.MaxInt {
		fetch++ // one more, to tell whether there are more
	}
	query := queryListReceived
	switch q.Order {
	case webhook.InboxByReceived:
	case webhook.InboxByUpdated:
		if q.State != webhook.InboxDone && q.State != webhook.InboxDead {
			return webhook.InboxPage{}, fmt.Errorf("sqlitestore: List: update order lists done or dead deliveries, not state %q", q.State)
		}
		query = queryListUpdated
	default:
		return webhook.InboxPage{}, fmt.Errorf("sqlitestore: List: unknown order %d", q.Order)
	}
	// Before every row: times are int64 nanoseconds, rowids positive.
	at, rowid := int64(math.MinInt64), int64(math.MinInt64)
	if q.After != "" {
		c, err := listcursor.Parse(q.After, cursorKind, int(q.Order), string(q.State))
		if err == nil {
			at, err = strconv.ParseInt(c.At, 10, 64)
		}
		if err == nil {
			rowid, err = strconv.ParseInt(c.Tie, 10, 64)
		}
		if err != nil {
			return webhook.InboxPage{}, fmt.Errorf("sqlitestore: List: %w: %v", webhook.ErrBadCursor, err)
		}
	}
	if q.OmitBody {
		query = strings.Replace(query, "header, body, meta", "header, x'', meta", 1)
	}
	states := []webhook.InboxState{q.State}
	switch q.State {
	case "":
		states = []webhook.InboxState{webhook.InboxPending, webhook.InboxLeased, webhook.InboxDone, webhook.InboxDead}
	case webhook.InboxPending, webhook.InboxLeased, webhook.InboxDone, webhook.InboxDead:
	default:
		return webhook.InboxPage{Next: q.After}, nil // no delivery is in a state that does not exist
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return webhook.InboxPage{}, fmt.Errorf("sqlitestore: List: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // read only: nothing to keep
	var all []candidate
	for _, st := range states {
		rows, err := tx.QueryContext(ctx, query, string(st), at, rowid, fetch)
		if err != nil {
			return webhook.InboxPage{}, fmt.Errorf("sqlitestore: List: %w", err)
		}
		for rows.Next() {
			var c candidate
			if err := scanEntry(rows, &c.rowid, &c.e); err != nil {
				rows.Close()
				return webhook.InboxPage{}, fmt.Errorf("sqlitestore: List: %w", err)
			}
			if q.OmitBody {
				c.e.Body = nil
			}
			all = append(all, c)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return webhook.InboxPage{}, fmt.Errorf("sqlitestore: List: %w", err)
		}
	}
	posOf := func(c *candidate) int64 {
		if q.Order == webhook.InboxByUpdated {
			return nanos(c.e.UpdatedAt)
		}
		return nanos(c.e.ReceivedAt)
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := posOf(&all[i]), posOf(&all[j])
		if a != b {
			return a < b
		}
		return all[i].rowid < all[j].rowid
	})
	page := webhook.InboxPage{Next: q.After, More: len(all) > limit}
	if page.More {
		all = all[:limit]
	}
	page.Entries = make([]webhook.InboxEntry, len(all))
	for i, c := range all {
		page.Entries[i] = c.e
	}
	if n := len(all); n > 0 {
		last := &all[n-1]
		page.Next = listcursor.Cursor{Kind: cursorKind, Order: int(q.Order), State: string(q.State),
			At: strconv.FormatInt(posOf(last), 10), Tie: strconv.FormatInt(last.rowid, 10)}.String()
	}
	return page, nil
}

// cursorKind marks an Inbox's list cursors.
const cursorKind = "sqlite"

// Stats counts the deliveries by state, read at one moment.
func (s *Inbox) Stats(ctx context.Context) (webhook.InboxStats, error) {
	if err := s.checkOpen(); err != nil {
		return webhook.InboxStats{}, err
	}
	var st webhook.InboxStats
	var oldPending, oldLeased sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT n FROM inbox_counts WHERE bucket = 'pending'),
		(SELECT n FROM inbox_counts WHERE bucket = 'retrying'),
		(SELECT n FROM inbox_counts WHERE bucket = 'leased'),
		(SELECT n FROM inbox_counts WHERE bucket = 'done'),
		(SELECT n FROM inbox_counts WHERE bucket = 'dead'),
		(SELECT min(received_at) FROM inbox WHERE state = 'pending'),
		(SELECT min(received_at) FROM inbox WHERE state = 'leased')`).
		Scan(&st.Pending, &st.Retrying, &st.InFlight, &st.Done, &st.Dead, &oldPending, &oldLeased)
	if err != nil {
		return webhook.InboxStats{}, fmt.Errorf("sqlitestore: Stats: %w", err)
	}
	for _, o := range []sql.NullInt64{oldPending, oldLeased} {
		if o.Valid {
			if t := fromNanos(o.Int64); st.OldestPending.IsZero() || t.Before(st.OldestPending) {
				st.OldestPending = t
			}
		}
	}
	return st, nil
}

func (s *Inbox) checkOpen() error {
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	if s.isClosed {
		return ErrClosed
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanEntry(r scanner, rowid *int64, e *webhook.InboxEntry) error {
	var source, state string
	var signed, received, next, until, updated int64
	var header, meta []byte
	if err := r.Scan(rowid, &e.Key, &source, &e.ID, &signed, &received, &header, &e.Body, &meta,
		&state, &e.Attempts, &next, &until, &e.LastError, &updated); err != nil {
		return err
	}
	e.Source = event.Source(source)
	e.State = webhook.InboxState(state)
	e.Timestamp = fromNanos(signed)
	e.ReceivedAt = fromNanos(received)
	e.NextAttempt = fromNanos(next)
	e.LeaseUntil = fromNanos(until)
	e.UpdatedAt = fromNanos(updated)
	e.Header = nil
	if err := strjson.UnmarshalHeader(header, &e.Header); err != nil {
		return fmt.Errorf("stored header of %q: %w", e.Key, err)
	}
	e.Meta = nil
	if err := strjson.UnmarshalMeta(meta, &e.Meta); err != nil {
		return fmt.Errorf("stored meta of %q: %w", e.Key, err)
	}
	return nil
}

// nanos is t in unix nanoseconds, 0 for the zero time. A time past what
// an int64 of nanoseconds holds (the year 2262: a lease's end or a retry's
// due time a caller's Duration ahead) saturates instead of wrapping round
// into the past, which would end a lease before its callback began or
// make a retry due at once.
func nanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
