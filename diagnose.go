package webhook

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/internal/jsonread"
)

// diagnoseHeaders fills what the headers say: for Standard Webhooks the
// unverified id and timestamp and the entries by version.
func (dg *Diagnosis) diagnoseHeaders(src event.Source, hd http.Header, now time.Time) {
	dg.ContentEncoding = clip(hd.Get("Content-Encoding"))
	switch src {
	case event.SourceStandard:
		id, ts, sigs, err := standardHeaders(hd)
		if err != nil {
			id, ts = firstOf(hd, headerWebhookID, headerSvixID), firstOf(hd, headerWebhookTimestamp, headerSvixTimestamp)
			sigs = ""
		}
		dg.MessageID = clip(id)
		if sec, ok := parseUnix(ts); ok {
			dg.Timestamp = time.Unix(sec, 0)
			dg.Skew = max(now.Sub(dg.Timestamp), -maxSkew).Round(time.Second)
		}
		n := 0
		for entry, rest := nextEntry(sigs); (entry != "" || rest != "") && n < maxSignatures; entry, rest = nextEntry(rest) {
			if entry == "" {
				continue
			}
			n++
			switch version, _, _ := strings.Cut(entry, ","); version {
			case "v1":
				dg.V1++
			case "v1a":
				dg.V1a++
			default:
				dg.OtherEntries++
			}
		}
	case event.SourceIntercom:
		dg.hubSignature = true
		if len(hd[headerHubSignature]) > 0 {
			dg.V1 = 1
		}
	}
}

// maxSkew bounds Skew, which time.Time.Sub saturates at the Duration
// limits: a timestamp that far off (twelve digits allow year 33658) reads
// as the longest whole-second skew, of the right sign, not a negative
// "behind" or a fraction of a second.
const maxSkew = time.Duration(1<<63-1) / time.Second * time.Second

func firstOf(hd http.Header, keys ...string) string {
	for _, k := range keys {
		if v := hd[k]; len(v) > 0 && v[0] != "" {
			return v[0]
		}
	}
	return ""
}

// clip bounds a header value copied into a diagnosis: the sender chooses
// it, and a log line should not carry kilobytes of it.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// diagnoseVerify explains a failed verification of body against keys kr.
func diagnoseVerify(src event.Source, r *http.Request, body []byte, kr *keyring, err error, now time.Time) *Diagnosis {
	dg := &Diagnosis{BodyLen: len(body), ContentLength: declaredLength(r)}
	dg.diagnoseHeaders(src, r.Header, now)
	if kr != nil && errors.Is(err, ErrNoMatchingSignature) {
		// Only then were the entries compared with the keys: a request
		// refused for its headers or its timestamp was refused before.
		dg.Keys, dg.PublicKeys = len(kr.macs), len(kr.pubs)
	}
	switch {
	case errors.Is(err, ErrMessageTooOld):
		dg.Hint, dg.Evidence = HintClockAhead, skewWords(dg.Skew)
	case errors.Is(err, ErrMessageTooNew):
		dg.Hint, dg.Evidence = HintClockBehind, skewWords(dg.Skew)
	case errors.Is(err, ErrNoMatchingSignature) && kr != nil && !(dg.V1 > 0 && dg.Keys > 0) && !(dg.V1a > 0 && dg.PublicKeys > 0):
		// No entry could have matched whatever the body: the sender
		// signs with a kind of key the handler lacks (a whpk_ public key
		// for v1a, a whsec_ secret for v1), or with a version it skips.
		dg.Hint, dg.Evidence = HintCheckSecret, "no signature entry of a version the configured keys verify: "+dg.triedWords()
	case errors.Is(err, ErrNoMatchingSignature):
		dg.Hint, dg.Evidence = bodyHint(dg, body)
	}
	return dg
}

// noteVerifierClock adds to a timestamp's evidence, reckoned by the clock of
// the Verifier that refused it, what the handler's clock says when the two
// disagree: a tenant's Verifier (WithKeyFunc) or one given to WithVerifier
// keeps the clock it was built with, and a test that gave only the handler
// WithClock(webhooktest.Time) would otherwise read "too old" beside a skew
// that is not the one that judged.
func (dg *Diagnosis) noteVerifierClock(handlerNow time.Time) {
	if dg.Hint != HintClockAhead && dg.Hint != HintClockBehind {
		return
	}
	hskew := max(handlerNow.Sub(dg.Timestamp), -maxSkew).Round(time.Second)
	if d := hskew - dg.Skew; d > -time.Second && d < time.Second {
		return
	}
	dg.Evidence = skewWords(dg.Skew) + ", by the Verifier's own clock; the handler's " +
		strings.Replace(skewWords(hskew), "clock", "clock (WithClock)", 1) + ": build the Verifier with the handler's WithClock"
}

