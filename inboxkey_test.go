package webhook_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// TestKeyFuncInboxKeyWithoutID: in inbox mode a delivery without a
// message id (an Intercom ping, whose id is null) is stored under a
// generated key, which under a key function names its tenant, as a
// delivery's with an id does: the in-memory stores share their capacity
// by the key's tenant, and a tenant's id-less deliveries counted as no
// tenant's, beside every tenant's share. A Series delivery, which no key
// function chooses keys for, has none.
func TestKeyFuncInboxKeyWithoutID(t *testing.T) {
	const secret = "6d1f0a3b-2c4e-4f7a-9b8c-5e6d7f8a9b0c"
	iv, err := webhook.NewIntercomVerifier(secret)
	require.NoError(t, err)
	clock := webhooktest.NewClock(webhooktest.Time())
	ib := webhook.NewMemoryInbox(0, clock.Now)
	h, err := webhook.NewHandler(webhook.WithClock(clock.Now), webhook.WithInbox(ib), webhook.WithLogger(slog.New(slog.DiscardHandler)),
		webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken),
		webhook.WithKeyFunc(func(_ context.Context, hint webhook.KeyHint) (*webhook.Keys, error) {
			if hint.AppID != "x7k2p9m4" {
				return nil, nil
			}
			return &webhook.Keys{Tenant: "acme", Intercom: iv}, nil
		}))
	require.NoError(t, err)
	tests := []struct {
		name   string
		req    *http.Request
		prefix string
	}{
		{"an Intercom ping", webhooktest.NewIntercomRequest(secret, pingBody), "intercom@acme:gen-"},
		{"an Intercom notification with an id", webhooktest.NewIntercomRequest(secret, intercomBody, webhooktest.WithTime(webhooktest.Time())), "intercom@acme:notif_"},
		{"a Series delivery", webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, seriesJSON), "series:gen-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := inboxKeys(t, ib)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tt.req)
			require.Equal(t, http.StatusOK, w.Code)
			var added []string
			for k := range inboxKeys(t, ib) {
				if !before[k] {
					added = append(added, k)
				}
			}
			require.Len(t, added, 1)
			require.True(t, strings.HasPrefix(added[0], tt.prefix), "stored as %q, want %s…", added[0], tt.prefix)
		})
	}
}

func inboxKeys(t *testing.T, ib *webhook.MemoryInbox) map[string]bool {
	t.Helper()
	page, err := ib.List(context.Background(), webhook.InboxQuery{Limit: 100})
	require.NoError(t, err)
	keys := map[string]bool{}
	for _, e := range page.Entries {
		keys[e.Key] = true
	}
	return keys
}
