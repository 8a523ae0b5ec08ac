package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// deliveries lists the inspector's rows as the page's own script would,
// with the access token when one is given.
func deliveries(t *testing.T, page, token string) []map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, page+"/api/deliveries", nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list []map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	return list
}

// attackerPage is a page on another site that tries the inspector's
// actions as a page the developer visits can: a form POST, no-cors
// fetches, a beacon, and a read of the deliveries. Each fetch's outcome
// is put in window.results: "answered" for an opaque response (the
// request reached the inspector and was answered), "blocked" for a
// network error (the browser refused to send it or to show the answer).
const attackerPage = `<!doctype html><title>elsewhere</title>
<iframe name="sink"></iframe>
<form id="f" method="POST" target="sink"><input name="x" value="1"></form>
<script>
const page = new URL(location.href).searchParams.get('page');
window.results = {};
const note = (k, p) => p.then(() => 'answered', () => 'blocked').then(v => { window.results[k] = v; });
const f = document.getElementById('f');
f.action = page + '/api/deliveries/1/replay';
f.submit();
navigator.sendBeacon(page + '/api/deliveries/1/fixture', 'x');
Promise.all([
  note('replay', fetch(page + '/api/deliveries/1/replay?keep_id=1', {method: 'POST', mode: 'no-cors', credentials: 'include'})),
  note('forward', fetch(page + '/api/deliveries/1/forward', {method: 'POST', mode: 'no-cors', credentials: 'include', body: 'x'})),
  note('fixture', fetch(page + '/api/deliveries/1/fixture', {method: 'POST', mode: 'no-cors', credentials: 'include', headers: {'Content-Type': 'text/plain'}, body: 'x'})),
  note('inbox replay', fetch(page + '/api/inbox/replay?key=standard:x', {method: 'POST', mode: 'no-cors', credentials: 'include'})),
  note('with a token header', fetch(page + '/api/deliveries/1/replay', {method: 'POST', headers: {'X-Inspect-Token': 'guess'}})),
  note('read the list', fetch(page + '/api/deliveries').then(r => r.json())),
]).then(() => { window.done = true; });
</script>`

// TestInspectorCrossSiteInBrowser: a page on another site, open in the
// developer's browser, cannot replay, forward or save a delivery, nor
// read the list: its requests reach the inspector and are refused (no
// Origin of the page's own, no token), and the answers are not its to
// read. Nothing is replayed, forwarded or written.
func TestInspectorCrossSiteInBrowser(t *testing.T) {
	ctx := browser(t)
	fixtures := t.TempDir()
	appURL, verified := app(t)
	receiver, page := serve(t, fixtures, "--forward-to", appURL, "--forward-secret", appSecret)
	good := webhooktest.NewStandardRequest(webhooktest.Secret, webhooktest.Fixture("jam/jam.created.maximal.json"), webhooktest.WithTime(time.Now()), webhooktest.WithID("msg_crosssite"))
	require.Equal(t, http.StatusOK, post(t, receiver, good))
	require.Eventually(t, func() bool { return len(verified()) == 1 }, 10*time.Second, 20*time.Millisecond, "the delivery's own forward")

	// localhost and 127.0.0.1 are different sites to the browser.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(attackerPage))
	}))
	defer evil.Close()
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(evilURL+"/?page="+url.QueryEscape(page))))
	wait(t, ctx, "the other site's requests", `window.done === true`)
	results := eval[map[string]string](t, ctx, `window.results`)
	require.Equal(t, map[string]string{
		"replay": "answered", "forward": "answered", "fixture": "answered", "inbox replay": "answered",
		"with a token header": "blocked", "read the list": "blocked",
	}, results)
	time.Sleep(500 * time.Millisecond) // the form and the beacon, on their way
	require.Len(t, deliveries(t, page, ""), 1, "nothing replayed")
	require.Len(t, verified(), 1, "nothing forwarded")
	entries, err := os.ReadDir(fixtures)
	require.NoError(t, err)
	require.Empty(t, entries, "no fixture written")
}

// TestInspectorRebindingInBrowser: a site whose name its DNS points at
// 127.0.0.1 (rebinding, played by the browser's resolver rules) loads
// from the inspector's port as its own origin, so its script could read
// anything the page serves: the inspector answers such a Host 421, with
// nothing of the page.
func TestInspectorRebindingInBrowser(t *testing.T) {
	ctx := browser(t, chromedp.Flag("host-resolver-rules", "MAP rebind.test 127.0.0.1"))
	receiver, page := serve(t, t.TempDir())
	require.Equal(t, http.StatusOK, post(t, receiver, webhooktest.NewStandardRequest(webhooktest.Secret, webhooktest.Fixture("jam/jam.created.maximal.json"), webhooktest.WithTime(time.Now()))))
	u, err := url.Parse(page)
	require.NoError(t, err)
	rebound := "http://rebind.test:" + u.Port()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(rebound+"/")))
	require.Contains(t, eval[string](t, ctx, `document.body.innerText`), "not a loopback name")
	got := settled[[]any](t, ctx, `Promise.all(['/api/deliveries', '/api/deliveries/1', '/api/config'].map(p => fetch(p).then(async r => [r.status, await r.text()])))`)
	for _, g := range got {
		pair := g.([]any)
		require.Equal(t, float64(http.StatusMisdirectedRequest), pair[0], pair[1])
		require.NotContains(t, pair[1], "jam.created")
	}
}

