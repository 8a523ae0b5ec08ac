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
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
)

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
	// The object must end, and nothing but space follow it: a body cut
	// short or followed by more is not one, and a test sending it means
	// those bytes.
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return body
	}
	if _, err := dec.Token(); err != io.EOF {
		return body
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
