package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/testwait"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// readmeStatusTable returns the rows of README.md's "Status codes" table:
// situation cell to status cell.
func readmeStatusTable(t *testing.T) map[string]string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "\n## Status codes\n")
	require.True(t, ok, "README.md has no Status codes section")
	rows := map[string]string{}
	inTable := false
	for line := range strings.Lines(section) {
		line = strings.TrimRight(line, "\n")
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		require.Len(t, cells, 2, "row %q", line)
		situation, status := strings.TrimSpace(cells[0]), strings.TrimSpace(cells[1])
		if situation == "situation" || strings.Trim(situation, "-") == "" {
			continue
		}
		rows[situation] = status
	}
	require.NotEmpty(t, rows)
	return rows
}

// statusCase is one request a README row speaks of, and what the handler
// must answer it.
type statusCase struct {
	name  string
	serve func(t *testing.T) *httptest.ResponseRecorder
	want  int
	check func(t *testing.T, w *httptest.ResponseRecorder) // more the row claims
	// edge marks a request just outside the row's words (a callback's
	// chosen status, a time just inside a bound), answered with a status
	// the row need not name.
	edge bool
}

// TestREADMEStatusTable holds the handler to the README's status table,
// row by row: every row has requests here, each answered with a status the
// row names, and every row here is in the README, so neither can change
// without the other.
func TestREADMEStatusTable(t *testing.T) {
	ts := webhooktest.Time()
	quiet := webhook.WithLogger(slog.New(slog.DiscardHandler))
	handler := func(t *testing.T, opts ...webhook.Option) *webhook.Handler {
		t.Helper()
		base := []webhook.Option{
			webhook.WithSecrets(webhooktest.Secret),
			webhook.WithIntercomSecrets(webhooktest.IntercomSecret),
			webhook.WithSeries(webhooktest.SeriesHeader, webhooktest.SeriesToken),
			webhook.WithClock(webhooktest.Time),
			quiet,
		}
		h, err := webhook.NewHandler(append(base, opts...)...)
		require.NoError(t, err)
		return h
	}
	serve := func(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	// one serves r on a handler of every source built with opts.
	one := func(r func() *http.Request, opts ...webhook.Option) func(t *testing.T) *httptest.ResponseRecorder {
		return func(t *testing.T) *httptest.ResponseRecorder { return serve(handler(t, opts...), r()) }
	}
	std := func(body []byte, opts ...webhooktest.RequestOption) func() *http.Request {
		return func() *http.Request { return webhooktest.NewStandardRequest(webhooktest.Secret, body, opts...) }
	}
	intercom := func(body []byte, opts ...webhooktest.RequestOption) func() *http.Request {
		return func() *http.Request {
			return webhooktest.NewIntercomRequest(webhooktest.IntercomSecret, body, opts...)
		}
	}
	series := func(body []byte, opts ...webhooktest.RequestOption) func() *http.Request {
		return func() *http.Request {
			return webhooktest.NewSeriesRequest(webhooktest.SeriesHeader, webhooktest.SeriesToken, body, opts...)
		}
	}
	onJam := func(fn func() error) func(h *webhook.Handler) {
		return func(h *webhook.Handler) {
			h.OnJamCreated(func(context.Context, *webhook.Delivery, *event.JamCreated) error { return fn() })
		}
	}
	// withCallback serves r on a handler whose jam.created callback is fn.
	withCallback := func(r func() *http.Request, fn func() error, opts ...webhook.Option) func(t *testing.T) *httptest.ResponseRecorder {
		return func(t *testing.T) *httptest.ResponseRecorder {
			h := handler(t, opts...)
			onJam(fn)(h)
			return serve(h, r())
		}
	}
	// tenants serves r on a handler whose key function is fn.
	tenants := func(r func() *http.Request, fn webhook.KeyFunc, opts ...webhook.Option) func(t *testing.T) *httptest.ResponseRecorder {
		return func(t *testing.T) *httptest.ResponseRecorder {
			h, err := webhook.NewHandler(append([]webhook.Option{webhook.WithKeyFunc(fn), webhook.WithClock(webhooktest.Time), quiet}, opts...)...)
			require.NoError(t, err)
			return serve(h, r())
		}
	}
	acme := func(t *testing.T) *webhook.Keys {
		v, err := webhook.NewVerifier([]string{webhooktest.Secret}, webhook.WithClock(webhooktest.Time))
		require.NoError(t, err)
		iv, err := webhook.NewIntercomVerifier(webhooktest.IntercomSecret)
		require.NoError(t, err)
		return &webhook.Keys{Tenant: "acme", Standard: v, Intercom: iv}
	}
	keysFor := func(keys *webhook.Keys, err error) webhook.KeyFunc {
		return func(context.Context, webhook.KeyHint) (*webhook.Keys, error) { return keys, err }
	}
	retryAfter := func(t *testing.T, w *httptest.ResponseRecorder) {
		require.NotEmpty(t, w.Header().Get("Retry-After"), "no Retry-After")
	}
	inbox := func(capacity int) webhook.Option {
		return webhook.WithInbox(webhook.NewMemoryInbox(capacity, webhooktest.Time))
	}

	noTimes := bytes.Replace(bytes.Replace(intercomBody, []byte(`"created_at":1795510790,`), nil, 1), []byte(`"first_sent_at":1795510791,`), nil, 1)
	require.NotContains(t, string(noTimes), "_at\":17", "the body still carries a timestamp")
	longID := bytes.Replace(intercomBody, []byte(`"id":"notif_3e1f7a2c`), []byte(`"id":"notif_`+strings.Repeat("a", 257)), 1)
	otherAppID := bytes.Replace(intercomBody, []byte(`"app_id":"x7k2p9m4"`), []byte(`"app_id":"x7k2p9m4","APP_ID":"q7k3zm2x"`), 1)

	rows := map[string][]statusCase{
		"delivered and every callback returned nil; unknown event type (acknowledged); duplicate of a delivery already processed": {
			{name: "delivered", serve: withCallback(std(jamBody), func() error { return nil }), want: 200},
			{name: "unknown type", serve: one(std(unknownBody)), want: 200},
			{name: "duplicate", serve: func(t *testing.T) *httptest.ResponseRecorder {
				h := handler(t)
				runs := 0
				onJam(func() error { runs++; return nil })(h)
				require.Equal(t, 200, serve(h, std(jamBody)()).Code)
				w := serve(h, std(jamBody)())
				require.Equal(t, 1, runs, "the duplicate ran the callbacks")
				return w
			}, want: 200},
		},
		"`HEAD` (Intercom validates endpoint URLs with HEAD)": {
			{name: "HEAD", serve: one(func() *http.Request { return httptest.NewRequest(http.MethodHead, "/webhooks", nil) }), want: 200,
				check: func(t *testing.T, w *httptest.ResponseRecorder) { require.Zero(t, w.Body.Len(), "a body") }},
		},
		"other methods": {
			{name: "GET", serve: one(func() *http.Request { return httptest.NewRequest(http.MethodGet, "/webhooks", nil) }), want: 405,
				check: func(t *testing.T, w *httptest.ResponseRecorder) { require.NotEmpty(t, w.Header().Get("Allow")) }},
			{name: "DELETE signed", serve: one(std(jamBody, webhooktest.WithMethod(http.MethodDelete))), want: 405,
				check: func(t *testing.T, w *httptest.ResponseRecorder) { require.NotEmpty(t, w.Header().Get("Allow")) }},
		},
		"body over the limit (default 1 MiB, `WithMaxBodySize`)": {
			{name: "declared over the default", serve: one(std(bytes.Repeat([]byte(" "), webhook.DefaultMaxBodySize+1))), want: 413},
			{name: "chunked, not read past the limit", serve: func(t *testing.T) *httptest.ResponseRecorder {
				body := &endless{}
				r := std(jamBody)()
				r.Body, r.ContentLength = io.NopCloser(body), -1
				w := serve(handler(t, webhook.WithMaxBodySize(4096)), r)
				require.LessOrEqual(t, body.n.Load(), int64(4096+1024), "read past the limit")
				return w
			}, want: 413},
		},
		"a `Content-Type` the source never sends": {
			{name: "jam as form", serve: one(std(jamBody, webhooktest.WithContentType("application/x-www-form-urlencoded"))), want: 415},
			{name: "series as xml", serve: one(series(seriesJSON, webhooktest.WithContentType("application/xml"))), want: 415},
		},
		"the bodies in progress already hold the body memory budget (`WithMaxBodyMemory`, default 16 MiB across requests), still after a wait of up to 2 s; a body still arriving 1 s after it began while a later request waits for memory": {
			{name: "budget held by a stalled upload", serve: func(t *testing.T) *httptest.ResponseRecorder {
				const limit = 16 << 10
				h := handler(t, webhook.WithMaxBodySize(limit), webhook.WithMaxBodyMemory(2*limit))
				pr, pw := io.Pipe()
				stalled := std(jamBody)()
				stalled.Body, stalled.ContentLength = pr, -1
				done := make(chan struct{})
				go func() { serve(h, stalled); close(done) }()
				_, err := pw.Write(bytes.Repeat([]byte("x"), 12<<10+1))
				require.NoError(t, err)
				// 16 KiB + 1 once past the pooled 4 KiB: more than the 16 KiB - 1 left.
				big := bytes.Replace(jamBody, []byte(`"title":"`), []byte(`"title":"`+strings.Repeat("a", limit-len(jamBody))), 1)
				w := serve(h, std(big)())
				require.NoError(t, pw.CloseWithError(io.ErrUnexpectedEOF))
				testwait.Closed(t, done, "the stalled upload's response")
				return w
			}, want: 503, check: retryAfter},
			{name: "slow upload cut for a later request", serve: func(t *testing.T) *httptest.ResponseRecorder {
				// The cut needs a connection's read deadline: a real
				// server. The stalled upload, chunked, holds a buffer of
				// the limit; the delivery after it needs more than the
				// rest, and waits while the upload, past a second, is
				// cut and answered.
				const limit = 16 << 10
				h := handler(t, webhook.WithMaxBodySize(limit), webhook.WithMaxBodyMemory(2*limit))
				srv := httptest.NewServer(h)
				defer srv.Close()
				stalled := make(chan *http.Response, 1)
				pr, pw := io.Pipe()
				defer pw.Close()
				go func() {
					req, err := http.NewRequest(http.MethodPost, srv.URL, pr)
					if err != nil {
						panic(err)
					}
					req.Header = std(jamBody)().Header
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						stalled <- nil
						return
					}
					resp.Body.Close()
					stalled <- resp
				}()
				_, err := pw.Write(bytes.Repeat([]byte("x"), 12<<10+1))
				require.NoError(t, err)
				// The write returns once the client has the bytes, which
				// may be before the server's read holds them: the later
				// delivery must begin after the upload, and see it old.
				require.Eventually(t, func() bool { return webhook.BodyHeld(h) == webhook.StalledHold(h, 12<<10+1) }, 10*time.Second, time.Millisecond)
				time.Sleep(webhook.SlowBody)
				big := bytes.Replace(jamBody, []byte(`"title":"`), []byte(`"title":"`+strings.Repeat("a", limit-len(jamBody))), 1)
				req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(big))
				require.NoError(t, err)
				req.Header = std(big)().Header
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode, "the later delivery")
				cut := testwait.Recv(t, stalled, "the stalled upload's cut request")
				require.NotNil(t, cut)
				w := httptest.NewRecorder()
				for k, v := range cut.Header {
					w.Header()[k] = v
				}
				w.WriteHeader(cut.StatusCode)
				return w
			}, want: 503, check: retryAfter},
		},
		"no signature headers, malformed signature headers, no matching signature, timestamp outside the window, Intercom notification outside its max age (older, more than 5 minutes ahead, or dated by neither `created_at` nor `first_sent_at`), source not configured; with `WithKeyFunc`, no keys for the request, or an Intercom notification whose `app_id` is not the one its keys were chosen by": {
			{name: "no signature headers", serve: one(func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(jamBody))
				r.Header.Set("Content-Type", "application/json")
				return r
			}), want: 401},
			{name: "malformed signature", serve: one(std(jamBody, webhooktest.WithHeader("Webhook-Signature", "v1,not base64!"))), want: 401},
			{name: "no matching signature", serve: one(func() *http.Request { return webhooktest.NewStandardRequest(otherSecret, jamBody) }), want: 401},
			{name: "older than the window", serve: one(std(jamBody, webhooktest.WithTime(ts.Add(-6*time.Minute)))), want: 401},
			{name: "newer than the window", serve: one(std(jamBody, webhooktest.WithTime(ts.Add(6*time.Minute)))), want: 401},
			{name: "intercom older than the max age", serve: one(intercom(intercomBody, webhooktest.WithTime(ts.Add(-webhook.DefaultRetention-time.Minute)))), want: 401},
			{name: "intercom 6 minutes ahead", serve: one(intercom(intercomBody, webhooktest.WithTime(ts.Add(6*time.Minute)))), want: 401},
			{name: "intercom 4 minutes ahead passes", serve: one(intercom(intercomBody, webhooktest.WithTime(ts.Add(4*time.Minute)))), want: 200, edge: true},
			{name: "intercom with neither time", serve: one(intercom(noTimes)), want: 401},
			{name: "source not configured", serve: func(t *testing.T) *httptest.ResponseRecorder {
				h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(webhooktest.Time), quiet)
				require.NoError(t, err)
				return serve(h, intercom(intercomBody)())
			}, want: 401},
			{name: "key function, no keys", serve: tenants(std(jamBody), keysFor(nil, nil)), want: 401},
			{name: "key function, other app_id", serve: func(t *testing.T) *httptest.ResponseRecorder {
				return tenants(intercom(otherAppID), keysFor(acme(t), nil))(t)
			}, want: 401},
		},
		"verified but not decodable (bad JSON, a Series form with a bad `%` escape, wrong shape for a pinned endpoint); Intercom notification id over 256 bytes; a body that ends before its `Content-Length` or runs past it": {
			{name: "bad JSON", serve: one(std([]byte(`{"jamId": "4f0c`))), want: 400},
			{name: "series form, bad escape", serve: one(series([]byte(`name=Smith%zz`), webhooktest.WithContentType("application/x-www-form-urlencoded"))), want: 400},
			{name: "wrong shape for a pinned endpoint", serve: one(std(optedOutBody), webhook.WithEventType(event.TypeJamCreated)), want: 400},
			{name: "intercom id over 256 bytes", serve: one(intercom(longID)), want: 400},
			{name: "body ends before its Content-Length", serve: one(func() *http.Request {
				r := std(jamBody)()
				r.ContentLength = int64(len(jamBody) + 10)
				return r
			}), want: 400},
			{name: "body runs past its Content-Length", serve: one(func() *http.Request {
				r := std(jamBody)()
				r.ContentLength = int64(len(jamBody) - 10)
				return r
			}), want: 400},
		},
		"outside inbox mode, the same message id in flight in another request, whose claim holds until its callbacks return (at most the lease, `WithDedupeTimes`, 1 minute by default): the sender retries later, and the retry is a duplicate (200) if they succeeded, or runs them if they failed": {
			{name: "claimed elsewhere", serve: func(t *testing.T) *httptest.ResponseRecorder {
				store := webhook.NewMemoryStore(0, webhooktest.Time)
				h := handler(t, webhook.WithDeduper(store))
				r := std(jamBody, webhooktest.WithID("msg_inflight"))()
				_, status, err := store.Claim(context.Background(), "standard:msg_inflight", time.Minute)
				require.NoError(t, err)
				require.Equal(t, webhook.ClaimAcquired, status)
				return serve(h, r)
			}, want: 409},
		},
		"callback returned an error or panicked; dedupe store unreachable and `WithDedupeFailClosed`; the `WithKeyFunc` function failed (an error or a panic) or gave unusable keys (in inbox mode too); a `v1a` delivery that with ed25519's copy of its message passes the body memory budget on its own (`whpk_` keys `NewHandler` never saw, under three times the max body size)": {
			{name: "callback error", serve: withCallback(std(jamBody), func() error { return errors.New("CRM down") }), want: 500},
			{name: "callback panic", serve: withCallback(std(jamBody), func() error { panic("nil map") }), want: 500},
			{name: "status chosen by a callback", serve: withCallback(std(jamBody), func() error { return &webhook.StatusError{Code: http.StatusGone} }), want: 410, edge: true},
			{name: "dedupe store down, fail closed", serve: one(std(jamBody), webhook.WithDeduper(brokenStore{}), webhook.WithDedupeFailClosed()), want: 500},
			{name: "dedupe store down, fail open", serve: one(std(jamBody), webhook.WithDeduper(brokenStore{})), want: 200, edge: true},
			{name: "key function failed", serve: tenants(std(jamBody), keysFor(nil, errors.New("secrets db down"))), want: 500},
			{name: "key function panicked", serve: tenants(std(jamBody), func(context.Context, webhook.KeyHint) (*webhook.Keys, error) {
				panic("assignment to entry in nil map")
			}), want: 500},
			{name: "key function, a tenant holding ':'", serve: func(t *testing.T) *httptest.ResponseRecorder {
				k := acme(t)
				k.Tenant = "acme:eu"
				return tenants(std(jamBody), keysFor(k, nil))(t)
			}, want: 500},
			{name: "key function, an empty tenant", serve: func(t *testing.T) *httptest.ResponseRecorder {
				k := acme(t)
				k.Tenant = ""
				return tenants(std(jamBody), keysFor(k, nil))(t)
			}, want: 500},
			{name: "key function, a tenant over 128 bytes", serve: func(t *testing.T) *httptest.ResponseRecorder {
				k := acme(t)
				k.Tenant = strings.Repeat("a", 129)
				return tenants(std(jamBody), keysFor(k, nil))(t)
			}, want: 500},
			{name: "key function, a tenant of 128 bytes", serve: func(t *testing.T) *httptest.ResponseRecorder {
				k := acme(t)
				k.Tenant = strings.Repeat("a", 128)
				return tenants(std(jamBody), keysFor(k, nil))(t)
			}, want: 200, edge: true},
			{name: "key function, a verifier not built by its constructor", serve: func(t *testing.T) *httptest.ResponseRecorder {
				return tenants(std(jamBody), keysFor(&webhook.Keys{Tenant: "acme", Standard: &webhook.Verifier{}}, nil))(t)
			}, want: 500},
			{name: "key function, whpk_ keys under too small a budget, a v1a delivery too large for it", serve: func(t *testing.T) *httptest.ResponseRecorder {
				v, err := webhook.NewVerifier([]string{webhooktest.PublicKey}, webhook.WithClock(webhooktest.Time))
				require.NoError(t, err)
				body := bytes.Replace(jamBody, []byte(`"title":"`), []byte(`"title":"`+strings.Repeat("a", 60<<10)), 1)
				h, err := webhook.NewHandler(webhook.WithKeyFunc(keysFor(&webhook.Keys{Tenant: "acme", Standard: v}, nil)), webhook.WithClock(webhooktest.Time), quiet,
					webhook.WithMaxBodySize(64<<10), webhook.WithMaxBodyMemory(128<<10))
				require.NoError(t, err)
				return serve(h, webhooktest.NewStandardRequest(webhooktest.SigningKey, body))
			}, want: 500},
			{name: "key function failed, inbox mode", serve: tenants(std(jamBody), keysFor(nil, errors.New("secrets db down")), inbox(10)), want: 500},
		},
		"inbox mode (`WithInbox`): verified, decoded and stored, or stored already": {
			{name: "stored", serve: one(std(jamBody), inbox(10)), want: 200},
			{name: "stored already", serve: func(t *testing.T) *httptest.ResponseRecorder {
				ib := webhook.NewMemoryInbox(10, webhooktest.Time)
				h := handler(t, webhook.WithInbox(ib))
				require.Equal(t, 200, serve(h, std(jamBody)()).Code)
				w := serve(h, std(jamBody)())
				st, err := ib.Stats(context.Background())
				require.NoError(t, err)
				require.Equal(t, 1, st.Pending, "stored twice")
				return w
			}, want: 200},
		},
		"inbox mode: the inbox is full or failing": {
			{name: "full", serve: func(t *testing.T) *httptest.ResponseRecorder {
				h := handler(t, inbox(1))
				require.Equal(t, 200, serve(h, std(jamBody, webhooktest.WithID("msg_a"))()).Code)
				return serve(h, std(jamBody, webhooktest.WithID("msg_b"))())
			}, want: 503, check: retryAfter},
			{name: "failing", serve: one(std(jamBody), webhook.WithInbox(brokenInbox{})), want: 503, check: retryAfter},
		},
	}

	// The defaults the rows name.
	require.EqualValues(t, 1<<20, webhook.DefaultMaxBodySize)
	require.EqualValues(t, 16<<20, webhook.DefaultMaxBodyMemory)
	require.Equal(t, 5*time.Minute, webhook.DefaultTolerance)

	readme := readmeStatusTable(t)
	for situation := range rows {
		require.Contains(t, readme, situation, "a row this test holds is not in README.md's status table")
	}
	number := regexp.MustCompile(`\b[1-5][0-9][0-9]\b`)
	for situation, status := range readme {
		cases, ok := rows[situation]
		require.True(t, ok, "README.md's status table row %q has no cases in TestREADMEStatusTable", situation)
		named := map[int]bool{}
		for _, n := range number.FindAllString(status, -1) {
			code, _ := strconv.Atoi(n)
			named[code] = true
		}
		require.NotEmpty(t, named, "row %q names no status", situation)
		for _, c := range cases {
			t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
				if !c.edge {
					require.True(t, named[c.want], "README.md's row %q answers %s, not %d", situation, status, c.want)
				}
				w := c.serve(t)
				require.Equal(t, c.want, w.Code)
				if c.check != nil {
					c.check(t, w)
				}
			})
		}
	}
}

// TestHandlerDocStatusTable: the Handler's doc lists the statuses the
// README's table gives the synchronous handler, no more and no fewer (the
// inbox's 503 is the body memory budget's there), so go doc and the README
// cannot drift apart.
func TestHandlerDocStatusTable(t *testing.T) {
	src, err := os.ReadFile("handler.go")
	require.NoError(t, err)
	doc := map[int]bool{}
	for _, m := range regexp.MustCompile(`(?m)^//\t([1-5][0-9][0-9])  `).FindAllStringSubmatch(string(src), -1) {
		code, _ := strconv.Atoi(m[1])
		doc[code] = true
	}
	readme := map[int]bool{}
	number := regexp.MustCompile(`^[1-5][0-9][0-9]\b`)
	for _, status := range readmeStatusTable(t) {
		code, err := strconv.Atoi(number.FindString(status))
		require.NoError(t, err, status)
		readme[code] = true
	}
	require.Equal(t, readme, doc)
}
