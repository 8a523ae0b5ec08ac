package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/jsonread"
)

// A KeyHint is what a KeyFunc learns about a request to choose its keys.
// None of it is verified: it only picks the keys the signature is then
// checked against, so a forged hint picks keys the forger cannot sign
// with.
type KeyHint struct {
	// Source is the scheme the request's headers name: event.SourceStandard or
	// event.SourceIntercom.
	Source event.Source
	// Host and Path are the request's Host and URL path.
	Host, Path string
	// AppID is the top-level app_id of an Intercom body, read before
	// verification; "" for other sources, or a body without one. A
	// notification reaches the callbacks only if its decoded AppID is
	// this one, so choosing keys by it makes AppID as trustworthy as
	// the keys. Keys chosen by something else (the path) verify the
	// tenant, not the app_id, which is then what the tenant's key
	// signed: any app's, so go by Delivery.Tenant.
	AppID string
	// Request is the request, for PathValue and headers. Its body has
	// been read: do not read it. PathValue is set by the ServeMux that
	// routed the request, so a test of a key function that reads it
	// serves its requests through that mux (webhooktest.WithTarget), not
	// to the handler's ServeHTTP directly, where it is "".
	Request *http.Request
}

// Keys are the keys a KeyFunc chose for a request: one tenant's.
type Keys struct {
	// Tenant names the tenant. It is Delivery.Tenant, it is logged, and
	// it namespaces the dedupe key (and the inbox key), so equal message
	// ids from two tenants never collide. It must be non-empty, valid
	// UTF-8, at most 128 bytes, without ':'. Take it from your own
	// records, the same for every request of the tenant and across its
	// rotations, never from the request as received: names are compared
	// byte for byte, so a tenant found by another spelling of its path
	// (another case, say) under that spelling's Tenant would run a
	// replay, and a retry across a renaming, again.
	Tenant string
	// Standard verifies the tenant's Standard Webhooks (Jam) deliveries;
	// nil if it has none.
	Standard *Verifier
	// Intercom verifies the tenant's Intercom app deliveries; nil if it
	// has none.
	Intercom *IntercomVerifier
}

// A KeyFunc chooses the keys for a request, once per request, before its
// signature is checked. It returns nil keys (and a nil error) for a
// request of no known tenant, which is refused with 401; an error, or a
// panic (a *PanicError under ErrKeyFunc), is answered 500 without detail,
// so the sender retries, and logged: keep secrets out of its errors. Its
// context is the request's; in inbox mode it is not canceled when the
// sender hangs up, since the delivery is stored all the same, but ends
// after 10 seconds.
//
// Build each tenant's Keys once and keep them (in a map, say, or a cache
// in front of the database that holds the secrets): a KeyFunc that builds
// verifiers on every request parses keys on every request. Intercom
// retries a failed notification once, a minute later, so a cache should
// keep serving the keys it has while that database is down. To rotate a
// tenant's secret, call SetSecrets on its verifiers, or swap in new Keys
// of the same Tenant; hold the old and the new key until the sender signs
// with the new one only.
type KeyFunc func(ctx context.Context, hint KeyHint) (*Keys, error)

// WithKeyFunc chooses the Standard Webhooks and Intercom keys per request,
// for a product that receives webhooks for many customers: one Jam
// endpoint secret per customer (told apart by URL path or host, say), one
// Intercom client secret per app (told apart by app_id). It replaces
// WithSecrets, WithIntercomSecrets and their verifier forms, which cannot
// be combined with it; WithSeries can. The VerifyOptions given to the
// handler do not apply to the verifiers fn returns: build those with the
// options they need.
func WithKeyFunc(fn KeyFunc) Option {
	return handlerOption(func(c *handlerConfig) error {
		if fn == nil {
			return errors.New("webhook: WithKeyFunc needs a non-nil function")
		}
		c.keyFunc = fn
		return nil
	})
}

// ErrKeyFunc is reported, with 500, when the WithKeyFunc function fails or
// returns unusable keys; the sender is told nothing more and retries.
var ErrKeyFunc = errors.New("webhook: key function failed")

// maxTenantLen bounds a tenant name, which goes into every dedupe key.
const maxTenantLen = 128

