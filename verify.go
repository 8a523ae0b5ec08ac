package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"sync/atomic"
	"time"

	"github.com/inhook/webhook/event"
)

// DefaultTolerance is the default timestamp window, both into the past and
// into the future, that the Standard Webhooks specification recommends.
const DefaultTolerance = 5 * time.Minute

const (
	// maxSignatures caps the entries read from a signature header. Senders
	// send one per active key, two or three during rotation; a longer list
	// is rejected whatever it holds, and since each key's MAC is computed
	// once and only compared with the entries, it cannot multiply our work.
	maxSignatures = 10
	// maxIDLen bounds the message id, which is also a dedupe key.
	maxIDLen = 256
	// maxTimestampDigits admits every time until year 33658 and rules out
	// overflow without a check.
	maxTimestampDigits = 12
	// maxTokenLen bounds a Series token header before it is hashed.
	maxTokenLen = 4096
)

// Canonical header keys, so lookups index the map directly instead of
// canonicalising a key on every request.
const (
	headerWebhookID        = "Webhook-Id"
	headerWebhookTimestamp = "Webhook-Timestamp"
	headerWebhookSignature = "Webhook-Signature"
	headerSvixID           = "Svix-Id"
	headerSvixTimestamp    = "Svix-Timestamp"
	headerSvixSignature    = "Svix-Signature"
	headerHubSignature     = "X-Hub-Signature"
)

// A VerifyOption configures a Verifier. A nil VerifyOption is an error
// from the constructor given it.
type VerifyOption func(*verifyConfig)

type verifyConfig struct {
	tolerance time.Duration
	now       func() time.Time
	skipTime  bool
}

// WithTolerance sets how far a Standard Webhooks delivery's signed
// timestamp may be from the clock, in either direction (default
// DefaultTolerance). It must be positive; to switch the check off use
// InsecureSkipTimestampCheck. An Intercom notification's age is bounded by
// WithIntercomMaxAge instead, and its lead by DefaultTolerance whatever
// this is.
func WithTolerance(d time.Duration) VerifyOption {
	return func(c *verifyConfig) { c.tolerance = d }
}

// WithClock sets the clock the timestamp window is measured against, for
// tests that replay fixtures signed at a fixed time. The default is time.Now.
//
// Given to NewHandler, it is the handler's one clock, for all that the
// handler times by the clock: the timestamp window, the Intercom max age,
// the default dedupe store's leases and retention (it is the clock
// NewHandler gives NewMemoryStore), and in inbox mode the received times,
// the leases' ends and the retry schedule. One clock, so that a test that
// advances it sees all of them move together, never a delivery fresh by
// one clock and expired by another. A Deduper or an Inbox built by the
// caller keeps the clock it was built with (NewMemoryStore's and
// NewMemoryInbox's now parameter): give it the same one.
func WithClock(now func() time.Time) VerifyOption {
	return func(c *verifyConfig) { c.now = now }
}

// InsecureSkipTimestampCheck switches the timestamp window off, so a
// captured delivery verifies forever. Use it only to re-verify stored
// deliveries whose freshness was checked when they arrived.
func InsecureSkipTimestampCheck() VerifyOption {
	return func(c *verifyConfig) { c.skipTime = true }
}

func newVerifyConfig(opts []VerifyOption) (verifyConfig, error) {
	c := verifyConfig{tolerance: DefaultTolerance, now: time.Now}
	for i, o := range opts {
		if o == nil {
			return c, fmt.Errorf("webhook: verify option %d is nil", i)
		}
		o(&c)
	}
	if c.tolerance <= 0 {
		return c, errors.New("webhook: tolerance must be positive; use InsecureSkipTimestampCheck to switch the check off")
	}
	if c.now == nil {
		return c, errors.New("webhook: WithClock needs a non-nil clock")
	}
	return c, nil
}

// A Verifier checks Standard Webhooks signatures, as sent by Jam through
// Svix: v1 (HMAC-SHA256) and, when an ed25519 public key is configured,
// v1a. It is safe for concurrent use, including SetSecrets while verifying.
type Verifier struct {
	keys atomic.Pointer[keyring]
	cfg  verifyConfig
}

