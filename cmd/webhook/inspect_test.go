package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// Keys of the app that deliveries are forwarded to, unlike the
// receiver's (the webhooktest keys).
const (
	appSecret   = "whsec_YXBwLXRlc3Qtc2VjcmV0LWZvci1mb3J3YXJkaW5n"
	appIntercom = "app-intercom-client-secret-9f2d"
)

// liveSeriesToken is the receiver's Series token: a credential, unlike
// webhooktest's public one, that the page and fixtures must not show.
const liveSeriesToken = "series-live-token-Qm3x8Kp2Lw7Zt"

// inspectRig is a receiver with the inspector in front of it, as serve
// wires them, and the page served over HTTP.
type inspectRig struct {
	in       *inspector
	receiver *httptest.Server
	page     *httptest.Server
}

func newInspectRig(t *testing.T, f inspectFlags, ib webhook.Inbox, onAny func(context.Context, *webhook.Delivery, event.Event) error) *inspectRig {
	t.Helper()
	f.addr = optionalAddr{set: true, addr: "127.0.0.1:0"}
	if f.keep == 0 {
		f.keep = 100
	}
	if f.keepBytes == 0 {
		f.keepBytes = defaultKeepBytes
	}
	require.NoError(t, f.check())
	keys := &keyFlags{secrets: listFlag{webhooktest.Secret}, intercom: listFlag{webhooktest.IntercomSecret}, tokens: listFlag{liveSeriesToken}}
	logger := slog.New(slog.DiscardHandler)
	in := newInspector(&f, keys, receiverLimits{tolerance: webhook.DefaultTolerance, maxBody: webhook.DefaultMaxBodySize, intercomMaxAge: webhook.DefaultRetention}, ib, logger)
	opts := append([]webhook.Option{webhook.WithSecrets(keys.secrets...), webhook.WithIntercomSecrets(keys.intercom...),
		webhook.WithSeries(keys.header(), keys.tokens...), webhook.WithLogger(logger)}, in.options()...)
	if ib != nil {
		opts = append(opts, webhook.WithInbox(ib), webhook.WithWorkers(webhook.WorkerConfig{Poll: 10 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxAttempts: 2}))
	}
	h, err := webhook.NewHandler(opts...)
	require.NoError(t, err)
	if onAny == nil {
		onAny = func(context.Context, *webhook.Delivery, event.Event) error { return nil }
	}
	h.OnAny(onAny)
	if ib != nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = h.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Error("the handler's workers did not stop")
			}
		})
	}
	rig := &inspectRig{in: in}
	rig.receiver = httptest.NewServer(in.receiver(h))
	rig.page = httptest.NewServer(in.guard(in.routes()))
	in.recvAddr = rig.receiver.Listener.Addr().String()
	t.Cleanup(func() {
		rig.page.Close()
		rig.receiver.Close()
		in.closeStreams()
		in.wait()
	})
	return rig
}

// send posts r to the receiver and returns the status.
func (rig *inspectRig) send(t *testing.T, r *http.Request) int {
	t.Helper()
	req, err := http.NewRequest(r.Method, rig.receiver.URL+"/hook", r.Body)
	require.NoError(t, err)
	req.Header = r.Header
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// action POSTs to the page as its own script does.
func (rig *inspectRig) action(t *testing.T, path string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rig.page.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Origin", rig.page.URL)
	req.Header.Set(tokenHeader, rig.in.token)
	rig.authorize(req)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// events opens the page's event stream, once its greeting has come, for
// the rest of the test.
func (rig *inspectRig) events(t *testing.T) *bufio.Scanner {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, rig.page.URL+"/api/events", nil)
	rig.authorize(req)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	sc := bufio.NewScanner(resp.Body)
	require.True(t, sc.Scan())
	return sc
}

// nextDelivery reads sc, a stream from events, on to its next delivery
// event and returns the line after the event's name (its data line), or
// fails the test when the stream ends first.
func nextDelivery(t *testing.T, sc *bufio.Scanner) string {
	t.Helper()
	for sc.Scan() && sc.Text() != "event: delivery" {
	}
	require.True(t, sc.Scan(), "the event sent to the page: %v", sc.Err())
	return sc.Text()
}

// authorize gives req the access token that --inspect-public asks for.
func (rig *inspectRig) authorize(req *http.Request) {
	if rig.in.access != "" {
		req.Header.Set("Authorization", "Bearer "+rig.in.access)
	}
}

func (rig *inspectRig) records(t *testing.T) []record {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rig.page.URL+"/api/deliveries", nil)
	require.NoError(t, err)
	rig.authorize(req)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var list []record
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	return list
}

// deadInboxRow waits until the page's inbox panel lists one delivery,
// dead, and returns the rows and the panel's JSON as served.
func (rig *inspectRig) deadInboxRow(t *testing.T) ([]inboxView, []byte) {
	t.Helper()
	var raw []byte
	var entries []inboxView
	require.Eventually(t, func() bool {
		resp, err := http.Get(rig.page.URL + "/api/inbox")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		raw, _ = io.ReadAll(resp.Body)
		entries = nil
		_ = json.Unmarshal(raw, &entries)
		return len(entries) == 1 && entries[0].State == "dead"
	}, 10*time.Second, 20*time.Millisecond, "one dead delivery in the inbox panel")
	return entries, raw
}

func jamNow(t *testing.T, secret string) *http.Request {
	t.Helper()
	return webhooktest.NewStandardRequest(secret, webhooktest.Fixture("jam/jam.created.maximal.json"), webhooktest.WithTime(time.Now()), webhooktest.WithID("msg_"+strconv.FormatInt(time.Now().UnixNano(), 36)))
}

func intercomNow(t *testing.T) *http.Request {
	t.Helper()
	return webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, webhooktest.Fixture("intercom/conversation.admin.replied.json"), webhooktest.WithTime(time.Now()))
}

// TestInspectorHost: on loopback the page answers only requests whose
// Host is a loopback name, so a site that rebinds its own DNS name to
// 127.0.0.1 cannot read it. With --inspect-public any Host reaches the
// access token's check: a developer opens the page by the machine's
// name, and a rebinding site, which has no token, gets 401 and nothing
// of the page (TestInspectorPublicToken).
func TestInspectorHost(t *testing.T) {
	tests := []struct {
		host   string
		public bool
		want   int
	}{
		{"127.0.0.1:4040", false, http.StatusOK},
		{"localhost:4040", false, http.StatusOK},
		{"LOCALHOST", false, http.StatusOK},
		{"[::1]:4040", false, http.StatusOK},
		{"inspect.localhost:4040", false, http.StatusOK},
		{"evil.example:4040", false, http.StatusMisdirectedRequest},
		{"evil.example", false, http.StatusMisdirectedRequest},
		{"127.0.0.1.nip.io:4040", false, http.StatusMisdirectedRequest},
		{"localhost.evil.example", false, http.StatusMisdirectedRequest},
		{"192.168.1.20:4040", false, http.StatusMisdirectedRequest},
		{"192.168.1.20:4040", true, http.StatusOK},
		{"127.0.0.1:4040", true, http.StatusOK},
		{"devbox.internal:8081", true, http.StatusOK},
		{"DevBox.Internal.:8081", true, http.StatusOK},
		{"evil.example:4040", true, http.StatusOK},
		{"127.0.0.1.nip.io:4040", true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.host+"/public="+strconv.FormatBool(tt.public), func(t *testing.T) {
			rig := newInspectRig(t, inspectFlags{public: tt.public}, nil, nil)
			for _, path := range []string{"/", "/api/deliveries", "/api/events"} {
				req, err := http.NewRequest(http.MethodGet, rig.page.URL+path, nil)
				require.NoError(t, err)
				req.Host = tt.host
				rig.authorize(req)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := http.DefaultClient.Do(req.WithContext(ctx))
				require.NoError(t, err)
				_ = resp.Body.Close()
				cancel()
				require.Equal(t, tt.want, resp.StatusCode, path)
			}
		})
	}
}

