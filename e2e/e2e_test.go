// Package e2e drives the inspector of "webhook serve --inspect" in a real
// browser. It is a module of its own so that neither the core nor the
// CLI's module graph carries chromedp.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// artifactsEnv names the directory the screenshots go to; without it
// they go to a temporary directory, printed.
const artifactsEnv = "WEBHOOK_E2E_ARTIFACTS"

var (
	inspectorRE = regexp.MustCompile(`inspector on (http://\S+)`)
	receiverRE  = regexp.MustCompile(`listening on (http://\S+)`)
)

// serve builds the CLI, starts "webhook serve --inspect" on free ports
// and returns the receiver's and the page's URLs.
func serve(t *testing.T, fixtures string, extra ...string) (receiver, page string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "webhook")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/inhook/webhook/cmd/webhook").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	cmd := exec.Command(bin, append([]string{"serve", "--test-keys", "--addr", "127.0.0.1:0", "--inspect=127.0.0.1:0", "--fixtures", fixtures}, extra...)...)
	cmd.Stdout = io.Discard
	addrs := make(chan [2]string, 1)
	// A writer, not StderrPipe: Wait then returns only once every line
	// serve wrote is in logs. With a pipe read here, Wait closed it at
	// serve's exit, and the last lines could be lost from the report.
	logs := &stderrLines{addrs: addrs}
	cmd.Stderr = logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve exited with %v; stderr:\n%s", err, logs)
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("serve did not stop on SIGTERM")
		}
	})
	select {
	case a := <-addrs:
		return a[0], a[1]
	case <-time.After(30 * time.Second):
		t.Fatalf("serve printed no addresses; stderr:\n%s", logs)
	}
	return "", ""
}

// stderrLines keeps what serve writes to its standard error, and sends
// the receiver's and the inspector's addresses to addrs once it has seen
// the lines naming both.
type stderrLines struct {
	addrs      chan<- [2]string
	mu         sync.Mutex
	logs       []byte
	part       []byte // the line being written
	recv, insp string
}

func (w *stderrLines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.logs = append(w.logs, p...)
	w.part = append(w.part, p...)
	for {
		line, rest, ok := bytes.Cut(w.part, []byte("\n"))
		if !ok {
			return len(p), nil
		}
		w.part = rest
		if m := inspectorRE.FindSubmatch(line); m != nil {
			w.insp = string(m[1])
		}
		if m := receiverRE.FindSubmatch(line); m != nil {
			w.recv = string(m[1])
		}
		if w.recv != "" && w.insp != "" {
			select {
			case w.addrs <- [2]string{w.recv, w.insp}:
			default:
			}
			w.recv = ""
		}
	}
}

// String returns everything written so far.
func (w *stderrLines) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.logs)
}

// browser starts Debian's chromium headless with a fresh profile. A
// missing chromium fails the test: CI installs it (.ci/run).
func browser(t *testing.T, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed: apt-get install -y chromium (.ci/run does): %v", err)
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	}, opts...)...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	return ctx
}

func post(t *testing.T, url string, r *http.Request) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/hooks", r.Body)
	require.NoError(t, err)
	req.Header = r.Header
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// wait polls a JavaScript predicate in the page.
func wait(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("waiting for %s: %v\npage:\n%s", what, err, page)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	return v
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	time.Sleep(time.Second) // let a new row's highlight fade
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, png, 0o644))
	t.Logf("screenshot: %s", p)
}

// appSecret is the developer's app's own test secret, which forwarded
// deliveries are re-signed with.
const appSecret = "whsec_YXBwLW93bi10ZXN0LXNlY3JldC1mb3ItZTJl"

