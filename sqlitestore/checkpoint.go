package sqlitestore

import (
	"context"
	"time"
)

// checkpointEvery is the least time between two of the checkpointer's
// passes. At thousands of deliveries a second a pass copies a few dozen
// pages, so the writer's own checkpoint, when the log reaches SQLite's
// 1,000 pages, finds little left to copy.
const checkpointEvery = 10 * time.Millisecond

// checkpointer copies the write-ahead log into the database beside the
// writer: a PASSIVE checkpoint on a reader's connection, which takes no
// write lock and waits for nobody. SQLite's automatic checkpoint runs in
// the commit that fills the log to 1,000 pages, inside the writer's
// transaction, and costs it the copy and two syncs (the log's, then the
// database's); with this pass it finds most pages already copied, and
// the log restarts as before. The restart must stay with the writer: a log
// is restarted only by a write transaction that begins once every frame
// has been copied, which a pass beside a busy writer never sees.
func (s *Inbox) checkpointer() {
	defer close(s.ckptDone)
	ctx := context.Background()
	for {
		select {
		case <-s.ckptKick:
		case <-s.ckptStop:
			return
		}
		// A failed pass leaves the work to SQLite's own checkpoint.
		_, _ = s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		_ = s.logInPlace() // refuses the writes after, if it fails
		select {
		case <-time.After(checkpointEvery):
		case <-s.ckptStop:
			return
		}
	}
}

// kickCheckpointer tells the checkpointer a transaction has committed.
func (s *Inbox) kickCheckpointer() {
	select {
	case s.ckptKick <- struct{}{}:
	default:
	}
}