// TestInspectorPublicByName: with --inspect-public the page works as
// opened by the machine's DNS name (http://devbox.internal:8081/?token=…):
// the token sets the cookie for that name, the list and an action go
// through; the same name without the token, as a rebinding site sends
// it, gets 401 and no body, nor the actions' token.
func TestInspectorPublicByName(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{public: true}, nil, nil)
	require.Equal(t, http.StatusOK, rig.send(t, jamNow(t, webhooktest.Secret)))
	const host = "devbox.internal:8081"
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(t *testing.T, method, path string, h http.Header) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, rig.page.URL+path, nil)
		require.NoError(t, err)
		req.Host = host
		for k, vs := range h {
			req.Header[k] = vs
		}
		resp, err := noRedirect.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, p := range []string{"/", "/api/deliveries", "/api/deliveries/1", "/api/config", "/static/app.js"} {
		resp, body := do(t, http.MethodGet, p, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, p)
		require.NotContains(t, body, "jam.created", p)
		require.NotContains(t, body, rig.in.token, p)
	}
	resp, body := do(t, http.MethodGet, "/?token="+rig.in.access, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `url=/"`)
	cookies := resp.Cookies()
	require.Len(t, cookies, 1)
	require.Equal(t, "webhook_inspect_8081", cookies[0].Name)
	cookie := http.Header{"Cookie": {cookies[0].Name + "=" + cookies[0].Value}}

	resp, body = do(t, http.MethodGet, "/", cookie)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, rig.in.token, "the page, with the actions' token")
	resp, body = do(t, http.MethodGet, "/api/deliveries", cookie)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "jam.created")

	action := cookie.Clone()
	action.Set("Origin", "http://"+host)
	action.Set(tokenHeader, rig.in.token)
	resp, body = do(t, http.MethodPost, "/api/deliveries/1/replay", action)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Len(t, rig.records(t), 2, "replayed")
	action.Set("Origin", "http://evil.example")
	resp, _ = do(t, http.MethodPost, "/api/deliveries/1/replay", action)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "another origin")
	require.Len(t, rig.records(t), 2)
}

// TestInspectorActionsRefused: an action needs a POST from the page's
// own origin carrying the run's token; anything else is 403 and does
// nothing.
func TestInspectorActionsRefused(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{}, nil, nil)
	require.Equal(t, http.StatusOK, rig.send(t, jamNow(t, webhooktest.Secret)))
	path := rig.page.URL + "/api/deliveries/1/replay"
	tests := []struct {
		name, method, origin, token string
		want                        int
	}{
		{"no token", http.MethodPost, rig.page.URL, "", http.StatusForbidden},
		{"wrong token", http.MethodPost, rig.page.URL, strings.Repeat("0", 32), http.StatusForbidden},
		{"cross origin", http.MethodPost, "http://evil.example", rig.in.token, http.StatusForbidden},
		{"cross origin, other port", http.MethodPost, "http://127.0.0.1:1", rig.in.token, http.StatusForbidden},
		{"null origin", http.MethodPost, "null", rig.in.token, http.StatusForbidden},
		{"no origin", http.MethodPost, "", rig.in.token, http.StatusForbidden},
		{"not a POST", http.MethodPut, rig.page.URL, rig.in.token, http.StatusForbidden},
		{"GET", http.MethodGet, rig.page.URL, rig.in.token, http.StatusMethodNotAllowed},
		{"same origin with token", http.MethodPost, rig.page.URL, rig.in.token, http.StatusOK},
		// The page behind a proxy that speaks TLS (a tunnel to a
		// developer's machine), which passes the Host on.
		{"same host over https with token", http.MethodPost, "https://" + strings.TrimPrefix(rig.page.URL, "http://"), rig.in.token, http.StatusOK},
		{"other host over https", http.MethodPost, "https://evil.example", rig.in.token, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(rig.records(t))
			req, err := http.NewRequest(tt.method, path, nil)
			require.NoError(t, err)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.token != "" {
				req.Header.Set(tokenHeader, tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, tt.want, resp.StatusCode)
			added := 0
			if tt.want == http.StatusOK {
				added = 1
			}
			require.Len(t, rig.records(t), before+added, "a refused action must not replay")
		})
	}
}

// TestInspectorFetchSite: a request that a browser marks as made by
// another site's page (Sec-Fetch-Site cross-site, or same-site: on
// localhost another port is the same site) gets 403 and nothing of the
// page, whether it reads data, opens the event stream, loads the page or
// its scripts, or is an action carrying the page's origin and token;
// only a navigation to the page itself (a link followed) goes through.
// The page's own requests (same-origin), the address bar (none) and
// clients that send no such header are answered as before.
func TestInspectorFetchSite(t *testing.T) {
	type fetch struct{ site, mode, dest, method, path string }
	refused := []fetch{
		{"cross-site", "cors", "empty", http.MethodGet, "/api/deliveries"},
		{"cross-site", "no-cors", "empty", http.MethodGet, "/api/deliveries/1"},
		{"cross-site", "cors", "empty", http.MethodGet, "/api/events"},
		{"cross-site", "no-cors", "script", http.MethodGet, "/api/config"},
		{"cross-site", "no-cors", "empty", http.MethodGet, "/api/inbox"},
		{"cross-site", "no-cors", "empty", http.MethodGet, "/"},
		{"cross-site", "navigate", "iframe", http.MethodGet, "/"},
		{"cross-site", "no-cors", "script", http.MethodGet, "/static/app.js"},
		{"cross-site", "navigate", "document", http.MethodGet, "/api/deliveries"},
		{"cross-site", "navigate", "document", http.MethodPost, "/api/deliveries/1/replay"},
		{"cross-site", "cors", "empty", http.MethodPost, "/api/deliveries/1/replay"},
		{"same-site", "cors", "empty", http.MethodGet, "/api/deliveries"},
		{"same-site", "cors", "empty", http.MethodPost, "/api/deliveries/1/replay"},
		{"unheard-of", "cors", "empty", http.MethodGet, "/api/deliveries"},
	}
	allowed := []fetch{
		{"cross-site", "navigate", "document", http.MethodGet, "/"},
		{"same-site", "navigate", "document", http.MethodGet, "/"},
		{"none", "navigate", "document", http.MethodGet, "/api/deliveries"},
		{"same-origin", "cors", "empty", http.MethodGet, "/api/deliveries/1"},
		{"same-origin", "no-cors", "script", http.MethodGet, "/static/app.js"},
		{"same-origin", "cors", "empty", http.MethodPost, "/api/deliveries/1/replay"},
		{"", "", "", http.MethodGet, "/api/deliveries"},
		{"", "", "", http.MethodPost, "/api/deliveries/1/replay"},
	}
	for _, public := range []bool{false, true} {
		rig := newInspectRig(t, inspectFlags{public: public}, nil, nil)
		require.Equal(t, http.StatusOK, rig.send(t, jamNow(t, webhooktest.Secret)))
		for _, c := range []struct {
			fetches []fetch
			ok      bool
		}{{refused, false}, {allowed, true}} {
			for _, f := range c.fetches {
				t.Run(fmt.Sprintf("public=%v/%s %s %s %s %s", public, f.site, f.mode, f.dest, f.method, f.path), func(t *testing.T) {
					before := len(rig.records(t))
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					req, err := http.NewRequestWithContext(ctx, f.method, rig.page.URL+f.path, nil)
					require.NoError(t, err)
					for k, v := range map[string]string{"Sec-Fetch-Site": f.site, "Sec-Fetch-Mode": f.mode, "Sec-Fetch-Dest": f.dest} {
						if v != "" {
							req.Header.Set(k, v)
						}
					}
					req.Header.Set("Origin", rig.page.URL) // as a page could claim it
					req.Header.Set(tokenHeader, rig.in.token)
					rig.authorize(req)
					resp, err := http.DefaultClient.Do(req)
					require.NoError(t, err)
					defer resp.Body.Close()
					var body []byte
					if f.path == "/api/events" && resp.StatusCode == http.StatusOK {
						body, _ = bufio.NewReader(resp.Body).ReadBytes('\n') // the stream stays open
					} else {
						body, _ = io.ReadAll(resp.Body)
					}
					added := 0
					if c.ok {
						require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
						if f.method == http.MethodPost {
							added = 1
						}
					} else {
						require.Equal(t, http.StatusForbidden, resp.StatusCode, string(body))
						require.Contains(t, string(body), "Sec-Fetch-Site")
						require.NotContains(t, string(body), "jam.created")
						require.NotContains(t, string(body), rig.in.token)
					}
					require.Len(t, rig.records(t), before+added, "replayed only when allowed")
				})
			}
		}
	}
}

