package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// logLine is one JSON log record.
type logLine struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Type  string `json:"type"`
	Pat   string `json:"pattern"`
	Code  int    `json:"status"`
}

func parseLogs(t *testing.T, s string) []logLine {
	t.Helper()
	var out []logLine
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		var ll logLine
		require.NoError(t, json.Unmarshal([]byte(l), &ll), l)
		out = append(out, ll)
	}
	return out
}

func quietHandler(t *testing.T, logs *syncBuffer, opts ...webhook.Option) *webhook.Handler {
	t.Helper()
	h, err := webhook.NewHandler(append([]webhook.Option{
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithClock(webhooktest.NewClock(webhooktest.Time()).Now),
		webhook.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	}, opts...)...)
	require.NoError(t, err)
	return h
}

// TestUnhandledEvents checks that verified events no callback runs for are
// acknowledged, logged at INFO once per type, and counted per type.
func TestUnhandledEvents(t *testing.T) {
	logs := &syncBuffer{}
	h := quietHandler(t, logs)
	handled := 0
	h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error {
		handled++
		return nil
	})
	reqs := []*http.Request{
		webhooktest.NewStandardRequest(webhooktest.Secret, jamBody),
		webhooktest.NewStandardRequest(webhooktest.Secret, unknownBody, webhooktest.WithID("msg_a")),
		webhooktest.NewStandardRequest(webhooktest.Secret, unknownBody, webhooktest.WithID("msg_b")),
		webhooktest.NewStandardRequest(webhooktest.Secret, optedOutBody),
		webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, webhooktest.StampIntercom(intercomBody, webhooktest.Time())),
	}
	for _, req := range reqs {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		require.Equal(t, http.StatusOK, w.Code)
	}
	require.Equal(t, 1, handled)
	require.Equal(t, map[string]int64{
		"jam.archived":              2,
		event.TypeRecorderOptedOut:  1,
		"conversation.user.replied": 1,
	}, h.Unhandled())
	var noted []string
	for _, l := range parseLogs(t, logs.String()) {
		if strings.Contains(l.Msg, "has no callback") {
			require.Equal(t, "INFO", l.Level)
			noted = append(noted, l.Type)
		}
	}
	require.ElementsMatch(t, []string{"jam.archived", event.TypeRecorderOptedOut, "conversation.user.replied"}, noted)
}

// TestOnIntercomUnknownTopic checks that a pattern matching no known topic
// is logged when registered, and still registered.
func TestOnIntercomUnknownTopic(t *testing.T) {
	logs := &syncBuffer{}
	h := quietHandler(t, logs)
	noop := func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error { return nil }
	for _, p := range []string{"*", "conversation.*", "conversation.user.*", event.TopicPing, event.TopicConversationUserReplied} {
		h.OnIntercom(p, noop)
	}
	require.Empty(t, logs.String(), "known topics and prefixes are not reported")
	ran := 0
	for _, p := range []string{"conversation.user.replyed", "conversaton.*"} {
		h.OnIntercom(p, func(ctx context.Context, d *webhook.Delivery, n *event.IntercomNotification) error {
			ran++
			return nil
		})
	}
	var warned []string
	for _, l := range parseLogs(t, logs.String()) {
		require.Equal(t, "WARN", l.Level)
		warned = append(warned, l.Pat)
	}
	require.Equal(t, []string{"conversation.user.replyed", "conversaton.*"}, warned)
	body := webhooktest.StampIntercom([]byte(strings.Replace(string(intercomBody), "conversation.user.replied", "conversation.user.replyed", 1)), webhooktest.Time())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body))
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, 1, ran, "an unknown topic's callback still runs")
}

