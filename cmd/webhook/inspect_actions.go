package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

// replayPlan says what replay will do with a delivery, for the page.
type replayPlan struct {
	Possible bool   `json:"possible"`
	Resign   bool   `json:"resign"`   // Standard Webhooks: a fresh timestamp and signature
	CanKeep  bool   `json:"can_keep"` // the message id may be kept or replaced
	Note     string `json:"note"`
}

// signingSecret is the configured Standard secret that replays are
// signed with: the first symmetric one (a whpk_ public key cannot sign).
func (in *inspector) signingSecret() string {
	for _, s := range in.keys.secrets {
		if !strings.HasPrefix(s, "whpk_") {
			return s
		}
	}
	return ""
}

func (in *inspector) replayPlan(rec *record) replayPlan {
	switch {
	case rec.Cut:
		return replayPlan{Note: "the body went past --max-body and was not kept whole"}
	case rec.Unkept:
		return replayPlan{Note: unkeptNote}
	case rec.Source == string(event.SourceStandard) && in.signingSecret() == "":
		return replayPlan{Note: "no whsec_ secret is configured to re-sign with"}
	case rec.Source == string(event.SourceStandard) && !rec.IDVerified:
		// The id is the sender's claim: kept under the inspector's
		// signature, a forgery's body would take it in the dedupe store
		// from the genuine delivery of that id, a duplicate then.
		return replayPlan{Possible: true, Resign: true,
			Note: "re-signed with the configured secret and a fresh timestamp, under a new message id: this delivery's signature did not verify, so its id is unverified, and kept it would take the genuine delivery's place"}
	case rec.Source == string(event.SourceStandard):
		return replayPlan{Possible: true, Resign: true, CanKeep: true,
			Note: "re-signed with the configured secret and a fresh timestamp; with \"keep id\" the receiver acknowledges it as a duplicate if the original was processed, without it a new message id is used and the callbacks run again"}
	case rec.Source == string(event.SourceIntercom):
		return replayPlan{Possible: true,
			Note: "sent byte for byte with its own X-Hub-Signature (Intercom signs no timestamp); its notification id is kept, so a processed one is acknowledged as a duplicate"}
	case rec.Source == string(event.SourceSeries):
		return replayPlan{Possible: true, Note: "sent byte for byte with its token header"}
	}
	return replayPlan{Possible: true, Note: "sent byte for byte: no configured source's headers were present"}
}