// NewVerifier returns a Verifier for one or more secrets, any of which may
// sign a delivery (key rotation). Each secret is a whsec_-prefixed or bare
// base64 HMAC key of at least 16 bytes, or a whpk_-prefixed base64 ed25519
// public key for v1a signatures; the base64 padding is optional.
//
// Secrets are used exactly as given, for every source: one with whitespace
// around it (a newline kept from a file, say) is refused with
// ErrInvalidSecret, not trimmed. So is a bare secret shaped like another
// credential: a UUID or a hex string (Intercom client secrets are such)
// or an Intercom access token.
func NewVerifier(secrets []string, opts ...VerifyOption) (*Verifier, error) {
	kr, err := parseStandardSecrets(secrets)
	if err != nil {
		return nil, err
	}
	return newVerifier(kr, opts)
}

// NewVerifierRaw returns a Verifier for one or more HMAC keys given as raw
// bytes (a whsec_ secret's base64, decoded), each of at least 16 bytes.
// Keys given this way are v1 only: ed25519 public keys go to NewVerifier
// as whpk_ strings.
func NewVerifierRaw(keys [][]byte, opts ...VerifyOption) (*Verifier, error) {
	kr, err := parseRawSecrets(kindStandard, sha256.New, keys)
	if err != nil {
		return nil, err
	}
	return newVerifier(kr, opts)
}

func newVerifier(kr *keyring, opts []VerifyOption) (*Verifier, error) {
	cfg, err := newVerifyConfig(opts)
	if err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg}
	v.keys.Store(kr)
	return v, nil
}

// SetSecrets replaces the verifier's keys, in the forms NewVerifier accepts.
// Requests already verifying finish with the keys they started with. On
// error the old keys stay in place.
func (v *Verifier) SetSecrets(secrets ...string) error {
	kr, err := parseStandardSecrets(secrets)
	if err != nil {
		return err
	}
	v.keys.Store(kr)
	return nil
}

// SetRawSecrets replaces the verifier's keys with raw HMAC keys, as
// NewVerifierRaw takes them. On error the old keys stay in place.
func (v *Verifier) SetRawSecrets(keys ...[]byte) error {
	kr, err := parseRawSecrets(kindStandard, sha256.New, keys)
	if err != nil {
		return err
	}
	v.keys.Store(kr)
	return nil
}

// Verify checks body against the signature headers in h, either the
// webhook-* set or the svix-* set, and returns the message id and the
// attempt's timestamp. The message id is stable across retries and
// replays: use it to deduplicate.
//
// Errors wrap ErrRequiredHeaders, ErrInvalidHeaders, ErrNoMatchingSignature,
// ErrMessageTooOld or ErrMessageTooNew in a *VerifyError.
func (v *Verifier) Verify(body []byte, h http.Header) (id string, ts time.Time, err error) {
	id, ts, _, err = v.verify(body, h, nil)
	return id, ts, err
}

// verify is Verify charging to b, when not nil, the copy of the message
// that v1a entries need, and returning how much it charged.
func (v *Verifier) verify(body []byte, h http.Header, b *memBudget) (id string, ts time.Time, held int64, err error) {
	kr := v.keys.Load()
	if kr == nil || v.cfg.now == nil { // a zero Verifier, SetSecrets or not
		return "", time.Time{}, 0, errNoKeys(event.SourceStandard)
	}
	id, tsRaw, sigs, err := standardHeaders(h)
	if err != nil {
		return "", time.Time{}, 0, err
	}
	sec, ok := parseUnix(tsRaw)
	if !ok {
		return "", time.Time{}, 0, verifyErr(event.SourceStandard, ErrInvalidHeaders, "timestamp is not canonical unix seconds")
	}
	if !v.cfg.skipTime {
		if err := v.cfg.checkWindow(sec); err != nil {
			return "", time.Time{}, 0, err
		}
	}
	if held, err = kr.verify(id, tsRaw, sigs, body, b); err != nil {
		return "", time.Time{}, held, err
	}
	return id, time.Unix(sec, 0), held, nil
}

