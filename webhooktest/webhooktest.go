// Package webhooktest helps test code that receives webhooks with
// github.com/inhook/webhook: it signs bodies as Jam (Standard Webhooks),
// Intercom and Intercom Series do, builds signed *http.Request values at a
// fixed time, provides a fake clock, and embeds a fixture for every event
// shape the webhook package decodes.
//
// The signers here are written independently of the package's verifiers,
// with crypto/hmac, so a test that signs here and verifies there checks
// one against the other.
package webhooktest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
)

// Keys that tests can share between the handler under test and the
// requests they build. They are test values: never use them in production.
const (
	// Secret is a Standard Webhooks signing secret.
	Secret = "whsec_dGVzdC1zZWNyZXQtZm9yLWluaG9vay13ZWJob29rdGVzdA=="
	// IntercomSecret is an Intercom app client secret.
	IntercomSecret = "0b7c5d2e-8f41-4a96-b3e0-c7d1f5a29e84"
	// SeriesHeader is the custom header a Series admin adds.
	SeriesHeader = "X-Series-Token"
	// SeriesToken is the token in SeriesHeader.
	SeriesToken = "series-test-token-5Gk8Wq2Zr7Vb"
)

// Unix is the instant, in unix seconds, that requests are signed at
// unless WithTime says otherwise: 2026-11-24T09:00:00Z.
const Unix = 1795510800

// Time returns Unix as a time.Time.
func Time() time.Time { return time.Unix(Unix, 0) }