// app is the developer's app: a handler with its own secret that
// counts the deliveries it verified.
func app(t *testing.T) (url string, verified func() []string) {
	t.Helper()
	h, err := webhook.NewHandler(webhook.WithSecrets(appSecret), webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
		webhook.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	var mu sync.Mutex
	var got []string
	h.OnAny(func(_ context.Context, d *webhook.Delivery, e event.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, d.ID)
		return nil
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/webhooks", func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// TestInspectorInBrowser: three deliveries (a valid Jam one, a forged
// one, an Intercom one) appear in the open page without a reload; the
// forged one shows its reason; replaying it adds an accepted row; saving
// the valid one as a fixture writes a capture that webhooktest loads and
// that verifies; the accepted ones reach the app, re-signed for it.
func TestInspectorInBrowser(t *testing.T) {
	ctx := browser(t)
	fixtures := t.TempDir()
	artifacts := os.Getenv(artifactsEnv)
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(artifacts, 0o755))
	appURL, verified := app(t)
	receiver, page := serve(t, fixtures, "--forward-to", appURL, "--forward-secret", appSecret)

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page+"/")))
	wait(t, ctx, "the event stream", `document.getElementById('conn').textContent === 'live'`)
	eval[bool](t, ctx, `window.loadedOnce = true`) // gone if the page reloads

	// As Jam sends it: the fixture file's last newline is not part of it.
	jamBody := bytes.TrimSuffix(webhooktest.Fixture("jam/jam.created.maximal.json"), []byte("\n"))
	now := time.Now()
	good := webhooktest.NewStandardRequest(webhooktest.Secret, jamBody, webhooktest.WithTime(now), webhooktest.WithID("msg_2Qd8s1YfKz7LmW3vX9pA"))
	require.Equal(t, http.StatusOK, post(t, receiver, good))
	forged := webhooktest.NewStandardRequest("whsec_Zm9yZ2VkLXNlY3JldC1ub3QtdGhlLWVuZHBvaW50cw==", jamBody, webhooktest.WithTime(now), webhooktest.WithID("msg_2Qd8s4HcRt0NbE6uJ1oZ"))
	require.Equal(t, http.StatusUnauthorized, post(t, receiver, forged))
	ic := webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, webhooktest.Fixture("intercom/conversation.admin.replied.json"), webhooktest.WithTime(now))
	require.Equal(t, http.StatusOK, post(t, receiver, ic))

	wait(t, ctx, "three rows", `document.querySelectorAll('#rows tr').length === 3`)
	require.True(t, eval[bool](t, ctx, `window.loadedOnce === true`), "the rows must arrive without a reload")
	statuses := eval[[]string](t, ctx, `[...document.querySelectorAll('#rows tr')].map(r => r.dataset.status)`)
	require.ElementsMatch(t, []string{"200", "401", "200"}, statuses)
	why := eval[string](t, ctx, `document.querySelector('#rows tr[data-status="401"] .why').innerText`)
	require.Contains(t, why, "signature")
	require.Contains(t, why, "the secret is the likeliest difference")
	types := eval[string](t, ctx, `document.getElementById('rows').innerText`)
	require.Contains(t, types, "jam.created")
	require.Contains(t, types, "conversation.admin.replied")
	wait(t, ctx, "the forwards", `[...document.querySelectorAll('#rows tr[data-status="200"]')].every(r => r.querySelector('.fwd-ok') && r.querySelector('.fwd-ok').title === 'forwarded: 200 OK')`)
	require.NotContains(t, eval[string](t, ctx, `document.querySelector('#rows tr[data-status="401"]').innerText`), "forward")
	require.ElementsMatch(t, []string{"msg_2Qd8s1YfKz7LmW3vX9pA", "notif_a1b2c3d4-0002-4e00-8000-000000000002"}, verified())
	screenshot(t, ctx, artifacts, "inspector-list.png")

	// The forged delivery's detail: the verdict names the failed step.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#rows tr[data-status="401"]`)))
	wait(t, ctx, "the detail view", `!document.getElementById('detail').hidden && document.querySelectorAll('#verdict li').length > 0`)
	failed := eval[[]string](t, ctx, `[...document.querySelectorAll('#verdict li.fail .step')].map(e => e.textContent)`)
	require.Equal(t, []string{"signature", "answered"}, failed)
	require.Contains(t, eval[string](t, ctx, `document.getElementById('raw').textContent`), `"jamId"`)
	screenshot(t, ctx, artifacts, "inspector-detail.png")

	// Replay re-signs it with the configured secret: a new accepted row.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#replay`)))
	wait(t, ctx, "the replayed row", `document.querySelectorAll('#rows tr').length === 4 && document.querySelector('#rows tr').dataset.status === '200'`)
	require.Contains(t, eval[string](t, ctx, `document.querySelector('#rows tr').innerText`), "replay of #2")
	wait(t, ctx, "the replay's result", `document.getElementById('action-result').textContent.includes('answered 200')`)

	// Save the valid Jam delivery as a fixture.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#rows tr[data-seq="1"]`)))
	wait(t, ctx, "the first delivery's detail", `document.getElementById('d-title').textContent.startsWith('#1 ')`)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#save-fixture`)))
	wait(t, ctx, "the fixture's name", `document.getElementById('action-result').textContent.startsWith('Saved ')`)
	msg := eval[string](t, ctx, `document.getElementById('action-result').textContent`)
	name := strings.Fields(msg)[1]
	require.Equal(t, "jam/jam.created.msg_2Qd8s1YfKz7LmW3vX9pA.json", name, msg)

	c, err := webhooktest.ReadCapture(os.DirFS(fixtures), name)
	require.NoError(t, err)
	require.Equal(t, jamBody, c.Body)
	h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(func() time.Time { return c.Received }),
		webhook.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	var got string
	h.OnAny(func(_ context.Context, d *webhook.Delivery, e event.Event) error {
		got = fmt.Sprintf("%s %s", d.ID, e.EventType())
		return nil
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, c.Request())
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "msg_2Qd8s1YfKz7LmW3vX9pA jam.created", got)
	t.Logf("screenshots in %s", artifacts)
}