// errNoKeys refuses a delivery at a verifier not built by its
// constructor, which holds no keys: it verifies nothing, and does not
// panic.
func errNoKeys(src event.Source) error {
	return verifyErr(src, ErrNoMatchingSignature, "verifier has no keys (not built by its constructor)")
}

// usable reports whether a verifier was built by its constructor.
func (v *Verifier) usable() bool         { return v.keys.Load() != nil && v.cfg.now != nil }
func (v *IntercomVerifier) usable() bool { return v.keys.Load() != nil }
func (v *SeriesVerifier) usable() bool   { return v.tokens.Load() != nil }

// A memBudget is memory that the requests of a Handler in progress share:
// their body buffers, and the message copies v1a verification needs.
type memBudget struct {
	held  atomic.Int64
	limit int64
}

// charge takes n bytes from the budget, and reports false, taking
// nothing, if that would pass the limit.
func (b *memBudget) charge(n int64) bool {
	if b.held.Add(n) > b.limit {
		b.held.Add(-n)
		return false
	}
	return true
}

// errMemBudget is what verification returns when the message copy for
// v1a does not fit in the budget.
var errMemBudget = errors.New("webhook: no memory budget left for the v1a message")

// checkWindow checks that the clock minus sec is within the tolerance
// either way, to the nanosecond, in integers: whole seconds first, which
// cannot overflow because sec has at most 12 digits, then nanoseconds only
// near the edge.
func (c *verifyConfig) checkWindow(sec int64) error {
	now := c.now()
	diff := now.Unix() - sec // now - ts, whole seconds
	tol := int64(c.tolerance / time.Second)
	switch {
	case diff > tol+1:
		return verifyErr(event.SourceStandard, ErrMessageTooOld, "")
	case diff < -tol-1:
		return verifyErr(event.SourceStandard, ErrMessageTooNew, "")
	case diff >= tol-1 || diff <= -tol+1:
		d := time.Duration(diff)*time.Second + time.Duration(now.Nanosecond())
		if d > c.tolerance {
			return verifyErr(event.SourceStandard, ErrMessageTooOld, "")
		}
		if d < -c.tolerance {
			return verifyErr(event.SourceStandard, ErrMessageTooNew, "")
		}
	}
	return nil
}

// verify checks the signature list against every key: one MAC per HMAC
// key, whose canonical text is compared with each v1 entry, then ed25519
// for v1a entries if public keys are configured. The list is only
// classified (malformed or merely unmatched) once nothing matched.
func (kr *keyring) verify(id, ts, sigs string, body []byte, b *memBudget) (held int64, err error) {
	for _, k := range kr.macs {
		m := k.get()
		p := append(m.content[:0], id...)
		p = append(p, '.')
		p = append(p, ts...)
		p = append(p, '.')
		if len(body) <= len(m.content)-len(p) {
			m.h.Write(append(p, body...))
		} else {
			m.h.Write(p)
			m.h.Write(body)
		}
		m.h.Sum(m.sum[:0])
		var text macText
		encodeMAC(&text, &m.sum)
		k.put(m)
		switch matchV1(sigs, &text) {
		case matched:
			return 0, nil
		case tooMany:
			return 0, errTooManySignatures()
		}
	}
	if len(kr.pubs) > 0 {
		res, held := kr.verifyV1a(id, ts, sigs, body, b)
		switch res {
		case matched:
			return held, nil
		case tooMany:
			return held, errTooManySignatures()
		case noMemory:
			return held, errMemBudget
		}
		return held, classifySignatures(sigs)
	}
	return 0, classifySignatures(sigs)
}

// nextEntry splits the first space-separated entry off a signature list.
func nextEntry(list string) (entry, rest string) {
	if i := strings.IndexByte(list, ' '); i >= 0 {
		return list[:i], list[i+1:]
	}
	return list, ""
}

type matchResult int

const (
	unmatched matchResult = iota
	matched
	tooMany
	noMemory
)

func errTooManySignatures() error {
	return verifyErr(event.SourceStandard, ErrInvalidHeaders, fmt.Sprintf("more than %d signatures", maxSignatures))
}

