package sqlitestore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/inboxtest"
)

// TestConformance runs the webhook.Inbox conformance suite on a real file
// with the default durability (WAL, synchronous=FULL) and group commit.
func TestConformance(t *testing.T) {
	inboxtest.Run(t, func(t *testing.T, now func() time.Time) webhook.Inbox {
		return open(t, filepath.Join(t.TempDir(), "inbox.db"), WithClock(now))
	})
}

// FuzzInbox: what Store wrote to the file is what Get and Lease read
// back from it, byte for byte.
func FuzzInbox(f *testing.F) {
	inboxtest.Fuzz(f, func(t *testing.T, now func() time.Time) webhook.Inbox {
		return open(t, filepath.Join(t.TempDir(), "inbox.db"), WithClock(now))
	})
}