// TestInspectorInboxInBrowser: with --inbox the page lists the inbox's
// entries and their states, and an entry's row opens its delivery.
func TestInspectorInboxInBrowser(t *testing.T) {
	ctx := browser(t)
	artifacts := os.Getenv(artifactsEnv)
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(artifacts, 0o755))
	receiver, page := serve(t, t.TempDir(), "--inbox", filepath.Join(t.TempDir(), "inbox.db"))

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page+"/")))
	wait(t, ctx, "the event stream", `document.getElementById('conn').textContent === 'live'`)
	wait(t, ctx, "the inbox section", `!document.getElementById('inbox').hidden`)
	jam := webhooktest.NewStandardRequest(webhooktest.Secret, webhooktest.Fixture("jam/jam.created.maximal.json"),
		webhooktest.WithTime(time.Now()), webhooktest.WithID("msg_2Qd8sInboxE2e"))
	require.Equal(t, http.StatusOK, post(t, receiver, jam))

	wait(t, ctx, "the delivery, done", `document.querySelector('#inbox-rows tr[data-key="standard:msg_2Qd8sInboxE2e"] .badge')?.textContent === 'done'`)
	wait(t, ctx, "the delivery's row", `document.querySelector('#rows tr[data-seq="1"]')?.dataset.status === '200'`)
	wait(t, ctx, "the entry linked to its row", `document.querySelector('#inbox-rows tr.linked') !== null`)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#inbox-rows tr.linked`)))
	wait(t, ctx, "the detail's inbox state", `!document.getElementById('d-inbox').hidden && document.getElementById('d-inbox-text').textContent.startsWith('done · 1 attempt')`)
	screenshot(t, ctx, artifacts, "inspector-inbox.png")
}

// TestInspectorKeepBytesInBrowser: a delivery the server drops from its
// ring past --inspect-keep-bytes leaves the open page too, so no row is
// left whose detail the server no longer has.
func TestInspectorKeepBytesInBrowser(t *testing.T) {
	ctx := browser(t)
	receiver, page := serve(t, t.TempDir(), "--inspect-keep-bytes", "1") // the newest delivery only
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page+"/")))
	wait(t, ctx, "the event stream", `document.getElementById('conn').textContent === 'live'`)
	for i := range 3 {
		forged := webhooktest.NewStandardRequest("whsec_Zm9yZ2VkLXNlY3JldC1ub3QtdGhlLWVuZHBvaW50cw==", webhooktest.Fixture("jam/jam.created.maximal.json"),
			webhooktest.WithTime(time.Now()), webhooktest.WithID(fmt.Sprintf("msg_2Qd8sKeepBytes%d", i)))
		require.Equal(t, http.StatusUnauthorized, post(t, receiver, forged))
	}
	wait(t, ctx, "the newest row only", `document.querySelectorAll('#rows tr').length === 1 && document.querySelector('#rows tr').dataset.seq === '3'`)
	require.Equal(t, "0 accepted · 1 rejected", eval[string](t, ctx, `document.getElementById('counts').textContent`))
}