// matchV1 reports whether any v1 entry of the list is the MAC text t. A
// list of more than maxSignatures space-separated fields (empty ones
// included) is tooMany whatever it holds, so no list costs more than one
// MAC per key and a bounded scan.
func matchV1(sigs string, t *macText) matchResult {
	const v1Len = len("v1,") + len(macText{})
	for n := 1; n <= maxSignatures; n++ {
		entry, rest := nextEntry(sigs)
		if len(entry) == v1Len && entry[0] == 'v' && entry[1] == '1' && entry[2] == ',' && equalText(t, entry[3:]) {
			// The fields after a match still count: rest holds one
			// more than its spaces.
			if rest != "" && strings.Count(rest, " ") >= maxSignatures-n {
				return tooMany
			}
			return matched
		}
		if rest == "" {
			return unmatched
		}
		sigs = rest
	}
	return tooMany
}

// verifyV1a reports whether any v1a entry is an ed25519 signature of
// id.ts.body by a configured public key, and how much of b the message
// copy took.
//
// An ed25519 check costs about a thousand HMACs of a small body, and the
// entries are the sender's to choose, so only the first len(kr.pubs)+1
// well-formed v1a entries are tried, each with every key: at most
// k(k+1) checks for k keys, two with the usual one. A sender signs once
// per active key of its own, and during a rotation one of them may be a
// key the receiver does not have yet or any more; more entries than the
// receiver has keys plus that one cannot be needed.
//
// ed25519 needs the message in one piece, so it is assembled here, off the
// v1 path, once the first entry is found, and charged to b: a request
// holding a body of the largest size needs as much again for it.
func (kr *keyring) verifyV1a(id, ts, sigs string, body []byte, b *memBudget) (res matchResult, held int64) {
	var msg []byte
	n, tried := 0, 0
	for entry, rest := nextEntry(sigs); entry != "" || rest != ""; entry, rest = nextEntry(rest) {
		if n++; n > maxSignatures {
			return tooMany, held
		}
		value, ok := strings.CutPrefix(entry, "v1a,")
		var sig [ed25519.SignatureSize]byte
		if !ok || !decodeBase64(sig[:], value) {
			continue
		}
		if tried++; tried > len(kr.pubs)+1 {
			continue // still counted against maxSignatures
		}
		if msg == nil {
			size := len(id) + len(ts) + 2 + len(body)
			if b != nil {
				if !b.charge(int64(size)) {
					return noMemory, held
				}
				held = int64(size)
			}
			msg = make([]byte, 0, size)
			msg = append(append(append(append(append(msg, id...), '.'), ts...), '.'), body...)
		}
		for _, pub := range kr.pubs {
			if kr.ed25519Verify(pub, msg, sig[:]) {
				return matched, held
			}
		}
	}
	return unmatched, held
}

// ed25519Verify is ed25519.Verify, or the hook tests count checks with.
func (kr *keyring) ed25519Verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	if kr.edHook != nil {
		return kr.edHook(pub, msg, sig)
	}
	return ed25519.Verify(pub, msg, sig)
}

// classifySignatures explains a list that matched nothing: malformed
// (ErrInvalidHeaders) or well formed but signed by no configured key
// (ErrNoMatchingSignature). Unknown versions are skipped, not malformed.
func classifySignatures(sigs string) error {
	n := 0
	for entry, rest := nextEntry(sigs); entry != "" || rest != ""; entry, rest = nextEntry(rest) {
		if entry == "" {
			continue // doubled spaces
		}
		n++
		version, value, found := strings.Cut(entry, ",")
		var buf [ed25519.SignatureSize]byte
		switch {
		case !found || version == "" || value == "":
			return verifyErr(event.SourceStandard, ErrInvalidHeaders, "signature entry is not version,signature")
		case version == "v1" && !decodeBase64(buf[:sha256.Size], value):
			return verifyErr(event.SourceStandard, ErrInvalidHeaders, "v1 signature is not canonical base64 of 32 bytes")
		case version == "v1a" && !decodeBase64(buf[:], value):
			return verifyErr(event.SourceStandard, ErrInvalidHeaders, "v1a signature is not canonical base64 of 64 bytes")
		}
	}
	if n == 0 {
		return verifyErr(event.SourceStandard, ErrInvalidHeaders, "empty signature list")
	}
	return verifyErr(event.SourceStandard, ErrNoMatchingSignature, "")
}

