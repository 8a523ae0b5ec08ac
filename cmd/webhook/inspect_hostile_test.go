package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// TestInspectorForwardLoop: a --forward-to that leads back to the
// receiver, itself or through a proxy, gets its forward answered 508,
// which is not forwarded again. A Series delivery has no id to be a
// duplicate by: it went round again, forever, running the callbacks each
// time; a Standard one came back a duplicate, acknowledged 200 as if
// the app had it.
func TestInspectorForwardLoop(t *testing.T) {
	tests := []struct {
		name string
		req  func(t *testing.T) *http.Request
	}{
		{"series", func(t *testing.T) *http.Request {
			return webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, liveSeriesToken, webhooktest.Fixture("series/contact.json"))
		}},
		{"standard", func(t *testing.T) *http.Request { return jamNow(t, webhooktest.Secret) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := newInspectRig(t, inspectFlags{}, nil, nil)
			rig.in.fwd.url = rig.receiver.URL + "/hook" // known once it listens
			require.Equal(t, http.StatusOK, rig.send(t, tt.req(t)))
			// The forward is answered (a loaded machine took over 300 ms);
			// a loop would go round from there, many times in 300 ms.
			require.Eventually(t, func() bool {
				rig.in.mu.Lock()
				defer rig.in.mu.Unlock()
				return len(rig.in.ring) > 0 && rig.in.ring[0].Forward != ""
			}, 20*time.Second, 5*time.Millisecond)
			time.Sleep(300 * time.Millisecond)
			rig.in.bgCancel() // and ends here, so the test does
			rig.in.wait()
			list := rig.records(t)
			require.Equal(t, 2, len(list), "the delivery and its forward, come back")
			require.Equal(t, "forwarded: 508 Loop Detected", list[0].Forward)
			require.Equal(t, http.StatusLoopDetected, list[1].Status)
			require.Empty(t, list[1].Forward)
			require.Contains(t, list[1].Hint, "--forward-to")
			require.False(t, strings.Contains(list[1].Hint, rig.in.token))
		})
	}
}

// TestInspectorForwardsBounded: against a --forward-to that hangs, at
// most maxForwards forwards are in flight; a delivery past them is not
// forwarded, and its row says so. Each forward held its delivery's body
// for the client's 15 s, so a flood (anyone can sign with --test-keys)
// held bodies without bound, the ring's --inspect-keep-bytes aside.
func TestInspectorForwardsBounded(t *testing.T) {
	release := make(chan struct{})
	var inFlight atomic.Int64
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		<-release
	}))
	defer app.Close()
	defer close(release) // before app.Close, which waits for the handlers
	rig := newInspectRig(t, inspectFlags{forwardTo: app.URL}, nil, nil)
	const sent = maxForwards + 8
	for range sent {
		require.Equal(t, http.StatusOK, rig.send(t, jamNow(t, webhooktest.Secret)))
	}
	require.Eventually(t, func() bool { return inFlight.Load() >= maxForwards }, 10*time.Second, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // for any forward past the bound to arrive
	require.Equal(t, int64(maxForwards), inFlight.Load())
	refused := 0
	for _, r := range rig.records(t) {
		if strings.HasPrefix(r.Forward, "not forwarded: ") {
			refused++
			require.Contains(t, r.Forward, "in flight")
		}
	}
	require.Equal(t, sent-maxForwards, refused)
}

// TestInspectorLongNames: an event type or message id of a megabyte, as
// anyone may send unverified (an Intercom topic, a Webhook-Id header),
// or signed, is cut to maxShown bytes in the list and the event stream:
// the page held each whole in its list (500 rows of them), every event
// sent to the page carried it again, and the ring's --inspect-keep-bytes
// did not count it.
func TestInspectorLongNames(t *testing.T) {
	long := strings.Repeat("<img src=x onerror=alert(1)>é", 30000)
	intercom := func(secret string) *http.Request {
		b := `{"type":"notification_event","app_id":"app1","id":"notif_1","topic":"` + long + `","created_at":1795510790,"data":{"item":{"type":"ping","message":"hi"}}}`
		return webhooktest.NewIntercomRequest(secret, []byte(b), webhooktest.WithTime(time.Now()))
	}
	longID := jamNow(t, "whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y")
	longID.Header.Set("Webhook-Id", strings.Repeat("msg_<b>é", 1500))
	tests := []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"unverified topic", intercom("not-the-client-secret"), http.StatusUnauthorized},
		{"verified topic", intercom(webhooktest.IntercomSecret), http.StatusOK},
		{"unverified id", longID, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := newInspectRig(t, inspectFlags{}, nil, nil)
			sc := rig.events(t)
			require.Equal(t, tt.status, rig.send(t, tt.req))
			data := nextDelivery(t, sc) // fails if too long: past 64 KiB
			require.Less(t, len(data), 2*maxShown+1024, "the event sent to the page")
			resp, err := http.Get(rig.page.URL + "/api/deliveries")
			require.NoError(t, err)
			raw, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			require.Less(t, len(raw), 2*maxShown+1024, "the list")
			r := rig.records(t)[0]
			require.LessOrEqual(t, len(r.Type), maxShown+len("…"))
			require.LessOrEqual(t, len(r.ID), maxShown+len("…"))
			require.True(t, utf8.ValidString(r.Type) && utf8.ValidString(r.ID), "cut between a rune's bytes")
			require.True(t, strings.HasPrefix(long, strings.TrimSuffix(r.Type, "…")) || strings.HasPrefix(r.ID, "msg_<b>"), "%q %q", r.Type, r.ID)
		})
	}
}

// TestInspectorBindsLoopback: without --inspect-public the inspector
// refuses an address that resolved to no loopback IP. The flags' check
// trusts names under .localhost, which Go's resolver asks the network's
// DNS about (and /etc/hosts may map anywhere): the page, bodies and all,
// was served to the network it named.
func TestInspectorBindsLoopback(t *testing.T) {
	tests := []struct {
		addr   string
		public bool
		ok     bool
	}{
		{"127.0.0.1:0", false, true},
		{"localhost:0", false, true},
		{"0.0.0.0:0", false, false},
		{"0.0.0.0:0", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.addr+"/public="+strconv.FormatBool(tt.public), func(t *testing.T) {
			in := newInspector(&inspectFlags{public: tt.public, keep: 1, keepBytes: 1}, &keyFlags{}, receiverLimits{tolerance: webhook.DefaultTolerance, maxBody: webhook.DefaultMaxBodySize, intercomMaxAge: webhook.DefaultRetention}, nil, slog.New(slog.DiscardHandler))
			var stderr bytes.Buffer
			stop, err := startInspector(in, tt.addr, "127.0.0.1:1", slog.New(slog.DiscardHandler), &stderr)
			if !tt.ok {
				require.ErrorContains(t, err, "not a loopback address")
				require.ErrorContains(t, err, "--inspect-public")
				return
			}
			require.NoError(t, err)
			stop(context.Background())
		})
	}
}

// TestInspectorFixtureNoQuery: a saved fixture, made to be committed,
// names the path a delivery came to without its query, where an endpoint
// may carry a credential of its own (?key=); ReadCapture reads neither.
func TestInspectorFixtureNoQuery(t *testing.T) {
	dir := t.TempDir()
	rig := newInspectRig(t, inspectFlags{fixtures: dir}, nil, nil)
	require.Equal(t, http.StatusOK, rig.sendRaw(t, "/hooks/jam?key=endpoint-credential-7Hq2", jamNow(t, webhooktest.Secret)))
	code, out := rig.action(t, "/api/deliveries/1/fixture")
	require.Equal(t, http.StatusOK, code, out)
	name := out["name"].(string)
	hname := strings.TrimSuffix(name, ".json") + ".headers"
	b, err := os.ReadFile(filepath.Join(dir, hname))
	require.NoError(t, err)
	require.NotContains(t, string(b), "endpoint-credential-7Hq2")
	require.Contains(t, string(b), "POST /hooks/jam?…,")
	c, err := webhooktest.ReadCapture(os.DirFS(dir), name)
	require.NoError(t, err)
	require.Equal(t, http.MethodPost, c.Method)
}