// holdList makes the page's first GET /api/deliveries wait: the request
// goes to the server when the test calls window.sendList(), and the page
// reads its answer when the test calls window.releaseList(). It sets
// window.listAnswered once the server's snapshot is in, and
// window.listApplied once the page has had it.
const holdList = `(() => {
  const real = window.fetch.bind(window);
  let send, release;
  const sent = new Promise((r) => { send = r; });
  const released = new Promise((r) => { release = r; });
  window.sendList = send;
  window.releaseList = release;
  let held = false;
  window.fetch = async (input, init) => {
    if (held || !String(input).endsWith('/api/deliveries')) return real(input, init);
    held = true;
    await sent;
    const resp = await real(input, init);
    const body = await resp.text();
    window.listAnswered = true;
    await released;
    return { ok: resp.ok, status: resp.status, statusText: resp.statusText,
      json: async () => { setTimeout(() => { window.listApplied = true; }, 0); return JSON.parse(body); } };
  };
})()`

// TestInspectorKeepBytesListLate: the list the page loads as its event
// stream opens can reach it after the stream told it that one of the
// list's deliveries is gone; the page keeps that delivery gone. On a
// loaded machine the page's list came late, and the dropped row came
// back for good (TestInspectorKeepBytesInBrowser timed out in CI).
func TestInspectorKeepBytesListLate(t *testing.T) {
	ctx := browser(t)
	receiver, page := serve(t, t.TempDir(), "--inspect-keep-bytes", "1")
	_, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) (cdppage.AddScriptToEvaluateOnNewDocumentResult, error) {
		return cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: holdList})
	})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page+"/")))
	wait(t, ctx, "the event stream", `document.getElementById('conn').textContent === 'live'`)
	forged := func(i int) *http.Request {
		return webhooktest.NewStandardRequest("whsec_Zm9yZ2VkLXNlY3JldC1ub3QtdGhlLWVuZHBvaW50cw==", webhooktest.Fixture("jam/jam.created.maximal.json"),
			webhooktest.WithTime(time.Now()), webhooktest.WithID(fmt.Sprintf("msg_2Qd8sListLate%d", i)))
	}
	require.Equal(t, http.StatusUnauthorized, post(t, receiver, forged(1)))
	eval[bool](t, ctx, `(window.sendList(), true)`)
	wait(t, ctx, "the list, with delivery 1", `window.listAnswered === true`)
	require.Equal(t, http.StatusUnauthorized, post(t, receiver, forged(2)))
	require.Equal(t, http.StatusUnauthorized, post(t, receiver, forged(3)))
	wait(t, ctx, "the newest row only", `document.querySelectorAll('#rows tr').length === 1 && document.querySelector('#rows tr').dataset.seq === '3'`)
	eval[bool](t, ctx, `(window.releaseList(), true)`)
	wait(t, ctx, "the list, applied", `window.listApplied === true`)
	require.Equal(t, []string{"3"}, eval[[]string](t, ctx, `[...document.querySelectorAll('#rows tr')].map(r => r.dataset.seq)`))
	require.Equal(t, "0 accepted · 1 rejected", eval[string](t, ctx, `document.getElementById('counts').textContent`))
}

