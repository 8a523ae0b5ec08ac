package webhook

import (
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// A Diagnosis is what the handler could tell about a delivery it could not
// verify or read: the evidence for finding it in the sender's portal and
// for telling a wrong key from a body changed on the way (by middleware,
// a proxy, a re-encoding). The handler logs it and hands it to OnError in
// HandlerError.Diagnosis, never to the sender. Nothing in it is verified
// but what it says of a verified Intercom notification refused all the
// same (for its age, its id's length or its app_id), and nothing in it is
// key material, a token, a MAC, a received signature or the body.
type Diagnosis struct {
	// MessageID is the webhook-id (or svix-id) header as received,
	// unverified: anyone could have sent it. Empty for Intercom, whose
	// notification id is inside the body.
	MessageID string
	// Timestamp is the webhook-timestamp (or svix-timestamp) header,
	// unverified; zero when absent or malformed.
	Timestamp time.Time
	// Skew is the local clock minus Timestamp: positive when this clock
	// is ahead of the sender's. Zero when Timestamp is.
	Skew time.Duration
	// BodyLen is how many body bytes were read; -1 when the request was
	// refused before its body was read. A body that runs past its
	// Content-Length is read to one byte past it.
	BodyLen int
	// ContentLength is the length the request declared (its
	// Content-Length header), -1 when it declared none.
	ContentLength int64
	// ContentEncoding is the Content-Encoding header, when present.
	ContentEncoding string
	// V1, V1a and OtherEntries count the signature entries received, by
	// version: Standard Webhooks v1 (HMAC) and v1a (ed25519), and other
	// versions, which are skipped. An Intercom X-Hub-Signature counts as
	// one V1 entry.
	V1, V1a, OtherEntries int
	// Keys and PublicKeys count the keys the entries were tried against,
	// when none matched (ErrNoMatchingSignature): HMAC keys (Standard
	// Webhooks secrets or Intercom client secrets) and ed25519 public
	// keys. Both are zero when the request was refused before its
	// entries were compared (for its headers or its timestamp), or after
	// one matched (an Intercom notification refused for its age, its id
	// or its app_id).
	Keys, PublicKeys int
	// Hint is the likeliest cause the evidence shows, or HintNone.
	Hint Hint
	// Evidence says, in a few words, what the hint rests on.
	Evidence string

	// hubSignature marks an Intercom request's diagnosis, whose one
	// entry (V1) is an X-Hub-Signature: the log line names it so.
	hubSignature bool
}

// A Hint names the likeliest cause of a rejection, chosen from evidence in
// the request only. The README's "Troubleshooting: no matching signature"
// section gives the fix for each.
type Hint string

// The hints a Diagnosis can give.
const (
	// HintNone: the evidence points nowhere in particular.
	HintNone Hint = ""
	// HintCheckSecret: the body looks as the sender sends it (JSON, of
	// the declared length, not compressed), so the configured secret is
	// the likeliest difference: another endpoint's, another
	// environment's, or rotated by the sender. Or, whatever the body, no
	// signature entry is of a version the configured keys verify (v1a
	// entries and no whpk_ public key, v1 and no whsec_ secret, or only
	// versions the handler skips).
	HintCheckSecret Hint = "check_secret"
	// HintCompressed: the body is compressed (a Content-Encoding header,
	// or gzip or zlib bytes); senders sign the uncompressed bytes.
	HintCompressed Hint = "compressed"
	// HintEmptyBody: the body is empty, as when a middleware read it
	// before the handler did.
	HintEmptyBody Hint = "empty_body"
	// HintLengthMismatch: the body read is not as long as the request's
	// Content-Length header says.
	HintLengthMismatch Hint = "length_mismatch"
	// HintReencoded: the body's JSON shows marks of a re-encoding
	// (sorted keys, Go's \u003c escapes, Python's spacing), which changes
	// the signed bytes.
	HintReencoded Hint = "reencoded"
	// HintNotJSON: the body is not JSON, which no sender of these sources
	// sends: something replaced it.
	HintNotJSON Hint = "not_json"
	// HintClockAhead: the timestamp is older than the window by the local
	// clock, or an Intercom notification's created_at older than the max
	// age: this clock runs ahead of the sender's, or the delivery is an
	// old capture replayed.
	HintClockAhead Hint = "clock_ahead"
	// HintClockBehind: the timestamp (an Intercom notification's
	// created_at) is in the future by the local clock: this clock runs
	// behind the sender's.
	HintClockBehind Hint = "clock_behind"
	// HintSourceNotConfigured: the request carries the signature headers
	// of a source the handler has no keys for.
	HintSourceNotConfigured Hint = "source_not_configured"
	// HintNoKeys: the key function (WithKeyFunc) gave no keys for this
	// request's source: an unknown tenant, or a tenant without keys for it.
	HintNoKeys Hint = "no_keys"
	// HintCraftedBody: the body verified, but it is not one the sender
	// sends: an Intercom notification whose app_id key comes in another
	// case or escaped (so that it decodes to another app_id than the one
	// the key function chose its keys by), or whose id is longer than 256
	// bytes. Whoever signed it holds the key: a tool of the receiver's own
	// that signs test deliveries, or someone the key leaked to.
	HintCraftedBody Hint = "crafted_body"
)

// skewWords says how far the local clock is from the sender's.
func skewWords(skew time.Duration) string {
	switch {
	case skew > 0:
		return "clock " + shortDuration(skew) + " ahead of the sender"
	case skew < 0:
		return "clock " + shortDuration(-skew) + " behind the sender"
	}
	return "clock in step with the sender"
}

// shortDuration is d in whole seconds without zero trailing units:
// "10m", "1h30m", "45s".
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func lengthWords(got, declared int64) string {
	return "body " + strconv.FormatInt(got, 10) + " bytes, Content-Length " + strconv.FormatInt(declared, 10)
}

// entryWords counts the signature entries by version.
func (dg *Diagnosis) entryWords() string {
	if dg.hubSignature {
		return strconv.Itoa(dg.V1) + " X-Hub-Signature"
	}
	return strconv.Itoa(dg.V1) + " v1, " + strconv.Itoa(dg.V1a) + " v1a, " + strconv.Itoa(dg.OtherEntries) + " of other versions"
}

// triedWords says which entries were tried against which keys.
func (dg *Diagnosis) triedWords() string {
	if dg.hubSignature {
		return strconv.Itoa(dg.V1) + " X-Hub-Signature against " + strconv.Itoa(dg.Keys) + " client secret(s)"
	}
	s := strconv.Itoa(dg.V1) + " v1 against " + strconv.Itoa(dg.Keys) + " HMAC key(s)"
	if dg.V1a > 0 || dg.PublicKeys > 0 {
		s += ", " + strconv.Itoa(dg.V1a) + " v1a against " + strconv.Itoa(dg.PublicKeys) + " public key(s)"
	}
	if dg.OtherEntries > 0 {
		s += ", " + strconv.Itoa(dg.OtherEntries) + " of other versions skipped"
	}
	return s
}

// attrs are the diagnosis as log attributes.
func (dg *Diagnosis) attrs(attrs []slog.Attr) []slog.Attr {
	if dg.MessageID != "" {
		attrs = append(attrs, slog.String("id_unverified", dg.MessageID))
	}
	if !dg.Timestamp.IsZero() {
		attrs = append(attrs, slog.Time("timestamp_unverified", dg.Timestamp), slog.String("skew", skewWords(dg.Skew)))
	}
	if dg.BodyLen >= 0 {
		attrs = append(attrs, slog.Int("body_len", dg.BodyLen))
	}
	attrs = append(attrs, slog.Int64("content_length", dg.ContentLength))
	if dg.ContentEncoding != "" {
		attrs = append(attrs, slog.String("content_encoding", dg.ContentEncoding))
	}
	switch {
	case dg.Keys+dg.PublicKeys > 0:
		attrs = append(attrs, slog.String("tried", dg.triedWords()))
	case dg.V1+dg.V1a+dg.OtherEntries > 0:
		// No key was counted: the request was refused before the
		// entries were compared, or after one matched.
		attrs = append(attrs, slog.String("entries", dg.entryWords()))
	}
	if dg.Hint != HintNone {
		attrs = append(attrs, slog.String("hint", string(dg.Hint)), slog.String("evidence", dg.Evidence))
	}
	return attrs
}
