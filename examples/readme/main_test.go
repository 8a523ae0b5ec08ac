package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// TestREADMEQuotesThisFile: the README's net/http example is this file,
// byte for byte, so what the test below runs is what a reader pastes.
func TestREADMEQuotesThisFile(t *testing.T) {
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), "```go\n"+string(src)+"```\n", "README.md must quote examples/readme/main.go verbatim in a go block")
}

// TestMux: the mux the README builds answers Intercom's HEAD check, signed
// Jam and Intercom deliveries, and nothing unsigned.
func TestMux(t *testing.T) {
	mux, err := newMux(webhooktest.Secret, webhooktest.IntercomSecret)
	require.NoError(t, err)
	jam := []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","jamUrl":"https://jam.dev/c/4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","type":"video","author":{"email":"dana@northwind.example"}}`)
	now := time.Now()
	// Created now: the handler refuses notifications older than its max age.
	notice := webhooktest.StampIntercom([]byte(`{"type":"notification_event","app_id":"x7k2p9m4","id":"notif_3e1f7a2c-9b4d-4e8f-a6c5-0d1e2f3a4b5c","topic":"conversation.user.replied","created_at":1795510790,"delivery_attempts":1,"data":{"type":"notification_event_data","item":{"type":"conversation","id":"215471234567890"}}}`), now)
	jamSig, err := webhooktest.SignStandard(webhooktest.Secret, "msg_readme_1", now, jam)
	require.NoError(t, err)
	signedJam := httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(jam))
	signedJam.Header.Set("Content-Type", "application/json")
	signedJam.Header.Set("Webhook-Id", "msg_readme_1")
	signedJam.Header.Set("Webhook-Timestamp", strconv.FormatInt(now.Unix(), 10))
	signedJam.Header.Set("Webhook-Signature", jamSig)

	signedNotice := httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(notice))
	signedNotice.Header.Set("Content-Type", "application/json")
	signedNotice.Header.Set("X-Hub-Signature", webhooktest.SignIntercom(webhooktest.IntercomSecret, notice))

	unsigned := httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(jam))
	unsigned.Header.Set("Content-Type", "application/json")

	tests := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"Intercom's HEAD check", httptest.NewRequest(http.MethodHead, "/webhooks", nil), http.StatusOK},
		{"signed jam.created", signedJam, http.StatusOK},
		{"signed Intercom notification", signedNotice, http.StatusOK},
		{"unsigned POST", unsigned, http.StatusUnauthorized},
		{"a browser's GET", httptest.NewRequest(http.MethodGet, "/webhooks", nil), http.StatusMethodNotAllowed},
		{"another path", httptest.NewRequest(http.MethodHead, "/other", nil), http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, tt.req)
			require.Equal(t, tt.want, w.Code)
		})
	}
}