// diagnoseRead explains a body that could not be read whole: one that
// ended before its Content-Length, or ran past it (a middleware replaced
// it and kept Request.ContentLength; reading stopped one byte past).
func diagnoseRead(src event.Source, r *http.Request, err error, now time.Time) *Diagnosis {
	var sb *shortBodyError
	switch {
	case errors.Is(err, errLongerThanDeclared):
		dg := &Diagnosis{BodyLen: int(r.ContentLength + 1), ContentLength: r.ContentLength}
		dg.diagnoseHeaders(src, r.Header, now)
		dg.Hint, dg.Evidence = HintLengthMismatch, "the body runs past its Content-Length "+strconv.FormatInt(r.ContentLength, 10)
		return dg
	case !errors.As(err, &sb):
		return nil
	}
	dg := &Diagnosis{BodyLen: int(sb.got), ContentLength: sb.declared}
	dg.diagnoseHeaders(src, r.Header, now)
	if sb.got == 0 {
		dg.Hint, dg.Evidence = HintEmptyBody, "no body bytes, Content-Length "+strconv.FormatInt(sb.declared, 10)
	} else {
		dg.Hint, dg.Evidence = HintLengthMismatch, lengthWords(sb.got, sb.declared)
	}
	return dg
}

// diagnoseAge explains an Intercom notification n refused for its age
// (err, from VerifyIntercomAge) by how far its created_at, or its
// first_sent_at when unset, is from the clock. That time is signed, but
// only words about it go into the evidence; a notification with neither
// has no hint, its error saying so.
func diagnoseAge(r *http.Request, n *event.IntercomNotification, maxAge time.Duration, err error, now time.Time) *Diagnosis {
	dg := diagnoseNotification(r, n, now)
	name, ts := "created_at", n.CreatedAt
	if ts.IsZero() {
		name, ts = "first_sent_at", n.FirstSentAt
	}
	if ts.IsZero() {
		return dg
	}
	age := max(min(now.Sub(ts.Time), maxSkew), -maxSkew)
	switch {
	case errors.Is(err, ErrMessageTooOld):
		dg.Hint, dg.Evidence = HintClockAhead, name+" "+shortDuration(age)+" ago by this clock, past the max age "+shortDuration(maxAge)
	case errors.Is(err, ErrMessageTooNew):
		dg.Hint, dg.Evidence = HintClockBehind, name+" "+shortDuration(-age)+" ahead of this clock, past the "+shortDuration(DefaultTolerance)+" allowed"
	}
	return dg
}

// diagnoseNotification is what the request shows of a verified Intercom
// notification, before the evidence of why it was refused.
func diagnoseNotification(r *http.Request, n *event.IntercomNotification, now time.Time) *Diagnosis {
	dg := &Diagnosis{BodyLen: len(n.RawJSON()), ContentLength: declaredLength(r)}
	dg.diagnoseHeaders(event.SourceIntercom, r.Header, now)
	return dg
}

// diagnoseIDLen explains a notification refused for an id over maxIDLen:
// Intercom's are a few dozen bytes, so whoever signed it was not Intercom.
// Only the id's length goes into the evidence.
func diagnoseIDLen(r *http.Request, n *event.IntercomNotification, now time.Time) *Diagnosis {
	dg := diagnoseNotification(r, n, now)
	dg.Hint, dg.Evidence = HintCraftedBody, "id "+strconv.Itoa(len(n.ID))+" bytes long, past the "+strconv.Itoa(maxIDLen)+" allowed"
	return dg
}

// diagnoseAppID explains a notification refused because it decodes to
// another app_id than the one its keys were chosen by: the lookup read
// the exact top-level key, encoding/json reads the last of any case, its
// escapes resolved. Intercom writes the one key, so the body was signed by
// someone else holding the tenant's key. The evidence counts the body's
// app_id keys; their values, body bytes, stay out of it.
func diagnoseAppID(r *http.Request, n *event.IntercomNotification, now time.Time) *Diagnosis {
	dg := diagnoseNotification(r, n, now)
	exact, other := 0, 0
	rd := &jsonread.Reader{B: n.RawJSON()}
	rd.Object(func(key []byte) bool {
		switch {
		case string(key) == "app_id":
			exact++
		case strings.EqualFold(jsonread.DecodeString(key), "app_id"):
			other++
		}
		return rd.Skip(1)
	})
	keys := strconv.Itoa(exact+other) + " top-level app_id keys, " + strconv.Itoa(other) + " in another case or escaped"
	if exact+other == 1 {
		keys = "1 top-level app_id key, in another case or escaped"
	}
	chosen := "the keys were chosen by the exact one, the notification decodes to the last in any case"
	if exact == 0 {
		chosen = "the keys were chosen with no app_id, the notification decodes to one"
	}
	dg.Hint, dg.Evidence = HintCraftedBody, keys+": "+chosen
	return dg
}

