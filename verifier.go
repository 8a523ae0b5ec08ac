package webhook

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/inhook/webhook/event"
)

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
	id, ts, _, err = v.verify(v.keys.Load(), body, h, nil)
	return id, ts, err
}

// verify is Verify against keys kr, v's at some instant, taking with
// charge, when not nil, the memory for the copy of the message that v1a
// entries need, and returning how much it took. The handler loads kr once for the
// verification and its diagnosis, which a SetSecrets between two loads
// would set apart.
func (v *Verifier) verify(kr *keyring, body []byte, h http.Header, charge func(int64) bool) (id string, ts time.Time, held int64, err error) {
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
	if held, err = kr.verify(id, tsRaw, sigs, body, charge); err != nil {
		return "", time.Time{}, held, err
	}
	return id, time.Unix(sec, 0), held, nil
}

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
func (kr *keyring) verify(id, ts, sigs string, body []byte, charge func(int64) bool) (held int64, err error) {
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
		res, held := kr.verifyV1a(id, ts, sigs, body, charge)
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
// id.ts.body by a configured public key, and how much memory the message
// copy took with charge.
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
// v1 path, once the first entry is found, and charged: a request holding
// a body of the largest size needs as much again for it.
func (kr *keyring) verifyV1a(id, ts, sigs string, body []byte, charge func(int64) bool) (res matchResult, held int64) {
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
			if charge != nil {
				if !charge(int64(size)) {
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
