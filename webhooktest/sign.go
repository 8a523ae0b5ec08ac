package webhooktest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// SignStandard returns a Standard Webhooks signature header value for
// body sent as message id at ts, both kinds over the same content,
// "id.ts.body":
//
//   - "v1,<base64 HMAC-SHA256>" for a whsec_ or bare base64 secret, padded
//     or not, as the verifiers take it;
//   - "v1a,<base64 ed25519 signature>" for a whsk_ signing key, whose
//     whpk_ public key verifies it (see SigningKey).
//
// A whsk_ key is standard base64, padded or not, of either form of an
// ed25519 private key: the 32-byte seed (RFC 8032's private key) or the
// 64 bytes of seed and public key (Go's ed25519.PrivateKey, libsodium's
// secret key), whose public half must be the seed's. Nothing else is
// taken: no URL alphabet, no stray bits in the last character, no other
// length, because a key mangled in copying would otherwise sign, and
// every delivery signed with it fail for a reason the test cannot see.
//
// Keys are taken exactly as given: no whitespace. A whpk_ key cannot
// sign and is refused. No error holds any of the key.
func SignStandard(secret, id string, ts time.Time, body []byte) (string, error) {
	if strings.HasPrefix(secret, "whpk_") {
		return "", errors.New("webhooktest: a whpk_ public key cannot sign; sign with its whsk_ signing key")
	}
	// Said apart from bad base64: a key read from a file or an echo
	// keeps its newline, and the handler's own error says so too.
	if strings.ContainsFunc(secret, unicode.IsSpace) {
		return "", errors.New("webhooktest: secret contains whitespace, which base64 never does; remove it")
	}
	if b64, ok := strings.CutPrefix(secret, "whsk_"); ok {
		priv, err := signingKey(b64)
		if err != nil {
			return "", err
		}
		return "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, signedContent(id, ts, body))), nil
	}
	b64 := strings.TrimPrefix(secret, "whsec_")
	enc := base64.StdEncoding
	if len(b64)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	key, err := enc.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return "", errors.New("webhooktest: secret is not whsec_ followed by base64")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// signedContent is what both versions sign: "id.ts.body". ed25519 takes
// its message in one piece, unlike an HMAC.
func signedContent(id string, ts time.Time, body []byte) []byte {
	b := make([]byte, 0, len(id)+len(body)+22)
	b = append(b, id...)
	b = append(b, '.')
	b = strconv.AppendInt(b, ts.Unix(), 10)
	b = append(b, '.')
	return append(b, body...)
}

// signingKey decodes the base64 of a whsk_ key as SignStandard's doc
// says.
func signingKey(b64 string) (ed25519.PrivateKey, error) {
	errNotKey := errors.New("webhooktest: whsk_ key is not base64 of a 32-byte ed25519 seed or a 64-byte private key (seed and public key)")
	// The decoders skip line breaks, which SignStandard has refused.
	enc := base64.StdEncoding.Strict()
	if len(b64)%4 != 0 {
		enc = base64.RawStdEncoding.Strict()
	}
	raw, err := enc.DecodeString(b64)
	if err != nil {
		return nil, errNotKey
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		priv := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
		// ed25519.Sign hashes the stored public half in: a wrong one
		// gives signatures no public key verifies.
		if !bytes.Equal(priv[ed25519.SeedSize:], raw[ed25519.SeedSize:]) {
			return nil, errors.New("webhooktest: whsk_ key's last 32 bytes are not the public key of its first 32")
		}
		return priv, nil
	}
	return nil, errNotKey
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

// StampIntercom returns a copy of body, an Intercom notification, with its
// top-level created_at and first_sent_at set to t in Unix seconds, as
// Intercom stamps a notification it sends: a receiver refuses notifications
// older than its max age (webhook.VerifyIntercomAge), so a fixture replayed
// later must be stamped anew, then signed. The keys are found as the
// handler's encoding/json finds them, in any case or escaped. Keys the
// body lacks are not added; a body that is not a JSON object is returned
// unchanged.
func StampIntercom(body []byte, t time.Time) []byte {
	at := strconv.AppendInt(nil, t.Unix(), 10)
	return setMembers(body, map[string][]byte{"created_at": at, "first_sent_at": at}, false)
}

// setIntercomID returns a copy of body, an Intercom notification, with
// its top-level id set to id, added first if it has none: WithID's
// message id, which Intercom keeps in the body. A body that is not a
// JSON object is returned unchanged.
func setIntercomID(body []byte, id string) []byte {
	v, _ := json.Marshal(id) // a string always encodes
	return setMembers(body, map[string][]byte{"id": v}, true)
}

// setMembers returns a copy of body, a JSON object, with the value of
// each top-level member named in vals replaced by its value there, byte
// for byte in place; with add, the named members the object lacks go
// first. A member is named as encoding/json, which decodes the body in
// the handler, matches it: in any case ("ID", "Created_At"), its escapes
// resolved. Any other body is returned unchanged.
func setMembers(body []byte, vals map[string][]byte, add bool) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return body
	}
	open := dec.InputOffset()
	type span struct {
		start, end int64
		val        []byte
	}
	var spans []span
	seen := map[string]bool{}
	members := 0
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return body
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return body
		}
		members++
		k, _ := key.(string)
		if name, ok := member(vals, k); ok {
			end := dec.InputOffset()
			spans = append(spans, span{end - int64(len(v)), end, vals[name]})
			seen[name] = true
		}
	}
	// The object must end, and nothing but space follow it: a body cut
	// short or followed by more is not one, and a test sending it means
	// those bytes.
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return body
	}
	if _, err := dec.Token(); err != io.EOF {
		return body
	}
	out := make([]byte, 0, len(body)+16)
	out = append(out, body[:open]...)
	if add {
		keys := make([]string, 0, len(vals))
		for k := range vals {
			if !seen[k] {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for i, k := range keys {
			out = strconv.AppendQuote(out, k) // the keys set here are ASCII names
			out = append(out, ':')
			out = append(out, vals[k]...)
			if i < len(keys)-1 || members > 0 {
				out = append(out, ',')
			}
		}
	}
	last := open
	for _, sp := range spans {
		out = append(out, body[last:sp.start]...)
		out = append(out, sp.val...)
		last = sp.end
	}
	return append(out, body[last:]...)
}

// member returns the name in vals that encoding/json decodes the member
// key into: the name itself, or else one equal to it under Unicode case
// folding (strings.EqualFold, as encoding/json folds names). Without it a
// body's "ID" would keep the value the handler reads while an "id" set
// beside it went unread.
func member(vals map[string][]byte, key string) (string, bool) {
	if _, ok := vals[key]; ok {
		return key, true
	}
	for name := range vals {
		if strings.EqualFold(name, key) {
			return name, true
		}
	}
	return "", false
}
