package main

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
)

// diagnose turns a rejection, and the handler's diagnosis of it
// (Rejection.Diagnosis) when there is one, into the reason and hint the
// page shows. It is the one place that reads the handler's account of a
// rejection.
func diagnose(rj webhook.Rejection, dg *webhook.Diagnosis, h http.Header, received time.Time) (reason, hint string) {
	reason = string(rj.Reason)
	if rj.Reason == webhook.ReasonCallback {
		return reason, "a callback failed: the sender will retry"
	}
	if dg != nil && dg.Hint != webhook.HintNone {
		hint = hintFixes[dg.Hint]
		if hint == "" {
			hint = string(dg.Hint)
		}
		if dg.Evidence != "" {
			hint += " (" + dg.Evidence + ")"
		}
		return reason, hint
	}
	src := event.SourceStandard
	if rj.Delivery != nil && rj.Delivery.Source != "" {
		src = rj.Delivery.Source
	}
	var ve *webhook.VerifyError
	if errors.As(rj.Err, &ve) || errors.Is(rj.Err, webhook.ErrNoMatchingSignature) {
		return reason, explain(src, rj.Err, h, clockAt{now: func() time.Time { return received }})
	}
	switch rj.Reason {
	case webhook.ReasonMediaType:
		hint = "the Content-Type is one this sender never sends"
	case webhook.ReasonBodyTooLarge:
		hint = "the body is larger than --max-body"
	case webhook.ReasonDecode:
		hint = "the signature verified but the body is not the event shape the sender's documentation gives"
	case webhook.ReasonMethod:
		hint = "senders POST; a browser's GET lands here too"
	}
	return reason, hint
}

// hintFixes says what to do about each of the handler's hints, as the
// README's "Troubleshooting: no matching signature" table does.
var hintFixes = map[webhook.Hint]string{
	webhook.HintCheckSecret:         "the secret is the likeliest difference: copy the endpoint's secret (Intercom: the app's client secret; Series: the Series token) again, check the environment, or configure both during a rotation",
	webhook.HintReencoded:           "the JSON was re-encoded on the way (a body parser or framework binding): mount the handler before it",
	webhook.HintEmptyBody:           "the body is empty: a middleware read it before the handler; mount the handler outside it",
	webhook.HintLengthMismatch:      "the body is not as long as Content-Length says: a middleware or proxy replaced or truncated it",
	webhook.HintCompressed:          "the body is compressed: senders sign the uncompressed bytes; turn (de)compression off for this route",
	webhook.HintNotJSON:             "the body is not JSON: something replaced it (an error page, a form); look at the proxies in front",
	webhook.HintClockAhead:          "the timestamp is older than the window: sync this clock (NTP), or this is an old capture replayed",
	webhook.HintClockBehind:         "the timestamp is in the future: sync this clock (NTP)",
	webhook.HintSourceNotConfigured: "the headers are of a source serve has no keys for: add its keys (--secret, --intercom-secret)",
	webhook.HintNoKeys:              "no keys for this request's source: an unknown tenant, or one without keys for it",
	webhook.HintCraftedBody:         "the signature matched, but on a body the sender never sends: if no tool of yours signs with this key, it has leaked; rotate it at the sender",
}

// evidence lists what a diagnosis found, for the detail view. None of it
// is verified, and none of it is key material.
func evidence(dg *webhook.Diagnosis) [][2]string {
	if dg == nil {
		return nil
	}
	var out [][2]string
	add := func(k, v string) { out = append(out, [2]string{k, v}) }
	if dg.MessageID != "" {
		add("message id (unverified)", shownName(dg.MessageID))
	}
	if !dg.Timestamp.IsZero() {
		w := "clock in step with the sender"
		switch {
		case dg.Skew > 0:
			w = "clock " + dg.Skew.String() + " ahead of the sender"
		case dg.Skew < 0:
			w = "clock " + (-dg.Skew).String() + " behind the sender"
		}
		add("timestamp (unverified)", dg.Timestamp.UTC().Format(time.RFC3339)+": "+w)
	}
	body := "not read"
	if dg.BodyLen >= 0 {
		body = strconv.Itoa(dg.BodyLen) + " bytes read"
	}
	if dg.ContentLength >= 0 {
		body += ", Content-Length " + strconv.FormatInt(dg.ContentLength, 10)
	} else {
		body += ", no Content-Length"
	}
	add("body", body)
	if dg.ContentEncoding != "" {
		add("Content-Encoding", printable(dg.ContentEncoding))
	}
	if n := dg.V1 + dg.V1a + dg.OtherEntries; n > 0 {
		e := fmt.Sprintf("%d v1, %d v1a, %d of other versions", dg.V1, dg.V1a, dg.OtherEntries)
		if dg.Keys+dg.PublicKeys > 0 {
			e += fmt.Sprintf("; tried against %d HMAC key(s), %d public key(s)", dg.Keys, dg.PublicKeys)
		}
		add("signature entries", e)
	}
	if dg.Hint != webhook.HintNone {
		add("hint", string(dg.Hint)) // the hint block above says what it rests on
	}
	return out
}