// TestInspectorReplaySignatureHidden: the signature a replay is made
// with is computed with the configured secret, over a body and id the
// sender chose, and verifies anywhere that secret does (at the sender's
// other endpoints' receivers, if it is a live one) until the timestamp
// window closes; the page shows the replay's id and timestamp, not it.
// A received signature is shown: comparing those is what the page is
// for.
func TestInspectorReplaySignatureHidden(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{}, nil, nil)
	body := webhooktest.Fixture("jam/jam.created.maximal.json")
	forged := webhooktest.NewStandardRequest("whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y", body, webhooktest.WithTime(time.Now()))
	received := forged.Header.Get("Webhook-Signature")
	require.Equal(t, http.StatusUnauthorized, rig.send(t, forged))
	code, out := rig.action(t, "/api/deliveries/1/replay")
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, float64(http.StatusOK), out["status"], out)

	detail := func(seq string) (string, map[string]string) {
		resp, err := http.Get(rig.page.URL + "/api/deliveries/" + seq)
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		var d struct{ Headers [][2]string }
		require.NoError(t, json.Unmarshal(raw, &d))
		shown := map[string]string{}
		for _, kv := range d.Headers {
			shown[kv[0]] = kv[1]
		}
		return string(raw), shown
	}
	_, orig := detail("1")
	require.Equal(t, received, orig["Webhook-Signature"])
	raw, shown := detail("2")
	ts, err := strconv.ParseInt(shown["Webhook-Timestamp"], 10, 64)
	require.NoError(t, err)
	made, err := webhooktest.SignStandard(webhooktest.Secret, shown["Webhook-Id"], time.Unix(ts, 0), body)
	require.NoError(t, err)
	require.NotContains(t, raw, strings.TrimPrefix(made, "v1,"))
	require.Contains(t, shown["Webhook-Signature"], "redacted")
}

// TestInspectorFixtureHostileNames: a fixture is named from the sender's
// event type and message id, which anyone may set; whatever they hold,
// the files land in the source's directory under --fixtures, with names
// of letters, digits, '.', '-' and '_' that Windows takes for no device.
func TestInspectorFixtureHostileNames(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "fixtures")
	rig := newInspectRig(t, inspectFlags{fixtures: dir}, nil, nil)
	ids := []string{"../../escaped", "..", ".", "/etc/passwd", `a\..\..\b`, "a/../../b", "msg_é\u202e<script>", ".hidden", strings.Repeat("x", 300)}
	for _, id := range ids {
		r := jamNow(t, "whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y")
		r.Header.Set("Webhook-Id", id)
		require.Equal(t, http.StatusUnauthorized, rig.send(t, r))
	}
	// Topics Windows takes for devices: a fixture named NUL.… is
	// written to nothing there, and reported saved.
	topics := []string{"../../topic/..", "NUL", "com1.created", "\u202eCon", "lpt3"}
	for _, topic := range topics {
		ic := `{"type":"notification_event","app_id":"a","id":"../../../intercom-escaped","topic":"` + topic + `","created_at":1795510790,"data":{"item":{"type":"ping"}}}`
		require.Equal(t, http.StatusUnauthorized, rig.send(t, webhooktest.NewIntercomRequest("not-the-client-secret", []byte(ic), webhooktest.WithTime(time.Now()))))
	}
	name := regexp.MustCompile(`^(jam|intercom)/[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}\.(json|form)$`)
	for seq := 1; seq <= len(ids)+len(topics); seq++ {
		code, out := rig.action(t, "/api/deliveries/"+strconv.Itoa(seq)+"/fixture")
		require.Equal(t, http.StatusOK, code, out)
		require.Regexp(t, name, out["name"])
		require.NotRegexp(t, windowsDeviceRE, path.Base(out["name"].(string)), "a name Windows keeps for a device")
		_, err := webhooktest.ReadCapture(os.DirFS(dir), out["name"].(string))
		require.NoError(t, err)
	}
	var outside []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		if p != root && !filepath.IsLocal(rel) && rel != "." {
			outside = append(outside, p)
		}
		return err
	}))
	require.Empty(t, outside, "files outside --fixtures")
	for _, sub := range []string{"jam", "intercom"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		require.NoError(t, err)
		for _, e := range entries {
			require.False(t, e.IsDir(), "a directory made under %s: %s", sub, e.Name())
		}
	}
}

// windowsDeviceRE matches a file name that Windows takes for a device,
// which a fixture written there would be lost to: the part before the
// first '.' is CON, PRN, AUX, NUL, COM0-9 or LPT0-9, in any case.
var windowsDeviceRE = regexp.MustCompile(`(?i)^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)`)

// FuzzSafeName: whatever a sender names, the part of a fixture's name
// made from it is a single local path element, or empty, of at most 80
// bytes, and names no Windows device.
func FuzzSafeName(f *testing.F) {
	for _, s := range []string{"jam.created", "../..", ".", "a/b", `a\b`, "msg_é", "..a..", strings.Repeat("é", 100),
		"CON", "nul", "Com1.created", "lpt9.x", "aux.", "PRN...json", "CON." + strings.Repeat("x", 90), "\u202eNUL"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := safeName(s)
		require.LessOrEqual(t, len(n), 80)
		if n == "" {
			return
		}
		require.True(t, filepath.IsLocal(n), "%q", n)
		require.Equal(t, n, filepath.Base(n), "%q", n)
		require.NotEqual(t, '.', rune(n[0]))
		require.Regexp(t, `^[A-Za-z0-9._-]+$`, n)
		require.NotRegexp(t, windowsDeviceRE, n, "a name Windows keeps for a device")
	})
}

// TestInspectorForwardRedirect: a forward is not sent on where the app
// redirects it (another host, say); the row shows the redirect.
func TestInspectorForwardRedirect(t *testing.T) {
	var other atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { other.Add(1) }))
	defer elsewhere.Close()
	app := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/stolen", http.StatusTemporaryRedirect))
	defer app.Close()
	rig := newInspectRig(t, inspectFlags{forwardTo: app.URL, forwardSecret: appSecret}, nil, nil)
	require.Equal(t, http.StatusOK, rig.send(t, jamNow(t, webhooktest.Secret)))
	rig.in.wait()
	require.Equal(t, "forwarded: 307 Temporary Redirect", rig.records(t)[0].Forward)
	code, out := rig.action(t, "/api/deliveries/1/forward")
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, "forwarded: 307 Temporary Redirect", out["result"])
	require.Zero(t, other.Load(), "the forward followed the redirect")
}

// TestInspectorFixtureSeriesHeaderKept: a Series token carried in a
// header that fixtures keep anyway (--series-header User-Agent) is saved
// as the stand-in only; the kept headers wrote the live token first.
func TestInspectorFixtureSeriesHeaderKept(t *testing.T) {
	for _, header := range []string{"User-Agent", "content-type"} {
		t.Run(header, func(t *testing.T) {
			dir := t.TempDir()
			keys := &keyFlags{seriesHeader: header, tokens: listFlag{liveSeriesToken}}
			body := webhooktest.Fixture("series/contact.json")
			r := webhooktest.NewSeriesRequest(header, liveSeriesToken, body)
			rec := &record{Seq: 1, Time: time.Now(), Method: r.Method, Path: "/hook", Header: r.Header, Body: body, Source: "series", Status: http.StatusOK}
			name, err := saveFixture(dir, keys, rec)
			require.NoError(t, err)
			b, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(name, ".json")+".headers"))
			require.NoError(t, err)
			require.NotContains(t, string(b), liveSeriesToken)
			c, err := webhooktest.ReadCapture(os.DirFS(dir), name)
			require.NoError(t, err)
			require.Equal(t, []string{webhooktest.SeriesToken}, c.Header.Values(header))
		})
	}
}

