package load

import (
	"path/filepath"

	"github.com/inhook/webhook/sqlitestore"
)

// Inbox names the target of our handler in inbox mode on the SQLite
// inbox (synchronous=FULL, group commit).
const Inbox = "inbox"

// SQLiteInboxTarget returns our handler in inbox mode on a
// sqlitestore.Inbox in a new file in dir, with one OnJamCreated callback,
// and a function that closes the inbox. The handler answers 200 once the
// delivery is on disk. The workers do not run during the rounds, so the
// rounds measure what a 200 costs in inbox mode; the target's Settle then
// runs them until every stored delivery has been processed, so Calls can
// be checked against the 200s. BenchmarkDrain in sqlitestore measures
// the workers' rate.
func SQLiteInboxTarget(dir string) (Target, func() error, error) {
	ib, err := sqlitestore.Open(filepath.Join(dir, "inbox.db"))
	if err != nil {
		return Target{}, nil, err
	}
	t, err := inboxTarget(Inbox, ib)
	if err != nil {
		ib.Close()
		return Target{}, nil, err
	}
	return t, ib.Close, nil
}