// TestInspectorPageToken: the page carries the run's token, which the
// script sends; a second run has another.
func TestInspectorPageToken(t *testing.T) {
	a := newInspectRig(t, inspectFlags{}, nil, nil)
	b := newInspectRig(t, inspectFlags{}, nil, nil)
	require.NotEqual(t, a.in.token, b.in.token)
	resp, err := http.Get(a.page.URL + "/")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Contains(t, string(page), `content="`+a.in.token+`"`)
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
	require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
}

// TestInspectorForward: accepted deliveries reach the app with headers
// that verify against the app's own keys (re-signed) or the receiver's
// (the original headers); rejected ones are not forwarded.
func TestInspectorForward(t *testing.T) {
	tests := []struct {
		name                  string
		flags                 inspectFlags
		appSecret, appInterco string
		inbox                 bool
	}{
		{"re-signed for the app's test secrets", inspectFlags{forwardSecret: appSecret, forwardIntercom: appIntercom}, appSecret, appIntercom, false},
		{"original headers", inspectFlags{}, webhooktest.Secret, webhooktest.IntercomSecret, false},
		{"re-signed, in inbox mode", inspectFlags{forwardSecret: appSecret, forwardIntercom: appIntercom}, appSecret, appIntercom, true},
		{"re-signed v1a for the app's public key", inspectFlags{forwardSecret: webhooktest.SigningKey, forwardIntercom: appIntercom}, webhooktest.PublicKey, appIntercom, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			app, err := webhook.NewHandler(webhook.WithSecrets(tt.appSecret), webhook.WithIntercomSecrets(tt.appInterco), webhook.WithLogger(slog.New(slog.DiscardHandler)))
			require.NoError(t, err)
			app.OnAny(func(_ context.Context, d *webhook.Delivery, e event.Event) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, string(d.Source)+" "+d.ID+" "+e.EventType())
				return nil
			})
			var statuses []int
			appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sw := &statusWriter{ResponseWriter: w}
				app.ServeHTTP(sw, r)
				mu.Lock()
				statuses = append(statuses, sw.code)
				mu.Unlock()
			}))
			defer appSrv.Close()
			f := tt.flags
			f.forwardTo = appSrv.URL + "/hooks"
			var ib webhook.Inbox
			if tt.inbox {
				ib = webhook.NewMemoryInbox(100, nil)
			}
			rig := newInspectRig(t, f, ib, nil)

			jam := jamNow(t, webhooktest.Secret)
			jamID := jam.Header.Get("Webhook-Id")
			require.Equal(t, http.StatusOK, rig.send(t, jam))
			forged := jamNow(t, "whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y")
			require.Equal(t, http.StatusUnauthorized, rig.send(t, forged))
			require.Equal(t, http.StatusOK, rig.send(t, intercomNow(t)))
			rig.in.wait()

			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, []int{http.StatusOK, http.StatusOK}, statuses, "only the accepted deliveries are forwarded, and they verify")
			require.ElementsMatch(t, []string{
				"standard " + jamID + " jam.created",
				"intercom notif_a1b2c3d4-0002-4e00-8000-000000000002 conversation.admin.replied",
			}, got)
			for _, r := range rig.records(t) {
				if r.Status == http.StatusOK {
					require.Equal(t, "forwarded: 200 OK", r.Forward, r.Seq)
				} else {
					require.Empty(t, r.Forward, r.Seq)
				}
			}
		})
	}
}

// TestInspectorReplay: a Standard Webhooks delivery is replayed re-signed
// with a fresh timestamp, so even a forged one is accepted (under a new id
// unless the id is kept, when a processed one is a duplicate; a forgery's
// id is never kept); an Intercom one byte for byte, which dedupe then
// acknowledges.
func TestInspectorReplay(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{}, nil, nil)
	good := jamNow(t, webhooktest.Secret)
	require.Equal(t, http.StatusOK, rig.send(t, good))                                                              // 1
	require.Equal(t, http.StatusUnauthorized, rig.send(t, jamNow(t, "whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y"))) // 2
	require.Equal(t, http.StatusOK, rig.send(t, intercomNow(t)))                                                    // 3
	tests := []struct {
		path       string
		wantDup    bool
		wantSameID bool
		note       string
	}{
		{"/api/deliveries/2/replay", false, false, "replay of #2, re-signed, new id"},
		{"/api/deliveries/2/replay?keep_id=1", false, false, "replay of #2, re-signed, new id: its own is unverified"}, // TestInspectorReplayKeepsNoUnverifiedID
		{"/api/deliveries/1/replay", false, false, "replay of #1, re-signed, new id"},
		{"/api/deliveries/1/replay?keep_id=1", true, true, "replay of #1, re-signed, id kept"},
		{"/api/deliveries/3/replay", true, true, "replay of #3, byte for byte"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, out := rig.action(t, tt.path)
			require.Equal(t, http.StatusOK, code, out)
			require.Equal(t, float64(http.StatusOK), out["status"], out)
			require.Equal(t, tt.note, out["note"])
			list := rig.records(t)
			last := list[len(list)-1]
			require.Equal(t, int64(out["seq"].(float64)), last.Seq)
			orig := list[last.ReplayOf-1]
			require.Equal(t, http.StatusOK, last.Status)
			require.True(t, last.IDVerified)
			require.Equal(t, tt.wantDup, last.Duplicate)
			require.Equal(t, tt.wantSameID, last.ID == orig.ID, "%s vs %s", last.ID, orig.ID)
		})
	}
	code, out := rig.action(t, "/api/deliveries/99/replay")
	require.Equal(t, http.StatusNotFound, code, out)
}

// TestInspectorFixture: "save as fixture" writes a capture that
// webhooktest.ReadCapture loads and that verifies as it arrived; the
// forged one loads too, and is refused as it was.
func TestInspectorFixture(t *testing.T) {
	dir := t.TempDir()
	rig := newInspectRig(t, inspectFlags{fixtures: dir}, nil, nil)
	good := jamNow(t, webhooktest.Secret)
	require.Equal(t, http.StatusOK, rig.send(t, good))
	require.Equal(t, http.StatusUnauthorized, rig.send(t, jamNow(t, "whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y")))
	require.Equal(t, http.StatusOK, rig.send(t, intercomNow(t)))
	// A path of its own, escaped, with a query that may be a credential.
	require.Equal(t, http.StatusOK, rig.sendRaw(t, "/hooks/jam%20team?key=live-credential", webhooktest.NewStandardRequest(webhooktest.Secret, []byte(`{"jamId":"j1","teamId":"t1"}`), webhooktest.WithTime(time.Now()))))
	for seq, want := range map[int]int{1: http.StatusOK, 2: http.StatusUnauthorized, 3: http.StatusOK, 4: http.StatusOK} {
		code, out := rig.action(t, "/api/deliveries/"+strconv.Itoa(seq)+"/fixture")
		require.Equal(t, http.StatusOK, code, out)
		name := out["name"].(string)
		require.Regexp(t, `^(jam|intercom)/[a-z.]+\.[A-Za-z0-9_-]+\.json$`, name)
		c, err := webhooktest.ReadCapture(os.DirFS(dir), name)
		require.NoError(t, err)
		require.Empty(t, c.Header.Get("Accept-Encoding"), "only the headers that matter are kept")
		h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
			webhook.WithClock(func() time.Time { return c.Received }), webhook.WithLogger(slog.New(slog.DiscardHandler)))
		require.NoError(t, err)
		h.OnAny(func(context.Context, *webhook.Delivery, event.Event) error { return nil })
		w := httptest.NewRecorder()
		r := c.Request()
		h.ServeHTTP(w, r)
		require.Equal(t, want, w.Code, name)
		// The request goes where the delivery came, without the query
		// the inspector does not save.
		wantTarget := "/hook"
		if seq == 4 {
			wantTarget = "/hooks/jam%20team"
		}
		require.Equal(t, wantTarget, c.Target)
		require.Equal(t, wantTarget, r.URL.RequestURI())
		// Re-signed with the test keys, the forged one verifies too (and
		// the others are duplicates, acknowledged): the capture holds what
		// Resigned signs over.
		w = httptest.NewRecorder()
		h.ServeHTTP(w, c.Resigned())
		require.Equal(t, http.StatusOK, w.Code, name)
		if seq == 1 {
			require.Equal(t, "jam/jam.created."+good.Header.Get("Webhook-Id")+".json", name)
			require.Equal(t, webhooktest.Fixture("jam/jam.created.maximal.json"), c.Body)
		}
	}
}