// TestInspectorBodiesInFlight: the bodies the inspector reads before the
// handler, to keep them, are held to the handler's body memory budget
// (bodyMemory): past it a request goes to the handler as it came, its row
// saying the body was not kept, and it is neither forwarded nor replayed
// nor saved. Every request's body was read whole first, however many were
// in flight: the handler's budget, which answers 503 past it, never saw
// them, and slow senders could hold a --max-body each without bound.
func TestInspectorBodiesInFlight(t *testing.T) {
	var forwards atomic.Int64
	app := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { forwards.Add(1) }))
	defer app.Close()
	dir := t.TempDir()
	rig := newInspectRig(t, inspectFlags{forwardTo: app.URL, fixtures: dir}, nil, nil)
	// Senders holding their bodies' last bytes: each declared --max-body.
	held := int(bodyMemory(webhook.DefaultMaxBodySize)/(webhook.DefaultMaxBodySize+1)) + 4
	for range held {
		c, err := net.Dial("tcp", rig.receiver.Listener.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		_, err = fmt.Fprintf(c, "POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n{", webhook.DefaultMaxBodySize)
		require.NoError(t, err)
	}
	// Until the server has read their headers, the budget has room for
	// the delivery below (a fixed 200 ms was short on a loaded machine):
	// wait until it has no room for another held sender.
	require.Eventually(t, func() bool {
		return rig.in.inFlight.Load()+rig.in.bodyCharge(webhook.DefaultMaxBodySize) > rig.in.inFlightMax
	}, 20*time.Second, 5*time.Millisecond, "the held senders hold the budget")

	require.Equal(t, http.StatusOK, rig.send(t, jamNow(t, webhooktest.Secret)), "the handler gets it as it came")
	rig.in.wait()
	// The held ones past the budget reached the handler too, which
	// refused them for their headers without reading on.
	var r record
	for _, rr := range rig.records(t) {
		if rr.Status == http.StatusOK {
			r = rr
		}
	}
	require.NotZero(t, r.Seq, "the delivery's row")
	require.True(t, r.Unkept, "its body was kept past the budget")
	seq := strconv.FormatInt(r.Seq, 10)
	require.Zero(t, forwards.Load(), "forwarded without its body")
	require.Contains(t, r.Forward, "not kept")
	for _, action := range []string{"replay", "fixture", "forward"} {
		code, out := rig.action(t, "/api/deliveries/"+seq+"/"+action)
		require.Equal(t, http.StatusConflict, code, "%s: %v", action, out)
		require.Contains(t, out["error"], "not kept", action)
	}
	require.Zero(t, forwards.Load())
	resp, err := http.Get(rig.page.URL + "/api/deliveries/" + seq)
	require.NoError(t, err)
	var d struct {
		Verdict []verdictStep
		Replay  replayPlan
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&d))
	_ = resp.Body.Close()
	require.False(t, d.Replay.Possible)
	for _, s := range d.Verdict {
		require.NotEqual(t, "signature", s.Step, "a verdict on bytes not kept: %v", d.Verdict)
	}
}

// TestInspectorRejectionKeepsNoBody: a record keeps of the handler's
// rejection what the hint needs, not the delivery's body, headers and
// event, which the record holds already and --inspect-keep-bytes counts
// once: a delivery whose callback failed held them twice, the second time
// uncounted, so a ring at its limit held up to twice its bytes.
func TestInspectorRejectionKeepsNoBody(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{}, nil, func(context.Context, *webhook.Delivery, event.Event) error { return errors.New("the app is down") })
	require.Equal(t, http.StatusInternalServerError, rig.send(t, jamNow(t, webhooktest.Secret)))
	rig.in.mu.Lock()
	rec := rig.in.ring[0]
	rj := rec.rj
	reason, hint := rec.Reason, rec.Hint
	rig.in.mu.Unlock()
	require.NotNil(t, rj)
	if d := rj.Delivery; d != nil {
		require.True(t, d.Body == nil, "the body, %d bytes, kept twice", len(d.Body))
		require.True(t, d.Header == nil && d.Event == nil, "the headers or the event kept twice")
		require.Equal(t, event.SourceStandard, d.Source)
	}
	require.Equal(t, string(webhook.ReasonCallback), reason)
	require.Contains(t, hint, "callback failed")
}

// TestInspectorKeepBytesCountsPath: --inspect-keep-bytes counts a
// record's request target and Host, which a sender may make as long as
// the header limit allows, as it counts its headers.
func TestInspectorKeepBytesCountsPath(t *testing.T) {
	target := "/hook?" + strings.Repeat("q", 12<<10)
	one := (&record{Path: target, ShownPath: shownTarget(target), Host: "127.0.0.1", Body: webhooktest.Fixture("jam/jam.created.maximal.json"), Header: jamNow(t, webhooktest.Secret).Header}).size()
	require.Greater(t, one, int64(12<<10))
	rig := newInspectRig(t, inspectFlags{keepBytes: 2*one + 1024}, nil, nil)
	for range 4 {
		require.Equal(t, http.StatusUnauthorized, rig.sendRaw(t, target, jamNow(t, "whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y")))
	}
	require.Len(t, rig.records(t), 2)
}

// TestInspectorNoCORS: the page grants no other origin anything: no
// response carries Access-Control-Allow-Origin, a preflight for an
// action is refused, and so is any request whose Origin is another's
// (a cross-origin fetch or event stream, "null" from a sandboxed frame
// or a file), reads too, so a site the developer visits can neither read
// the deliveries nor send the token header, even from a browser that
// sends no Sec-Fetch-Site. The reads were answered 200, no CORS header
// being all that kept their answers from that site. The page's own
// Origin, over http or https (a proxy), is let through.
func TestInspectorNoCORS(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{}, nil, nil)
	require.Equal(t, http.StatusOK, rig.send(t, jamNow(t, webhooktest.Secret)))
	own := rig.page.URL
	tests := []struct {
		method, path, origin string
		want                 int
	}{
		{http.MethodGet, "/", "http://evil.example", http.StatusForbidden},
		{http.MethodGet, "/api/deliveries", "http://evil.example", http.StatusForbidden},
		{http.MethodGet, "/api/deliveries/1", "http://evil.example", http.StatusForbidden},
		{http.MethodGet, "/api/config", "http://evil.example", http.StatusForbidden},
		{http.MethodGet, "/api/events", "http://evil.example", http.StatusForbidden},
		{http.MethodGet, "/static/app.js", "http://evil.example", http.StatusForbidden},
		{http.MethodGet, "/api/deliveries", "null", http.StatusForbidden},
		{http.MethodGet, "/api/deliveries", strings.Replace(own, "127.0.0.1", "localhost", 1), http.StatusForbidden},
		{http.MethodGet, "/api/deliveries", own + "/", http.StatusForbidden},
		{http.MethodOptions, "/api/deliveries/1/replay", "http://evil.example", http.StatusForbidden},
		{http.MethodGet, "/api/deliveries", own, http.StatusOK},
		{http.MethodGet, "/api/deliveries/1", strings.Replace(own, "http://", "https://", 1), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" from "+tt.origin, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, rig.page.URL+tt.path, nil)
			require.NoError(t, err)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", http.MethodPost)
			req.Header.Set("Access-Control-Request-Headers", tokenHeader)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, tt.want, resp.StatusCode)
			for k := range resp.Header {
				require.False(t, strings.HasPrefix(k, "Access-Control-"), "%s: %s", k, resp.Header.Get(k))
			}
		})
	}
	require.Len(t, rig.records(t), 1, "nothing replayed")
}

