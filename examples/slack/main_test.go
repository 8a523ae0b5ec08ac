package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// fakeSlack is an incoming webhook that records what it receives and
// answers with status.
type fakeSlack struct {
	mu       sync.Mutex
	status   int
	messages []Message
}

func (f *fakeSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	var m Message
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &m) != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	f.messages = append(f.messages, m)
	w.WriteHeader(f.status)
}

func (f *fakeSlack) setStatus(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = code
}

func (f *fakeSlack) received() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Message(nil), f.messages...)
}

func setup(t *testing.T, slackStatus int) (*webhook.Handler, *fakeSlack) {
	t.Helper()
	slack := &fakeSlack{status: slackStatus}
	srv := httptest.NewServer(slack)
	t.Cleanup(srv.Close)
	n := &Notifier{URL: srv.URL + "/services/T000/B000/XXXX", Client: &http.Client{Timeout: 2 * time.Second}}
	h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	h.OnJamCreated(n.OnJamCreated)
	return h, slack
}

func TestPostsNewJams(t *testing.T) {
	body := []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","jamUrl":"https://jam.dev/c/4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03",` +
		`"teamId":"team_8Hq2","type":"video","createdAt":"2026-11-24T08:59:12Z","title":"Checkout <button> does nothing",` +
		`"originalUrl":"https://shop.northwind.example/cart","origin":"extension_chrome",` +
		`"author":{"email":"dana@northwind.example","name":"Dana Okafor"},` +
		`"systemInfo":{"browser":{"name":"Chrome","version":"131.0"},"os":{"name":"macOS","version":"15.1"}}}`)
	h, slack := setup(t, http.StatusOK)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithSvixHeaders()))
	require.Equal(t, http.StatusOK, w.Code)

	msgs := slack.received()
	require.Len(t, msgs, 1)
	require.Equal(t, Message{
		Text: "New Jam: Checkout <button> does nothing",
		Blocks: []Block{
			{Type: "section", Text: &Text{Type: "mrkdwn", Text: "*<https://jam.dev/c/4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03|Checkout &lt;button&gt; does nothing>*\n" +
				"Dana Okafor captured a video on https://shop.northwind.example/cart"}},
			{Type: "context", Elements: []*Text{{Type: "mrkdwn", Text: "Chrome 131.0 · macOS 15.1 · via extension_chrome"}}},
		},
	}, msgs[0])
}

func TestSlackFailureMeansRetry(t *testing.T) {
	body := []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","type":"screenshot"}`)
	h, slack := setup(t, http.StatusInternalServerError)
	req := func() *http.Request {
		return webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithID("msg_1"))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req())
	require.Equal(t, http.StatusInternalServerError, w.Code, "Jam retries a 5xx")

	// Slack recovers; the retry of the same message posts again.
	slack.setStatus(http.StatusOK)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req())
	require.Equal(t, http.StatusOK, w.Code)
	require.Len(t, slack.received(), 2)
}

func TestNewMessage(t *testing.T) {
	tests := []struct {
		name string
		body string
		text string // the section text
		ctx  string // the context text, "" for no context block
	}{
		{"minimal", `{"jamId":"a","teamId":"t","jamUrl":"https://jam.dev/c/a"}`,
			"*<https://jam.dev/c/a|Untitled Jam>*\nsomeone captured a Jam", ""},
		{"email when no name, screenshot, incognito", `{"jamId":"a","teamId":"t","jamUrl":"https://jam.dev/c/a","type":"screenshot","isIncognito":true,"author":{"email":"li@acme.example"}}`,
			"*<https://jam.dev/c/a|Untitled Jam>*\nli@acme.example captured a screenshot", "incognito"},
		{"description quoted and escaped", `{"jamId":"a","teamId":"t","jamUrl":"https://jam.dev/c/a","type":"sessionReplay","title":"A & B","description":"  steps: 1 > 2  "}`,
			"*<https://jam.dev/c/a|A &amp; B>*\nsomeone captured a session replay\n>steps: 1 &gt; 2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := event.Parse([]byte(tt.body))
			require.NoError(t, err)
			m := NewMessage(e.(*event.JamCreated))
			require.Equal(t, tt.text, m.Blocks[0].Text.Text)
			if tt.ctx == "" {
				require.Len(t, m.Blocks, 1)
			} else {
				require.Equal(t, tt.ctx, m.Blocks[1].Elements[0].Text)
			}
		})
	}
}
