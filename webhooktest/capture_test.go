package webhooktest_test

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// capturedFS returns a directory as "webhook serve --inspect" saves a Jam
// delivery into it: the body, and beside it the headers that matter.
func capturedFS(t testing.TB, headers string) fstest.MapFS {
	t.Helper()
	body := webhooktest.Fixture("jam/jam.created.maximal.json")
	return fstest.MapFS{
		"jam/jam.created.msg_1.json":    {Data: body},
		"jam/jam.created.msg_1.headers": {Data: []byte(headers)},
	}
}

func signedHeaders(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	body := webhooktest.Fixture("jam/jam.created.maximal.json")
	sig, err := webhooktest.SignStandard(secret, "msg_1", at, body)
	require.NoError(t, err)
	return "# captured by webhook serve --inspect: POST /hook, answered 200\n" +
		"# received: " + at.Add(2*time.Second).UTC().Format(time.RFC3339Nano) + "\n" +
		"Content-Type: application/json\nWebhook-Id: msg_1\n" +
		"Webhook-Timestamp: " + strconv.FormatInt(at.Unix(), 10) + "\nWebhook-Signature: " + sig + "\n"
}

func TestReadCapture(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name, headers, file string
		wantErr             string
		wantStatus          int
		wantType            string
		wantMethod          string // Capture.Method; the request's method is it, or POST
		wantTarget          string // Capture.Target; the request goes to it, or DefaultTarget
	}{
		{name: "verifies at its arrival time", headers: signedHeaders(t, webhooktest.Secret, at), file: "jam/jam.created.msg_1.json", wantStatus: http.StatusOK, wantType: "jam.created", wantMethod: http.MethodPost, wantTarget: "/hook"},
		{name: "a PUT stays a PUT", headers: strings.Replace(signedHeaders(t, webhooktest.Secret, at), ": POST /hook", ": PUT /hook", 1), file: "jam/jam.created.msg_1.json", wantStatus: http.StatusOK, wantType: "jam.created", wantMethod: http.MethodPut, wantTarget: "/hook"},
		{name: "no captured line: POST", headers: strings.SplitN(signedHeaders(t, webhooktest.Secret, at), "\n", 2)[1], file: "jam/jam.created.msg_1.json", wantStatus: http.StatusOK, wantType: "jam.created"},
		{name: "a path of its own", headers: strings.Replace(signedHeaders(t, webhooktest.Secret, at), " /hook,", " /hooks/jam/team_1,", 1), file: "jam/jam.created.msg_1.json", wantStatus: http.StatusOK, wantType: "jam.created", wantMethod: http.MethodPost, wantTarget: "/hooks/jam/team_1"},
		{name: "the query is not saved", headers: strings.Replace(signedHeaders(t, webhooktest.Secret, at), " /hook,", " /hooks/jam?…,", 1), file: "jam/jam.created.msg_1.json", wantStatus: http.StatusOK, wantType: "jam.created", wantMethod: http.MethodPost, wantTarget: "/hooks/jam"},
		{name: "an escaped path", headers: strings.Replace(signedHeaders(t, webhooktest.Secret, at), " /hook,", " /hooks/a%20b,c,", 1), file: "jam/jam.created.msg_1.json", wantStatus: http.StatusOK, wantType: "jam.created", wantMethod: http.MethodPost, wantTarget: "/hooks/a%20b,c"},
		{name: "a target that is no path", headers: strings.Replace(signedHeaders(t, webhooktest.Secret, at), " /hook,", " hook,", 1), file: "jam/jam.created.msg_1.json", wantErr: "line 1"},
		{name: "a target of another host", headers: strings.Replace(signedHeaders(t, webhooktest.Secret, at), " /hook,", " //evil.example/hook,", 1), file: "jam/jam.created.msg_1.json", wantErr: "line 1: the request target is not a path"},
		{name: "a method that is no token", headers: "# captured by webhook serve --inspect: P(T /hook, answered 200\n", file: "jam/jam.created.msg_1.json", wantErr: "line 1"},
		{name: "no method", headers: "# captured by webhook serve --inspect:\n", file: "jam/jam.created.msg_1.json", wantErr: "line 1"},
		{name: "another key's signature is refused", headers: signedHeaders(t, "whsec_b3RoZXIta2V5LWZvci1yb3RhdGlvbi10ZXN0cw==", at), file: "jam/jam.created.msg_1.json", wantStatus: http.StatusUnauthorized, wantMethod: http.MethodPost, wantTarget: "/hook"},
		{name: "no headers file", headers: "", file: "jam/other.json", wantErr: "file does not exist"},
		{name: "a repeated signature is refused", headers: signedHeaders(t, webhooktest.Secret, at) + "Webhook-Signature: v1,AAAA\n", file: "jam/jam.created.msg_1.json", wantStatus: http.StatusUnauthorized, wantMethod: http.MethodPost, wantTarget: "/hook"},
		{name: "bad received line", headers: "# received: yesterday\n", file: "jam/jam.created.msg_1.json", wantErr: "line 1"},
		{name: "the headers file named", headers: signedHeaders(t, webhooktest.Secret, at), file: "jam/jam.created.msg_1.headers", wantErr: "jam/jam.created.msg_1.headers is a capture's headers file: name its body, jam/jam.created.msg_1.json"},
		{name: "the headers file named, no body", headers: signedHeaders(t, webhooktest.Secret, at), file: "jam/other.headers", wantErr: "jam/other.headers is a capture's headers file: name its body"},
		{name: "not a header line", headers: "{\"a\":1}\n", file: "jam/jam.created.msg_1.json", wantErr: "not \"Name: value\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := capturedFS(t, tt.headers)
			if tt.file == "jam/other.json" {
				fsys["jam/other.json"] = &fstest.MapFile{Data: []byte("{}")}
			}
			c, err := webhooktest.ReadCapture(fsys, tt.file)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, at.Add(2*time.Second), c.Received)
			require.Equal(t, "msg_1", c.Header.Get("Webhook-Id"))
			require.Equal(t, tt.wantMethod, c.Method)
			r := c.Request()
			require.Equal(t, cmp.Or(tt.wantMethod, http.MethodPost), r.Method)
			require.Equal(t, tt.wantTarget, c.Target)
			require.Equal(t, cmp.Or(tt.wantTarget, webhooktest.DefaultTarget), r.URL.RequestURI(), "the path it came to")
			h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(func() time.Time { return c.Received }),
				webhook.WithLogger(slog.New(slog.DiscardHandler)))
			require.NoError(t, err)
			var got string
			h.OnAny(func(_ context.Context, d *webhook.Delivery, e event.Event) error { got = e.EventType(); return nil })
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, tt.wantStatus, w.Code)
			require.Equal(t, tt.wantType, got)
		})
	}
}

