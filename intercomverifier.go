package webhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/inhook/webhook/event"
)

// An IntercomVerifier checks Intercom app webhooks: X-Hub-Signature is
// "sha1=" and the hex HMAC-SHA1 of the body keyed with the app's client
// secret. Intercom signs no timestamp header, so deduplicate on the
// notification id, and bound its age by the signed created_at
// (VerifyIntercomAge), to limit replay. It is safe for concurrent use.
type IntercomVerifier struct {
	keys atomic.Pointer[keyring]
}

// NewIntercomVerifier returns an IntercomVerifier for one or more client
// secrets, any of which may sign a delivery. As with NewVerifier, a secret
// with whitespace around it is refused, not trimmed, and so are the shapes
// of other credentials: a Standard Webhooks whsec_, whpk_ or whsk_ key, or
// an Intercom access token.
func NewIntercomVerifier(clientSecrets ...string) (*IntercomVerifier, error) {
	v := &IntercomVerifier{}
	if err := v.SetSecrets(clientSecrets...); err != nil {
		return nil, err
	}
	return v, nil
}

// SetSecrets replaces the client secrets. On error the old ones stay.
func (v *IntercomVerifier) SetSecrets(clientSecrets ...string) error {
	kr, err := parseIntercomSecrets(clientSecrets)
	if err != nil {
		return err
	}
	v.keys.Store(kr)
	return nil
}

// Verify checks body against the X-Hub-Signature header in h. Errors wrap
// ErrRequiredHeaders, ErrInvalidHeaders or ErrNoMatchingSignature.
func (v *IntercomVerifier) Verify(body []byte, h http.Header) error {
	return v.verify(v.keys.Load(), body, h)
}

// verify is Verify against keys kr, v's at some instant.
func (v *IntercomVerifier) verify(kr *keyring, body []byte, h http.Header) error {
	vs := h[headerHubSignature]
	switch {
	case len(vs) == 0 || vs[0] == "":
		return verifyErr(event.SourceIntercom, ErrRequiredHeaders, "need X-Hub-Signature")
	case len(vs) > 1:
		return verifyErr(event.SourceIntercom, ErrInvalidHeaders, "X-Hub-Signature repeated")
	}
	hexSig, found := strings.CutPrefix(vs[0], "sha1=")
	if !found {
		return verifyErr(event.SourceIntercom, ErrInvalidHeaders, `X-Hub-Signature lacks the "sha1=" prefix`)
	}
	var want [sha1.Size]byte
	if !decodeHex(want[:], hexSig) {
		return verifyErr(event.SourceIntercom, ErrInvalidHeaders, "X-Hub-Signature is not 40 hex digits")
	}
	if kr == nil {
		return errNoKeys(event.SourceIntercom)
	}
	for _, k := range kr.macs {
		m := k.get()
		m.h.Write(body)
		ok := hmac.Equal(m.h.Sum(m.sum[:0]), want[:])
		k.put(m)
		if ok {
			return nil
		}
	}
	return verifyErr(event.SourceIntercom, ErrNoMatchingSignature, "")
}

// VerifyIntercomAge checks the age of notification n, decoded from a body
// IntercomVerifier.Verify accepted. Intercom signs no timestamp header, but
// the body's created_at (first_sent_at when created_at is unset) is signed,
// so it bounds how long a captured delivery can be replayed once the dedupe
// store has forgotten its id: after its retention, after eviction, after a
// restart of an in-memory store. The notification must be at most maxAge
// old at now, and at most DefaultTolerance in the future (clock skew); one
// with neither timestamp is refused, since its age cannot be told. Intercom
// retries once, a minute after the first attempt, with the same created_at,
// so a window of hours never refuses a real delivery.
//
// Errors wrap ErrMessageTooOld or ErrMessageTooNew in a *VerifyError.
func VerifyIntercomAge(n *event.IntercomNotification, now time.Time, maxAge time.Duration) error {
	ts := n.CreatedAt
	if ts.IsZero() {
		ts = n.FirstSentAt
	}
	switch age := now.Sub(ts.Time); {
	case ts.IsZero():
		return verifyErr(event.SourceIntercom, ErrMessageTooOld, "notification has neither created_at nor first_sent_at")
	case age > maxAge:
		return verifyErr(event.SourceIntercom, ErrMessageTooOld, "notification older than the max age")
	case age < -DefaultTolerance:
		return verifyErr(event.SourceIntercom, ErrMessageTooNew, "notification created in the future")
	}
	return nil
}