// replayRequest builds the request that replays rec to the receiver.
func (in *inspector) replayRequest(rec *record, keepID bool) (*http.Request, string, error) {
	plan := in.replayPlan(rec)
	if !plan.Possible {
		return nil, "", errors.New(plan.Note)
	}
	// The target as the receiver saw it, which httptest.NewRequest
	// panics on unless it parses: net/http admits an absolute URI
	// without "//" ("http:x"), whose RequestURI is no path.
	if _, err := url.ParseRequestURI(rec.Path); err != nil {
		return nil, "", fmt.Errorf("the request target %s is not a path: not replayed", strconv.Quote(rec.ShownPath))
	}
	body := rec.Body
	req := httptest.NewRequest(rec.Method, rec.Path, bytes.NewReader(body))
	req.RemoteAddr = "127.0.0.1:0"
	req.Host = rec.Host // the path and host a handler may choose keys by
	for k, vs := range rec.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Del("Content-Length")
	req.Header.Del(forwardHeader) // a forward come back is replayed as the sender sent it
	if !plan.Resign {
		return req, fmt.Sprintf("replay of #%d, byte for byte", rec.Seq), nil
	}
	prefix := "Webhook-"
	if req.Header.Get("Webhook-Signature") == "" && req.Header.Get("Svix-Signature") != "" {
		prefix = "Svix-"
	}
	id := req.Header.Get(prefix + "Id")
	note := fmt.Sprintf("replay of #%d, re-signed, id kept", rec.Seq)
	if !keepID || !plan.CanKeep || id == "" {
		id = "msg_replay_" + newToken()[:20]
		note = fmt.Sprintf("replay of #%d, re-signed, new id", rec.Seq)
		if keepID && !plan.CanKeep {
			note += ": its own is unverified"
		}
	}
	ts := in.now()
	sig, err := webhooktest.SignStandard(in.signingSecret(), id, ts, body)
	if err != nil {
		return nil, "", err
	}
	for _, p := range []string{"Webhook-", "Svix-"} {
		for _, k := range []string{"Id", "Timestamp", "Signature"} {
			req.Header.Del(p + k)
		}
	}
	req.Header.Set(prefix+"Id", id)
	req.Header.Set(prefix+"Timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(prefix+"Signature", sig)
	return req, note, nil
}

func (in *inspector) serveReplay(w http.ResponseWriter, r *http.Request) {
	rec := in.lookup(w, r)
	if rec == nil {
		return
	}
	snap := in.snapshot(rec)
	req, note, err := in.replayRequest(snap, r.URL.Query().Get("keep_id") == "1")
	if err != nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	// Re-signed, a forgery (or one refused for its timestamp, which is
	// checked before the signature) is accepted: not its forward.
	resigned := in.replayPlan(snap).Resign
	ro := &replayOf{seq: rec.Seq, note: note, resigned: resigned, unverified: resigned && (!snap.IDVerified || snap.unverifiedReplay)}
	req = req.WithContext(context.WithValue(r.Context(), replayKey{}, ro))
	rw := httptest.NewRecorder()
	in.recv.ServeHTTP(rw, req)
	writeJSON(w, http.StatusOK, map[string]any{"status": rw.Code, "note": note, "seq": ro.made})
}

// forwardRequest builds the request that forwards rec to the app: the
// original headers, or signatures made anew with the app's own secret.
func (in *inspector) forwardRequest(ctx context.Context, rec *record) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, rec.Method, in.fwd.url, bytes.NewReader(rec.Body))
	if err != nil {
		return nil, err
	}
	skip := hopHeaders(rec.Header)
	series := http.CanonicalHeaderKey(in.keys.header())
	for k, vs := range rec.Header {
		if skip[k] {
			continue
		}
		switch k {
		case "Host", "Content-Length", "Accept-Encoding":
			continue // the client's own
		case "Authorization", "Proxy-Authorization", "Cookie":
			// A tunnel's basic auth, a proxy's, a browser's cookies:
			// credentials for the way to the receiver, which the page
			// redacts too, and which the provider would not send the
			// app. The Series token, sent as it is, is the provider's.
			if k != series {
				continue
			}
		}
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set(forwardHeader, in.mark)
	switch {
	case rec.Source == string(event.SourceStandard) && in.fwd.secret != "":
		prefix := "Webhook-"
		if req.Header.Get("Webhook-Id") == "" && req.Header.Get("Svix-Id") != "" {
			prefix = "Svix-"
		}
		id := req.Header.Get(prefix + "Id")
		ts := in.now()
		sig, err := webhooktest.SignStandard(in.fwd.secret, id, ts, rec.Body)
		if err != nil {
			return nil, err
		}
		req.Header.Set(prefix+"Timestamp", strconv.FormatInt(ts.Unix(), 10))
		req.Header.Set(prefix+"Signature", sig)
	case rec.Source == string(event.SourceIntercom) && in.fwd.intercom != "":
		req.Header.Set("X-Hub-Signature", webhooktest.SignIntercom(in.fwd.intercom, rec.Body))
	}
	return req, nil
}

// hopHeaders returns the names in h that were for the hop to the
// receiver, which a forward, as a proxy would, does not pass on: the
// hop-by-hop headers (RFC 9110, section 7.6.1) and those its Connection
// header names.
func hopHeaders(h http.Header) map[string]bool {
	hop := map[string]bool{"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Te": true, "Trailer": true,
		"Transfer-Encoding": true, "Upgrade": true, "Proxy-Authenticate": true, "Proxy-Authorization": true}
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				hop[http.CanonicalHeaderKey(name)] = true
			}
		}
	}
	return hop
}

