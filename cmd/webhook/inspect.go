package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/webhooktest"
)

// defaultInspectAddr is where --inspect without a value serves the page:
// the port ngrok's inspector made familiar.
const defaultInspectAddr = "127.0.0.1:4040"

// defaultKeepBytes bounds the bodies the inspector keeps: anyone who can
// reach the receiver (through a tunnel, say) can fill the ring, and
// 500 bodies of --max-body's 1 MiB would be half a GiB.
const defaultKeepBytes = 64 << 20

// maxForwards bounds the forwards in flight to --forward-to: each holds
// its delivery's body until the app answers or the client gives up, so
// against an app that hangs a flood held bodies past --inspect-keep-bytes.
const maxForwards = 16

// maxShown bounds the event type and message id a record shows, each a
// sender's string of up to --max-body that the list and every event to
// the page would carry: a message id the handler accepts is never longer.
const maxShown = 256

// tokenHeader carries the per-run token on the inspector's POSTs.
const tokenHeader = "X-Inspect-Token"

// envInspectToken sets the access token that --inspect-public asks for,
// instead of one made per run and printed.
const envInspectToken = "WEBHOOK_INSPECT_TOKEN"

// minAccessToken is the shortest access token taken from envInspectToken.
const minAccessToken = 16

// forwardHeader marks the inspector's forwards with a per-run value, not
// the token: the app sees it. A request to the receiver carrying it is a
// forward come back, and forwarding it again would go round for ever.
const forwardHeader = "X-Webhook-Inspector-Forward"

//go:embed inspect
var inspectFiles embed.FS

// inspectFlags are serve's flags for the inspector.
type inspectFlags struct {
	addr            optionalAddr
	public          bool
	keep            int
	keepBytes       int64
	forwardTo       string
	forwardSecret   string
	forwardIntercom string
	fixtures        string
	token           string // envInspectToken's value: the access token with --inspect-public
}

// optionalAddr is a flag that may be given bare (--inspect) or with a
// value (--inspect=ADDR), as a boolean flag may.
type optionalAddr struct {
	set  bool
	addr string
}

func (a *optionalAddr) String() string   { return a.addr }
func (a *optionalAddr) IsBoolFlag() bool { return true }

func (a *optionalAddr) Set(v string) error {
	switch v {
	case "true":
		a.set, a.addr = true, defaultInspectAddr
	case "false":
		a.set, a.addr = false, ""
	case "":
		return errors.New("empty address")
	default:
		a.set, a.addr = true, v
	}
	return nil
}

func (f *inspectFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.addr, "inspect", "serve the inspector page, a live list of deliveries, on "+defaultInspectAddr+", or with --inspect=ADDR on ADDR (the = is needed: --inspect may stand alone)")
	fs.BoolVar(&f.public, "inspect-public", false, "let --inspect bind a non-loopback address (the page shows bodies); every request then needs the access token printed at start, or set in "+envInspectToken+", and may name the machine by any Host")
	fs.IntVar(&f.keep, "inspect-keep", 500, "inspector: how many recent deliveries to keep in memory")
	fs.Int64Var(&f.keepBytes, "inspect-keep-bytes", defaultKeepBytes, "inspector: how many bytes of bodies to keep in memory, the newest delivery always")
	fs.StringVar(&f.forwardTo, "forward-to", "", "inspector: forward each accepted delivery to this URL (your app)")
	fs.StringVar(&f.forwardSecret, "forward-secret", "", "with --forward-to: re-sign Standard Webhooks deliveries with your app's whsec_ test secret, or a whsk_ signing key for an app holding its whpk_ key (default: the original headers)")
	fs.StringVar(&f.forwardIntercom, "forward-intercom-secret", "", "with --forward-to: re-sign Intercom deliveries with your app's client secret (default: the original headers)")
	fs.StringVar(&f.fixtures, "fixtures", "", "inspector: directory that \"save as fixture\" writes into, as jam/, intercom/ and series/")
}