// A Clock is a fake clock safe for concurrent use. Give its Now method to
// webhook.WithClock so signed fixtures stay inside the timestamp window.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a Clock set to t.
func NewClock(t time.Time) *Clock {
	c := &Clock{}
	c.Set(t)
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// SignStandard returns a Standard Webhooks v1 signature header value,
// "v1,<base64>", for body sent as message id at ts. secret is a whsec_ or
// bare base64 key, padded or not, taken exactly as given, as the verifiers
// take it: no whitespace.
func SignStandard(secret, id string, ts time.Time, body []byte) (string, error) {
	b64 := strings.TrimPrefix(secret, "whsec_")
	enc := base64.StdEncoding
	if len(b64)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	key, err := enc.DecodeString(b64)
	if err != nil || len(key) == 0 || strings.ContainsFunc(b64, unicode.IsSpace) {
		return "", errors.New("webhooktest: secret is not whsec_ followed by base64")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// SignIntercom returns an X-Hub-Signature header value, "sha1=<hex>", for
// body signed with an Intercom client secret.
func SignIntercom(clientSecret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(clientSecret))
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

// MessageID returns the message id NewStandardRequest uses by default:
// derived from the body, so the same body is the same message, as a
// sender's retry would be.
func MessageID(body []byte) string {
	sum := sha256.Sum256(body)
	return "msg_" + hex.EncodeToString(sum[:12])
}

// A RequestOption adjusts a request built by this package.
type RequestOption func(*request)

type request struct {
	method, target, contentType string
	id                          string
	ts                          time.Time
	tsSet                       bool
	svix                        bool
	header                      http.Header
}

// WithID sets the Standard Webhooks message id (default MessageID(body)).
func WithID(id string) RequestOption { return func(r *request) { r.id = id } }

// WithTime sets the instant the request is signed at (default Time()).
// Intercom signs no timestamp header: for its requests WithTime sets the
// body's created_at and first_sent_at instead, as StampIntercom does, and
// the signature covers them.
func WithTime(t time.Time) RequestOption { return func(r *request) { r.ts, r.tsSet = t, true } }

// WithSvixHeaders sends svix-* headers instead of webhook-*, as Jam does.
func WithSvixHeaders() RequestOption { return func(r *request) { r.svix = true } }

// WithTarget sets the request URL (default "/webhook").
func WithTarget(target string) RequestOption { return func(r *request) { r.target = target } }

// WithMethod sets the method (default POST).
func WithMethod(method string) RequestOption { return func(r *request) { r.method = method } }

// WithContentType sets Content-Type (default application/json).
func WithContentType(ct string) RequestOption { return func(r *request) { r.contentType = ct } }

// WithHeader adds a header, after signing: use it to add noise or to
// override a signature header.
func WithHeader(key, value string) RequestOption {
	return func(r *request) { r.header.Add(key, value) }
}

func newRequest(body []byte, opts []RequestOption) (*request, *http.Request) {
	c := options(body, opts)
	return c, c.build(body)
}

func options(body []byte, opts []RequestOption) *request {
	c := &request{method: http.MethodPost, target: "/webhook", contentType: "application/json", id: MessageID(body), ts: Time(), header: http.Header{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

func (c *request) build(body []byte) *http.Request {
	r := httptest.NewRequest(c.method, c.target, bytes.NewReader(body))
	r.Header.Set("Content-Type", c.contentType)
	return r
}

func finish(c *request, r *http.Request) *http.Request {
	for k, vs := range c.header {
		r.Header[k] = append(r.Header[k], vs...)
	}
	return r
}

// NewStandardRequest returns a request carrying body signed as a Standard
// Webhooks sender (Jam, through Svix) would with secret.
func NewStandardRequest(t testing.TB, secret string, body []byte, opts ...RequestOption) *http.Request {
	t.Helper()
	r, err := StandardRequest(secret, body, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// StandardRequest is NewStandardRequest for use outside tests.
func StandardRequest(secret string, body []byte, opts ...RequestOption) (*http.Request, error) {
	c, r := newRequest(body, opts)
	sig, err := SignStandard(secret, c.id, c.ts, body)
	if err != nil {
		return nil, err
	}
	prefix := "Webhook-"
	if c.svix {
		prefix = "Svix-"
	}
	r.Header.Set(prefix+"Id", c.id)
	r.Header.Set(prefix+"Timestamp", strconv.FormatInt(c.ts.Unix(), 10))
	r.Header.Set(prefix+"Signature", sig)
	return finish(c, r), nil
}

// NewIntercomRequest returns a request carrying body signed as Intercom
// would with an app's client secret.
func NewIntercomRequest(t testing.TB, clientSecret string, body []byte, opts ...RequestOption) *http.Request {
	t.Helper()
	return IntercomRequest(clientSecret, body, opts...)
}

// IntercomRequest is NewIntercomRequest for use outside tests.
func IntercomRequest(clientSecret string, body []byte, opts ...RequestOption) *http.Request {
	c := options(body, opts)
	if c.tsSet {
		body = StampIntercom(body, c.ts)
	}
	r := c.build(body)
	r.Header.Set("User-Agent", "intercom-parrot-service-client/1.0")
	r.Header.Set("X-Hub-Signature", SignIntercom(clientSecret, body))
	return finish(c, r)
}

// NewSeriesRequest returns a request carrying body with token in header,
// as an Intercom Series webhook block sends it.
func NewSeriesRequest(t testing.TB, header, token string, body []byte, opts ...RequestOption) *http.Request {
	t.Helper()
	return SeriesRequest(header, token, body, opts...)
}

// SeriesRequest is NewSeriesRequest for use outside tests.
func SeriesRequest(header, token string, body []byte, opts ...RequestOption) *http.Request {
	c, r := newRequest(body, opts)
	r.Header.Set(header, token)
	return finish(c, r)
}

// NewFixtureRequest returns a request for the embedded fixture name,
// signed with this package's test keys for the fixture's sender: fixtures
// under jam/ as Standard Webhooks, under intercom/ as Intercom, under
// series/ as Series (form-encoded when the name ends in .form).
func NewFixtureRequest(t testing.TB, name string, opts ...RequestOption) *http.Request {
	t.Helper()
	r, err := FixtureRequest(name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// FixtureRequest is NewFixtureRequest for use outside tests.
func FixtureRequest(name string, opts ...RequestOption) (*http.Request, error) {
	body, err := ReadFixture(name)
	if err != nil {
		return nil, err
	}
	switch dir, _, _ := strings.Cut(name, "/"); dir {
	case "jam":
		return StandardRequest(Secret, body, opts...)
	case "intercom":
		// Stamped at Time() unless opts say otherwise, as Intercom stamps
		// what it sends: the fixtures' own times are long past.
		return IntercomRequest(IntercomSecret, body, append([]RequestOption{WithTime(Time())}, opts...)...), nil
	case "series":
		if strings.HasSuffix(name, ".form") {
			opts = append([]RequestOption{WithContentType("application/x-www-form-urlencoded")}, opts...)
		}
		return SeriesRequest(SeriesHeader, SeriesToken, body, opts...), nil
	}
	return nil, fmt.Errorf("webhooktest: fixture %q is not under jam/, intercom/ or series/", name)
}

// StampIntercom returns a copy of body, an Intercom notification, with its
// top-level created_at and first_sent_at set to t in Unix seconds, as
// Intercom stamps a notification it sends: a receiver refuses notifications
// older than its max age (webhook.VerifyIntercomAge), so a fixture replayed
// later must be stamped anew, then signed. Keys the body lacks are not
// added; a body that is not a JSON object is returned unchanged.
func StampIntercom(body []byte, t time.Time) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return body
	}
	type span struct{ start, end int64 }
	var spans []span
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return body
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return body
		}
		if key == "created_at" || key == "first_sent_at" {
			end := dec.InputOffset()
			spans = append(spans, span{end - int64(len(v)), end})
		}
	}
	out := make([]byte, 0, len(body)+8)
	last := int64(0)
	for _, sp := range spans {
		out = append(out, body[last:sp.start]...)
		out = strconv.AppendInt(out, t.Unix(), 10)
		last = sp.end
	}
	return append(out, body[last:]...)
}