// forward sends rec to --forward-to and notes the result on the record.
func (in *inspector) forward(ctx context.Context, rec *record) string {
	result := func() string {
		req, err := in.forwardRequest(ctx, in.snapshot(rec))
		if err != nil {
			return "not forwarded: " + err.Error()
		}
		resp, err := in.client.Do(req)
		if err != nil {
			return "forward failed: " + sendError(err).Error()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		_ = resp.Body.Close()
		return "forwarded: " + resp.Status
	}()
	in.mu.Lock()
	rec.Forward = result
	in.mu.Unlock()
	in.publish(rec)
	return result
}

func (in *inspector) serveForward(w http.ResponseWriter, r *http.Request) {
	rec := in.lookup(w, r)
	if rec == nil {
		return
	}
	if in.fwd.url == "" {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "start serve with --forward-to URL to forward"})
		return
	}
	// As the page offers it: a delivery that failed verification, or was
	// cut at --max-body, would reach the app re-signed as if it were good.
	if rec.Unkept {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "not forwarded: " + unkeptNote})
		return
	}
	if rec.unverifiedReplay {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "not forwarded: " + unverifiedNote})
		return
	}
	in.mu.Lock()
	status, accepted := rec.Status, rec.Status/100 == 2 && rec.Event != nil
	in.mu.Unlock()
	if !accepted {
		writeJSON(w, http.StatusConflict, map[string]string{"error": fmt.Sprintf("only accepted deliveries are forwarded; this one was answered %d", status)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": in.forward(r.Context(), rec)})
}

// fixtureHeaders are the headers a saved fixture keeps: what
// verification and decoding read. Others (proxies', the client's) would
// only make the fixture depend on where it was captured.
var fixtureHeaders = []string{"Content-Type", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature", "Svix-Id", "Svix-Timestamp", "Svix-Signature", "X-Hub-Signature", "User-Agent"}

// fixtureName returns the path, under the fixtures directory, that rec is
// saved as: the sender's directory as in webhooktest's fixtures, then the
// event type and message id (or the delivery's number) made safe.
func fixtureName(rec *record) (string, error) {
	dir := map[string]string{string(event.SourceStandard): "jam", string(event.SourceIntercom): "intercom", string(event.SourceSeries): "series"}[rec.Source]
	if dir == "" {
		return "", errors.New("no configured source's headers: nothing to save a fixture for")
	}
	typ := safeName(rec.Type)
	if typ == "" {
		typ = "delivery"
	}
	id := safeName(rec.ID)
	if id == "" {
		id = strconv.FormatInt(rec.Seq, 10)
	}
	ext := ".json"
	if !json.Valid(rec.Body) {
		ext = ".form"
	}
	return path.Join(dir, typ+"."+id+ext), nil
}

// safeName keeps letters, digits, '.', '-' and '_', so a name from a
// body never leaves the directory or makes an odd file name. A name that
// Windows reserves for a device (CON, NUL, COM1, as themselves or before
// an extension) gets a leading '_': writing "NUL.x.json" there writes to
// nothing and reports success, and a fixtures directory is committed and
// checked out on every developer's machine.
func safeName(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			b.WriteRune(c)
		case c == '.' && b.Len() > 0:
			b.WriteRune(c)
		}
		if b.Len() >= 80 {
			break
		}
	}
	n := strings.Trim(b.String(), ".")
	if windowsDevice(n) {
		n = strings.TrimRight(("_" + n)[:min(len(n)+1, 80)], ".")
	}
	return n
}

// windowsDevice reports whether Windows takes name, as a file name, for a
// device: the part before its first '.' is CON, PRN, AUX, NUL, or COM or
// LPT and a digit, in any case. (The superscript digits it also takes are
// not among the characters safeName keeps.)
func windowsDevice(name string) bool {
	stem, _, _ := strings.Cut(name, ".")
	switch strings.ToUpper(stem) {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	if len(stem) == 4 && '0' <= stem[3] && stem[3] <= '9' {
		switch strings.ToUpper(stem[:3]) {
		case "COM", "LPT":
			return true
		}
	}
	return false
}

// Series tokens are credentials sent as they are, not signatures over
// one body: a fixture, made to be committed, holds a stand-in.
const (
	// fixtureTokenNote heads a fixture whose token matched.
	fixtureTokenNote = "# the Series token, a credential, is saved as webhooktest.SeriesToken: verify with webhook.WithSeries(%q, webhooktest.SeriesToken)\n"
	// unmatchedToken stands in for a token that matched none, and
	// matches none either.
	unmatchedToken   = "redacted-token-that-matched-no-configured-token"
	unmatchedTokNote = "# the Series token matched no configured token; saved as a value that matches none\n"
)

// saveFixture writes rec's body and the headers that matter under dir.
// The headers file is what "webhook verify --headers" reads, with the
// arrival time on a comment line that webhooktest.ReadCapture reads.
func saveFixture(dir string, keys *keyFlags, rec *record) (string, error) {
	name, err := fixtureName(rec)
	if err != nil {
		return "", err
	}
	if rec.Cut {
		return "", errors.New("the body went past --max-body and was not kept whole")
	}
	if rec.Unkept {
		return "", errors.New(unkeptNote)
	}
	if rec.resigned {
		// Made to be committed, the fixture would hold a signature of
		// the configured secret over a body the sender chose, which the
		// page redacts: verifying wherever that secret does, for ever
		// under a test's clock.
		return "", fmt.Errorf("this replay's signature was made here with the configured secret: save the original, #%d, whose signature is the sender's (Capture.Resigned signs it anew with the test keys)", rec.ReplayOf)
	}
	full := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return "", err
	}
	// The path without its query, where an endpoint may carry a
	// credential of its own: webhooktest's Capture.Request sends the
	// capture to the path, and a test sets Target for a query.
	target, query, _ := strings.Cut(rec.Path, "?")
	if query != "" {
		target += "?…"
	}
	// A path starting "//" reads as another host's: ReadCapture refuses
	// it. With its second slash escaped it decodes to the same path, and
	// reaches the test's router as it reached the receiver's.
	if rest, ok := strings.CutPrefix(target, "//"); ok {
		target = "/%2F" + rest
	}
	var h bytes.Buffer
	fmt.Fprintf(&h, "# captured by webhook serve --inspect: %s %s, answered %d", rec.Method, target, rec.Status)
	if rec.Reason != "" {
		fmt.Fprintf(&h, " (%s)", rec.Reason)
	}
	fmt.Fprintf(&h, "\n# received: %s\n", rec.Time.UTC().Format(time.RFC3339Nano))
	series := http.CanonicalHeaderKey(keys.header())
	for _, k := range fixtureHeaders {
		if k == series {
			continue // a token, written below as its stand-in
		}
		for _, v := range rec.Header.Values(k) {
			fmt.Fprintf(&h, "%s: %s\n", k, v)
		}
	}
	if rec.Source == string(event.SourceSeries) {
		k := series
		for _, v := range rec.Header.Values(k) {
			if slices.Contains(keys.tokens, v) {
				fmt.Fprintf(&h, fixtureTokenNote, k)
				v = webhooktest.SeriesToken
			} else {
				h.WriteString(unmatchedTokNote)
				v = unmatchedToken
			}
			fmt.Fprintf(&h, "%s: %s\n", k, v)
		}
	}
	// Never over a fixture already there: a forgery claiming a saved
	// delivery's id, or a replay keeping it, has the same name. The same
	// delivery saved again finds its own files.
	ext := path.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for n := 1; n <= maxFixtureSuffix; n++ {
		cand := stem
		if n > 1 {
			cand += "-" + strconv.Itoa(n)
		}
		body := filepath.Join(dir, filepath.FromSlash(cand+ext))
		hname := filepath.Join(dir, filepath.FromSlash(cand+".headers"))
		if sameFile(body, rec.Body) && sameFile(hname, h.Bytes()) {
			return cand + ext, nil
		}
		switch err := createFile(body, rec.Body); {
		case errors.Is(err, fs.ErrExist):
			continue
		case err != nil:
			return "", err
		}
		if err := createFile(hname, h.Bytes()); err != nil {
			_ = os.Remove(body) // no body without its headers
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			return "", err
		}
		return cand + ext, nil
	}
	return "", fmt.Errorf("%d fixtures named %s already: move some away", maxFixtureSuffix, stem)
}

// maxFixtureSuffix bounds the names tried for one fixture.
const maxFixtureSuffix = 100

// sameFile reports whether the file at name holds exactly b.
func sameFile(name string, b []byte) bool {
	got, err := os.ReadFile(name)
	return err == nil && bytes.Equal(got, b)
}

// createFile writes b to a new file, failing with fs.ErrExist if there is
// one.
func createFile(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		_ = os.Remove(name)
		return err
	}
	return f.Close()
}