// TestInspectorHostileInBrowser: deliveries whose body, headers, message
// id and event type are markup, one whose body is not UTF-8, and one of
// a megabyte that pretty-prints to half a million lines: the page shows
// each as text, runs none of it, and opens each detail with the
// megabyte's first 64 Ki characters until asked for all. Setting the whole
// megabyte took the page 12 s; the preview's length shows it is not set,
// where a bound on the time would fail on a loaded machine (the wait
// bounds it at 20 s, and the log says how long it took).
func TestInspectorHostileInBrowser(t *testing.T) {
	ctx := browser(t)
	receiver, page := serve(t, t.TempDir())
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page+"/")))
	wait(t, ctx, "the event stream", `document.getElementById('conn').textContent === 'live'`)

	const forger = "whsec_Zm9yZ2VkLXNlY3JldC1ub3QtdGhlLWVuZHBvaW50cw=="
	now := time.Now()
	markup := `</pre></td><script>window.pwned=1</script><img src=x onerror=window.pwned=2>` // no quote to escape in JSON
	jam := webhooktest.NewStandardRequest(forger, []byte(`{"type":"video","title":"`+markup+`"}`),
		webhooktest.WithTime(now), webhooktest.WithID(`msg_<img src=x onerror=window.pwned=3>`))
	jam.Header.Set("X-Evil", `<svg onload=window.pwned=4></svg>`)
	require.Equal(t, http.StatusUnauthorized, post(t, receiver, jam))
	topic := `<img src=x onerror=window.pwned=5>`
	ic := webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, []byte(`{"type":"notification_event","app_id":"a","id":"notif_hostile","topic":"`+topic+`","created_at":`+fmt.Sprint(now.Unix())+`,"data":{"item":{"type":"ping","message":"`+markup+`"}}}`))
	require.Equal(t, http.StatusOK, post(t, receiver, ic))
	binary := append([]byte{0xff, 0xfe, 0x00, 0x80}, markup...)
	require.Equal(t, http.StatusUnauthorized, post(t, receiver, webhooktest.NewStandardRequest(forger, binary, webhooktest.WithTime(now))))
	big := []byte("[" + strings.Repeat("0,", webhook.DefaultMaxBodySize/2-2) + "0]") // under --max-body
	require.Equal(t, http.StatusUnauthorized, post(t, receiver, webhooktest.NewStandardRequest(forger, big, webhooktest.WithTime(now))))

	wait(t, ctx, "four rows", `document.querySelectorAll('#rows tr').length === 4`)
	injected := `document.querySelectorAll('img, svg, script:not([src]), iframe, object').length`
	require.Zero(t, eval[int](t, ctx, injected))
	rows := eval[string](t, ctx, `document.getElementById('rows').innerText`)
	require.Contains(t, rows, `msg_<img src=x onerror=window.pwned=3>`)
	require.Contains(t, rows, topic)
	for seq, want := range []string{1: markup, 2: markup, 3: "base64", 4: "0,0,0"} {
		if seq == 0 {
			continue
		}
		start := time.Now()
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(fmt.Sprintf(`#rows tr[data-seq="%d"]`, seq))))
		wait(t, ctx, fmt.Sprintf("delivery %d's detail", seq), fmt.Sprintf(`document.getElementById('d-title').textContent.startsWith('#%d ')`, seq))
		took := time.Since(start)
		t.Logf("delivery %d's detail in %v", seq, took)
		require.Less(t, eval[int](t, ctx, `document.getElementById('pretty').textContent.length + document.getElementById('raw').textContent.length`), 200<<10,
			"delivery %d: the page shows a preview until asked", seq)
		shown := eval[string](t, ctx, `document.getElementById('raw-label').textContent + document.getElementById('raw').textContent.slice(0, 4096)`)
		require.Contains(t, shown, want, "delivery %d", seq)
		require.Zero(t, eval[int](t, ctx, injected), "delivery %d", seq)
	}
	artifacts := os.Getenv(artifactsEnv)
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(artifacts, 0o755))
	screenshot(t, ctx, artifacts, "inspector-hostile.png")

	// Delivery 4 is open: all of its exact bytes on request.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#raw .show-all`)))
	wait(t, ctx, "all of delivery 4's bytes", fmt.Sprintf(`document.getElementById('raw').textContent.length === %d`, len(big)))

	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#rows tr[data-seq="1"]`)))
	wait(t, ctx, "delivery 1's headers", `document.getElementById('headers').textContent.includes('<svg onload=window.pwned=4></svg>')`)
	require.Zero(t, eval[int](t, ctx, injected))
	require.True(t, eval[bool](t, ctx, `window.pwned === undefined`))
}
