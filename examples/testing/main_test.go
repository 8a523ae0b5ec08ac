package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// The pattern: configure the handler with webhooktest's keys and a fake
// clock set to the instant webhooktest signs at; build signed requests
// with webhooktest; serve them with httptest.NewRecorder; check the status
// and what the callbacks did.

var (
	jamBody   = []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","type":"video"}`)
	replyBody = []byte(`{"type":"notification_event","id":"notif_3e1f7a2c","topic":"conversation.user.replied","app_id":"x7k2p9m4",` +
		`"delivery_attempts":1,"created_at":1795510790,"data":{"item":{"type":"conversation","id":"215471234567890"}}}`)
)

type fixture struct {
	q     *Queue
	h     *webhook.Handler
	clock *webhooktest.Clock
	logs  *bytes.Buffer
}

func setup(t *testing.T, max int) *fixture {
	t.Helper()
	f := &fixture{q: &Queue{Max: max}, clock: webhooktest.NewClock(webhooktest.Time()), logs: &bytes.Buffer{}}
	var err error
	f.h, err = f.q.Handler(
		webhook.WithSecrets(webhooktest.Secret),
		webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithClock(f.clock.Now),
		webhook.WithLogger(slog.New(slog.NewTextHandler(f.logs, nil))),
	)
	require.NoError(t, err)
	return f
}

func (f *fixture) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func TestQueue(t *testing.T) {
	tests := []struct {
		name   string
		req    func(t *testing.T) *http.Request
		status int
		queued []Item
	}{
		{"jam.created", func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, jamBody)
		}, 200, []Item{{"jam", "4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03"}}},
		{"jam.created with svix-* headers, as Jam sends it", func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithSvixHeaders())
		}, 200, []Item{{"jam", "4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03"}}},
		{"Intercom reply", func(t *testing.T) *http.Request {
			return webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, replyBody)
		}, 200, []Item{{"reply", "notif_3e1f7a2c"}}},
		{"forged", func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest("whsec_Zm9yZ2VkLWJ5LXNvbWVvbmUtd2l0aG91dC10aGUta2V5", jamBody)
		}, 401, nil},
		{"signed before the window", func(t *testing.T) *http.Request {
			return webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithTime(webhooktest.Time().Add(-time.Hour)))
		}, 401, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, 10)
			require.Equal(t, tt.status, f.serve(tt.req(t)).Code, f.logs.String())
			require.Equal(t, tt.queued, f.q.Take())
		})
	}
}

// Every embedded fixture is acknowledged, whatever the app does with it.
func TestEveryFixtureAcknowledged(t *testing.T) {
	for _, name := range webhooktest.FixtureNames() {
		if strings.HasPrefix(name, "series/") {
			continue // this app takes no Series webhooks
		}
		t.Run(name, func(t *testing.T) {
			f := setup(t, 10)
			require.Equal(t, http.StatusOK, f.serve(webhooktest.NewFixtureRequest(name)).Code, f.logs.String())
		})
	}
}

func TestReplayRunsOnce(t *testing.T) {
	f := setup(t, 10)
	first := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("msg_1"))
	require.Equal(t, 200, f.serve(first).Code)
	// The sender retries a minute later: same id, new timestamp.
	f.clock.Advance(time.Minute)
	retry := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("msg_1"), webhooktest.WithTime(f.clock.Now()))
	require.Equal(t, 200, f.serve(retry).Code)
	require.Len(t, f.q.Take(), 1)
}

func TestFullQueueAsksForRetry(t *testing.T) {
	f := setup(t, 1)
	require.Equal(t, 200, f.serve(webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, replyBody)).Code)

	w := f.serve(webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("msg_2")))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, "60", w.Header().Get("Retry-After"))
	require.Contains(t, f.logs.String(), "status=503")

	// Once drained, the sender's retry is processed: the 503 released the claim.
	require.Len(t, f.q.Take(), 1)
	f.clock.Advance(RetryAfter)
	retry := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithID("msg_2"), webhooktest.WithTime(f.clock.Now()))
	require.Equal(t, 200, f.serve(retry).Code)
	require.Equal(t, []Item{{"jam", "4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03"}}, f.q.Take())
}