func (in *inspector) serveFixture(w http.ResponseWriter, r *http.Request) {
	rec := in.lookup(w, r)
	if rec == nil {
		return
	}
	if in.fixtures == "" {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "start serve with --fixtures DIR to save fixtures"})
		return
	}
	name, err := saveFixture(in.fixtures, in.keys, in.snapshot(rec))
	if err != nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": name, "dir": in.fixtures})
}

// inboxView is an inbox entry as the page shows it: no body, no headers;
// its id, key and last error with what would reorder or hide text
// escaped, as the list shows them. Key is the key as stored, to replay
// the entry by.
type inboxView struct {
	Key         string    `json:"key"`
	KeyShown    string    `json:"key_shown"`
	Source      string    `json:"source"`
	ID          string    `json:"id"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	ReceivedAt  time.Time `json:"received_at"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

func newInboxView(e webhook.InboxEntry) inboxView {
	v := inboxView{Key: e.Key, KeyShown: printable(e.Key), Source: string(e.Source), ID: printable(e.ID), State: string(e.State), Attempts: e.Attempts,
		ReceivedAt: e.ReceivedAt, LastError: printable(e.LastError)}
	if e.State == webhook.InboxPending && e.Attempts > 0 {
		v.State = "retrying"
	}
	if e.State == webhook.InboxPending {
		v.NextAttempt = e.NextAttempt
	}
	return v
}

// inboxRows is how many inbox deliveries the page lists.
const inboxRows = 200

func (in *inspector) serveInbox(w http.ResponseWriter, r *http.Request) {
	if in.inbox == nil {
		writeJSON(w, http.StatusOK, []inboxView{})
		return
	}
	// What needs attention first, each state oldest first, then the done
	// ones in what rows are left: listed oldest first across states, the
	// rows held only done ones once a day's traffic was older than a
	// dead delivery, and its replay button was out of reach.
	out := make([]inboxView, 0, inboxRows)
	for _, st := range []webhook.InboxState{webhook.InboxDead, webhook.InboxPending, webhook.InboxLeased, webhook.InboxDone} {
		if len(out) == inboxRows {
			break
		}
		// No body: the panel shows none, and a page of them is up to
		// inboxRows times the max body size, read on each refresh. The
		// detail of the one delivery shown reads its entry whole.
		entries, err := in.inbox.List(r.Context(), webhook.InboxQuery{State: st, Limit: inboxRows - len(out), OmitBody: true})
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		for _, e := range entries.Entries {
			out = append(out, newInboxView(e))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (in *inspector) serveInboxReplay(w http.ResponseWriter, r *http.Request) {
	if in.inbox == nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "start serve with --inbox FILE"})
		return
	}
	key := r.URL.Query().Get("key")
	if err := in.inbox.Replay(r.Context(), key); err != nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"replayed": key})
}

