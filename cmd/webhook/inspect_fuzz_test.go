package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// FuzzInspectorFixture sends the inspector's receiver deliveries of the
// sender's choosing, over a real connection so that net/http's own checks
// apply, and saves each it recorded as a fixture: whatever the method,
// path, headers and body, the fixture saved reads back with
// webhooktest.ReadCapture as the delivery came (the body byte for byte,
// the method, the path without its query (as the handler decoded it),
// the time, and the saved
// headers' values), and the page shows none of the configured secrets.
func FuzzInspectorFixture(f *testing.F) {
	f.Add(uint8(0), "POST", "/hook", "Jam/1.0", "", []byte(`{"type":"jam.created","data":{"jamId":"j","teamId":"t"}}`))
	f.Add(uint8(1), "PUT", "/hooks/a%20b,c?token=x", "intercom-parrot-service-client/1.0", "sha1=00", []byte(`{"type":"notification_event","topic":"ping","created_at":1}`))
	f.Add(uint8(2), "POST", "/series", "", "", []byte("name=Dana&company=Northwind"))
	f.Add(uint8(0), "PATCH", "/h?", "caf\xe9", "v1,AAAA v1,BBBB", []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, mode uint8, method, target, ua, sig string, body []byte) {
		dir := t.TempDir()
		rig := newInspectRig(t, inspectFlags{fixtures: dir}, nil, nil)
		now := time.Now()
		var h strings.Builder
		ct := "application/json"
		switch mode % 3 {
		case 0:
			signed, err := webhooktest.SignStandard(webhooktest.Secret, "msg_fuzz", now, body)
			require.NoError(t, err)
			h.WriteString("Webhook-Id: msg_fuzz\r\nWebhook-Timestamp: " + strconv.FormatInt(now.Unix(), 10) + "\r\nWebhook-Signature: " + signed + "\r\n")
			if sig != "" {
				h.WriteString("Webhook-Signature: " + sig + "\r\n")
			}
		case 1:
			body = webhooktest.StampIntercom(body, now)
			h.WriteString("X-Hub-Signature: " + webhooktest.SignIntercom(webhooktest.IntercomSecret, body) + "\r\n")
			if sig != "" {
				h.WriteString("X-Hub-Signature: " + sig + "\r\n")
			}
		case 2:
			ct = "application/x-www-form-urlencoded"
			tok := liveSeriesToken
			if sig != "" {
				tok = sig
			}
			h.WriteString(defaultSeriesHeader + ": " + tok + "\r\n")
		}
		raw := method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: " + ct + "\r\nUser-Agent: " + ua + "\r\n" +
			h.String() + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
		sendRawClose(t, rig.receiver.Listener.Addr().String(), []byte(raw))

		rig.in.mu.Lock()
		var rec *record
		if len(rig.in.ring) > 0 {
			rec = rig.in.ring[len(rig.in.ring)-1]
		}
		rig.in.mu.Unlock()
		if rec == nil {
			return // refused by net/http before the receiver
		}
		rec = rig.in.snapshot(rec)
		page := rig.in.routes()
		w := httptest.NewRecorder()
		page.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/deliveries/"+strconv.FormatInt(rec.Seq, 10), nil))
		require.Equal(t, http.StatusOK, w.Code)
		for _, secret := range []string{webhooktest.Secret, strings.TrimPrefix(webhooktest.Secret, "whsec_"), webhooktest.IntercomSecret, liveSeriesToken} {
			require.NotContains(t, w.Body.String(), secret)
		}

		w = httptest.NewRecorder()
		page.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/api/deliveries/"+strconv.FormatInt(rec.Seq, 10)+"/fixture", nil))
		if w.Code != http.StatusOK {
			require.Equal(t, http.StatusConflict, w.Code, "%s", w.Body)
			return
		}
		var saved struct{ Name string }
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &saved))
		c, err := webhooktest.ReadCapture(os.DirFS(dir), saved.Name)
		require.NoError(t, err, "the fixture of %s %q", rec.Method, rec.Path)
		require.True(t, bytes.Equal(rec.Body, c.Body), "body")
		require.Equal(t, rec.Method, c.Method)
		// The path the handler saw, decoded, is the one a test's router
		// sees.
		path, _, _ := strings.Cut(rec.Path, "?")
		u, err := url.ParseRequestURI(path)
		require.NoError(t, err)
		require.Equal(t, u.Path, c.Request().URL.Path, "saved as %q", c.Target)
		require.True(t, rec.Time.Equal(c.Received), "received %v, read %v", rec.Time, c.Received)
		for _, k := range fixtureHeaders {
			require.Equal(t, rec.Header.Values(k), c.Header.Values(k), k)
		}
	})
}

// sendRawClose writes req to addr as it is and reads the answer to its end,
// when the server, told to close, has finished with the request.
func sendRawClose(t *testing.T, addr string, req []byte) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = conn.Write(req)
	require.NoError(t, err)
	all, err := io.ReadAll(conn)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(all)), nil)
	require.NoError(t, err, "%q", all)
	return resp.StatusCode
}