// TestInspectorPublicInBrowser: with --inspect-public the address with
// ?token= opens the page, which drops the token from its address, and
// the page then works by the cookie: its list, the event stream, an
// action. Another browser without the token gets 401 everywhere.
func TestInspectorPublicInBrowser(t *testing.T) {
	const token = "e2e-inspect-access-token-7Rk2Wq"
	t.Setenv("WEBHOOK_INSPECT_TOKEN", token)
	receiver, page := serve(t, t.TempDir(), "--inspect-public")
	ctx := browser(t)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page+"/?token="+token)))
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitReady(`#conn`)), "the page, past the token's hop")
	wait(t, ctx, "the event stream", `document.getElementById('conn').textContent === 'live'`)
	require.Equal(t, page+"/", eval[string](t, ctx, `location.href`), "the token left the address")
	require.Equal(t, "", eval[string](t, ctx, `document.cookie`), "HttpOnly: the script never holds it")
	require.Equal(t, http.StatusOK, post(t, receiver, webhooktest.NewStandardRequest(webhooktest.Secret, webhooktest.Fixture("jam/jam.created.maximal.json"), webhooktest.WithTime(time.Now()))))
	wait(t, ctx, "the row, by the event stream", `document.querySelectorAll('#rows tr').length === 1`)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#rows tr[data-seq="1"]`)))
	wait(t, ctx, "the detail", `document.getElementById('d-title').textContent.startsWith('#1 ')`)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#replay`)))
	wait(t, ctx, "the replayed row", `document.querySelectorAll('#rows tr').length === 2`)
	require.Len(t, deliveries(t, page, token), 2)

	other := browser(t)
	require.NoError(t, chromedp.Do(other, chromedp.Navigate(page+"/")))
	require.Contains(t, eval[string](t, other, `document.body.innerText`), "--inspect-public")
	got := settled[[]float64](t, other, `Promise.all(['/api/deliveries', '/api/events', '/static/app.js'].map(p => fetch(p).then(r => r.status)))`)
	require.Equal(t, []float64{401, 401, 401}, got)
}

// TestInspectorPublicByNameInBrowser: with --inspect-public the page
// opens by the machine's DNS name (devbox.test, played by the browser's
// resolver rules), here from a link on another site, as one pasted in a
// chat: the token's address sets the cookie for that name and the page
// works, its list, event stream and actions. A site rebound to the same
// address gets 401 everywhere, and nothing of the page.
func TestInspectorPublicByNameInBrowser(t *testing.T) {
	const token = "e2e-inspect-by-name-token-5Hq8Zr"
	t.Setenv("WEBHOOK_INSPECT_TOKEN", token)
	receiver, page := serve(t, t.TempDir(), "--inspect-public")
	u, err := url.Parse(page)
	require.NoError(t, err)
	byName := "http://devbox.test:" + u.Port()
	ctx := browser(t, chromedp.Flag("host-resolver-rules", "MAP devbox.test 127.0.0.1, MAP rebind.test 127.0.0.1"))
	chat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>chat</title><a id="link" href="` + byName + `/?token=` + token + `">the inspector</a>`))
	}))
	defer chat.Close()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(strings.Replace(chat.URL, "127.0.0.1", "localhost", 1))))
	before := eval[int](t, ctx, `history.length`)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#link`)))
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitReady(`#conn`)), "the page, past the token's hop")
	wait(t, ctx, "the event stream", `document.getElementById('conn').textContent === 'live'`)
	require.Equal(t, byName+"/", eval[string](t, ctx, `location.href`), "the token left the address")
	require.Equal(t, before+1, eval[int](t, ctx, `history.length`), "the chat, then the page: the token's address left the history")
	require.Equal(t, http.StatusOK, post(t, receiver, webhooktest.NewStandardRequest(webhooktest.Secret, webhooktest.Fixture("jam/jam.created.maximal.json"), webhooktest.WithTime(time.Now()))))
	wait(t, ctx, "the row, by the event stream", `document.querySelectorAll('#rows tr').length === 1`)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#rows tr[data-seq="1"]`)))
	wait(t, ctx, "the detail", `document.getElementById('d-title').textContent.startsWith('#1 ')`)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#replay`)))
	wait(t, ctx, "the replayed row", `document.querySelectorAll('#rows tr').length === 2`)
	require.Len(t, deliveries(t, page, token), 2)

	rebound := "http://rebind.test:" + u.Port()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(rebound+"/")))
	require.Contains(t, eval[string](t, ctx, `document.body.innerText`), "--inspect-public")
	got := settled[[]any](t, ctx, `Promise.all(['/api/deliveries', '/api/deliveries/1', '/api/config', '/static/app.js'].map(p => fetch(p).then(async r => [r.status, await r.text()])))`)
	for _, g := range got {
		pair := g.([]any)
		require.Equal(t, float64(http.StatusUnauthorized), pair[0], pair[1])
		require.NotContains(t, pair[1], "jam.created")
	}
}

// settled evaluates promise, a JavaScript expression for a Promise, and
// returns what it resolves to.
func settled[T any](t *testing.T, ctx context.Context, promise string) T {
	t.Helper()
	eval[bool](t, ctx, `window.settledValue = undefined; (`+promise+`).then(v => { window.settledValue = v; }, e => { window.settledValue = String(e); }); true`)
	wait(t, ctx, promise, `window.settledValue !== undefined`)
	return eval[T](t, ctx, `window.settledValue`)
}
