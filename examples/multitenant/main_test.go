package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// Two Jam tenants and two Intercom apps, each with its own key.
const (
	acmeSecret   = "whsec_YWNtZS1lbmRwb2ludC1zZWNyZXQtMDEyMzQ1Njc4OQ"
	globexSecret = "whsec_Z2xvYmV4LWVuZHBvaW50LXNlY3JldC05ODc2NTQzMjE"
	appA, appB   = "q7k3zm2x", "x7k2p9m4"
	secretA      = "3c9a1e57-2b84-4d60-a1f3-8e5d7c2b9a04"
	secretB      = "b81f6d2a-4e97-4c35-9d08-71a6e3f5c2b9"
)

var (
	created = []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","type":"video"}`)
)

// notification is an Intercom notification of app, with id.
func notification(app, id string) []byte {
	return webhooktest.StampIntercom([]byte(`{"type":"notification_event","app_id":"`+app+`","id":"`+id+`","topic":"conversation.user.replied",`+
		`"created_at":1795510790,"delivery_attempts":1,"data":{"item":{"type":"conversation","id":"215471234567890"}}}`), webhooktest.Time())
}

func newTestServer(t *testing.T) (*server, *http.ServeMux, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	s, err := newServer(map[string]string{"acme": acmeSecret, "globex": globexSecret},
		map[string]string{appA: secretA, appB: secretB}, &out, webhooktest.Time)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/hooks/{tenant}", s.handler)
	return s, mux, &out
}

func TestTenants(t *testing.T) {
	_, mux, out := newTestServer(t)
	jam := func(tenant, secret, id string) *http.Request {
		return webhooktest.NewStandardRequest(secret, created, webhooktest.WithTarget("/hooks/"+tenant), webhooktest.WithID(id))
	}
	intercom := func(secret string, body []byte) *http.Request {
		return webhooktest.NewIntercomRequest(secret, body, webhooktest.WithTarget("/hooks/intercom"))
	}
	tests := []struct {
		name   string
		req    *http.Request
		status int
		line   string // what the callback printed; "" for nothing
	}{
		{"acme with its key", jam("acme", acmeSecret, "msg_1"), 200, "acme: jam created 4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03 (message msg_1)"},
		{"acme with globex's key", jam("acme", globexSecret, "msg_2"), 401, ""},
		{"globex with its key, acme's message id", jam("globex", globexSecret, "msg_1"), 200, "globex: jam created 4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03 (message msg_1)"},
		{"globex with acme's key", jam("globex", acmeSecret, "msg_3"), 401, ""},
		{"acme's retry of msg_1: a duplicate", jam("acme", acmeSecret, "msg_1"), 200, ""},
		{"unknown tenant", jam("initech", acmeSecret, "msg_4"), 401, ""},
		{"app A with its key", intercom(secretA, notification(appA, "notif_1")), 200, "intercom-" + appA + ": intercom conversation.user.replied (notification notif_1)"},
		{"app B with its key, app A's notification id", intercom(secretB, notification(appB, "notif_1")), 200, "intercom-" + appB + ": intercom conversation.user.replied (notification notif_1)"},
		{"app A's body with app B's key", intercom(secretB, notification(appA, "notif_2")), 401, ""},
		{"a body claiming app B, signed with app A's key", intercom(secretA, notification(appB, "notif_3")), 401, ""},
		{"an app we do not know", intercom(secretA, notification("zz9plural", "notif_4")), 401, ""},
		{"Intercom's HEAD check", httptest.NewRequest(http.MethodHead, "/hooks/intercom", nil), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out.Reset()
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, tt.req)
			require.Equal(t, tt.status, w.Code)
			require.Equal(t, tt.line, strings.TrimSpace(out.String()))
		})
	}
}

func TestRotation(t *testing.T) {
	s, mux, out := newTestServer(t)
	next := "whsec_YWNtZS1uZXh0LWVuZHBvaW50LXNlY3JldC0wMTIzNDU"
	serve := func(secret, id string) int {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, webhooktest.NewStandardRequest(secret, created, webhooktest.WithTarget("/hooks/acme"), webhooktest.WithID(id)))
		return w.Code
	}
	require.NoError(t, s.rotate("acme", acmeSecret, next)) // both during the rotation
	require.Equal(t, 200, serve(acmeSecret, "msg_r1"))
	require.Equal(t, 200, serve(next, "msg_r2"))
	require.NoError(t, s.rotate("acme", next)) // the old one dropped
	require.Equal(t, 401, serve(acmeSecret, "msg_r3"))
	require.Equal(t, 200, serve(next, "msg_r4"))
	require.Equal(t, 3, strings.Count(out.String(), "acme: jam created"))
	require.Error(t, s.rotate("initech", next))
}