// diagnoseSeries explains a Series request whose token header did not
// verify. Its body was not read.
func diagnoseSeries(v *SeriesVerifier, r *http.Request, err error) *Diagnosis {
	dg := &Diagnosis{BodyLen: -1, ContentLength: declaredLength(r), ContentEncoding: clip(r.Header.Get("Content-Encoding"))}
	if errors.Is(err, ErrNoMatchingSignature) {
		dg.Hint, dg.Evidence = HintCheckSecret, "the "+v.Header()+" header holds none of the configured tokens"
	}
	return dg
}

// declaredLength is the length r declared: its Content-Length header,
// read here, as a middleware that replaced the body may have set
// Request.ContentLength to match, but seldom the header; else
// Request.ContentLength.
func declaredLength(r *http.Request) int64 {
	if v := r.Header["Content-Length"]; len(v) == 1 {
		if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n >= 0 {
			return n
		}
	}
	return r.ContentLength
}

// bodyHint picks the hint for a body that matched no signature, from the
// most telling evidence down. Each test is of the request alone; when none
// holds, the body looks as sent and the key is the likeliest difference.
func bodyHint(dg *Diagnosis, body []byte) (Hint, string) {
	switch {
	case dg.ContentEncoding != "" && !strings.EqualFold(dg.ContentEncoding, "identity"):
		return HintCompressed, "Content-Encoding " + dg.ContentEncoding
	case bytes.HasPrefix(body, []byte{0x1f, 0x8b}):
		return HintCompressed, "the body starts with the gzip magic bytes"
	case len(body) >= 2 && body[0] == 0x78 && (body[1] == 0x01 || body[1] == 0x9c || body[1] == 0xda):
		return HintCompressed, "the body starts as zlib data does"
	case len(body) == 0 && dg.ContentLength > 0:
		return HintEmptyBody, "no body bytes, Content-Length " + strconv.FormatInt(dg.ContentLength, 10)
	case len(body) == 0:
		return HintEmptyBody, "no body bytes"
	}
	json := validJSON(body)
	mismatch := dg.ContentLength >= 0 && dg.ContentLength != int64(len(body))
	if marks := reencodeMarks(body, mismatch); json && marks != "" {
		if mismatch {
			marks += "; " + lengthWords(int64(len(body)), dg.ContentLength)
		}
		return HintReencoded, marks
	}
	switch {
	case mismatch:
		return HintLengthMismatch, lengthWords(int64(len(body)), dg.ContentLength)
	case !json:
		return HintNotJSON, "the body does not parse as JSON"
	}
	return HintCheckSecret, "the body is JSON of the declared length, not compressed, without marks of a re-encoding"
}

func validJSON(b []byte) bool {
	r := &jsonread.Reader{B: b}
	return r.Skip(0) && r.End()
}

// reencodeMarks lists the marks of a re-encoding in a JSON body: its
// object keys in byte order at the top level (a map re-marshalled: the
// senders write their fields in their own order), Go's escapes of <, >
// and &, and, when the body is not of its declared length (resized),
// Python's json.dumps spacing on a single line: a sender may write that
// spacing itself (the Jam fixtures have it), so alone it marks nothing.
// A line break after the document is no mark: json.Encoder writes one,
// but so does a body saved to a file and sent again.
func reencodeMarks(b []byte, resized bool) string {
	var marks []string
	if sortedTopKeys(b) {
		marks = append(marks, "top-level keys in sorted order, as a re-marshalled map has")
	}
	if bytes.Contains(b, []byte(`\u003c`)) || bytes.Contains(b, []byte(`\u003e`)) || bytes.Contains(b, []byte(`\u0026`)) {
		marks = append(marks, `<, > or & escaped as \u003c, \u003e, \u0026, as Go's encoding/json does`)
	}
	if resized && !bytes.Contains(b, []byte("\n")) && bytes.Contains(b, []byte(`", "`)) && bytes.Contains(b, []byte(`": `)) {
		marks = append(marks, `", " and ": " on one line, as Python's json.dumps writes`)
	}
	return strings.Join(marks, "; ")
}

// sortedTopKeys reports whether the top-level object has at least four
// keys and they are in byte order.
func sortedTopKeys(b []byte) bool {
	r := &jsonread.Reader{B: b}
	var prev []byte
	n, sorted := 0, true
	ok := r.Object(func(key []byte) bool {
		if n > 0 && bytes.Compare(prev, key) > 0 {
			sorted = false
		}
		prev = key
		n++
		return r.Skip(1)
	})
	return ok && sorted && n >= 4
}
