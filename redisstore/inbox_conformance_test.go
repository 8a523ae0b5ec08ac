package redisstore

import (
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/inboxtest"
	"github.com/stretchr/testify/require"
)

// TestInboxConformance runs the webhook.Inbox conformance suite on the
// test Redis, each subtest under its own prefix.
func TestInboxConformance(t *testing.T) {
	inboxtest.Run(t, func(t *testing.T, now func() time.Time) webhook.Inbox {
		client := newClient(t)
		ib, err := NewInbox(client, WithInboxPrefix(testPrefix(t, client)), WithInboxClock(now))
		require.NoError(t, err)
		return ib
	})
}
