package sqlitestore

import (
	"fmt"
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

// TestTenantCapacity runs the conformance suite of a bound on each
// tenant's backlog (WithTenantCapacity), alone and beside a capacity.
func TestTenantCapacity(t *testing.T) {
	for _, capacity := range []int{0, 100} {
		t.Run(fmt.Sprint("capacity=", capacity), func(t *testing.T) {
			inboxtest.TenantCapacity(t, 3, func(t *testing.T, now func() time.Time) webhook.Inbox {
				return open(t, filepath.Join(t.TempDir(), "inbox.db"), WithClock(now), WithTenantCapacity(3), WithCapacity(capacity))
			})
		})
	}
}

// FuzzInbox: what Store wrote to the file is what Get and Lease read
// back from it, byte for byte.
func FuzzInbox(f *testing.F) {
	inboxtest.Fuzz(f, func(t *testing.T, now func() time.Time) webhook.Inbox {
		return open(t, filepath.Join(t.TempDir(), "inbox.db"), WithClock(now))
	})
}