// TestInspectorVerdict: the detail view says which step failed, with the
// reason and hint in the list too, and never shows a secret.
func TestInspectorVerdict(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{}, nil, nil)
	old := webhooktest.NewStandardRequest(webhooktest.Secret, webhooktest.Fixture("jam/jam.created.maximal.json"), webhooktest.WithTime(time.Now().Add(-10*time.Minute)))
	require.Equal(t, http.StatusUnauthorized, rig.send(t, old))
	// A body re-encoded on the way: through a map, as a framework's
	// binding does, which sorts the keys.
	var m map[string]any
	require.NoError(t, json.Unmarshal(webhooktest.Fixture("jam/jam.created.maximal.json"), &m))
	reencoded, err := json.Marshal(m)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, rig.send(t, webhooktest.NewStandardRequest("whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y", reencoded, webhooktest.WithTime(time.Now()))))
	gz := jamNow(t, "whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y")
	gz.Header.Set("Content-Encoding", "gzip")
	require.Equal(t, http.StatusUnauthorized, rig.send(t, gz))
	trimmed := bytes.TrimRight(webhooktest.Fixture("jam/jam.created.maximal.json"), "\n")
	require.Equal(t, http.StatusUnauthorized, rig.send(t, webhooktest.NewStandardRequest("whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y", trimmed, webhooktest.WithTime(time.Now()))))
	tests := []struct {
		seq, reason, failed, detail string
		hint, evidence              string
	}{
		{"1", "too_old", "timestamp", "ahead of the sender", "sync this clock", "ahead of the sender] [body 1374 bytes read"},
		{"2", "signature", "signature", "wrong secret", "re-encoded on the way (a body parser or framework binding): mount the handler before it (top-level keys in sorted order", "hint reencoded"},
		{"3", "signature", "signature", "wrong secret", "the body is compressed", "gzip"},
		{"4", "signature", "signature", "wrong secret", "the secret is the likeliest difference", "tried against 1 HMAC key(s)"},
	}
	for _, tt := range tests {
		resp, err := http.Get(rig.page.URL + "/api/deliveries/" + tt.seq)
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		var d struct {
			Reason, Hint, ID string
			IDVerified       bool `json:"id_verified"`
			Verdict          []verdictStep
			Evidence         [][2]string
		}
		require.NoError(t, json.Unmarshal(raw, &d))
		require.Equal(t, tt.reason, d.Reason)
		require.Contains(t, d.Hint, tt.hint)
		require.Contains(t, fmt.Sprint(d.Evidence), tt.evidence)
		require.Contains(t, fmt.Sprint(d.Evidence), "message id (unverified) "+d.ID)
		require.NotEmpty(t, d.ID)
		require.False(t, d.IDVerified)
		var failed []string
		for _, s := range d.Verdict {
			if s.Result == "fail" {
				failed = append(failed, s.Step)
				if s.Step == tt.failed {
					require.Contains(t, s.Detail, tt.detail)
				}
			}
		}
		require.Equal(t, []string{tt.failed, "answered"}, failed, string(raw))
		require.NotContains(t, string(raw), strings.TrimPrefix(webhooktest.Secret, "whsec_"))
	}
}

// TestInspectorVerdictSeriesToken: a wrong Series token is a credential
// that matched none, not a signature over the body, so the hint names
// the token and claims nothing about the body, which was never compared.
func TestInspectorVerdictSeriesToken(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{}, nil, nil)
	require.Equal(t, http.StatusUnauthorized, rig.send(t, webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, liveSeriesToken+"-old", webhooktest.Fixture("series/contact.json"))))
	resp, err := http.Get(rig.page.URL + "/api/deliveries/1")
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	var d struct{ Reason, Hint string }
	require.NoError(t, json.Unmarshal(raw, &d))
	require.Contains(t, d.Hint, "the Series token")
	require.Contains(t, d.Hint, "none of the configured tokens")
	require.NotContains(t, d.Hint, "body")
	require.NotContains(t, string(raw), liveSeriesToken)
}

// TestInspectorEvents: the event stream sends each delivery as it is
// recorded.
func TestInspectorEvents(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{}, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, rig.page.URL+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	buf := make([]byte, 64)
	_, err = resp.Body.Read(buf) // the stream is open once its greeting arrives
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, rig.send(t, jamNow(t, webhooktest.Secret)))
	var got bytes.Buffer
	for !strings.Contains(got.String(), "\n\n") || !strings.Contains(got.String(), "event: delivery") {
		n, err := resp.Body.Read(buf)
		require.NoError(t, err)
		got.Write(buf[:n])
	}
	_, data, _ := strings.Cut(got.String(), "data: ")
	var r record
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(data)), &r))
	require.Equal(t, int64(1), r.Seq)
	require.Equal(t, "jam.created", r.Type)
}

// TestInspectorInbox: with an inbox the page lists its states, a
// delivery whose callback keeps failing ends dead with its last error,
// and replaying it from the page makes it pending again.
func TestInspectorInbox(t *testing.T) {
	ib := webhook.NewMemoryInbox(100, nil)
	rig := newInspectRig(t, inspectFlags{}, ib, func(context.Context, *webhook.Delivery, event.Event) error {
		return io.ErrUnexpectedEOF
	})
	require.Equal(t, http.StatusOK, rig.send(t, jamNow(t, webhooktest.Secret)))
	entries, _ := rig.deadInboxRow(t)
	require.Contains(t, entries[0].LastError, "unexpected EOF")
	require.Eventually(t, func() bool {
		list := rig.records(t)
		return len(list) == 1 && list[0].Outcome == "dead"
	}, 5*time.Second, 10*time.Millisecond)

	code, out := rig.action(t, "/api/inbox/replay?key="+entries[0].Key)
	require.Equal(t, http.StatusOK, code, out)
	e, err := ib.Get(context.Background(), entries[0].Key)
	require.NoError(t, err)
	require.NotEqual(t, webhook.InboxDead, e.State)
}

// TestInspectorInboxAttentionFirst: the page's inbox panel lists the
// dead, pending and leased deliveries before the done ones, so a dead
// delivery stays in view, with its replay button, however many done ones
// are older: listed oldest first across states, the panel's 200 rows held
// only done ones once that many had been received.
func TestInspectorInboxAttentionFirst(t *testing.T) {
	ctx := context.Background()
	clock := webhooktest.NewClock(time.Now().Add(-time.Hour))
	ib := webhook.NewMemoryInbox(1000, clock.Now)
	settle := func(key string, dead bool) {
		_, err := ib.Store(ctx, &webhook.InboxEntry{Key: key, Source: event.SourceStandard, ID: key, Body: []byte(`{}`)})
		require.NoError(t, err)
		ls, err := ib.Lease(ctx, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, ls, 1)
		if dead {
			require.NoError(t, ib.Kill(ctx, key, ls[0].Token, "the CRM is down"))
		} else {
			require.NoError(t, ib.Complete(ctx, key, ls[0].Token))
		}
		clock.Advance(time.Second)
	}
	for i := range 250 {
		settle(fmt.Sprintf("standard:msg_done_%d", i), false)
	}
	settle("standard:msg_dead", true)

	lists := &listQueries{Inbox: ib}
	rig := newInspectRig(t, inspectFlags{}, lists, nil)
	resp, err := http.Get(rig.page.URL + "/api/inbox")
	require.NoError(t, err)
	defer resp.Body.Close()
	var entries []inboxView
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&entries))
	require.Len(t, entries, 200)
	require.Equal(t, "standard:msg_dead", entries[0].Key)
	require.Equal(t, "dead", entries[0].State)
	require.Equal(t, "standard:msg_done_0", entries[1].Key, "then the done ones, oldest first")
	// The panel shows no body: it reads none, where a page of 200 big
	// bodies was read on each refresh.
	qs := lists.all()
	require.NotEmpty(t, qs)
	for _, q := range qs {
		require.True(t, q.OmitBody, "the panel's List reads bodies: %+v", q)
	}
}