// TestInspectorBodyChargeFits: a lone body of any --max-body, of a
// declared length or not, fits the inspector's budget for bodies in
// flight: past 16 MiB / 3 the charge for one of unknown length was more
// than the budget, and no such body was ever kept.
func TestInspectorBodyChargeFits(t *testing.T) {
	for _, maxBody := range []int64{1, 64, webhook.DefaultMaxBodySize, 5 << 20, 8 << 20, 1 << 30, math.MaxInt64 / 2} {
		in := newInspector(&inspectFlags{keep: 1, keepBytes: 1}, &keyFlags{}, receiverLimits{tolerance: webhook.DefaultTolerance, maxBody: maxBody, intercomMaxAge: webhook.DefaultRetention}, nil, slog.New(slog.DiscardHandler))
		for _, n := range []int64{-1, 0, maxBody / 2, maxBody, maxBody + 1} {
			c := in.bodyCharge(n)
			require.Positive(t, c, "max %d, length %d", maxBody, n)
			require.LessOrEqual(t, c, in.inFlightMax, "max %d, length %d", maxBody, n)
		}
	}
}

// TestInspectorForwardToPage: a --forward-to naming the page itself, one
// of its actions even, is refused there as any request without the page's
// origin and token is, whatever headers the delivery carried.
func TestInspectorForwardToPage(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{}, nil, nil)
	rig.in.fwd.url = rig.page.URL + "/api/deliveries/1/replay" // known once it listens
	r := jamNow(t, webhooktest.Secret)
	r.Header.Set("Origin", rig.page.URL)
	r.Header.Set(tokenHeader, strings.Repeat("0", 32))
	require.Equal(t, http.StatusOK, rig.send(t, r))
	rig.in.wait()
	list := rig.records(t)
	require.Len(t, list, 1, "the forward replayed a delivery")
	require.Equal(t, "forwarded: 403 Forbidden", list[0].Forward)
}

// TestInspectorShowsNoSecret: across the page, its JSON, its event stream
// and the fixtures it saves, for deliveries of every source, good and
// forged, replayed and forwarded, there is no configured secret or token,
// no forward secret, and no MAC that the configured keys make over a
// forged delivery (which would let its sender finish the forgery).
func TestInspectorShowsNoSecret(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer app.Close()
	dir := t.TempDir()
	rig := newInspectRig(t, inspectFlags{fixtures: dir, forwardTo: app.URL, forwardSecret: appSecret, forwardIntercom: appIntercom}, nil, nil)
	sc := rig.events(t)
	var streamMu sync.Mutex
	var stream strings.Builder
	go func() {
		for sc.Scan() {
			streamMu.Lock()
			stream.WriteString(sc.Text() + "\n")
			streamMu.Unlock()
		}
	}()
	const forger = "whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y"
	now := time.Now()
	jamBody := webhooktest.Fixture("jam/jam.created.maximal.json")
	icBody := webhooktest.Fixture("intercom/conversation.admin.replied.json")
	forged := webhooktest.NewStandardRequest(forger, jamBody, webhooktest.WithTime(now), webhooktest.WithID("msg_forged_secret_scan"))
	wantMAC, err := webhooktest.SignStandard(webhooktest.Secret, "msg_forged_secret_scan", now, jamBody)
	require.NoError(t, err)
	reqs := []*http.Request{
		jamNow(t, webhooktest.Secret),
		forged,
		intercomNow(t),
		webhooktest.NewIntercomRequest("not-the-client-secret", icBody, webhooktest.WithTime(now)),
		webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, liveSeriesToken, webhooktest.Fixture("series/contact.json")),
		webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, liveSeriesToken+"x", webhooktest.Fixture("series/contact.json")),
	}
	for _, r := range reqs {
		rig.send(t, r)
	}
	rig.in.wait()
	for seq := 1; seq <= len(reqs); seq++ {
		for _, action := range []string{"replay", "fixture"} {
			code, out := rig.action(t, "/api/deliveries/"+strconv.Itoa(seq)+"/"+action)
			require.Equal(t, http.StatusOK, code, "%d %s: %v", seq, action, out)
		}
	}
	rig.in.wait()
	var seen strings.Builder
	get := func(path string) {
		resp, err := http.Get(rig.page.URL + path)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		seen.Write(b)
	}
	for _, p := range []string{"/", "/api/config", "/api/deliveries", "/static/app.js"} {
		get(p)
	}
	for _, r := range rig.records(t) {
		get("/api/deliveries/" + strconv.FormatInt(r.Seq, 10))
	}
	// The stream's events are on their way: wait for one, where a sleep
	// of 100 ms could end before the first on a loaded machine. Those
	// still to come carry the summaries the detail pages above showed.
	require.Eventually(t, func() bool {
		streamMu.Lock()
		defer streamMu.Unlock()
		return strings.Contains(stream.String(), "event: delivery")
	}, 10*time.Second, 5*time.Millisecond, "no delivery event on the stream")
	streamMu.Lock()
	seen.WriteString(stream.String())
	streamMu.Unlock()
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			seen.Write(b)
		}
		return err
	}))
	all := seen.String()
	secretKey := func(s string) string { return strings.TrimPrefix(s, "whsec_") }
	for name, secret := range map[string]string{
		"the receiver's secret":            secretKey(webhooktest.Secret),
		"the receiver's Intercom secret":   webhooktest.IntercomSecret,
		"the receiver's Series token":      liveSeriesToken,
		"the app's secret":                 secretKey(appSecret),
		"the app's Intercom secret":        appIntercom,
		"the MAC over the forged Jam":      strings.TrimPrefix(wantMAC, "v1,"),
		"the MAC over the forged Intercom": strings.TrimPrefix(webhooktest.SignIntercom(webhooktest.IntercomSecret, icBody), "sha1="),
	} {
		require.NotContains(t, all, secret, name)
	}
	require.Contains(t, all, "msg_forged_secret_scan", "the scan saw the deliveries")
}