// standardHeaders picks the webhook-* header set, or the svix-* set when
// webhook-* is incomplete. A set counts only when all three headers are
// present and non-empty; values are never combined across sets, and a
// repeated header is refused rather than guessed at.
func standardHeaders(h http.Header) (id, ts, sig string, err error) {
	// Fast path: one non-empty value in each webhook-* header.
	if wid, wts, wsig := h[headerWebhookID], h[headerWebhookTimestamp], h[headerWebhookSignature]; len(wid) == 1 && len(wts) == 1 && len(wsig) == 1 &&
		wid[0] != "" && wts[0] != "" && wsig[0] != "" && len(wid[0]) <= maxIDLen {
		return wid[0], wts[0], wsig[0], nil
	}
	id, ts, sig, n, repeated := headerSet(h, headerWebhookID, headerWebhookTimestamp, headerWebhookSignature)
	if n < 3 && !repeated {
		id, ts, sig, n, repeated = headerSet(h, headerSvixID, headerSvixTimestamp, headerSvixSignature)
	}
	switch {
	case repeated:
		return "", "", "", verifyErr(event.SourceStandard, ErrInvalidHeaders, "signature header repeated")
	case n < 3:
		return "", "", "", verifyErr(event.SourceStandard, ErrRequiredHeaders, "need webhook-id, webhook-timestamp and webhook-signature (or the svix-* set)")
	case len(id) > maxIDLen:
		return "", "", "", verifyErr(event.SourceStandard, ErrInvalidHeaders, "message id too long")
	}
	return id, ts, sig, nil
}

// headerSet reads three headers and counts those present and non-empty.
func headerSet(h http.Header, kid, kts, ksig string) (id, ts, sig string, n int, repeated bool) {
	for _, f := range [...]struct {
		key string
		dst *string
	}{{kid, &id}, {kts, &ts}, {ksig, &sig}} {
		vs := h[f.key]
		if len(vs) > 1 {
			repeated = true
		}
		if len(vs) > 0 && vs[0] != "" {
			*f.dst = vs[0]
			n++
		}
	}
	return id, ts, sig, n, repeated
}

// parseUnix parses canonical unix seconds: ASCII digits only, no sign, no
// spaces, no leading zero. Canonical matters because the signed content is
// built from the header text: the reference library re-formats the number,
// so only canonical text signs the same bytes in both.
func parseUnix(s string) (int64, bool) {
	if s == "" || len(s) > maxTimestampDigits || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	if len(s) < 8 {
		return parseDigits(s)
	}
	// Timestamps until 2286 have ten digits: the last eight are parsed
	// as one word.
	hi, ok := parseDigits(s[:len(s)-8])
	lo, ok8 := parse8Digits(s[len(s)-8:])
	return hi*1e8 + lo, ok && ok8
}