// listQueries records the queries List is asked, from any goroutine.
type listQueries struct {
	webhook.Inbox
	mu sync.Mutex
	qs []webhook.InboxQuery
}

func (l *listQueries) List(ctx context.Context, q webhook.InboxQuery) (webhook.InboxPage, error) {
	l.mu.Lock()
	l.qs = append(l.qs, q)
	l.mu.Unlock()
	return l.Inbox.List(ctx, q)
}

func (l *listQueries) all() []webhook.InboxQuery {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.qs)
}

// TestInspectFlagsForwardSecret: --forward-secret is what forwards are
// signed with, so a key that verifies but cannot sign (a whpk_ public
// key) is refused before anything listens, not at every forward.
func TestInspectFlagsForwardSecret(t *testing.T) {
	tests := []struct {
		secret, want string
	}{
		{appSecret, ""},
		{webhooktest.SigningKey, ""}, // signs v1a, for an app holding its whpk_ public key
		{publicKey, "--forward-secret: a whpk_ public key cannot sign"},
		{"whsk_" + strings.Repeat("A", 40), "--forward-secret: webhooktest: whsk_ key is not base64"},
	}
	for _, tt := range tests {
		t.Run(tt.secret, func(t *testing.T) {
			f := inspectFlags{addr: optionalAddr{set: true, addr: "127.0.0.1:0"}, keep: 1, keepBytes: 1, forwardTo: "http://127.0.0.1:3000/", forwardSecret: tt.secret}
			err := f.check()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), tt.secret)
		})
	}
}

// TestInspectFlags: flag combinations that make no sense are usage
// errors before anything listens, and a non-loopback address needs
// --inspect-public.
func TestInspectFlags(t *testing.T) {
	clearEnv(t)
	notDir := writeFile(t, "fixtures", "")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--forward-to", "http://127.0.0.1:3000/"}, "--forward-to needs --inspect"},
		{[]string{"--fixtures", t.TempDir()}, "--fixtures needs --inspect"},
		{[]string{"--inspect=0.0.0.0:4040"}, "not a loopback address"},
		{[]string{"--inspect=:4040"}, "not a loopback address"},
		{[]string{"--inspect=192.168.1.20:4040"}, "not a loopback address"},
		{[]string{"--inspect=localhost"}, "missing port"},
		{[]string{"--inspect", "--forward-secret", appSecret}, "need --forward-to"},
		{[]string{"--inspect", "--forward-to", "127.0.0.1:3000"}, "http:// or https://"},
		{[]string{"--inspect", "--forward-to", "http://127.0.0.1:3000/", "--forward-secret", "whsec_not base64"}, "--forward-secret"},
		{[]string{"--inspect", "--inspect-keep", "0"}, "at least 1"},
		{[]string{"--inspect", "--inspect-keep-bytes", "0"}, "--inspect-keep-bytes must be at least 1"},
		// The inspector's own flags without it: serve ran without an
		// inspector, saying nothing.
		{[]string{"--inspect-public"}, "--inspect-public needs --inspect"},
		{[]string{"--inspect-keep", "10"}, "--inspect-keep needs --inspect"},
		{[]string{"--inspect-keep-bytes", "1000"}, "--inspect-keep-bytes needs --inspect"},
		{[]string{"--inspect=false", "--inspect-public"}, "--inspect-public needs --inspect"},
		// A file where the fixtures' directory should be.
		{[]string{"--inspect", "--fixtures", notDir}, "--fixtures " + notDir + " is not a directory"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			res := runCmd(t, "", append([]string{"serve", "--test-keys", "--addr", "127.0.0.1:0"}, tt.args...)...)
			require.Equal(t, exitUsage, res.code, res.stderr)
			require.Contains(t, res.stderr, tt.want)
			require.NotContains(t, res.stderr, "listening on")
		})
	}
}

// TestInspectServe runs serve with the inspector and an inbox file in
// process: the page answers on its own address, lists a delivery, and
// shows its inbox state.
func TestInspectServe(t *testing.T) {
	clearEnv(t)
	srv := serveInProcess(t, "--test-keys", "--inspect=127.0.0.1:0", "--inbox", t.TempDir()+"/inbox.db")
	page := srv.page

	jam := jamNow(t, webhooktest.Secret)
	require.Equal(t, http.StatusOK, srv.post(t, jam))

	var d struct {
		Type  string
		Inbox *inboxView
	}
	require.Eventually(t, func() bool {
		resp, err := http.Get(page + "/api/deliveries/1")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		d.Inbox = nil
		return json.NewDecoder(resp.Body).Decode(&d) == nil && d.Inbox != nil && d.Inbox.State == "done"
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "jam.created", d.Type)
	require.Equal(t, jam.Header.Get("Webhook-Id"), d.Inbox.ID)
}

// TestInspectServeStopsHungForward: a forward to a --forward-to that
// never answers holds serve's stop no longer than --shutdown-timeout; it
// waited out the forward's 15 s timeout after the receiver had stopped.
func TestInspectServeStopsHungForward(t *testing.T) {
	clearEnv(t)
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer hung.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := hung.Accept()
		if err == nil {
			accepted <- c // held open, never answered
		}
	}()
	srv := serveInProcess(t, "--test-keys", "--inspect=127.0.0.1:0", "--forward-to", "http://"+hung.Addr().String()+"/", "--shutdown-timeout", "1s")
	require.Equal(t, http.StatusOK, srv.post(t, jamNow(t, webhooktest.Secret)))
	var c net.Conn
	select {
	case c = <-accepted:
		defer c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("no forward came")
	}

	// Under the forward's 15 s by far, with seconds to spare for a loaded
	// machine past the 1 s timeout and the callbacks' grace.
	require.Less(t, srv.stop(t), 8*time.Second, srv.logs.String())
}

// TestInspectorBodyLimit: a body past --max-body still reaches the
// handler, which refuses it with 413; the record keeps the first
// --max-body bytes and says so, and neither replays nor saves them.
func TestInspectorBodyLimit(t *testing.T) {
	const max = 64
	dir := t.TempDir()
	f := inspectFlags{addr: optionalAddr{set: true, addr: "127.0.0.1:0"}, keep: 10, keepBytes: defaultKeepBytes, fixtures: dir}
	keys := &keyFlags{secrets: listFlag{webhooktest.Secret}}
	logger := slog.New(slog.DiscardHandler)
	in := newInspector(&f, keys, receiverLimits{tolerance: webhook.DefaultTolerance, maxBody: max, intercomMaxAge: webhook.DefaultRetention}, nil, logger)
	h, err := webhook.NewHandler(append([]webhook.Option{webhook.WithSecrets(webhooktest.Secret), webhook.WithMaxBodySize(max), webhook.WithLogger(logger)}, in.options()...)...)
	require.NoError(t, err)
	h.OnAny(func(context.Context, *webhook.Delivery, event.Event) error { return nil })
	recv := in.receiver(h)
	page := httptest.NewServer(in.guard(in.routes()))
	defer page.Close()

	for _, size := range []int{max, max + 1, 4 * max} {
		body := []byte(`{"a":"` + strings.Repeat("x", size-8) + `"}`)
		require.Len(t, body, size)
		w := httptest.NewRecorder()
		recv.ServeHTTP(w, webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithTime(time.Now())))
		rec := in.find(in.seq)
		require.Equal(t, size > max, rec.Cut, size)
		if size > max {
			require.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
			require.Equal(t, body[:max], rec.Body)
			require.False(t, in.replayPlan(rec).Possible)
			_, err := saveFixture(dir, keys, rec)
			require.ErrorContains(t, err, "--max-body")
		} else {
			require.NotEqual(t, http.StatusRequestEntityTooLarge, w.Code)
			require.Equal(t, body, rec.Body)
		}
	}
}