// TestInspectorNamesShownEscaped: a sender's event type, message id and
// header values reach the page with the characters that reorder or hide
// text (bidirectional overrides and isolates, zero-width ones) escaped,
// as "webhook inbox" prints them: an override made a forged id read as
// another in the list and the detail's title.
func TestInspectorNamesShownEscaped(t *testing.T) {
	const override = "\u202e"
	forged := jamNow(t, "whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y")
	forged.Header.Set("Webhook-Id", "msg_"+override+"gpj.exe")
	forged.Header.Set("X-Note", "left"+override+"right\u2067isolate\u200b")
	unknown := []byte(`{"type":"jam.` + override + `created\u2066","data":{}}`)
	signed := webhooktest.NewStandardRequest(webhooktest.Secret, unknown, webhooktest.WithTime(time.Now()), webhooktest.WithID("msg_ok"+override+"x"))
	topic := `{"type":"notification_event","app_id":"a","id":"notif_1","topic":"conversation.` + override + `admin","created_at":1795510790,"data":{"item":{"type":"ping"}}}`
	tests := []struct {
		name     string
		req      *http.Request
		status   int
		id, typ  string
		verified bool
	}{
		{"forged id and header", forged, http.StatusUnauthorized, `msg_\u202egpj.exe`, "jam.created", false},
		{"signed unknown type and id", signed, http.StatusOK, `msg_ok\u202ex`, `jam.\u202ecreated\u2066`, true},
		{"unverified topic", webhooktest.NewIntercomRequest("not-the-client-secret", []byte(topic), webhooktest.WithTime(time.Now())), http.StatusUnauthorized, "notif_1", `conversation.\u202eadmin`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := newInspectRig(t, inspectFlags{}, nil, nil)
			sc := rig.events(t)
			require.Equal(t, tt.status, rig.send(t, tt.req))
			shown := []string{strings.TrimPrefix(nextDelivery(t, sc), "data: ")}
			list := rig.records(t)
			require.Len(t, list, 1)
			require.Equal(t, tt.id, list[0].ID)
			require.Equal(t, tt.typ, list[0].Type)
			require.Equal(t, tt.verified, list[0].IDVerified)
			for _, p := range []string{"/api/deliveries", "/api/deliveries/1"} {
				resp, err := http.Get(rig.page.URL + p)
				require.NoError(t, err)
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				shown = append(shown, string(b))
			}
			var headers []string
			for _, js := range shown {
				var v any
				require.NoError(t, json.Unmarshal([]byte(js), &v), js)
				if m, ok := v.(map[string]any); ok {
					// The detail's body, as its exact bytes, and the event
					// decoded from it are the sender's: shown as sent.
					delete(m, "body")
					delete(m, "pretty")
					delete(m, "event")
					hs, _ := m["headers"].([]any)
					for _, h := range hs {
						headers = append(headers, fmt.Sprint(h))
					}
				}
				walkStrings(v, func(s string) {
					for _, r := range s {
						require.False(t, unicode.Is(unicode.Bidi_Control, r) || r == '\u200b', "%U shown in %q", r, s)
					}
				})
			}
			if tt.name == "forged id and header" {
				require.Contains(t, headers, `[X-Note left\u202eright\u2067isolate\u200b]`)
			}
		})
	}
}

// walkStrings calls f with every string in v, a decoded JSON value, keys
// included.
func walkStrings(v any, f func(string)) {
	switch v := v.(type) {
	case string:
		f(v)
	case []any:
		for _, e := range v {
			walkStrings(e, f)
		}
	case map[string]any:
		for k, e := range v {
			f(k)
			walkStrings(e, f)
		}
	}
}

// TestInspectorForwardHeaders: a forward, re-signed or with the original
// headers, carries the sender's headers but those that were for the hop
// to the receiver (hop-by-hop ones, and those its Connection names) and
// the credentials a tunnel, a proxy or a browser added on the way:
// Authorization, Proxy-Authorization and Cookie, unless the Series token
// travels in one of them. The app gets what the provider would send it.
func TestInspectorForwardHeaders(t *testing.T) {
	body := webhooktest.Fixture("jam/jam.created.maximal.json")
	sender := jamNow(t, webhooktest.Secret).Header
	sender.Set("Authorization", "Basic dHVubmVsOnR1bm5lbC1wYXNzd29yZA==")
	sender.Set("Proxy-Authorization", "Basic cHJveHk6cHJveHktcGFzc3dvcmQ=")
	sender.Set("Cookie", "session=browser-session-cookie")
	sender.Set("Connection", "keep-alive, X-Tunnel-Hop")
	sender.Set("X-Tunnel-Hop", "hop-value")
	sender.Set("Keep-Alive", "timeout=5")
	sender.Set("Trailer", "X-Checksum")
	sender.Set("Proxy-Authenticate", "Basic")
	sender.Set("X-Forwarded-For", "203.0.113.7")
	sender.Set("X-Sender-Custom", "kept")
	dropped := []string{"Authorization", "Proxy-Authorization", "Cookie", "Connection", "X-Tunnel-Hop", "Keep-Alive", "Trailer", "Proxy-Authenticate"}
	kept := []string{"X-Forwarded-For", "X-Sender-Custom", "User-Agent", "Content-Type", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"}
	series := http.Header{"Authorization": {"Bearer " + liveSeriesToken}, "Cookie": {"session=browser-session-cookie"}, "Content-Type": {"application/json"}}
	tests := []struct {
		name         string
		seriesHeader string
		forwardKey   string
		rec          record
		dropped      []string
		kept         []string
	}{
		{"original headers", "", "", record{Source: "standard", Header: sender}, dropped, kept},
		{"re-signed", "", appSecret, record{Source: "standard", Header: sender}, dropped, kept},
		{"Series token in Authorization", "Authorization", "", record{Source: "series", Header: series}, []string{"Cookie"}, []string{"Authorization"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := &keyFlags{secrets: listFlag{webhooktest.Secret}, tokens: listFlag{"Bearer " + liveSeriesToken}, seriesHeader: tt.seriesHeader}
			in := newInspector(&inspectFlags{keep: 1, keepBytes: 1, forwardTo: "http://127.0.0.1:1/hooks", forwardSecret: tt.forwardKey}, keys,
				receiverLimits{tolerance: webhook.DefaultTolerance, maxBody: webhook.DefaultMaxBodySize, intercomMaxAge: webhook.DefaultRetention}, nil, slog.New(slog.DiscardHandler))
			rec := tt.rec
			rec.Method, rec.Path, rec.Body = http.MethodPost, "/hook", body
			req, err := in.forwardRequest(context.Background(), &rec)
			require.NoError(t, err)
			for _, k := range tt.dropped {
				require.Empty(t, req.Header.Values(k), "%s forwarded", k)
			}
			for _, k := range tt.kept {
				require.Equal(t, rec.Header.Get(k) != "", req.Header.Get(k) != "", "%s", k)
				if tt.forwardKey == "" || !strings.HasPrefix(k, "Webhook-") || k == "Webhook-Id" {
					require.Equal(t, rec.Header.Values(k), req.Header.Values(k), "%s", k)
				}
			}
			require.Equal(t, in.mark, req.Header.Get(forwardHeader))
		})
	}
}

// TestInspectorPublicToken: with --inspect-public the page is on a
// network, where anyone reaching it read every body and took the
// actions' token from the page: there every request, the page, its
// scripts, the event stream and each API alike, needs the access token,
// given once as ?token= (which sets an HttpOnly, SameSite=Strict cookie
// and is dropped from the address), as the cookie, or as a Bearer
// Authorization header. Actions need the page's origin and token besides.
func TestInspectorPublicToken(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{public: true}, nil, nil)
	require.Equal(t, http.StatusOK, rig.send(t, jamNow(t, webhooktest.Secret)))
	access := rig.in.access
	require.Len(t, access, 32)
	require.NotEqual(t, rig.in.token, access)
	_, port, _ := net.SplitHostPort(rig.page.Listener.Addr().String())
	cookie := "webhook_inspect_" + port
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(t *testing.T, method, path string, h http.Header) (*http.Response, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, rig.page.URL+path, nil)
		require.NoError(t, err)
		for k, vs := range h {
			req.Header[k] = vs
		}
		resp, err := noRedirect.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		if path == "/api/events" && resp.StatusCode == http.StatusOK {
			greeting, _ := bufio.NewReader(resp.Body).ReadString('\n') // the stream stays open
			return resp, greeting
		}
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	gets := []string{"/", "/static/app.js", "/static/style.css", "/api/config", "/api/deliveries", "/api/deliveries/1", "/api/events", "/api/inbox"}
	creds := []struct {
		name string
		h    http.Header
		want int
	}{
		{"none", nil, http.StatusUnauthorized},
		{"wrong cookie", http.Header{"Cookie": {cookie + "=" + strings.Repeat("0", 32)}}, http.StatusUnauthorized},
		{"cookie of another port", http.Header{"Cookie": {"webhook_inspect_1=" + access}}, http.StatusUnauthorized},
		{"wrong bearer", http.Header{"Authorization": {"Bearer " + strings.Repeat("0", 32)}}, http.StatusUnauthorized},
		{"the actions' token", http.Header{tokenHeader: {rig.in.token}}, http.StatusUnauthorized},
		{"cookie", http.Header{"Cookie": {cookie + "=" + access}}, http.StatusOK},
		{"bearer", http.Header{"Authorization": {"Bearer " + access}}, http.StatusOK},
	}
	for _, c := range creds {
		for _, p := range gets {
			t.Run(c.name+" GET "+p, func(t *testing.T) {
				resp, body := do(t, http.MethodGet, p, c.h)
				require.Equal(t, c.want, resp.StatusCode, body)
				if c.want != http.StatusOK {
					require.NotContains(t, body, rig.in.token, "the actions' token")
					require.NotContains(t, body, "jam.created")
					require.Empty(t, resp.Header.Values("Set-Cookie"))
				}
			})
		}
	}
	t.Run("?token= sets the cookie and leaves the address", func(t *testing.T) {
		for _, p := range []string{"/", "/api/deliveries"} {
			resp, body := do(t, http.MethodGet, p+"?token="+access, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
			require.Contains(t, body, `<meta http-equiv="refresh" content="0; url=`+p+`">`)
			require.NotContains(t, body, access)
			require.NotContains(t, body, rig.in.token, "the actions' token")
			sc := resp.Cookies()
			require.Len(t, sc, 1)
			require.Equal(t, cookie, sc[0].Name)
			require.Equal(t, access, sc[0].Value)
			require.True(t, sc[0].HttpOnly)
			require.Equal(t, http.SameSiteStrictMode, sc[0].SameSite)
			require.Equal(t, "/", sc[0].Path)
		}
		_, body := do(t, http.MethodGet, "//evil.example/?token="+access, nil)
		require.Contains(t, body, `url=/evil.example/"`, "the page's own address")
		_, body = do(t, http.MethodGet, `/"><script>x</script>?token=`+access+`&a="b<`, nil)
		require.NotContains(t, body, "<script>", "the address, escaped")
		require.Contains(t, body, `url=/%22%3E%3Cscript%3Ex%3C/script%3E?a=%22b%3C"`)
		resp, _ := do(t, http.MethodGet, "/?token="+strings.Repeat("0", 32), nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Empty(t, resp.Cookies())
	})
	t.Run("actions", func(t *testing.T) {
		action := http.Header{"Origin": {rig.page.URL}, tokenHeader: {rig.in.token}}
		resp, _ := do(t, http.MethodPost, "/api/deliveries/1/replay", action)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the page's origin and token, no access token")
		resp, _ = do(t, http.MethodPost, "/api/deliveries/1/replay?token="+access, action)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "?token= is for opening the page")
		resp, _ = do(t, http.MethodPost, "/api/deliveries/1/replay", http.Header{"Origin": {rig.page.URL}, "Cookie": {cookie + "=" + access}})
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "the access token, not the actions'")
		require.Len(t, rig.records(t), 1, "nothing replayed")
		action.Set("Cookie", cookie+"="+access)
		resp, body := do(t, http.MethodPost, "/api/deliveries/1/replay", action)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
	})
	t.Run("loopback without --inspect-public needs none", func(t *testing.T) {
		local := newInspectRig(t, inspectFlags{}, nil, nil)
		require.Empty(t, local.in.access)
		resp, err := http.Get(local.page.URL + "/api/deliveries")
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	})
}