// tenantKeys asks the key function for the request's keys and sets
// d.Tenant. It answers the request itself, and reports false, when there
// are none to verify with.
func (h *Handler) tenantKeys(ctx context.Context, w http.ResponseWriter, r *http.Request, d *Delivery, body []byte, appID string) (*Verifier, *IntercomVerifier, bool) {
	hint := KeyHint{Source: d.Source, Host: r.Host, Path: r.URL.Path, AppID: appID, Request: r}
	kctx := ctx
	if h.inbox != nil {
		// A verified delivery is stored even if the sender hangs up
		// before the answer (see store): the lookup before the
		// verification must outlive the hang-up too, within the bound of
		// a Store.
		var cancel context.CancelFunc
		kctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer cancel()
	}
	keys, err := callKeyFunc(kctx, h.keyFunc, hint)
	if err == nil && keys != nil {
		if err = checkTenant(keys.Tenant); err == nil && (keys.Standard != nil && !keys.Standard.usable() || keys.Intercom != nil && !keys.Intercom.usable()) {
			err = errors.New("Keys holds a verifier not built by its constructor")
		}
	}
	if err != nil {
		if _, panicked := err.(keyFuncPanic); !panicked {
			err = fmt.Errorf("%w: %w", ErrKeyFunc, err)
		}
		h.rejectFor(ctx, w, d, http.StatusInternalServerError, ReasonKeyFunc, err)
		return nil, nil, false
	}
	var std *Verifier
	var intercom *IntercomVerifier
	evidence := "no tenant for this request"
	if keys != nil {
		d.Tenant, std, intercom = keys.Tenant, keys.Standard, keys.Intercom
		evidence = "tenant " + keys.Tenant + " has no " + string(d.Source) + " keys"
	}
	if d.Source == event.SourceStandard && std == nil || d.Source == event.SourceIntercom && intercom == nil {
		dg := &Diagnosis{BodyLen: len(body), ContentLength: r.ContentLength, Hint: HintNoKeys, Evidence: evidence}
		dg.diagnoseHeaders(d.Source, r.Header, h.now())
		h.rejectDiag(ctx, w, d, http.StatusUnauthorized, verifyErr(d.Source, ErrNoMatchingSignature, evidence), dg)
		return nil, nil, false
	}
	return std, intercom, true
}

// callKeyFunc calls fn, turning a panic into an error, as call does for a
// callback: a lookup that panics (a nil map, a closed cache) would
// otherwise leave ServeHTTP, dropping the sender's connection under
// net/http and ending a program that serves requests by calling
// ServeHTTP itself.
func callKeyFunc(ctx context.Context, fn KeyFunc, hint KeyHint) (keys *Keys, err error) {
	returned := false
	defer func() {
		if !returned {
			keys, err = nil, keyFuncPanic{&PanicError{Value: recover(), Stack: debug.Stack()}}
		}
	}()
	keys, err = fn(ctx, hint)
	returned = true
	return keys, err
}

// keyFuncPanic is ErrKeyFunc for a key function that panicked: its
// message says so (a PanicError's speaks of a callback), and it wraps the
// PanicError, whose stack the log line carries.
type keyFuncPanic struct{ pe *PanicError }

func (e keyFuncPanic) Error() string   { return fmt.Sprintf("%v: panicked: %v", ErrKeyFunc, e.pe.Value) }
func (e keyFuncPanic) Unwrap() []error { return []error{ErrKeyFunc, e.pe} }

// errAppIDMismatch refuses a notification whose decoded app_id is not the
// one the key function chose its keys by.
var errAppIDMismatch = verifyErr(event.SourceIntercom, ErrNoMatchingSignature, "the notification's app_id is not the one its keys were chosen by")

// unverifiedAppID reads the top-level app_id of a JSON body, or "": by
// its exact key, the last one if repeated. The handler refuses a
// notification that decodes to another app_id.
func unverifiedAppID(body []byte) string {
	r := &jsonread.Reader{B: body}
	id := ""
	r.Object(func(key []byte) bool {
		if string(key) == "app_id" && r.Peek() == '"' {
			s, ok := r.Str()
			id = s
			return ok
		}
		return r.Skip(1)
	})
	return id
}

// checkTenant refuses a Keys.Tenant that dedupeKey cannot keep apart
// from every other, or an inbox could change.
func checkTenant(t string) error {
	switch {
	case t == "":
		return errors.New("empty Keys.Tenant")
	case len(t) > maxTenantLen || strings.Contains(t, ":"):
		return errors.New("Keys.Tenant longer than 128 bytes or holding ':'")
	case !utf8.ValidString(t):
		// An inbox may keep it as JSON text (sqlitestore does), which
		// turns each invalid byte into U+FFFD: the workers would see
		// another tenant's name, and two tenants as one.
		return errors.New("Keys.Tenant not valid UTF-8")
	}
	return nil
}

// dedupeKey is the key a delivery is claimed and stored under:
// "source:id", or "source@tenant:id" under a key function. A store may be
// shared by handlers with and without one, and a message id may hold
// anything, so each key must have one reading: the two forms part at the
// byte after the source (no Source holds '@' or ':'), and the tenant ends
// at the first ':' after it (checkTenant refuses a tenant holding one).
// Otherwise a plain delivery of id "acme:msg_1" would claim tenant acme's
// msg_1, whose real delivery would be acknowledged as a duplicate and
// never processed.
func dedupeKey(d *Delivery) string { return keyOf(d.Source, d.Tenant, d.ID) }

// keyOf is dedupeKey of a delivery of src, tenant and id.
func keyOf(src event.Source, tenant, id string) string {
	if tenant != "" {
		return string(src) + "@" + tenant + ":" + id
	}
	return string(src) + ":" + id
}