// shownHeaders lists h's values by name for the page, with the
// credentials among them redacted: the Series token, which is sent as it
// is, and the headers a tunnel or a browser may add (basic auth,
// cookies). Received signatures are shown: each covers one body, and
// comparing them is what the page is for. A re-signed replay's are
// redacted: made with the configured secret over a body the sender
// chose, they verify wherever that secret does until the timestamp
// window closes.
func (in *inspector) shownHeaders(rec *record) [][2]string {
	series := http.CanonicalHeaderKey(in.keys.header())
	out := sortedHeaders(rec.Header)
	for i, kv := range out {
		// A bidirectional override is no control character: net/http
		// takes it in a value.
		out[i][1] = printable(kv[1])
		switch kv[0] {
		case series, "Authorization", "Proxy-Authorization", "Cookie":
			out[i][1] = fmt.Sprintf("[redacted, %d bytes]", len(kv[1]))
		case "Webhook-Signature", "Svix-Signature":
			if rec.resigned {
				out[i][1] = fmt.Sprintf("[redacted: made by this replay with the configured secret, %d bytes]", len(kv[1]))
			}
		}
	}
	return out
}

// sortedHeaders lists h's values by name.
func sortedHeaders(h http.Header) [][2]string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out [][2]string
	for _, k := range keys {
		for _, v := range h[k] {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

func encodeBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