// TestInspectorOpenAddr: the address printed to open the page at is the
// one it listens on, but for a wildcard one ([::], 0.0.0.0), which no
// browser can go to: there it is this machine's name, which the page
// answers with --inspect-public, or the wildcard when it has none.
func TestInspectorOpenAddr(t *testing.T) {
	named := func() (string, error) { return "devbox", nil }
	nameless := func() (string, error) { return "", errors.New("no name") }
	tests := []struct {
		addr     net.Addr
		hostname func() (string, error)
		want     string
		wildcard bool
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4040}, named, "127.0.0.1:4040", false},
		{&net.TCPAddr{IP: net.ParseIP("192.168.1.20"), Port: 8081}, named, "192.168.1.20:8081", false},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 8081}, named, "[::1]:8081", false},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8081}, named, "devbox:8081", true},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8081}, named, "devbox:8081", true},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8081}, nameless, "[::]:8081", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr.String()+" "+tt.want, func(t *testing.T) {
			got, wildcard := openAddr(tt.addr, tt.hostname)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.wildcard, wildcard)
		})
	}
}

// TestInspectorPublicTokenPrinted: serve prints the page's address with
// the access token once, the only way to it; a token the operator sets in
// WEBHOOK_INSPECT_TOKEN (kept out of logs collected from standard error)
// is used and never printed. One too short to guard the page is refused.
func TestInspectorPublicTokenPrinted(t *testing.T) {
	const chosen = "operator-chosen-inspect-token-3k9Q"
	tests := []struct {
		name, env string
		printed   bool
	}{
		{"generated", "", true},
		{"from the environment", chosen, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := inspectFlags{addr: optionalAddr{set: true, addr: "127.0.0.1:0"}, public: true, keep: 1, keepBytes: 1, token: tt.env}
			require.NoError(t, f.check())
			in := newInspector(&f, &keyFlags{}, receiverLimits{tolerance: webhook.DefaultTolerance, maxBody: webhook.DefaultMaxBodySize, intercomMaxAge: webhook.DefaultRetention}, nil, slog.New(slog.DiscardHandler))
			if tt.env != "" {
				require.Equal(t, tt.env, in.access)
			}
			base, stderr := startPrinted(t, in, f.addr.addr)
			require.Equal(t, tt.printed, strings.Contains(stderr, in.access), stderr)
			if tt.printed {
				require.Equal(t, 1, strings.Count(stderr, in.access))
				require.Contains(t, stderr, base+"/?token="+in.access)
			} else {
				require.Contains(t, stderr, envInspectToken)
			}
			status, _ := openWithToken(t, http.DefaultClient, base, in.access)
			require.Equal(t, http.StatusUnauthorized, status, "the default client keeps no cookie")
			jar, _ := cookiejar.New(nil)
			status, page := openWithToken(t, &http.Client{Jar: jar}, base, in.access)
			require.Equal(t, http.StatusOK, status)
			require.Contains(t, page, in.token)
		})
	}
	clearEnv(t)
	t.Setenv(envInspectToken, "tiny-tok")
	res := runCmd(t, "", "serve", "--test-keys", "--addr", "127.0.0.1:0", "--inspect=127.0.0.1:0", "--inspect-public")
	require.Equal(t, exitUsage, res.code, res.stderr)
	require.Contains(t, res.stderr, envInspectToken+" is too short")
	require.NotContains(t, res.stderr, "tiny-tok", "a credential")
}

// TestInspectorInboxShownEscaped: the inbox panel shows a delivery's id,
// key and last error with bidirectional overrides escaped, as the list
// does, and still replays the entry by its key as stored.
func TestInspectorInboxShownEscaped(t *testing.T) {
	ib := webhook.NewMemoryInbox(100, nil)
	rig := newInspectRig(t, inspectFlags{}, ib, func(context.Context, *webhook.Delivery, event.Event) error {
		return errors.New("refused by \u202eegaugnal")
	})
	r := webhooktest.NewFixtureRequest("jam/jam.created.maximal.json", webhooktest.WithTime(time.Now()), webhooktest.WithID("msg_\u202egpj.exe"))
	require.Equal(t, http.StatusOK, rig.send(t, r))
	entries, raw := rig.deadInboxRow(t)
	e := entries[0]
	require.Equal(t, `msg_\u202egpj.exe`, e.ID)
	require.Equal(t, `standard:msg_\u202egpj.exe`, e.KeyShown)
	require.Contains(t, e.LastError, `refused by \u202eegaugnal`)
	require.Equal(t, "standard:msg_\u202egpj.exe", e.Key, "the key as stored, to replay it by")
	var v []map[string]any
	require.NoError(t, json.Unmarshal(raw, &v))
	delete(v[0], "key")
	walkStrings(v, func(s string) {
		require.False(t, strings.ContainsRune(s, '\u202e'), "shown: %q", s)
	})
	code, out := rig.action(t, "/api/inbox/replay?key="+url.QueryEscape(e.Key))
	require.Equal(t, http.StatusOK, code, out)
}

