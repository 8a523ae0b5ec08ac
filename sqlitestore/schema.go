package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// migrations[i] takes the schema from version i to version i+1. Each runs
// in the transaction that records the new version, so a crash in the
// middle leaves the old version whole, and every statement is written to
// be run again (IF NOT EXISTS, OR IGNORE) in case a migration is ever
// replayed over a half-finished hand edit. Append only: a released
// migration never changes.
var migrations = []string{
	// 1: the deliveries, their counts by bucket, and the indexes the
	// workers (due pending, expired leases) and the operators (by state in
	// received order, by state in update order for purging) read.
	//
	// Times are unix nanoseconds, 0 for the zero time. due_at is the time
	// a pending delivery is due; lease_until the end of a leased one's
	// lease. A rowid table rather than WITHOUT ROWID: rows carry whole
	// bodies, and rowid breaks ties in arrival order.
	`
CREATE TABLE IF NOT EXISTS inbox (
	key          TEXT    NOT NULL UNIQUE,
	source       TEXT    NOT NULL,
	msg_id       TEXT    NOT NULL,
	signed_at    INTEGER NOT NULL,
	received_at  INTEGER NOT NULL,
	header       BLOB    NOT NULL,
	body         BLOB    NOT NULL,
	meta         BLOB    NOT NULL,
	state        TEXT    NOT NULL,
	attempts     INTEGER NOT NULL,
	next_attempt INTEGER NOT NULL,
	lease_until  INTEGER NOT NULL,
	token        TEXT    NOT NULL,
	last_error   TEXT    NOT NULL,
	updated_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_due ON inbox (next_attempt) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS inbox_lease ON inbox (lease_until) WHERE state = 'leased';
CREATE INDEX IF NOT EXISTS inbox_received ON inbox (state, received_at);
CREATE INDEX IF NOT EXISTS inbox_updated ON inbox (state, updated_at) WHERE state IN ('done', 'dead');

-- Counts by bucket, kept by triggers so that Stats and the capacity check
-- cost one small read whatever the inbox holds, and stay right when
-- several processes write. 'retrying' is pending with attempts > 0.
CREATE TABLE IF NOT EXISTS inbox_counts (
	bucket TEXT PRIMARY KEY,
	n      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO inbox_counts (bucket, n) VALUES
	('pending', 0), ('retrying', 0), ('leased', 0), ('done', 0), ('dead', 0);

CREATE TRIGGER IF NOT EXISTS inbox_count_insert AFTER INSERT ON inbox BEGIN
	UPDATE inbox_counts SET n = n + 1 WHERE bucket =
		CASE WHEN NEW.state = 'pending' AND NEW.attempts > 0 THEN 'retrying' ELSE NEW.state END;
END;
CREATE TRIGGER IF NOT EXISTS inbox_count_delete AFTER DELETE ON inbox BEGIN
	UPDATE inbox_counts SET n = n - 1 WHERE bucket =
		CASE WHEN OLD.state = 'pending' AND OLD.attempts > 0 THEN 'retrying' ELSE OLD.state END;
END;
CREATE TRIGGER IF NOT EXISTS inbox_count_update AFTER UPDATE OF state, attempts ON inbox
WHEN (CASE WHEN OLD.state = 'pending' AND OLD.attempts > 0 THEN 'retrying' ELSE OLD.state END) IS NOT
     (CASE WHEN NEW.state = 'pending' AND NEW.attempts > 0 THEN 'retrying' ELSE NEW.state END)
BEGIN
	UPDATE inbox_counts SET n = n - 1 WHERE bucket =
		CASE WHEN OLD.state = 'pending' AND OLD.attempts > 0 THEN 'retrying' ELSE OLD.state END;
	UPDATE inbox_counts SET n = n + 1 WHERE bucket =
		CASE WHEN NEW.state = 'pending' AND NEW.attempts > 0 THEN 'retrying' ELSE NEW.state END;
END;
`,
	// 2: the writer keeps the counts, adding each transaction's changes
	// by bucket in the transaction itself (exact with several processes
	// too): a trigger's sub-program and statement journal for every row
	// cost a fifth of a Store's insert.
	`
DROP TRIGGER IF EXISTS inbox_count_insert;
DROP TRIGGER IF EXISTS inbox_count_delete;
DROP TRIGGER IF EXISTS inbox_count_update;
`,
	// 3: the backlog (pending and leased deliveries) of each tenant, for
	// WithTenantCapacity: kept by the writer, as the counts are, so that
	// a Store checks its tenant's bound with one read of a small table.
	// The tenant is webhook.KeyTenant's: what lies between a key's first
	// '@' and its first ':', when the '@' comes first, else ''. Read here
	// from the key's bytes (instr and substr of a BLOB count bytes), as
	// KeyTenant does, to count the deliveries stored before.
	`
CREATE TABLE IF NOT EXISTS inbox_tenants (
	tenant TEXT PRIMARY KEY,
	n      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO inbox_tenants (tenant, n)
	SELECT CASE WHEN at > 0 AND colon > at THEN CAST(substr(k, at + 1, colon - at - 1) AS TEXT) ELSE '' END, count(*)
	FROM (SELECT CAST(key AS BLOB) AS k, instr(CAST(key AS BLOB), X'40') AS at, instr(CAST(key AS BLOB), X'3A') AS colon
		FROM inbox WHERE state IN ('pending', 'leased'))
	GROUP BY 1;
`,
}

// SchemaVersion is the schema version this package creates and reads.
// Open migrates an older file up to it and refuses a newer one, and an
// Inbox writes nothing more once another process has migrated its file
// past it (see ErrNewerSchema).
const SchemaVersion = 3

// errNotWritable is migrate's error for a file SQLite opened read-only.
var errNotWritable = errors.New("the file is not writable (opened read-only); give the process write access to it and its directory, or open it WithReadOnly")

// migrate brings the file's schema up to SchemaVersion. It holds the write
// lock (BEGIN IMMEDIATE) from reading the version to recording the new
// one, so processes opening the same new file at once migrate it once.
// It writes the file at every Open, to tell one it cannot write.
func migrate(ctx context.Context, conn *sql.Conn, migrations []string) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	var version int
	switch err := conn.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version); err {
	case nil:
	case sql.ErrNoRows:
		if _, err := conn.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("sqlitestore: migrate: %w", err)
		}
	default:
		return fmt.Errorf("sqlitestore: migrate: reading the schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("%w: the file has schema version %d, this version %d: open it with a newer version", ErrNewerSchema, version, len(migrations))
	}
	// A write every Open makes, of nothing: SQLite opens a file it may
	// not write (its mode, a read-only mount, an immutable file) read-only
	// without a word, and the transaction above takes the write lock all
	// the same in WAL mode; an Inbox on it would fail every write after.
	if _, err := conn.ExecContext(ctx, `UPDATE schema_version SET version = version`); err != nil {
		var se *sqlite.Error
		if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_READONLY {
			return errNotWritable
		}
		return fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	for v := version; v < len(migrations); v++ {
		if _, err := conn.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("sqlitestore: migrate to version %d: %w", v+1, err)
		}
	}
	if version < len(migrations) {
		if _, err := conn.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
			return fmt.Errorf("sqlitestore: migrate: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	return nil
}