// parseDigits parses ASCII digits, at most 18 of them; "" is 0.
func parseDigits(s string) (int64, bool) {
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parse8Digits parses exactly eight ASCII digits as one little-endian
// word, the first digit in the low byte: after a range check on every
// byte, three multiply-and-add steps fold neighbouring digits, pairs and
// quads together.
func parse8Digits(s string) (int64, bool) {
	_ = s[7]
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	const threes, highNibbles = 0x3030303030303030, 0xf0f0f0f0f0f0f0f0
	// A byte is a digit when its high nibble is 3 and adding 6 keeps it 3.
	if x&highNibbles != threes || (x+0x0606060606060606)&highNibbles != threes {
		return 0, false
	}
	x -= threes
	x = (x*10 + x>>8) & 0x00ff00ff00ff00ff
	x = (x*100 + x>>16) & 0x0000ffff0000ffff
	x = (x*10000 + x>>32) & 0xffffffff
	return int64(x), true
}

// An IntercomVerifier checks Intercom app webhooks: X-Hub-Signature is
// "sha1=" and the hex HMAC-SHA1 of the body keyed with the app's client
// secret. Intercom signs no timestamp, so deduplicate on the notification
// id to limit replay. It is safe for concurrent use.
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
	kr := v.keys.Load()
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

// A SeriesVerifier checks Intercom Series and Workflow webhooks, which are
// unsigned: the admin adds a custom header holding a shared token. It is
// safe for concurrent use.
type SeriesVerifier struct {
	header string
	tokens atomic.Pointer[[][sha256.Size]byte]
}

// NewSeriesVerifier returns a SeriesVerifier that accepts a request whose
// header carries any of tokens. Tokens must be at least 16 bytes, with no
// whitespace around them: HTTP strips it from header values, so such a
// token could never match, and it is refused rather than trimmed. For the
// same reason tokens over 4096 bytes, or holding a control character other
// than tab, are refused.
func NewSeriesVerifier(header string, tokens ...string) (*SeriesVerifier, error) {
	if header == "" || strings.ContainsAny(header, " \t\r\n:") {
		return nil, fmt.Errorf("webhook: Series header name %q is not a valid header name", header)
	}
	v := &SeriesVerifier{header: textproto.CanonicalMIMEHeaderKey(header)}
	if err := v.SetTokens(tokens...); err != nil {
		return nil, err
	}
	return v, nil
}

// Header returns the canonical name of the header that carries the token.
func (v *SeriesVerifier) Header() string { return v.header }

// SetTokens replaces the accepted tokens. On error the old ones stay.
func (v *SeriesVerifier) SetTokens(tokens ...string) error {
	if len(tokens) == 0 {
		return fmt.Errorf("webhook: no %ss: %w", kindSeries, ErrEmptySecret)
	}
	sums := make([][sha256.Size]byte, len(tokens))
	for i, t := range tokens {
		if t != "" {
			if err := checkSecretText(kindSeries, i, t); err != nil {
				return err
			}
		}
		if err := checkSecretLen(kindSeries, i, []byte(t)); err != nil {
			return err
		}
		if err := checkTokenCarried(i, t); err != nil {
			return err
		}
		sums[i] = sha256.Sum256([]byte(t))
	}
	v.tokens.Store(&sums)
	return nil
}

// checkTokenCarried refuses a token no request can deliver, which would
// refuse every delivery instead: one longer than Verify reads, or one
// holding a control character other than tab, which net/http refuses in a
// header value. The error says what, never the token.
func checkTokenCarried(i int, t string) error {
	if len(t) > maxTokenLen {
		return fmt.Errorf("webhook: %s %d is %d bytes, want at most %d: %w", kindSeries, i, len(t), maxTokenLen, ErrInvalidSecret)
	}
	for j := 0; j < len(t); j++ {
		if c := t[j]; c < ' ' && c != '\t' || c == 0x7f {
			return fmt.Errorf("webhook: %s %d holds a control character, which no HTTP header carries: %w", kindSeries, i, ErrInvalidSecret)
		}
	}
	return nil
}

// Verify checks the token header in h. Tokens are compared as SHA-256
// digests in constant time, so neither their content nor their length
// leaks through timing. Errors wrap ErrRequiredHeaders, ErrInvalidHeaders
// or ErrNoMatchingSignature.
func (v *SeriesVerifier) Verify(h http.Header) error {
	tokens := v.tokens.Load()
	if tokens == nil {
		return errNoKeys(event.SourceSeries)
	}
	vs := h[v.header]
	switch {
	case len(vs) == 0 || vs[0] == "":
		return verifyErr(event.SourceSeries, ErrRequiredHeaders, "need the "+v.header+" header")
	case len(vs) > 1:
		return verifyErr(event.SourceSeries, ErrInvalidHeaders, v.header+" repeated")
	case len(vs[0]) > maxTokenLen:
		return verifyErr(event.SourceSeries, ErrInvalidHeaders, v.header+" too long")
	}
	got := sha256.Sum256([]byte(vs[0]))
	match := 0
	for _, want := range *tokens {
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	if match != 1 {
		return verifyErr(event.SourceSeries, ErrNoMatchingSignature, "")
	}
	return nil
}