// TestInspectorPublicTokenCharacters: a token set in
// WEBHOOK_INSPECT_TOKEN travels in a cookie, which cannot carry every
// byte: net/http drops a '"', ';', '\\', a control character or a
// non-ASCII byte from the value it sets, and the browser would then send
// back a cookie that is never the token, leaving the page at 401 for
// good. Such a token is refused at start (its value unsaid), and every
// other printable ASCII character (a space or comma quoted) opens the
// page through a cookie jar, by ?token= escaped or pasted as it is.
func TestInspectorPublicTokenCharacters(t *testing.T) {
	limits := receiverLimits{tolerance: webhook.DefaultTolerance, maxBody: webhook.DefaultMaxBodySize, intercomMaxAge: webhook.DefaultRetention}
	tests := []struct {
		name, token string
		ok          bool
	}{
		{"base64", "q8F+/z0Yx3kP2mW9aB7cdQ==", true},
		{"punctuation", "!#$%&'()*+-./:<=>?@[]^_`{|}~0123", true},
		{"punctuation that survives pasting", "!$%'()*+-./:<=>?@[]^_`{|}~0123", true},
		{"double quote", `operator"token-0123456`, false},
		{"semicolon", "operator;token-0123456", false},
		{"backslash", `operator\token-0123456`, false},
		{"space and comma", "operator token,0123456", true},
		{"control", "operator\ttoken-0123456", false},
		{"non-ASCII", "opérateur-token-0123456", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := inspectFlags{addr: optionalAddr{set: true, addr: "127.0.0.1:0"}, public: true, keep: 1, keepBytes: 1, token: tt.token}
			err := f.check()
			if !tt.ok {
				require.Error(t, err)
				require.Contains(t, err.Error(), envInspectToken)
				require.NotContains(t, err.Error(), tt.token, "a credential")
				return
			}
			require.NoError(t, err)
			in := newInspector(&f, &keyFlags{}, limits, nil, slog.New(slog.DiscardHandler))
			base, _ := startPrinted(t, in, f.addr.addr)
			opens := []string{url.QueryEscape(tt.token)}
			if !strings.ContainsAny(tt.token, "&# ") {
				// Pasted as it is: a '+' of base64 reads as a space
				// once unescaped, and a '%' may start no escape.
				opens = append(opens, tt.token)
			}
			for _, tok := range opens {
				jar, _ := cookiejar.New(nil)
				status, _ := openWithToken(t, &http.Client{Jar: jar, Timeout: 5 * time.Second}, base, tok)
				require.Equal(t, http.StatusOK, status, "the page, by the cookie ?token=%s set", tok)
			}
		})
	}
}

// openWithToken opens base/?token=tok with c as a browser does: the
// answer is the page that moves on to "/", without the token, which it
// then GETs. It returns that GET's status and body.
func openWithToken(t *testing.T, c *http.Client, base, tok string) (int, string) {
	t.Helper()
	resp, err := c.Get(base + "/?token=" + tok)
	require.NoError(t, err)
	hop, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the page that moves on")
	require.Contains(t, string(hop), `<meta http-equiv="refresh" content="0; url=/">`)
	require.NotContains(t, string(hop), tok)
	resp, err = c.Get(base + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, string(body)
}

// startPrinted starts in on addr until the test ends, and returns the
// address it prints (http://HOST:PORT) with all it wrote on stderr.
func startPrinted(t *testing.T, in *inspector, addr string) (base, stderr string) {
	t.Helper()
	var out bytes.Buffer
	stop, err := startInspector(in, addr, "127.0.0.1:1", slog.New(slog.DiscardHandler), &out)
	require.NoError(t, err)
	t.Cleanup(func() { stop(context.Background()) })
	m := regexp.MustCompile(`inspector on (http://\S+)`).FindStringSubmatch(out.String())
	require.NotNil(t, m, out.String())
	return m[1], out.String()
}

// TestInspectorClaimsOutsideLock: the message id and event type a
// rejected request claims are read from its unverified body (a parse of
// up to --max-body, tens of milliseconds for a 1 MiB body of many small
// values) without the inspector's lock, which every delivery's record
// takes on its way through the handler: forgeries sent back to back held
// it, parse after parse, and the deliveries beside them waited on it.
// Here one forgery's parse blocks until the test ends; a delivery sent
// meanwhile is answered, and recorded.
func TestInspectorClaimsOutsideLock(t *testing.T) {
	rig := newInspectRig(t, inspectFlags{}, nil, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	claim := rig.in.claim
	rig.in.claim = func(src string, h http.Header, body []byte) (string, string) {
		if h.Get("Webhook-Id") == "msg_forged_parse" {
			close(entered)
			<-release
		}
		return claim(src, h, body)
	}
	forged := webhooktest.NewStandardRequest("whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y", webhooktest.Fixture("jam/jam.created.maximal.json"),
		webhooktest.WithTime(time.Now()), webhooktest.WithID("msg_forged_parse"))
	forgedDone := make(chan int, 1)
	go func() { forgedDone <- rig.send(t, forged) }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the forgery's claims were never read")
	}

	good := jamNow(t, webhooktest.Secret)
	req, err := http.NewRequest(http.MethodPost, rig.receiver.URL+"/hook", good.Body)
	require.NoError(t, err)
	req.Header = good.Header
	// Held behind the parse, the delivery waits until the release, for
	// ever: any bound tells, and 20 s leaves a loaded machine room.
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	require.NoError(t, err, "a delivery waited on the lock a forgery's parse held")
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	once.Do(func() { close(release) })
	require.Equal(t, http.StatusUnauthorized, <-forgedDone)
	list := rig.records(t)
	require.Len(t, list, 2)
	require.Equal(t, http.StatusOK, list[0].Status)
	require.True(t, list[0].IDVerified)
	require.Equal(t, "msg_forged_parse", list[1].ID, "the forgery's claimed id")
	require.False(t, list[1].IDVerified)
	require.Equal(t, "jam.created", list[1].Type, "the forgery's claimed type")
}

// TestInspectorReplayOfForgeryNotForwarded: a Standard Webhooks replay is
// re-signed with the configured secret, so a forgery replayed is accepted
// (TestInspectorReplay); forwarded to --forward-to, re-signed again for
// the app, it would reach the app as good, which Forward refuses for the
// forgery itself. So a re-signed replay of a delivery whose signature did
// not verify here (a forgery, or one refused for its timestamp, which is
// checked before the signature) is not forwarded, by the receiver or by
// the button; a replay of one that verified is, as the original was.
func TestInspectorReplayOfForgeryNotForwarded(t *testing.T) {
	var mu sync.Mutex
	var got []string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Webhook-Id"))
		mu.Unlock()
	}))
	defer app.Close()
	rig := newInspectRig(t, inspectFlags{forwardTo: app.URL + "/hooks", forwardSecret: appSecret}, nil, nil)
	forgedKey := "whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y"
	stale := webhooktest.NewStandardRequest(forgedKey, webhooktest.Fixture("jam/jam.created.maximal.json"), webhooktest.WithTime(time.Now().Add(-time.Hour)))
	require.Equal(t, http.StatusOK, rig.send(t, jamNow(t, webhooktest.Secret)))  // 1
	require.Equal(t, http.StatusUnauthorized, rig.send(t, jamNow(t, forgedKey))) // 2
	require.Equal(t, http.StatusUnauthorized, rig.send(t, stale))                // 3
	rig.in.wait()
	mu.Lock()
	require.Len(t, got, 1, "the accepted delivery only")
	mu.Unlock()

	tests := []struct {
		name      string
		seq       int
		forwarded bool
	}{
		{"a forgery", 2, false},
		{"a forgery refused for its timestamp", 3, false},
		{"an accepted delivery", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			before := len(got)
			mu.Unlock()
			code, out := rig.action(t, fmt.Sprintf("/api/deliveries/%d/replay", tt.seq))
			require.Equal(t, http.StatusOK, code, out)
			require.Equal(t, float64(http.StatusOK), out["status"], "the replay is accepted, re-signed")
			rig.in.wait()
			replay := int64(out["seq"].(float64))
			rec := rig.in.find(replay)
			require.NotNil(t, rec)
			rig.in.mu.Lock()
			forward := rec.Forward
			rig.in.mu.Unlock()
			code, fout := rig.action(t, fmt.Sprintf("/api/deliveries/%d/forward", replay))
			mu.Lock()
			n := len(got) - before
			mu.Unlock()
			if tt.forwarded {
				require.Equal(t, "forwarded: 200 OK", forward)
				require.Equal(t, http.StatusOK, code, fout)
				require.Equal(t, 2, n, "forwarded on arrival and by the button")
				return
			}
			require.Zero(t, n, "a forgery reached the app, re-signed")
			require.Contains(t, forward, "not forwarded")
			require.Equal(t, http.StatusConflict, code, fout)
			require.Contains(t, fout["error"], "did not verify")
		})
	}
}

