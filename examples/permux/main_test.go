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

var (
	created  = []byte(`{"jamId":"4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03","teamId":"team_8Hq2","type":"video"}`)
	recorded = []byte(`{"conversationId":"215471234567890","jamId":"8b1e4d2c-5a6f-4e7d-9c0b-1a2b3c4d5e6f"}`)
	optedOut = []byte(`{"conversationId":"215471234567891"}`)
	ping     = []byte(`{"type":"notification_event","id":null,"topic":"ping","app_id":"x7k2p9m4","created_at":1795510800,"data":{"item":{"type":"ping","message":"hi"}}}`)
)

func TestRoutes(t *testing.T) {
	var out bytes.Buffer
	mux, err := newMux(webhooktest.Secret, webhooktest.IntercomSecret, &out, webhooktest.Time)
	require.NoError(t, err)

	jam := func(path string, body []byte, opts ...webhooktest.RequestOption) *http.Request {
		return webhooktest.NewStandardRequest(webhooktest.Secret, body, append([]webhooktest.RequestOption{webhooktest.WithTarget(path)}, opts...)...)
	}
	tests := []struct {
		name   string
		req    *http.Request
		status int
		line   string // the line the callback printed; "" for none
	}{
		{"jam.created on its URL", jam("/hooks/jam/created", created, webhooktest.WithID("msg_1")), 200, "jam created: 4f0c2b9e-1d7a-4c3e-9b8f-2a6d5e7c1f03"},
		{"recorded on its URL", jam("/hooks/jam/recorder/recorded", recorded, webhooktest.WithID("msg_2")), 200, "recorder recorded: message msg_2"},
		{"opted out on its URL", jam("/hooks/jam/recorder/opted-out", optedOut, webhooktest.WithID("msg_3")), 200, "recorder opted out: message msg_3"},
		{"opted out sent to the jam.created URL", jam("/hooks/jam/created", optedOut, webhooktest.WithID("msg_4")), 400, ""},
		{"jam.created sent to the recorded URL", jam("/hooks/jam/recorder/recorded", created, webhooktest.WithID("msg_5")), 400, ""},
		{"GET on a Jam URL: the mux answers", jam("/hooks/jam/created", created, webhooktest.WithMethod(http.MethodGet)), 405, ""},
		{"no such route", jam("/hooks/jam/deleted", created), 404, ""},
		{"Intercom HEAD check", httptest.NewRequest(http.MethodHead, "/hooks/intercom", nil), 200, ""},
		{"Intercom ping", webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, ping, webhooktest.WithTarget("/hooks/intercom")), 200, `intercom ping: notification ""`},
		{"Intercom signature on a Jam URL", webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, ping, webhooktest.WithTarget("/hooks/jam/created")), 401, ""},
		{"replay: acknowledged, not run again", jam("/hooks/jam/recorder/opted-out", optedOut, webhooktest.WithID("msg_3")), 200, ""},
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