// TestLogLevels checks that each outcome is logged as what it is: a status
// a callback chose is no rejection at ERROR, a duplicate is INFO, a
// browser's GET is DEBUG.
func TestLogLevels(t *testing.T) {
	tests := []struct {
		name  string
		ret   error
		req   func(t *testing.T) *http.Request
		twice bool
		code  int
		level string
		msg   string
	}{
		{name: "chosen 410", ret: &webhook.StatusError{Code: http.StatusGone}, code: 410, level: "INFO", msg: "webhook callback chose status"},
		{name: "chosen 503", ret: &webhook.StatusError{Code: http.StatusServiceUnavailable, RetryAfter: time.Minute}, code: 503, level: "WARN", msg: "webhook callback chose status"},
		{name: "failed", ret: errors.New("tracker down"), code: 500, level: "ERROR", msg: "webhook rejected"},
		{name: "failed and chosen", ret: errors.Join(errors.New("tracker down"), &webhook.StatusError{Code: 410}), code: 410, level: "WARN", msg: "webhook rejected"},
		{name: "chosen, wrapped", ret: fmt.Errorf("paused: %w", &webhook.StatusError{Code: 409}), code: 409, level: "INFO", msg: "webhook callback chose status"},
		{name: "duplicate", twice: true, code: 200, level: "INFO", msg: "webhook duplicate acknowledged"},
		{name: "browser GET", req: func(t *testing.T) *http.Request { return httptest.NewRequest(http.MethodGet, "/webhooks", nil) },
			code: 405, level: "DEBUG", msg: "webhook rejected"},
		{name: "PATCH", req: func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithMethod(http.MethodPatch))
		}, code: 405, level: "WARN", msg: "webhook rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			h := quietHandler(t, logs)
			h.OnJamCreated(func(ctx context.Context, d *webhook.Delivery, e *event.JamCreated) error { return tt.ret })
			req := func() *http.Request { return webhooktest.NewStandardRequest(webhooktest.Secret, jamBody) }
			if tt.req != nil {
				req = func() *http.Request { return tt.req(t) }
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req())
			if tt.twice {
				require.Empty(t, logs.String())
				w = httptest.NewRecorder()
				h.ServeHTTP(w, req())
			}
			require.Equal(t, tt.code, w.Code)
			lines := parseLogs(t, logs.String())
			require.Len(t, lines, 1)
			require.Equal(t, tt.level, lines[0].Level)
			require.Equal(t, tt.msg, lines[0].Msg)
		})
	}
}

// TestSenderNamesInLogs checks that an event type a body names reaches the
// log lines and Unhandled as event.SafeName gives it: bounded, and quoted
// when it is not a plain name, so a signed body can neither forge a log
// line nor make it, or the Unhandled map, large.
func TestSenderNamesInLogs(t *testing.T) {
	long := "jam." + strings.Repeat("x", 100_000)
	forged := "jam.archived\n{\"level\":\"ERROR\",\"msg\":\"forged\"}"
	envelope := func(typ string) []byte {
		b, err := json.Marshal(map[string]any{"type": typ, "data": map[string]any{}})
		require.NoError(t, err)
		return b
	}
	logs := &syncBuffer{}
	h := quietHandler(t, logs)
	for i, typ := range []string{long, forged} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, envelope(typ), webhooktest.WithID(fmt.Sprint("msg_", i))))
		require.Equal(t, http.StatusOK, w.Code)
	}
	require.Equal(t, map[string]int64{event.SafeName(long): 1, event.SafeName(forged): 1}, h.Unhandled())
	for k := range h.Unhandled() {
		require.LessOrEqual(t, len(k), 100)
	}
	// A callback that fails: the rejection's line names the type too.
	h.OnUnknown(func(ctx context.Context, d *webhook.Delivery, e *event.UnknownEvent) error { return errors.New("no") })
	w := httptest.NewRecorder()
	h.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, envelope(long), webhooktest.WithID("msg_2")))
	require.Equal(t, http.StatusInternalServerError, w.Code)

	lines := parseLogs(t, logs.String())
	require.Len(t, lines, 3)
	for _, l := range lines {
		require.Contains(t, []string{event.SafeName(long), event.SafeName(forged)}, l.Type)
	}
	for _, raw := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		require.Less(t, len(raw), 1000)
		require.NotContains(t, raw, `"msg":"forged"`)
	}
}

// TestWithEventTypeUnknown: an endpoint pinned to a type no event of this
// package has (a typo, most likely) decodes every Jam body as an
// UnknownEvent, acknowledged and given to OnUnknown only, so NewHandler
// says so at WARN; a known type or topic is not reported.
func TestWithEventTypeUnknown(t *testing.T) {
	for _, pinned := range []string{event.TypeJamCreated, event.TypeRecorderRecorded, event.TypeRecorderOptedOut,
		event.TypeRecordingLinkCreated, event.TypeSeriesWebhook, event.TopicConversationUserReplied, event.TopicPing} {
		logs := &syncBuffer{}
		quietHandler(t, logs, webhook.WithEventType(pinned))
		require.Empty(t, logs.String(), pinned)
	}
	logs := &syncBuffer{}
	h := quietHandler(t, logs, webhook.WithEventType("jam.creatd"))
	lines := parseLogs(t, logs.String())
	require.Len(t, lines, 1)
	require.Equal(t, "WARN", lines[0].Level)
	require.Contains(t, logs.String(), `"event_type":"jam.creatd"`)
	// Still pinned so: the body is acknowledged as an unknown event.
	unknown := 0
	h.OnUnknown(func(ctx context.Context, d *webhook.Delivery, e *event.UnknownEvent) error { unknown++; return nil })
	w := httptest.NewRecorder()
	h.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, jamBody))
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, 1, unknown)
}