// A verdictStep is one check of the verification, as the detail view
// lists them: pass, fail, or skip (not reached, or not this sender's).
type verdictStep struct {
	Step   string `json:"step"`
	Result string `json:"result"`
	Detail string `json:"detail"`
}

// verdict re-runs the handler's checks on the recorded bytes, one at a
// time, with the arrival time as the clock, so the page can say which
// step failed and why.
func (in *inspector) verdict(rec *record, status int, reason string, duplicate bool) []verdictStep {
	var steps []verdictStep
	add := func(step, result, format string, args ...any) {
		steps = append(steps, verdictStep{step, result, fmt.Sprintf(format, args...)})
	}
	clock := clockAt{now: func() time.Time { return rec.Time }}
	src := event.Source(rec.Source)
	names := map[event.Source]string{
		event.SourceStandard: "Standard Webhooks (Jam)",
		event.SourceIntercom: "Intercom",
		event.SourceSeries:   "Intercom Series",
	}
	if src == "" {
		add("sender", "fail", "no signature headers of a configured source: expected webhook-id, webhook-timestamp and webhook-signature (or svix-*), X-Hub-Signature, or %s", in.keys.header())
		return append(steps, in.answered(status, reason, duplicate))
	}
	add("sender", "pass", "%s, from its headers", names[src])
	// refused names the check that refused a delivery whose signature
	// verified: the handler answered 401 all the same, but not because
	// the body is unverified.
	refused := ""
	if rec.Unkept {
		add("body", "skip", "%s: nothing to check again", unkeptNote)
		return append(steps, in.answered(status, reason, duplicate))
	}

	switch src {
	case event.SourceStandard:
		if len(in.keys.secrets) == 0 {
			add("key", "fail", "no Standard Webhooks secret is configured: the handler answers 401")
			break
		}
		v, err := webhook.NewVerifier(in.keys.secrets, webhook.InsecureSkipTimestampCheck())
		if err != nil {
			add("key", "fail", "%v", err)
			break
		}
		_, ts, err := v.Verify(rec.Body, rec.Header)
		switch {
		case errors.Is(err, webhook.ErrRequiredHeaders), errors.Is(err, webhook.ErrInvalidHeaders):
			add("headers", "fail", "%s", explain(src, err, rec.Header, clock))
			add("signature", "skip", "not checked")
			add("timestamp", "skip", "not checked")
		case err != nil:
			add("headers", "pass", "id, timestamp and %s present", countEntries(rec.Header))
			add("signature", "fail", "%s", explain(src, err, rec.Header, clock))
			add("timestamp", "skip", "a timestamp only counts once the signature covering it matches")
		default:
			add("headers", "pass", "id, timestamp and %s present", countEntries(rec.Header))
			add("signature", "pass", "matches a configured secret over id.timestamp.body (%d body bytes)", len(rec.Body))
			skew := rec.Time.Sub(ts)
			if skew < -in.lim.tolerance || skew > in.lim.tolerance {
				add("timestamp", "fail", "signed %s: outside the ±%s window (%s)", clock.age(ts), in.lim.tolerance, skewWords(skew))
				refused = "timestamp"
			} else {
				add("timestamp", "pass", "signed %s before arrival, inside the ±%s window", skew.Round(time.Millisecond), in.lim.tolerance)
			}
		}
	case event.SourceIntercom:
		if len(in.keys.intercom) == 0 {
			add("key", "fail", "no Intercom client secret is configured: the handler answers 401")
			break
		}
		v, err := webhook.NewIntercomVerifier(in.keys.intercom...)
		if err != nil {
			add("key", "fail", "%v", err)
			break
		}
		if err := v.Verify(rec.Body, rec.Header); err != nil {
			add("signature", "fail", "%s", explain(src, err, rec.Header, clock))
			add("age", "skip", "not checked")
			break
		}
		add("signature", "pass", "X-Hub-Signature (HMAC-SHA1 of the %d body bytes) matches a configured client secret", len(rec.Body))
		if ev, err := event.ParseFrom(src, rec.Body); err == nil {
			if n, ok := ev.(*event.IntercomNotification); ok {
				if err := webhook.VerifyIntercomAge(n, rec.Time, in.lim.intercomMaxAge); err != nil {
					add("age", "fail", "%s (the max age is %v)", explain(src, err, rec.Header, clock), in.lim.intercomMaxAge)
					refused = "age"
				} else {
					add("age", "pass", "created_at is inside the max age, %v (--intercom-max-age; Intercom signs no timestamp header)", in.lim.intercomMaxAge)
				}
			}
		}
	case event.SourceSeries:
		v, err := webhook.NewSeriesVerifier(in.keys.header(), in.keys.tokens...)
		if err != nil {
			add("key", "fail", "%v", err)
			break
		}
		if err := v.Verify(rec.Header); err != nil {
			add("token", "fail", "%s", explain(src, err, rec.Header, clock))
		} else {
			add("token", "pass", "the token in %s matches a configured token", v.Header())
		}
	}

	ev, err := decode(src, rec.Body, rec.Header)
	switch {
	case status == http.StatusUnauthorized && err == nil && refused != "":
		add("decode", "skip", "the signature verified, but its %s was refused, so nothing was delivered: the body would decode as %s", refused, describeType(ev))
	case status == http.StatusUnauthorized && err == nil:
		add("decode", "skip", "unverified, the body would decode as %s", describeType(ev))
	case err != nil:
		add("decode", "fail", "%v", err)
	case status == http.StatusBadRequest && reason == string(webhook.ReasonDecode):
		// The handler checks more of the event than decoding does (an
		// Intercom id no longer than a message id may be).
		add("decode", "fail", "decodes as %s, which the handler refuses: %s", describeType(ev), rec.Error)
	default:
		add("decode", "pass", "%s", describeType(ev))
	}
	return append(steps, in.answered(status, reason, duplicate))
}

