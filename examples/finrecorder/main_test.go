package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// fakeIntercom is Intercom's REST API, as far as notes go.
type fakeIntercom struct {
	mu    sync.Mutex
	notes []string // "<conversation id> <body>"
}

func (f *fakeIntercom) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutPrefix(r.URL.Path, "/conversations/")
	id, ok2 := strings.CutSuffix(id, "/reply")
	var body map[string]string
	if !ok || !ok2 || r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer test-token" ||
		json.NewDecoder(r.Body).Decode(&body) != nil || body["message_type"] != "note" || body["admin_id"] != "7" {
		http.Error(w, `{"type":"error.list"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notes = append(f.notes, id+" "+body["body"])
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"type":"conversation"}`))
}

func (f *fakeIntercom) taken() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.notes
	f.notes = nil
	return n
}

func conversationNotice(id, topic string) []byte {
	return []byte(`{"type":"notification_event","id":"notif_` + topic + id + `","topic":"` + topic + `","app_id":"x7k2p9m4","delivery_attempts":1,` +
		`"created_at":1795510800,"data":{"type":"notification_event_data","item":{"type":"conversation","id":"` + id + `","state":"open"}}}`)
}

func TestFinRecorderFlow(t *testing.T) {
	api := &fakeIntercom{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	var out bytes.Buffer
	app := &App{
		Links: NewLinks(),
		Notes: &IntercomNotes{BaseURL: srv.URL, Token: "test-token", AdminID: "7", Client: &http.Client{Timeout: 2 * time.Second}},
		Out:   &out,
	}
	h, err := app.Handler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)),
	)
	require.NoError(t, err)

	jam := func(body string) *http.Request {
		return webhooktest.NewStandardRequest(webhooktest.Secret, []byte(body))
	}
	intercom := func(body []byte) *http.Request {
		return webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body)
	}
	tests := []struct {
		name string
		req  *http.Request
		out  string // the line the app printed
		note string // the note posted, "" for none
	}{
		{"recorded, flat", jam(`{"conversationId":"215471234567890","jamId":"8b1e4d2c-5a6f-4e7d-9c0b-1a2b3c4d5e6f","jamUrl":"https://jam.dev/c/8b1e4d2c-5a6f-4e7d-9c0b-1a2b3c4d5e6f"}`),
			"conversation 215471234567890: recorded https://jam.dev/c/8b1e4d2c-5a6f-4e7d-9c0b-1a2b3c4d5e6f",
			`215471234567890 <p>The customer recorded the problem with Jam: <a href="https://jam.dev/c/8b1e4d2c-5a6f-4e7d-9c0b-1a2b3c4d5e6f">https://jam.dev/c/8b1e4d2c-5a6f-4e7d-9c0b-1a2b3c4d5e6f</a></p>`},
		{"recorded, envelope with recording_url", jam(`{"id":"evt_2","type":"intercom.recorder.recorded","created_at":"2026-11-24T08:59:00Z",` +
			`"data":{"conversationId":"215471234567892","jamId":"0d6f3c1e-2b4a-4f5d-8e9c-7a1b2c3d4e5f","recording_url":"https://jam.dev/c/0d6f3c1e-2b4a-4f5d-8e9c-7a1b2c3d4e5f"}}`),
			"conversation 215471234567892: recorded https://jam.dev/c/0d6f3c1e-2b4a-4f5d-8e9c-7a1b2c3d4e5f", "215471234567892 <p>The customer recorded"},
		{"opted out, Fin connector shape", jam(`{"event":"intercom.recorder.opted_out","payload":{"conversationId":"215471234567891"}}`),
			"conversation 215471234567891: customer declined to record", "215471234567891 <p>The customer declined"},
		{"Intercom: the recorded conversation", intercom(conversationNotice("215471234567890", "conversation.admin.replied")),
			"conversation 215471234567890: conversation.admin.replied, Jam https://jam.dev/c/8b1e4d2c-5a6f-4e7d-9c0b-1a2b3c4d5e6f", ""},
		{"Intercom: the declined conversation", intercom(conversationNotice("215471234567891", "conversation.admin.closed")),
			"conversation 215471234567891: conversation.admin.closed, customer declined to record", ""},
		{"Intercom: another conversation", intercom(conversationNotice("999", "conversation.user.created")),
			"conversation 999: conversation.user.created, no recording", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out.Reset()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tt.req)
			require.Equal(t, http.StatusOK, w.Code)
			require.Equal(t, tt.out+"\n", out.String())
			notes := api.taken()
			if tt.note == "" {
				require.Empty(t, notes)
			} else {
				require.Len(t, notes, 1)
				require.True(t, strings.HasPrefix(notes[0], tt.note), notes[0])
			}
		})
	}

	// Intercom's API failing fails the delivery, so Jam retries it.
	app.Notes.(*IntercomNotes).Token = "revoked"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, jam(`{"conversationId":"215471234567893"}`))
	require.Equal(t, http.StatusInternalServerError, w.Code)
}