// TestHintFixes: every hint the handler gives has its fix on the page.
func TestHintFixes(t *testing.T) {
	for _, h := range []webhook.Hint{
		webhook.HintCheckSecret, webhook.HintReencoded, webhook.HintEmptyBody, webhook.HintLengthMismatch,
		webhook.HintCompressed, webhook.HintNotJSON, webhook.HintClockAhead, webhook.HintClockBehind,
		webhook.HintSourceNotConfigured, webhook.HintNoKeys, webhook.HintCraftedBody,
	} {
		require.NotEmpty(t, hintFixes[h], h)
	}
}

// sendRaw writes r to the receiver with the request target as given,
// which net/http's client would normalise, and returns the status.
func (rig *inspectRig) sendRaw(t *testing.T, target string, r *http.Request) int {
	t.Helper()
	c, err := net.Dial("tcp", rig.receiver.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	body, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: %d\r\n", r.Method, target, len(body))
	require.NoError(t, r.Header.Write(&b))
	b.WriteString("\r\n")
	b.Write(body)
	_, err = c.Write(b.Bytes())
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestInspectorHidesQuery: the page shows the request target with its
// query's values hidden, in the list, the detail and the event stream,
// as "save as fixture" leaves the query out: an endpoint may carry a
// credential of its own there (?token=…), and screenshots of the page
// end up in tickets and chat. The page showed it as received. A replay
// still goes to the target as received.
func TestInspectorHidesQuery(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{}, nil, nil)
	require.Equal(t, http.StatusOK, rig.sendRaw(t, "/hooks?token=hunter2&tenant=acme&token=hunter3", jamNow(t, webhooktest.Secret)))
	require.Equal(t, http.StatusOK, rig.sendRaw(t, "/hooks?key=hunter2%zz", jamNow(t, webhooktest.Secret)))
	list := rig.records(t)
	require.Len(t, list, 2)
	require.Equal(t, "/hooks?tenant=xxxxx&token=xxxxx&token=xxxxx", list[0].ShownPath)
	require.Equal(t, "/hooks?…", list[1].ShownPath, "a query that does not parse is not shown")
	for _, path := range []string{"/api/deliveries", "/api/deliveries/1", "/api/deliveries/2"} {
		resp, err := http.Get(rig.page.URL + path)
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, string(raw), `"path":"/hooks?`)
		require.NotContains(t, string(raw), "hunter")
		require.NotContains(t, string(raw), "acme")
	}
	code, out := rig.action(t, "/api/deliveries/1/replay")
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, "/hooks?token=hunter2&tenant=acme&token=hunter3", rig.in.find(3).Path, "replayed to the target as received")
}

// TestInspectorReplayTargets: a delivery is replayed to the path and
// query it arrived on, and one whose request target is not a path (an
// absolute URI without "//", which net/http admits) is refused with a
// clear error; it made the page's replay panic.
func TestInspectorReplayTargets(t *testing.T) {
	tests := []struct {
		target   string
		replayed int // the replay action's status
		path     string
	}{
		{"/hooks/jam?tenant=a%20b", http.StatusOK, "/hooks/jam?tenant=a%20b"},
		{"//double/slash", http.StatusOK, "//double/slash"},
		{"http://127.0.0.1/absolute?x=1", http.StatusOK, "/absolute?x=1"},
		{"http:opaque", http.StatusConflict, ""},
		{"*", http.StatusOK, "*"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			rig := newInspectRig(t, inspectFlags{}, nil, nil)
			status := rig.sendRaw(t, tt.target, jamNow(t, webhooktest.Secret))
			list := rig.records(t)
			require.Len(t, list, 1)
			code, out := rig.action(t, "/api/deliveries/1/replay")
			require.Equal(t, tt.replayed, code, out)
			if tt.replayed != http.StatusOK {
				require.Contains(t, out["error"], strconv.Quote(list[0].ShownPath))
				require.Len(t, rig.records(t), 1, "a refused replay reached the receiver")
				return
			}
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, float64(http.StatusOK), out["status"], out)
			require.Len(t, rig.records(t), 2)
			require.Equal(t, tt.path, rig.in.find(1).Path)
			require.Equal(t, tt.path, rig.in.find(2).Path, "the replay went to another path")
		})
	}
}

// TestInspectorKeepsMethod: replay and forward send a delivery with the
// method it came with (Series blocks PUT theirs), not always POST, so an
// app that routes by method gets it where the sender would have sent it.
func TestInspectorKeepsMethod(t *testing.T) {
	tests := []struct{ method string }{{http.MethodPost}, {http.MethodPut}}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			var mu sync.Mutex
			var got []string
			appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got = append(got, r.Method)
				mu.Unlock()
			}))
			defer appSrv.Close()
			rig := newInspectRig(t, inspectFlags{forwardTo: appSrv.URL}, nil, nil)
			r := jamNow(t, webhooktest.Secret)
			r.Method = tt.method
			require.Equal(t, http.StatusOK, rig.send(t, r))
			code, out := rig.action(t, "/api/deliveries/1/replay")
			require.Equal(t, http.StatusOK, code, out)
			code, out = rig.action(t, "/api/deliveries/1/forward")
			require.Equal(t, http.StatusOK, code, out)
			rig.in.wait()
			list := rig.records(t)
			require.Len(t, list, 2)
			require.Equal(t, tt.method, list[1].Method, "the replay's method")
			mu.Lock()
			defer mu.Unlock()
			// The delivery, its replay (a new id, so forwarded too), and the button.
			require.Equal(t, []string{tt.method, tt.method, tt.method}, got, "the forwards' methods")
		})
	}
}