// TestCaptureRouted: a capture replayed through the test's own router
// reaches the route the delivery came to, and Target set by the test
// sends it elsewhere, with a query the inspector did not save.
func TestCaptureRouted(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	headers := strings.Replace(signedHeaders(t, webhooktest.Secret, at), " /hook,", " /hooks/jam?…,", 1)
	c, err := webhooktest.ReadCapture(capturedFS(t, headers), "jam/jam.created.msg_1.json")
	require.NoError(t, err)
	h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(func() time.Time { return c.Received }),
		webhook.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	var tenants []string
	h.OnAny(func(ctx context.Context, d *webhook.Delivery, e event.Event) error { return nil })
	mux := http.NewServeMux()
	mux.Handle("/hooks/jam", h)
	mux.HandleFunc("/hooks/tenant", func(w http.ResponseWriter, r *http.Request) {
		tenants = append(tenants, r.URL.Query().Get("t"))
		h.ServeHTTP(w, r)
	})

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, c.Request())
	require.Equal(t, http.StatusOK, w.Code)

	c.Target = "/hooks/tenant?t=acme"
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, c.Request())
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, []string{"acme"}, tenants)
}

// A delivery saved by the inspector's "save as fixture" becomes a test
// input: read it with ReadCapture and serve it at its arrival time.
func ExampleReadCapture() {
	body := webhooktest.Fixture("jam/jam.created.maximal.json") // the bytes Jam sent
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	sig, _ := webhooktest.SignStandard(webhooktest.Secret, "msg_1", at, body)
	fsys := fstest.MapFS{ // in a test: os.DirFS("testdata/captured")
		"jam/jam.created.msg_1.json": {Data: body},
		"jam/jam.created.msg_1.headers": {Data: []byte("# received: 2026-12-01T09:30:01Z\n" +
			"Content-Type: application/json\nWebhook-Id: msg_1\nWebhook-Timestamp: 1796117400\nWebhook-Signature: " + sig + "\n")},
	}
	c, err := webhooktest.ReadCapture(fsys, "jam/jam.created.msg_1.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	h, _ := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(func() time.Time { return c.Received }),
		webhook.WithLogger(slog.New(slog.DiscardHandler)))
	h.OnAny(func(_ context.Context, d *webhook.Delivery, e event.Event) error {
		fmt.Println(d.ID, e.EventType())
		return nil
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, c.Request())
	fmt.Println(w.Code)
	// Output:
	// msg_1 jam.created
	// 200
}

func TestParseHeaders(t *testing.T) {
	tests := []struct {
		name, raw string
		want      http.Header
		wantErr   string
	}{
		{"sign's output", "Content-Type: application/json\nWebhook-Id: msg_1\r\n", http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"msg_1"}}, ""},
		{"comments, blank lines, repeats", "# received: 2026-11-24T09:00:00Z\n\n  X-A :  1 \nX-A: 2\n", http.Header{"X-A": {"1", "2"}}, ""},
		{"empty", "", http.Header{}, ""},
		{"a body", "{\"secret\": \"v1,abc\"}\n", nil, `line 1 is not "Name: value"`},
		{"no colon", "Webhook-Id: msg_1\nWebhook-Signature v1,abc\n", nil, `line 2 is not "Name: value"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := webhooktest.ParseHeaders([]byte(tt.raw))
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr) // the line's text, a signature maybe, stays out
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, h)
		})
	}
}

// A capture goes back to the path it came to, through the test's own
// router, as the receiver's routed it. The inspector leaves the query out
// (it may hold a credential): set Target to send the capture with a query
// of the test's own, or to another path.
func ExampleCapture_Request() {
	body := webhooktest.Fixture("jam/jam.created.maximal.json") // the bytes Jam sent
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	sig, _ := webhooktest.SignStandard(webhooktest.Secret, "msg_1", at, body)
	fsys := fstest.MapFS{ // in a test: os.DirFS("testdata/captured")
		"jam/jam.created.msg_1.json": {Data: body},
		"jam/jam.created.msg_1.headers": {Data: []byte("# captured by webhook serve --inspect: POST /hooks/jam?…, answered 200\n" +
			"# received: 2026-12-01T09:30:01Z\n" +
			"Content-Type: application/json\nWebhook-Id: msg_1\nWebhook-Timestamp: 1796117400\nWebhook-Signature: " + sig + "\n")},
	}
	c, err := webhooktest.ReadCapture(fsys, "jam/jam.created.msg_1.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Method, c.Target)
	h, _ := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(func() time.Time { return c.Received }),
		webhook.WithLogger(slog.New(slog.DiscardHandler)))
	h.OnAny(func(_ context.Context, d *webhook.Delivery, e event.Event) error {
		fmt.Println(d.ID, e.EventType())
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("/hooks/jam", h)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, c.Request())
	fmt.Println(w.Code)
	// Output:
	// POST /hooks/jam
	// msg_1 jam.created
	// 200
}

// TestCaptureResigned: a capture of a real delivery, signed with the
// receiver's own keys, re-signed with the test keys verifies at a handler
// holding only those, at its arrival time, as the delivery verified at
// the receiver: the same id, timestamp, body, method and path, in the
// header family it came with. Request keeps the sender's signature, which
// the test keys refuse.
func TestCaptureResigned(t *testing.T) {
	const liveSecret = "whsec_bGl2ZS1zZWNyZXQtb2YtdGhlLXJlY2VpdmVyLXh4"
	const liveClient = "5d0e8a17-2c44-4b1f-9d6a-3e7f0c2b8a91"
	liveKey, _ := keyPair("webhooktest: the receiver's live v1a pair")
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	jam := webhooktest.Fixture("jam/jam.created.maximal.json")
	intercom := webhooktest.StampIntercom(webhooktest.Fixture("intercom/conversation.user.replied.json"), at)
	series := webhooktest.Fixture("series/contact.json")
	std := func(prefix, key, ts string) string {
		sig, err := webhooktest.SignStandard(key, "msg_live_1", at, jam)
		require.NoError(t, err)
		return "Content-Type: application/json\n" + prefix + "Id: msg_live_1\n" + prefix + "Timestamp: " + ts + "\n" + prefix + "Signature: " + sig + "\n"
	}
	unix := strconv.FormatInt(at.Unix(), 10)
	tests := []struct {
		name, file string
		body       []byte
		headers    string
		request    int // Request's status at the test keys
		resigned   int // Resigned's
		id         string
	}{
		{"jam, webhook-*", "jam/jam.created.msg_live_1.json", jam, std("Webhook-", liveSecret, unix), 401, 200, "msg_live_1"},
		{"jam, svix-*, as Jam sends it", "jam/jam.created.msg_live_1.json", jam, std("Svix-", liveSecret, unix), 401, 200, "msg_live_1"},
		{"jam, v1a", "jam/jam.created.msg_live_1.json", jam, std("Webhook-", liveKey, unix), 401, 200, "msg_live_1"},
		{"jam, a timestamp that is no number stays refused", "jam/jam.created.msg_live_1.json", jam, std("Webhook-", liveSecret, "soon"), 401, 401, ""},
		{"intercom", "intercom/conversation.user.replied.notif_1.json", intercom,
			"Content-Type: application/json\nUser-Agent: intercom-parrot-service-client/1.0\nX-Hub-Signature: " + webhooktest.SignIntercom(liveClient, intercom) + "\n",
			401, 200, "notif_3f1c9a2e-7b4d-4e58-a6c1-0d9e8f7a6b5c"},
		{"series, saved with the test token", "series/series.webhook.3.json", series,
			"Content-Type: application/json\n" + webhooktest.SeriesHeader + ": " + webhooktest.SeriesToken + "\n", 200, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stem := strings.TrimSuffix(tt.file, ".json")
			fsys := fstest.MapFS{
				tt.file: {Data: tt.body},
				stem + ".headers": {Data: []byte("# captured by webhook serve --inspect: PUT /hooks/in, answered 200\n# received: " +
					at.Add(2*time.Second).Format(time.RFC3339) + "\n" + tt.headers)},
			}
			c, err := webhooktest.ReadCapture(fsys, tt.file)
			require.NoError(t, err)
			h := testKeysHandler(t, func() time.Time { return c.Received })
			var ids []string
			h.OnAny(func(_ context.Context, d *webhook.Delivery, e event.Event) error {
				ids = append(ids, d.ID)
				require.Equal(t, tt.body, d.Body)
				return nil
			})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, c.Request())
			require.Equal(t, tt.request, w.Code, "Request")

			r := c.Resigned()
			require.Equal(t, http.MethodPut, r.Method)
			require.Equal(t, "/hooks/in", r.URL.RequestURI())
			for k := range c.Header {
				require.Contains(t, r.Header, k, "the captured headers stay")
			}
			require.Len(t, r.Header, len(c.Header), "and no others are added")
			w = httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, tt.resigned, w.Code, "Resigned")
			if tt.resigned == http.StatusOK {
				require.Equal(t, tt.id, ids[len(ids)-1])
			}
		})
	}
}