// TestInspectorFixtureOfResignedReplay: a re-signed replay's signature is
// the inspector's, made with the configured secret over a body the sender
// chose (the page redacts it: TestInspectorReplaySignatureHidden); saved
// as a fixture, which is made to be committed, it would verify wherever
// that secret does, for ever under a test's clock. Such a replay is not
// saved: its original is, with the signature it arrived with, which
// Capture.Resigned signs anew with the test keys. A replay sent byte for
// byte (Intercom) is saved as any delivery.
func TestInspectorFixtureOfResignedReplay(t *testing.T) {
	dir := t.TempDir()
	rig := newInspectRig(t, inspectFlags{fixtures: dir}, nil, nil)
	body := webhooktest.Fixture("jam/jam.created.maximal.json")
	require.Equal(t, http.StatusUnauthorized, rig.send(t, webhooktest.NewStandardRequest("whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y", body, webhooktest.WithTime(time.Now())))) // 1
	require.Equal(t, http.StatusOK, rig.send(t, jamNow(t, webhooktest.Secret)))                                                                                                  // 2
	require.Equal(t, http.StatusOK, rig.send(t, intercomNow(t)))                                                                                                                 // 3
	replays := map[int]int64{}
	for _, seq := range []int{1, 2, 3} {
		code, out := rig.action(t, fmt.Sprintf("/api/deliveries/%d/replay", seq))
		require.Equal(t, http.StatusOK, code, out)
		replays[seq] = int64(out["seq"].(float64))
	}
	tests := []struct {
		name  string
		seq   int64
		saved bool
	}{
		{"a forgery's re-signed replay", replays[1], false},
		{"an accepted delivery's re-signed replay", replays[2], false},
		{"an Intercom replay, byte for byte", replays[3], true},
		{"the forgery itself", 1, true},
		{"the accepted delivery itself", 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := rig.action(t, fmt.Sprintf("/api/deliveries/%d/fixture", tt.seq))
			if tt.saved {
				require.Equal(t, http.StatusOK, code, out)
				return
			}
			require.Equal(t, http.StatusConflict, code, out)
			require.Contains(t, out["error"], fmt.Sprintf("#%d", tt.seq-3), "the error names the original to save")
		})
	}
	// No file holds a signature the inspector made.
	var names, contents []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			names, contents = append(names, p), append(contents, string(b))
		}
		return err
	}))
	require.Len(t, names, 6, "three deliveries saved, a body and a headers file each: %v", names)
	for _, seq := range []int64{replays[1], replays[2]} {
		rec := rig.in.snapshot(rig.in.find(seq))
		sig := strings.TrimPrefix(rec.Header.Get("Webhook-Signature"), "v1,")
		require.NotEmpty(t, sig)
		for i, c := range contents {
			require.False(t, strings.Contains(c, sig), "%s holds the signature replay #%d was made with", names[i], seq)
		}
	}
}

// TestInspectorReplayKeepsNoUnverifiedID: "keep message id" keeps the id
// of a delivery whose signature verified. A forgery's id is its sender's
// claim: kept, re-signed, the forged body would take it, in the dedupe
// store, from the genuine delivery of that id, acknowledged then as a
// duplicate and never processed. Such a replay gets a new id, and the
// page does not offer to keep it.
func TestInspectorReplayKeepsNoUnverifiedID(t *testing.T) {
	var mu sync.Mutex
	var ran []string
	rig := newInspectRig(t, inspectFlags{}, nil, func(_ context.Context, d *webhook.Delivery, _ event.Event) error {
		mu.Lock()
		defer mu.Unlock()
		ran = append(ran, d.ID)
		return nil
	})
	body := webhooktest.Fixture("jam/jam.created.maximal.json")
	forged := webhooktest.NewStandardRequest("whsec_Zm9yZ2VkLXNlY3JldC1mb3ItaW5zcGVjdG9y", []byte(`{"jamId":"forged","teamId":"forged"}`),
		webhooktest.WithTime(time.Now()), webhooktest.WithID("msg_victim"))
	require.Equal(t, http.StatusUnauthorized, rig.send(t, forged)) // 1
	good := webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithTime(time.Now()), webhooktest.WithID("msg_kept"))
	require.Equal(t, http.StatusOK, rig.send(t, good)) // 2

	resp, err := http.Get(rig.page.URL + "/api/deliveries/1")
	require.NoError(t, err)
	var d struct{ Replay replayPlan }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&d))
	_ = resp.Body.Close()
	require.True(t, d.Replay.Possible)
	require.False(t, d.Replay.CanKeep, "the page offers to keep a forgery's id")

	code, out := rig.action(t, "/api/deliveries/1/replay?keep_id=1")
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, float64(http.StatusOK), out["status"], out)
	require.Contains(t, out["note"], "new id")
	// The genuine delivery of the id the forgery claimed runs.
	genuine := webhooktest.NewStandardRequest(webhooktest.Secret, body, webhooktest.WithTime(time.Now()), webhooktest.WithID("msg_victim"))
	require.Equal(t, http.StatusOK, rig.send(t, genuine))
	// A verified delivery's id is kept: its replay is a duplicate.
	code, out = rig.action(t, "/api/deliveries/2/replay?keep_id=1")
	require.Equal(t, http.StatusOK, code, out)
	require.Equal(t, "replay of #2, re-signed, id kept", out["note"])

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, ran, 3, "the good one, the forgery's replay under a new id, the genuine msg_victim: %v", ran)
	require.Equal(t, "msg_kept", ran[0])
	require.True(t, strings.HasPrefix(ran[1], "msg_replay_"), ran[1])
	require.Equal(t, "msg_victim", ran[2], "the genuine delivery was taken for a duplicate of the forgery's replay")
}