// check reports flag combinations that make no sense, before anything
// listens.
func (f *inspectFlags) check() error {
	if !f.addr.set {
		for name, v := range map[string]string{"--forward-to": f.forwardTo, "--fixtures": f.fixtures, "--forward-secret": f.forwardSecret, "--forward-intercom-secret": f.forwardIntercom} {
			if v != "" {
				return fmt.Errorf("%s needs --inspect", name)
			}
		}
		return nil
	}
	if f.keep < 1 {
		return errors.New("--inspect-keep must be at least 1")
	}
	if f.public && f.token != "" && len(f.token) < minAccessToken {
		// Its value is not said: it is a credential.
		return fmt.Errorf("%s is too short to guard the page: give at least %d characters, or unset it for a random one", envInspectToken, minAccessToken)
	}
	if f.public && strings.ContainsFunc(f.token, notCookieChar) {
		return fmt.Errorf("%s holds a character a cookie cannot carry (a '\"', ';', '\\', a control or non-ASCII character): the page would refuse it for good; use printable ASCII", envInspectToken)
	}
	if f.keepBytes < 1 {
		return errors.New("--inspect-keep-bytes must be at least 1")
	}
	if (f.forwardSecret != "" || f.forwardIntercom != "") && f.forwardTo == "" {
		return errors.New("--forward-secret and --forward-intercom-secret need --forward-to")
	}
	if f.forwardTo != "" {
		if err := checkHTTPURL("--forward-to", f.forwardTo); err != nil {
			return err
		}
	}
	if f.fixtures != "" {
		// Made when the first fixture is saved; a file there would fail
		// every save, told only on the page.
		if fi, err := os.Stat(f.fixtures); err == nil && !fi.IsDir() {
			return fmt.Errorf("--fixtures %s is not a directory", f.fixtures)
		}
	}
	if f.forwardSecret != "" {
		// Forwards are signed with it, as sign and send sign: a whsk_
		// signing key (v1a) is the sender's, which the verifiers refuse
		// to hold, and a key the verifiers take may still not sign.
		if !strings.HasPrefix(f.forwardSecret, prefixSigningKey) {
			if _, err := webhook.NewVerifier([]string{f.forwardSecret}); err != nil {
				return fmt.Errorf("--forward-secret: %v", err)
			}
		}
		if strings.HasPrefix(f.forwardSecret, "whpk_") {
			return errors.New("--forward-secret: a whpk_ public key cannot sign; give the app's whsec_ secret, or the whsk_ signing key of its whpk_ key")
		}
		if _, err := webhooktest.SignStandard(f.forwardSecret, "msg_check", time.Unix(0, 0), nil); err != nil {
			return fmt.Errorf("--forward-secret: %v", err)
		}
	}
	if f.forwardIntercom != "" {
		if _, err := webhook.NewIntercomVerifier(f.forwardIntercom); err != nil {
			return fmt.Errorf("--forward-intercom-secret: %v", err)
		}
	}
	if err := checkListenAddr(f.addr.addr); err != nil {
		return fmt.Errorf("--inspect: %v", err)
	}
	host, _, _ := net.SplitHostPort(f.addr.addr)
	if !f.public && !loopbackName(host) {
		return fmt.Errorf("--inspect %s is not a loopback address; the page shows bodies, so give --inspect-public to bind it anyway", f.addr.addr)
	}
	return nil
}

