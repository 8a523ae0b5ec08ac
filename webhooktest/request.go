package webhooktest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// DefaultTarget is the path requests are sent to unless WithTarget says
// otherwise: the path the README mounts the handler on.
const DefaultTarget = "/webhooks"

// A RequestOption adjusts a request built by this package. Every builder
// takes every option, and ignores those its sender has no use for:
// WithSvixHeaders and WithExtraSecrets serve Standard Webhooks only, and
// WithID and WithTime have nothing to set in a Series request, as their
// docs say.
type RequestOption func(*request)

type request struct {
	method, target, contentType string
	id                          string
	idSet                       bool
	ts                          time.Time
	tsSet                       bool
	svix                        bool
	extra                       []string // more Standard Webhooks secrets
	header                      http.Header
}

// WithID sets the message id: a Standard Webhooks request's webhook-id
// (default MessageID(body)), an Intercom notification's top-level "id" in
// its body, set before signing (added first if the body has none), as
// WithTime stamps created_at. The key is found as the handler's
// encoding/json finds it, in any case ("ID", "Id") or escaped; a Jam
// body's own "id" is left alone. The handler deduplicates on it, so
// requests of one body with their own ids are messages of their own. A
// Series webhook carries no id, and the handler deduplicates none:
// NewSeriesRequest ignores WithID.
func WithID(id string) RequestOption { return func(r *request) { r.id, r.idSet = id, true } }

// WithTime sets the instant the request is signed at (default Time()).
// A Series webhook has no time to set, signed or not.
// Intercom signs no timestamp header: for its requests WithTime sets the
// body's created_at and first_sent_at instead, as StampIntercom does, and
// the signature covers them. It adds neither to a body that lacks them:
// write "created_at":0 into a notification built by hand, as Intercom
// sends one in every notification, or the handler refuses it (401, as
// dated by neither).
func WithTime(t time.Time) RequestOption { return func(r *request) { r.ts, r.tsSet = t, true } }

// WithSvixHeaders sends svix-* headers instead of webhook-*, as Jam does,
// on a Standard Webhooks request.
func WithSvixHeaders() RequestOption { return func(r *request) { r.svix = true } }

// WithExtraSecrets signs a Standard Webhooks request with each of secrets
// too, one signature each after the first, as a sender does while keys
// rotate: a whsec_ secret adds a v1 entry, a whsk_ signing key a v1a one
// (see SignStandard). The builder panics on a secret it cannot sign with.
// Intercom and Series send one signature or token: their builders ignore
// WithExtraSecrets; test a rotation there with a request per secret.
func WithExtraSecrets(secrets ...string) RequestOption {
	return func(r *request) { r.extra = append(r.extra, secrets...) }
}

// WithTarget sets the request URL (default DefaultTarget). It is passed to
// httptest.NewRequest, which panics on a target it cannot parse.
func WithTarget(target string) RequestOption { return func(r *request) { r.target = target } }

// WithMethod sets the method (default POST).
func WithMethod(method string) RequestOption { return func(r *request) { r.method = method } }

// WithContentType sets Content-Type (default application/json).
func WithContentType(ct string) RequestOption { return func(r *request) { r.contentType = ct } }

// WithHeader sets a header after signing, replacing the value the builder
// gave it: use it to send a wrong or malformed signature, id or token, or
// another Content-Type, or to add noise. Given again for the same key, it
// adds a value, for a test of a repeated header.
func WithHeader(key, value string) RequestOption {
	return func(r *request) { r.header.Add(key, value) }
}

func options(body []byte, opts []RequestOption) *request {
	c := &request{method: http.MethodPost, target: DefaultTarget, contentType: "application/json", id: MessageID(body), ts: Time(), header: http.Header{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// build returns the request for body with sig, the sender's headers,
// which the headers of WithHeader replace.
func (c *request) build(body []byte, sig http.Header) *http.Request {
	r := httptest.NewRequest(c.method, c.target, bytes.NewReader(body))
	r.Header.Set("Content-Type", c.contentType)
	for k, vs := range sig {
		r.Header[k] = vs
	}
	for k, vs := range c.header {
		r.Header[k] = append([]string(nil), vs...)
	}
	return r
}

// NewStandardRequest returns a request carrying body signed with secret
// as a Standard Webhooks sender (Jam, through Svix) signs it: v1 for a
// whsec_ secret, v1a for a whsk_ signing key such as SigningKey. It
// panics if SignStandard refuses secret.
func NewStandardRequest(secret string, body []byte, opts ...RequestOption) *http.Request {
	c := options(body, opts)
	sigs := make([]string, 0, 1+len(c.extra))
	for _, s := range append([]string{secret}, c.extra...) {
		sig, err := SignStandard(s, c.id, c.ts, body)
		if err != nil {
			panic("webhooktest: NewStandardRequest: " + strings.TrimPrefix(err.Error(), "webhooktest: "))
		}
		sigs = append(sigs, sig)
	}
	prefix := "Webhook-"
	if c.svix {
		prefix = "Svix-"
	}
	return c.build(body, http.Header{
		prefix + "Id":        {c.id},
		prefix + "Timestamp": {strconv.FormatInt(c.ts.Unix(), 10)},
		prefix + "Signature": {strings.Join(sigs, " ")},
	})
}

// NewIntercomRequest returns a request carrying body signed as Intercom
// signs it with an app's client secret. The body goes as given, its
// created_at and first_sent_at too, unless WithTime stamps them (those it
// has: see WithTime), and its id, unless WithID sets it.
func NewIntercomRequest(clientSecret string, body []byte, opts ...RequestOption) *http.Request {
	c := options(body, opts)
	if c.tsSet {
		body = StampIntercom(body, c.ts)
	}
	if c.idSet {
		body = setIntercomID(body, c.id)
	}
	return c.build(body, http.Header{
		"User-Agent":      {"intercom-parrot-service-client/1.0"},
		"X-Hub-Signature": {SignIntercom(clientSecret, body)},
	})
}

// NewSeriesRequest returns a request carrying body with token in header,
// as an Intercom Series webhook block sends it.
func NewSeriesRequest(header, token string, body []byte, opts ...RequestOption) *http.Request {
	c := options(body, opts)
	return c.build(body, http.Header{http.CanonicalHeaderKey(header): {token}})
}