// TestInspectorForwardRefused: the forward action sends accepted
// deliveries only, as the page offers it. Re-signing for the app a body
// that failed verification, or one cut at --max-body, would hand the app
// a forgery or a torn body under a valid signature.
func TestInspectorForwardRefused(t *testing.T) {
	big := []byte(`{"a":"` + strings.Repeat("x", webhook.DefaultMaxBodySize) + `"}`)
	tests := []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"forged", jamNow(t, "whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y"), http.StatusUnauthorized},
		{"cut at --max-body", webhooktest.NewStandardRequest(webhooktest.Secret, big, webhooktest.WithTime(time.Now())), http.StatusRequestEntityTooLarge},
		{"no sender's headers", httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`)), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var verified []string
			app, err := webhook.NewHandler(webhook.WithSecrets(appSecret), webhook.WithLogger(slog.New(slog.DiscardHandler)))
			require.NoError(t, err)
			app.OnAny(func(_ context.Context, d *webhook.Delivery, e event.Event) error {
				mu.Lock()
				defer mu.Unlock()
				verified = append(verified, d.ID)
				return nil
			})
			var posts int
			appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				posts++
				mu.Unlock()
				app.ServeHTTP(w, r)
			}))
			defer appSrv.Close()
			rig := newInspectRig(t, inspectFlags{forwardTo: appSrv.URL, forwardSecret: appSecret}, nil, nil)
			require.Equal(t, tt.status, rig.send(t, tt.req))
			code, out := rig.action(t, "/api/deliveries/1/forward")
			require.Equal(t, http.StatusConflict, code, out)
			require.Contains(t, out["error"], "accepted")
			rig.in.wait()
			mu.Lock()
			defer mu.Unlock()
			require.Zero(t, posts, "the app got a delivery the receiver refused")
			require.Empty(t, verified)
		})
	}
}

// TestInspectorSeriesToken: a Series token is a credential sent as is,
// not a signature over the body, so the page shows its header redacted
// (as Authorization and Cookie), and a saved fixture holds
// webhooktest.SeriesToken in its place when it matched, so the fixture
// verifies with the test keys as the delivery did with the receiver's, or
// a value matching nothing when it did not, so it is refused as it was.
// Neither holds the receiver's token.
func TestInspectorSeriesToken(t *testing.T) {
	dir := t.TempDir()
	rig := newInspectRig(t, inspectFlags{fixtures: dir}, nil, nil)
	body := webhooktest.Fixture("series/contact.json")
	tests := []struct {
		name   string
		token  string
		method string // a Series block may PUT: the fixture keeps it
		want   int
	}{
		{"the receiver's token", liveSeriesToken, http.MethodPut, http.StatusOK},
		{"a wrong token", liveSeriesToken + "-old", http.MethodPost, http.StatusUnauthorized},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, tt.token, body, webhooktest.WithMethod(tt.method))
			r.Header.Set("Authorization", "Basic dHVubmVsOmh1bnRlcjI=")
			r.Header.Set("Cookie", "session=s3cr3t-cookie")
			require.Equal(t, tt.want, rig.send(t, r))
			seq := strconv.Itoa(i + 1)

			resp, err := http.Get(rig.page.URL + "/api/deliveries/" + seq)
			require.NoError(t, err)
			raw, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			for _, secret := range []string{liveSeriesToken, "dHVubmVsOmh1bnRlcjI", "s3cr3t-cookie"} {
				require.NotContains(t, string(raw), secret)
			}
			var d struct{ Headers [][2]string }
			require.NoError(t, json.Unmarshal(raw, &d))
			shown := map[string]string{}
			for _, kv := range d.Headers {
				shown[kv[0]] = kv[1]
			}
			require.Contains(t, shown[webhooktest.SeriesHeader], "redacted")
			require.Contains(t, shown["Authorization"], "redacted")
			require.Equal(t, "application/json", shown["Content-Type"], "a header that is no credential is shown as sent")

			code, out := rig.action(t, "/api/deliveries/"+seq+"/fixture")
			require.Equal(t, http.StatusOK, code, out)
			name := out["name"].(string)
			for _, f := range []string{name, strings.TrimSuffix(name, ".json") + ".headers"} {
				b, err := os.ReadFile(dir + "/" + f)
				require.NoError(t, err)
				require.NotContains(t, string(b), liveSeriesToken, f)
			}
			c, err := webhooktest.ReadCapture(os.DirFS(dir), name)
			require.NoError(t, err)
			require.Equal(t, body, c.Body)
			require.Equal(t, tt.method, c.Method)
			cr := c.Request()
			require.Equal(t, tt.method, cr.Method)
			h, err := webhook.NewHandler(webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken), webhook.WithLogger(slog.New(slog.DiscardHandler)))
			require.NoError(t, err)
			h.OnAny(func(context.Context, *webhook.Delivery, event.Event) error { return nil })
			w := httptest.NewRecorder()
			h.ServeHTTP(w, cr)
			require.Equal(t, tt.want, w.Code, "the fixture does not verify with the test keys as the delivery did with the receiver's")
		})
	}
}

// TestInspectorKeepBytes: the ring keeps bodies up to --inspect-keep-bytes
// as well as --inspect-keep deliveries, dropping the oldest first and
// telling the page, and always keeps the newest delivery, however large.
// Anyone who reaches the receiver can fill it, and rejected requests are
// kept too.
func TestInspectorKeepBytes(t *testing.T) {
	forged := func(t *testing.T) *http.Request { return jamNow(t, "whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y") }
	size := func(t *testing.T) int64 {
		r := &record{Body: webhooktest.Fixture("jam/jam.created.maximal.json"), Header: forged(t).Header}
		return r.size()
	}
	tests := []struct {
		name      string
		keep      int
		keepBytes func(one int64) int64
		want      []int64 // the seqs kept after five deliveries
	}{
		{"by count", 3, func(one int64) int64 { return 100 * one }, []int64{3, 4, 5}},
		{"by bytes", 100, func(one int64) int64 { return 2*one + one/2 }, []int64{4, 5}},
		{"the newest, past the bytes", 100, func(one int64) int64 { return 1 }, []int64{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := newInspectRig(t, inspectFlags{keep: tt.keep, keepBytes: tt.keepBytes(size(t) + 64)}, nil, nil)
			sc := rig.events(t)

			for range 5 {
				require.Equal(t, http.StatusUnauthorized, rig.send(t, forged(t)))
			}
			var seqs []int64
			for _, r := range rig.records(t) {
				seqs = append(seqs, r.Seq)
			}
			require.Equal(t, tt.want, seqs)

			// A delivery's drops are sent before the delivery itself.
			var gone []int64
			for delivered := 0; delivered < 5; {
				require.True(t, sc.Scan(), "the stream ended: %v", sc.Err())
				switch sc.Text() {
				case "event: delivery":
					delivered++
				case "event: gone":
					require.True(t, sc.Scan())
					seq, err := strconv.ParseInt(strings.TrimPrefix(sc.Text(), "data: "), 10, 64)
					require.NoError(t, err)
					gone = append(gone, seq)
				}
			}
			var wantGone []int64
			for seq := int64(1); seq <= 5-int64(len(tt.want)); seq++ {
				wantGone = append(wantGone, seq)
			}
			require.Equal(t, wantGone, gone)
		})
	}
}

// TestInspectorFixtureNoClobber: saving never replaces a fixture already
// in the directory. A delivery saved again gets its own name back; another
// under the same name (a forgery claiming a saved delivery's id, a replay
// keeping it) gets a name of its own, the saved one left as it was.
func TestInspectorFixtureNoClobber(t *testing.T) {
	dir := t.TempDir()
	rig := newInspectRig(t, inspectFlags{fixtures: dir}, nil, nil)
	good := jamNow(t, webhooktest.Secret)
	id := good.Header.Get("Webhook-Id")
	require.Equal(t, http.StatusOK, rig.send(t, good))
	forged := jamNow(t, "whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y")
	forged.Header.Set("Webhook-Id", id)
	require.Equal(t, http.StatusUnauthorized, rig.send(t, forged))
	base := "jam/jam.created." + id
	tests := []struct {
		seq  string
		want string
	}{
		{"1", base + ".json"},
		{"1", base + ".json"}, // the same delivery: the same files
		{"2", base + "-2.json"},
		{"2", base + "-2.json"},
	}
	for i, tt := range tests {
		code, out := rig.action(t, "/api/deliveries/"+tt.seq+"/fixture")
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, tt.want, out["name"], "save %d", i+1)
	}
	for name, status := range map[string]int{base + ".json": http.StatusOK, base + "-2.json": http.StatusUnauthorized} {
		c, err := webhooktest.ReadCapture(os.DirFS(dir), name)
		require.NoError(t, err)
		h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(func() time.Time { return c.Received }),
			webhook.WithLogger(slog.New(slog.DiscardHandler)))
		require.NoError(t, err)
		h.OnAny(func(context.Context, *webhook.Delivery, event.Event) error { return nil })
		w := httptest.NewRecorder()
		h.ServeHTTP(w, c.Request())
		require.Equal(t, status, w.Code, name)
	}
	entries, err := os.ReadDir(dir + "/jam")
	require.NoError(t, err)
	require.Len(t, entries, 4, "two fixtures, each a body and its headers")
}

// TestInspectorConfigRedactsForwardURL: the page shows where deliveries
// are forwarded, but not a password written into that URL.
func TestInspectorConfigRedactsForwardURL(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{forwardTo: "http://dev:hunter2-app-pass@127.0.0.1:3000/hooks"}, nil, nil)
	resp, err := http.Get(rig.page.URL + "/api/config")
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var c struct{ ForwardTo string }
	require.NoError(t, json.Unmarshal(raw, &c))
	require.Equal(t, "http://dev:xxxxx@127.0.0.1:3000/hooks", c.ForwardTo)
	require.NotContains(t, string(raw), "hunter2")
}

// TestInspectorForwardURLHidesToken: where deliveries are forwarded is
// shown on the page with its query's values (an app's ?token=) hidden
// and without its fragment, a forward that failed is told without them,
// and a --forward-to that is no URL with a host is refused at start,
// without showing it: the page's forward note quoted net/http's error,
// query and all, and the page's address showed the query as given.
func TestInspectorForwardURLHidesToken(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	rig := newInspectRig(t, inspectFlags{forwardTo: strings.Replace(closed.URL, "http://", "http://dev:hunter2-pass@", 1) + "/hooks?token=hunter2&tenant=acme#hunter2"}, nil, nil)
	resp, err := http.Get(rig.page.URL + "/api/config")
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	var c struct{ ForwardTo string }
	require.NoError(t, json.Unmarshal(raw, &c))
	require.Equal(t, strings.Replace(closed.URL, "http://", "http://dev:xxxxx@", 1)+"/hooks?tenant=xxxxx&token=xxxxx", c.ForwardTo)

	require.Equal(t, http.StatusOK, rig.send(t, jamNow(t, webhooktest.Secret)))
	rig.in.wait()
	list := rig.records(t)
	require.Len(t, list, 1)
	require.Contains(t, list[0].Forward, "forward failed: POST "+strings.Replace(closed.URL, "http://", "http://dev:xxxxx@", 1)+"/hooks: dial tcp ")
	require.NotContains(t, list[0].Forward, "hunter2")

	for _, tt := range []struct{ url, want string }{
		{"http://127.0.0.1:80x/hooks?token=hunter2", "--forward-to does not parse as a URL: invalid port after host"},
		{"http://127.0.0.1/hooks/hunter2%zz", "--forward-to does not parse as a URL: invalid URL escape"},
		{"http:///hooks?token=hunter2", "--forward-to http:///hooks is not an http:// or https:// URL"},
		{"ftp://127.0.0.1/?token=hunter2", "--forward-to ftp://127.0.0.1/ is not an http:// or https:// URL"},
		{"http:dev:hunter2@127.0.0.1/hooks", "--forward-to http:xxxxx@127.0.0.1/hooks is not an http:// or https:// URL"},
	} {
		f := inspectFlags{addr: optionalAddr{set: true, addr: "127.0.0.1:0"}, keep: 1, keepBytes: 1, forwardTo: tt.url}
		err := f.check()
		require.Error(t, err, tt.url)
		require.Contains(t, err.Error(), tt.want)
		require.NotContains(t, err.Error(), "hunter2")
	}
}

// TestInspectorVerdictRefusedAfterDecode: a body the handler decodes but
// refuses (an Intercom id longer than a message id may be) fails the
// decode step, as the answer does, instead of passing beside a 400.
func TestInspectorVerdictRefusedAfterDecode(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{}, nil, nil)
	body := []byte(`{"type":"notification_event","app_id":"app1","id":"notif_` + strings.Repeat("x", 300) + `","topic":"ping","created_at":1795510790,"data":{"item":{"type":"ping","message":"hi"}}}`)
	require.Equal(t, http.StatusBadRequest, rig.send(t, webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body, webhooktest.WithTime(time.Now()))))
	resp, err := http.Get(rig.page.URL + "/api/deliveries/1")
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	var d struct{ Verdict []verdictStep }
	require.NoError(t, json.Unmarshal(raw, &d))
	steps := map[string]string{}
	for _, s := range d.Verdict {
		steps[s.Step] = s.Result
	}
	require.Equal(t, "pass", steps["signature"], string(raw))
	require.Equal(t, "fail", steps["decode"], string(raw))
	require.Equal(t, "fail", steps["answered"], string(raw))
}

// TestInspectorForwardAfterDrop: a forward that ends after its delivery
// left the ring (--inspect-keep, --inspect-keep-bytes) must not send the
// delivery to the page again: the page dropped its row on "gone", and a
// row come back would name a delivery the server no longer has.
func TestInspectorForwardAfterDrop(t *testing.T) {
	release := make(chan struct{})
	var first sync.Once
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first.Do(func() { <-release }) // the first forward ends once its delivery is gone
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer app.Close()
	rig := newInspectRig(t, inspectFlags{keep: 1, forwardTo: app.URL}, nil, nil)
	sc := rig.events(t)

	require.Equal(t, http.StatusOK, rig.send(t, jamNow(t, webhooktest.Secret))) // 1, its forward held
	require.Equal(t, http.StatusOK, rig.send(t, jamNow(t, webhooktest.Secret))) // 2 drops 1
	close(release)
	rig.in.wait()
	require.Equal(t, http.StatusUnauthorized, rig.send(t, jamNow(t, "whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y"))) // 3, the end of the test's events

	var events []string // "delivery 1", "gone 1", …
	for !slices.Contains(events, "delivery 3") {
		require.True(t, sc.Scan(), "the stream ended: %v", sc.Err())
		kind, ok := strings.CutPrefix(sc.Text(), "event: ")
		if !ok {
			continue
		}
		require.True(t, sc.Scan())
		data := strings.TrimPrefix(sc.Text(), "data: ")
		if kind == "delivery" {
			var r record
			require.NoError(t, json.Unmarshal([]byte(data), &r))
			data = strconv.FormatInt(r.Seq, 10)
		}
		events = append(events, kind+" "+data)
	}
	gone := slices.Index(events, "gone 1")
	require.GreaterOrEqual(t, gone, 0, "%v", events)
	require.NotContains(t, events[gone:], "delivery 1", "a dropped delivery came back to the page: %v", events)
}

// TestInspectorVerdictSignedButRefused: a delivery whose signature
// verified but whose age (Intercom) or timestamp (Standard Webhooks) was
// refused says so in its decode step; only one whose signature did not
// verify is unverified. An Intercom notification refused for its age
// read "unverified".
func TestInspectorVerdictSignedButRefused(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{}, nil, nil)
	long := time.Now().Add(-100 * time.Hour)
	tests := []struct {
		name    string
		req     *http.Request
		refused string // the step that failed
		decode  []string
	}{
		{name: "intercom too old", refused: "age",
			req:    webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, webhooktest.Fixture("intercom/conversation.admin.replied.json"), webhooktest.WithTime(long)),
			decode: []string{"the signature verified", "its age was refused", "conversation.admin.replied"}},
		{name: "jam too old", refused: "timestamp",
			req:    webhooktest.NewStandardRequest(webhooktest.Secret, webhooktest.Fixture("jam/jam.created.maximal.json"), webhooktest.WithTime(long)),
			decode: []string{"the signature verified", "its timestamp was refused", "jam.created"}},
		{name: "intercom forged", refused: "signature",
			req:    webhooktest.NewIntercomRequest("not-the-client-secret", webhooktest.Fixture("intercom/conversation.admin.replied.json"), webhooktest.WithTime(time.Now())),
			decode: []string{"unverified"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, http.StatusUnauthorized, rig.send(t, tt.req))
			resp, err := http.Get(rig.page.URL + "/api/deliveries/" + strconv.Itoa(i+1))
			require.NoError(t, err)
			raw, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			var d struct{ Verdict []verdictStep }
			require.NoError(t, json.Unmarshal(raw, &d))
			steps := map[string]verdictStep{}
			var failed []string
			for _, s := range d.Verdict {
				steps[s.Step] = s
				if s.Result == "fail" {
					failed = append(failed, s.Step)
				}
			}
			require.Equal(t, []string{tt.refused, "answered"}, failed, string(raw))
			require.Equal(t, "skip", steps["decode"].Result, string(raw))
			for _, w := range tt.decode {
				require.Contains(t, steps["decode"].Detail, w)
			}
			if tt.refused != "signature" {
				require.Equal(t, "pass", steps["signature"].Result, string(raw))
				require.NotContains(t, steps["decode"].Detail, "unverified")
			}
		})
	}
}