// loopbackName reports whether host, a Host header's name or a listen
// address's, names this machine only: localhost (and its subdomains, which
// RFC 6761 reserves for loopback) or a loopback IP.
func loopbackName(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostAllowed reports whether a request's Host may reach the page. On
// loopback, a DNS name other than localhost is refused even when it
// resolves to 127.0.0.1: that is how a page on another site reaches a
// loopback server (DNS rebinding), and nothing else guards the page
// there. With --inspect-public every Host may, so the page opens by the
// machine's name as by its IP: every request then needs the access
// token, which a rebinding page lacks (the browser sends it the cookies
// of its own name, and it cannot read the token from a page it is
// refused).
func (in *inspector) hostAllowed(hostport string) bool {
	if in.public {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return loopbackName(host)
}

// guard wraps the page's handlers with the Host check, the refusal of
// other sites' requests, the access token of --inspect-public, the token
// and same-origin check on POSTs, and headers that keep the page from
// being framed or its bodies sniffed.
func (in *inspector) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !in.hostAllowed(r.Host) {
			http.Error(w, "inspector: this Host is not a loopback name; open the page at http://127.0.0.1 or http://localhost", http.StatusMisdirectedRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if err := checkFetchSite(r); err != nil {
			http.Error(w, "inspector: "+err.Error(), http.StatusForbidden)
			return
		}
		// A browser sends an Origin with a cross-origin fetch or event
		// stream, reads too, and with no GET of the page's own: another's
		// is refused whatever the method, where a browser that sends no
		// Sec-Fetch-Site left only CORS between that site and the answer.
		if o := r.Header.Get("Origin"); o != "" && !ownOrigin(o, r.Host) {
			http.Error(w, "inspector: a request from another origin is refused; open the page itself", http.StatusForbidden)
			return
		}
		if in.access != "" && !in.admit(w, r) {
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := in.checkAction(r); err != nil {
				http.Error(w, "inspector: "+err.Error(), http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// checkFetchSite refuses what a browser marks, by the Sec-Fetch-Site
// header no page can set, as made by another site's page: any page the
// developer visits can send requests here, and on localhost a page on
// another port is the same site. Only a navigation to the page itself,
// a link followed, may come from elsewhere; the data, the event stream,
// the page in a frame or a fetch, its scripts and the actions answer
// only the page's own requests (same-origin), the address bar (none) and
// clients that send no such header, which the other checks guard.
func checkFetchSite(r *http.Request) error {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return nil
	}
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Path == "/" &&
		r.Header.Get("Sec-Fetch-Mode") == "navigate" && r.Header.Get("Sec-Fetch-Dest") == "document" {
		return nil
	}
	return errors.New("a request from another site's page (Sec-Fetch-Site not same-origin) is refused; open the page itself")
}

// checkAction admits a state-changing request only from the page itself:
// its Origin is the page's own (its Host, over http or https), and it
// carries the token the page was served with, which another origin
// cannot read.
func (in *inspector) checkAction(r *http.Request) error {
	if r.Method != http.MethodPost {
		return errors.New("actions are POSTs")
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return errors.New("actions need an Origin header (the page's fetch sends one)")
	}
	if !ownOrigin(origin, r.Host) {
		return errors.New("cross-origin request refused")
	}
	got := r.Header.Get(tokenHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(in.token)) != 1 {
		return errors.New("missing or wrong " + tokenHeader)
	}
	return nil
}

// ownOrigin reports whether origin, a request's Origin, is the page's
// own, the one whose Host the request names: over http, or https too,
// since the page may be reached through a proxy that speaks TLS and
// passes the Host on (a tunnel to a developer's machine).
func ownOrigin(origin, host string) bool {
	return origin == "http://"+host || origin == "https://"+host
}

// admit checks the access token of --inspect-public on every request:
// on a network, anyone who reached the page read every body, and the
// actions' token with it. A GET with ?token= sets it as a cookie and
// answers a page that moves on to its address without it, taking that
// page's place in the history, out of the address bar. The cookie is
// HttpOnly, so the page's script never holds it, and
// SameSite=Strict, so no other site's request carries it; cookies are
// not kept apart by port, hence the port in its name. Scripts may send
// it as a Bearer Authorization header instead. admit answers 401 itself
// when the request may not go on.
func (in *inspector) admit(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	raw, pasted := rawParam(r.URL.RawQuery, "token")
	if (q.Has("token") || pasted) && (r.Method == http.MethodGet || r.Method == http.MethodHead) && (in.isAccess(q.Get("token")) || in.isAccess(raw)) {
		http.SetCookie(w, &http.Cookie{Name: accessCookie(r.Host), Value: in.access, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		q.Del("token")
		// One leading slash: "//host" would send the browser off there.
		to := "/" + strings.TrimLeft(r.URL.EscapedPath(), "/")
		if len(q) > 0 {
			to += "?" + q.Encode()
		}
		// Not a redirect: after a link followed from another site (a
		// chat, a tracker) the redirect's request would still be that
		// site's, which the SameSite=Strict cookie is not sent on, and
		// the page answered 401. This page's own move to the address
		// is the page's. (Browsers say where a link came from in
		// Sec-Fetch-Site only to https and loopback addresses.)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		u := html.EscapeString(to)
		_, _ = fmt.Fprintf(w, hopPage, u, u)
		return false
	}
	if c, err := r.Cookie(accessCookie(r.Host)); err == nil && in.isAccess(c.Value) {
		return true
	}
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && in.isAccess(bearer) {
		return true
	}
	http.Error(w, "inspector: --inspect-public: open the address with ?token= that webhook serve printed (or the token in "+envInspectToken+"), or send it as Authorization: Bearer", http.StatusUnauthorized)
	return false
}

// hopPage moves the browser on to the address %s, without the token, as
// a page of the inspector's own (its CSP runs no script).
const hopPage = `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0; url=%s"><title>webhook inspector</title><p><a href="%s">Open the inspector</a></p>
`

// rawParam returns the value of the query parameter name as it is in
// rawQuery, not unescaped, and whether there is one: a token pasted into
// ?token= as it is, as the operator who set it in envInspectToken does,
// reads otherwise as another ('+', common in base64, as a space; a '%'
// as an escape, or as no parameter at all).
func rawParam(rawQuery, name string) (string, bool) {
	for p := range strings.SplitSeq(rawQuery, "&") {
		if v, ok := strings.CutPrefix(p, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// notCookieChar reports whether net/http drops r from a cookie's value
// (it logs so and sets the rest): the access token's cookie would then
// never match the token.
func notCookieChar(r rune) bool {
	return r < 0x20 || r >= 0x7f || r == '"' || r == ';' || r == '\\'
}

// isAccess reports whether s is the access token, in constant time.
func (in *inspector) isAccess(s string) bool {
	return s != "" && subtle.ConstantTimeCompare([]byte(s), []byte(in.access)) == 1
}

// accessCookie names the access token's cookie for the page on hostport.
func accessCookie(hostport string) string {
	name := "webhook_inspect"
	if _, port, err := net.SplitHostPort(hostport); err == nil && port != "" && strings.Trim(port, "0123456789") == "" {
		name += "_" + port
	}
	return name
}

// newToken returns a random per-run token.
func newToken() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported systems
	}
	return hex.EncodeToString(b[:])
}

// routes returns the page's handler, unguarded.
func (in *inspector) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(inspectFiles, "inspect")
	index, _ := fs.ReadFile(static, "index.html")
	page := []byte(strings.Replace(string(index), "{{TOKEN}}", in.token, 1))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /api/config", in.serveConfig)
	mux.HandleFunc("GET /api/deliveries", in.serveList)
	mux.HandleFunc("GET /api/deliveries/{seq}", in.serveDetail)
	mux.HandleFunc("GET /api/events", in.serveEvents)
	mux.HandleFunc("GET /api/inbox", in.serveInbox)
	mux.HandleFunc("POST /api/deliveries/{seq}/replay", in.serveReplay)
	mux.HandleFunc("POST /api/deliveries/{seq}/forward", in.serveForward)
	mux.HandleFunc("POST /api/deliveries/{seq}/fixture", in.serveFixture)
	mux.HandleFunc("POST /api/inbox/replay", in.serveInboxReplay)
	return mux
}

// startInspector listens on the inspector's address and serves the page
// until the returned stop is called. It prints the page's URL to stderr.
func startInspector(in *inspector, addr, receiver string, logger *slog.Logger, stderr io.Writer) (stop func(context.Context), err error) {
	in.recvAddr = receiver
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// What the name resolved to, not the name, which check trusts:
	// a .localhost name is asked of the network's DNS.
	if ip := ln.Addr().(*net.TCPAddr).IP; !in.public && !ip.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("%s is not a loopback address; the page shows bodies, so give --inspect-public to bind it anyway", ip)
	}
	srv := &http.Server{
		Handler:           in.guard(in.routes()),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// No WriteTimeout: the event stream stays open.
	}
	srv.RegisterOnShutdown(in.closeStreams)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("webhook serve: inspector", slog.String("error", err.Error()))
		}
	}()
	switch {
	case in.access == "":
		fmt.Fprintf(stderr, "webhook serve: inspector on http://%s\n", ln.Addr())
	case in.accessFromEnv:
		fmt.Fprintf(stderr, "webhook serve: inspector on http://%s (--inspect-public: open it with ?token= and the token in %s)\n", ln.Addr(), envInspectToken)
	default:
		// The one place the token is shown: whoever started serve
		// needs it to open the page. WEBHOOK_INSPECT_TOKEN keeps it out
		// of standard error, where logs are collected.
		open, wildcard := openAddr(ln.Addr(), os.Hostname)
		or := ""
		if wildcard {
			or = ", or by another name or address of this machine"
		}
		fmt.Fprintf(stderr, "webhook serve: inspector on http://%s (--inspect-public: open http://%s/?token=%s%s; every request needs the token)\n", ln.Addr(), open, in.access, or)
	}
	var once sync.Once
	return func(ctx context.Context) {
		once.Do(func() {
			_ = srv.Shutdown(ctx)
			<-done
			in.waitUntil(ctx)
		})
	}, nil
}

// openAddr is the host:port to open the page at, listening on a: a
// itself, but for a wildcard address ([::], 0.0.0.0), which no browser
// can go to: there it is this machine's name, which the page answers
// with --inspect-public, when hostname has one. wildcard reports that a
// was one.
func openAddr(a net.Addr, hostname func() (string, error)) (open string, wildcard bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok || !ta.IP.IsUnspecified() {
		return a.String(), false
	}
	if h, err := hostname(); err == nil && h != "" {
		return net.JoinHostPort(h, strconv.Itoa(ta.Port)), true
	}
	return a.String(), true
}

// inspector returns the inspector the flags ask for, or nil.
func (f *inspectFlags) inspector(keys *keyFlags, lim receiverLimits, ib webhook.Inbox, logger *slog.Logger) *inspector {
	if !f.addr.set {
		return nil
	}
	return newInspector(f, keys, lim, ib, logger)
}

// options returns the handler options the inspector needs: its observer.
func (in *inspector) options() []webhook.Option {
	if in == nil {
		return nil
	}
	return []webhook.Option{webhook.WithObserver(in.observer())}
}

// receiver returns h, recorded when the inspector is on.
func (in *inspector) receiver(h http.Handler) http.Handler {
	if in == nil {
		return h
	}
	return in.wrap(h)
}

// inspectorClient sends forwarded deliveries. Senders give up after
// seconds; so does this.
func inspectorClient() *http.Client {
	return &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