// answered is the last step: what the handler did answer.
func (in *inspector) answered(status int, reason string, duplicate bool) verdictStep {
	s := verdictStep{Step: "answered", Result: "pass", Detail: strconv.Itoa(status) + " " + http.StatusText(status)}
	switch {
	case status/100 != 2:
		s.Result = "fail"
		if reason != "" {
			s.Detail += " (" + reason + ")"
		}
	case duplicate:
		s.Detail += ": a duplicate, acknowledged without running the callbacks again"
	}
	return s
}

// countEntries says how many signature entries of each version the
// Standard Webhooks signature header holds.
func countEntries(h http.Header) string {
	v := h.Get("Webhook-Signature")
	if v == "" {
		v = h.Get("Svix-Signature")
	}
	n := map[string]int{}
	var order []string
	for _, e := range strings.Fields(v) {
		ver, _, _ := strings.Cut(e, ",")
		if n[ver] == 0 {
			order = append(order, ver)
		}
		n[ver]++
	}
	var parts []string
	for _, ver := range order {
		parts = append(parts, fmt.Sprintf("%d %s", n[ver], ver))
	}
	if len(parts) == 0 {
		return "no signature entries"
	}
	return "signature entries: " + strings.Join(parts, ", ")
}

// skewWords says which clock is off: the sender signed at ts, this host
// received at ts+skew.
func skewWords(skew time.Duration) string {
	skew = skew.Round(time.Second)
	if skew > 0 {
		return "this clock is " + skew.String() + " ahead of the sender, or the delivery is a late replay"
	}
	return "this clock is " + (-skew).String() + " behind the sender"
}
