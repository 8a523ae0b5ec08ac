package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/event"
	"github.com/inhook/webhook/webhooktest"
)

const verifyUsage = `
Usage: webhook verify [flags] --body body.json --headers headers.txt
       webhook verify [flags] --request request.http

Checks a captured delivery against your keys and says why it passes or
fails. The headers file holds "Name: value" lines (what "webhook sign"
prints); a request file holds a raw HTTP request, as dumped by
httputil.DumpRequest or a proxy. "-" reads either from standard input.

The sender is picked from the headers as the handler picks it (webhook-* or
svix-* for Standard Webhooks, X-Hub-Signature for Intercom, the Series
header), unless --source names it. Standard Webhooks timestamps (against
--tolerance), and an Intercom notification's signed created_at (against
--intercom-max-age, by default a handler's, the dedupe retention), are
checked against the clock, as "webhook serve" given the same flags checks
them: use --now with the time the delivery arrived, or --skip-timestamp,
for old captures.

Keys come from the flags or from WEBHOOK_SECRET, INTERCOM_CLIENT_SECRET,
SERIES_TOKEN and SERIES_HEADER; --test-keys adds the public test keys that
"webhook sign" and "webhook send" sign with by default. Secrets and computed signatures are never
printed.
`

func runVerify(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("verify", verifyUsage, stderr)
	var keys keyFlags
	keys.register(fs, true)
	bodyFile := fs.String("body", "", "file holding the body, byte for byte")
	headersFile := fs.String("headers", "", `file holding the headers, "Name: value" per line`)
	requestFile := fs.String("request", "", "file holding a raw HTTP request (instead of --body and --headers)")
	source := fs.String("source", "", "sender: standard, intercom or series (default: from the headers)")
	now := fs.String("now", "", "check the timestamp window at this time, unix seconds or RFC 3339")
	skipTime := fs.Bool("skip-timestamp", false, "do not check the Standard Webhooks timestamp window, nor an Intercom notification's age")
	tolerance := fs.Duration("tolerance", webhook.DefaultTolerance, "timestamp window, each way")
	maxAge := intercomMaxAgeFlag(fs)
	testKeys := testKeysFlag(fs)
	given := args
	args, code, stop := parseFlags(fs, args)
	if stop {
		return code
	}
	switch {
	case len(args) > 0:
		return usageErr(stderr, "verify", "unexpected argument %s", argText(given, args[0]))
	case *requestFile != "" && (*bodyFile != "" || *headersFile != ""):
		return usageErr(stderr, "verify", "give --request, or --body and --headers, not both")
	case *requestFile == "" && (*bodyFile == "" || *headersFile == ""):
		return usageErr(stderr, "verify", "need --body and --headers, or --request")
	case *now != "" && *skipTime:
		return usageErr(stderr, "verify", "give --now or --skip-timestamp, not both")
	case *bodyFile == "-" && *headersFile == "-":
		return usageErr(stderr, "verify", "only one of --body and --headers can be standard input")
	case *tolerance <= 0:
		// The library's message names its option, not this flag.
		return usageErr(stderr, "verify", "--tolerance must be positive; --skip-timestamp turns the check off")
	}
	if err := checkIntercomMaxAge(*maxAge); err != nil {
		// serve refuses it too: there is no such handler to agree with.
		return usageErr(stderr, "verify", "%v", err)
	}
	if *source != "" {
		if _, err := parseSource(*source); err != nil {
			return usageErr(stderr, "verify", "%v", err)
		}
	}
	var nowAt time.Time
	if *now != "" {
		var err error
		if nowAt, err = parseWhen(*now); err != nil {
			return usageErr(stderr, "verify", "--now: %v", err)
		}
	}
	keys.fromEnv()
	if *testKeys {
		keys.addTestKeys()
	}
	if err := keys.check(false); err != nil {
		// Every key, as serve refuses every key, whichever source the
		// capture turns out to be.
		return usageErr(stderr, "verify", "%v", err)
	}

	var (
		body    []byte
		hdr     http.Header
		arrived time.Time // a capture's "# received:" line
		err     error
	)
	if *requestFile != "" {
		body, hdr, err = readRequest(*requestFile, stdin)
	} else {
		body, hdr, arrived, err = readBodyAndHeaders(*bodyFile, *headersFile, stdin)
	}
	if err != nil {
		fmt.Fprintf(stderr, "webhook verify: %v\n", err)
		return exitFail
	}

	src := event.Source(*source)
	if src == "" {
		src = detectSource(hdr, keys.header())
		if src == "" {
			fmt.Fprintf(stdout, "FAIL: no signature headers: expected webhook-id, webhook-timestamp and webhook-signature (or svix-*), X-Hub-Signature, or %s\n", keys.header())
			return exitFail
		}
	}

	// clock is the time every check and every printed age is measured
	// against: --now when given, so the output describes the capture as
	// it was at that time.
	clock := clockAt{now: time.Now, arrived: arrived}
	ageClock := time.Now // for an Intercom notification's age; nil to skip it
	opts := []webhook.VerifyOption{webhook.WithTolerance(*tolerance)}
	switch {
	case *skipTime:
		opts = append(opts, webhook.InsecureSkipTimestampCheck())
		ageClock = nil
	case *now != "":
		clock = clockAt{now: func() time.Time { return nowAt }, given: true}
		ageClock = clock.now
		opts = append(opts, webhook.WithClock(clock.now))
	}

	check, err := verifierFor(src, &keys, opts, ageClock, *maxAge)
	if err != nil {
		return usageErr(stderr, "verify", "%v", err)
	}
	detail, err := check(body, hdr)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL: %s\n", explain(src, err, hdr, clock))
		// A trailing newline is the usual difference between the bytes
		// sent and a body saved by an editor or a shell.
		if errors.Is(err, webhook.ErrNoMatchingSignature) && bytes.HasSuffix(body, []byte("\n")) {
			if _, err2 := check(bytes.TrimRight(body, "\r\n"), hdr); err2 == nil {
				fmt.Fprintln(stdout, "hint: the body verifies without its trailing newline; the file was probably saved with one the sender did not send")
			}
		}
		return exitFail
	}
	fmt.Fprintf(stdout, "OK: %s\n", detail)

	ev, err := decode(src, body, hdr)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL: verified, but not decodable (a handler answers 400): %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "event: %s\n", describeType(ev))
	for _, ferr := range fieldErrors(ev) {
		fmt.Fprintf(stdout, "warning: a field was left zero: %v\n", ferr)
	}
	return exitOK
}

// fieldErrors returns the fields an event left zero because their JSON
// type was unexpected. The errors name the field and the JSON kind, never
// the value.
func fieldErrors(e event.Event) []error {
	if fe, ok := e.(interface{ FieldErrors() []error }); ok {
		return fe.FieldErrors()
	}
	return nil
}

// describeType names an event's type for people.
func describeType(e event.Event) string {
	if _, ok := e.(*event.UnknownEvent); ok {
		if e.EventType() == "" {
			return "unknown (no type named; a handler acknowledges it and calls OnUnknown)"
		}
		return event.SafeName(e.EventType()) + " (unknown to this version; a handler acknowledges it and calls OnUnknown)"
	}
	return event.SafeName(e.EventType()) // an Intercom topic is the sender's too
}

func decode(src event.Source, body []byte, hdr http.Header) (event.Event, error) {
	if src == event.SourceSeries {
		s, err := event.ParseSeries(body, hdr.Get("Content-Type"))
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return event.ParseFrom(src, body)
}

// verifierFor returns a check for src built from keys; its result
// describes what verified, without any secret or MAC.
//
// For Intercom, whose signature covers no timestamp header, it also checks
// the notification's signed created_at against clock as a handler with
// the max age maxAge does, unless clock is nil.
func verifierFor(src event.Source, keys *keyFlags, opts []webhook.VerifyOption, clock func() time.Time, maxAge time.Duration) (func([]byte, http.Header) (string, error), error) {
	switch src {
	case event.SourceStandard:
		if len(keys.secrets) == 0 {
			return nil, fmt.Errorf("the headers are Standard Webhooks (Jam); give --secret or set %s", envSecret)
		}
		v, err := webhook.NewVerifier(keys.secrets, opts...)
		if err != nil {
			return nil, err
		}
		return func(body []byte, h http.Header) (string, error) {
			id, ts, err := v.Verify(body, h)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("Standard Webhooks signature matches a configured secret; message id %s, signed at %s", id, ts.UTC().Format(time.RFC3339)), nil
		}, nil
	case event.SourceIntercom:
		if len(keys.intercom) == 0 {
			return nil, fmt.Errorf("the headers are Intercom's; give --intercom-secret or set %s", envIntercom)
		}
		v, err := webhook.NewIntercomVerifier(keys.intercom...)
		if err != nil {
			return nil, err
		}
		return func(body []byte, h http.Header) (string, error) {
			if err := v.Verify(body, h); err != nil {
				return "", err
			}
			ev, err := event.ParseFrom(event.SourceIntercom, body)
			n, ok := ev.(*event.IntercomNotification)
			if err == nil && ok && clock != nil {
				if err := webhook.VerifyIntercomAge(n, clock(), maxAge); err != nil {
					return "", &intercomAgeError{err: err, n: n, maxAge: maxAge}
				}
			}
			return "Intercom X-Hub-Signature matches a configured client secret (Intercom signs no timestamp: its created_at bounds the age, and dedupe is on the notification id)", nil
		}, nil
	case event.SourceSeries:
		if len(keys.tokens) == 0 {
			return nil, fmt.Errorf("the headers are a Series webhook's; give --series-token or set %s", envSeriesToken)
		}
		v, err := webhook.NewSeriesVerifier(keys.header(), keys.tokens...)
		if err != nil {
			return nil, err
		}
		return func(_ []byte, h http.Header) (string, error) {
			if err := v.Verify(h); err != nil {
				return "", err
			}
			return "Series token in " + v.Header() + " matches a configured token", nil
		}, nil
	}
	return nil, fmt.Errorf("unknown source %q", src)
}

// detectSource picks the sender by the headers present, in the handler's
// order.
func detectSource(h http.Header, seriesHeader string) event.Source {
	for _, k := range []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature", "Svix-Id", "Svix-Timestamp", "Svix-Signature"} {
		if _, ok := h[k]; ok {
			return event.SourceStandard
		}
	}
	if _, ok := h["X-Hub-Signature"]; ok {
		return event.SourceIntercom
	}
	if _, ok := h[textproto.CanonicalMIMEHeaderKey(seriesHeader)]; ok {
		return event.SourceSeries
	}
	return ""
}

// explain turns a verification error into a sentence with the likely
// cause. It uses the error's sentinel and its Reason, which never hold a
// secret or a MAC.
func explain(src event.Source, err error, h http.Header, clock clockAt) string {
	reason := ""
	var ve *webhook.VerifyError
	if errors.As(err, &ve) && ve.Reason != "" {
		reason = " (" + ve.Reason + ")"
	}
	switch {
	case errors.Is(err, webhook.ErrRequiredHeaders):
		return "a required header is missing or empty" + reason
	case errors.Is(err, webhook.ErrInvalidHeaders):
		return "a signature header is malformed" + reason
	case src == event.SourceIntercom && errors.Is(err, webhook.ErrMessageTooOld):
		limit := "the max age (--intercom-max-age)"
		dated := "the notification's created_at"
		var ae *intercomAgeError
		if errors.As(err, &ae) {
			limit = "the max age (--intercom-max-age " + ae.maxAge.String() + ")"
			name, ts := ae.dated()
			if ts.IsZero() {
				return "the notification has neither created_at nor first_sent_at: its age cannot be told, so " + limit + " refuses it"
			}
			dated = "the notification's " + name + " (" + clock.age(ts) + ")"
		}
		return dated + " is older than " + limit + " allows" + reason +
			": a replay or an old capture (" + clock.nowAdvice() + ", or --skip-timestamp)"
	case src == event.SourceIntercom && errors.Is(err, webhook.ErrMessageTooNew):
		return "the notification's created_at is further in the future than the clock skew allows" + reason + ": check the clocks (or use --now)"
	case errors.Is(err, webhook.ErrMessageTooOld):
		return "the timestamp " + stamp(h, clock) + " is older than the window allows: a replay, a slow queue, or an old capture (" + clock.nowAdvice() + ", or --skip-timestamp)"
	case errors.Is(err, webhook.ErrMessageTooNew):
		return "the timestamp " + stamp(h, clock) + " is further in the future than the window allows: check the clocks (or use --now)"
	case errors.Is(err, webhook.ErrNoMatchingSignature):
		switch src {
		case event.SourceSeries:
			return "the token matches no configured token"
		case event.SourceIntercom:
			return "no configured client secret signed these bytes: a wrong secret (use the app's client secret), or a body changed after it was sent (re-encoded JSON, changed whitespace or line endings)"
		}
		return "no configured secret signed these bytes: a wrong secret (each endpoint has its own whsec_), or a body changed after it was sent (re-encoded JSON, changed whitespace or line endings)"
	}
	return err.Error()
}

// intercomAgeError is a notification's refusal for its age, with what
// explain needs to say how old it was and the max age it was held to:
// its signed timestamps and the flag's value, never its body.
type intercomAgeError struct {
	err    error
	n      *event.IntercomNotification
	maxAge time.Duration
}

func (e *intercomAgeError) Error() string { return e.err.Error() }
func (e *intercomAgeError) Unwrap() error { return e.err }

// dated names the timestamp the age was measured from, as
// VerifyIntercomAge picks it, and its time; zero if there is none.
func (e *intercomAgeError) dated() (string, time.Time) {
	if !e.n.CreatedAt.IsZero() {
		return "created_at", e.n.CreatedAt.Time
	}
	return "first_sent_at", e.n.FirstSentAt.Time
}

// clockAt is the reference time of a verify run: the real clock, or the
// fixed time --now gave.
type clockAt struct {
	now     func() time.Time
	given   bool      // from --now
	arrived time.Time // when a capture arrived, by its headers file; zero if unknown
}

// nowAdvice is what to give --now to judge a capture at its arrival:
// the time its headers file records, when it does.
func (c clockAt) nowAdvice() string {
	if c.arrived.IsZero() {
		return "use --now with the arrival time"
	}
	return "use --now " + c.arrived.UTC().Format(time.RFC3339Nano) + ", the arrival its headers file records"
}

// age says how far t is from the reference time, in words: "10m0s ago"
// or "10m0s ahead", and "before --now" or "after --now" when --now set it.
func (c clockAt) age(t time.Time) string {
	d := c.now().Sub(t).Round(time.Second)
	switch {
	case c.given && d >= 0:
		return d.String() + " before --now"
	case c.given:
		return (-d).String() + " after --now"
	case d >= 0:
		return d.String() + " ago"
	}
	return (-d).String() + " ahead of this clock"
}

// stamp describes the Standard Webhooks timestamp header against clock.
func stamp(h http.Header, clock clockAt) string {
	v := h.Get("Webhook-Timestamp")
	if v == "" {
		v = h.Get("Svix-Timestamp")
	}
	if t, err := parseWhen(v); err == nil {
		return fmt.Sprintf("%s (%s, %s)", v, t.UTC().Format(time.RFC3339), clock.age(t))
	}
	return v
}

// readRequest reads a raw HTTP request dump. Without Content-Length or
// Transfer-Encoding, everything after the header is the body.
func readRequest(name string, stdin io.Reader) ([]byte, http.Header, error) {
	raw, err := readInput("request", name, stdin)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	req, err := http.ReadRequest(br)
	if err != nil {
		// Not err, which quotes the line it refused.
		return nil, nil, fmt.Errorf("%s is not an HTTP request: %s", name, requestFault(raw))
	}
	if req.Header.Get("Content-Length") == "" && len(req.TransferEncoding) == 0 {
		// httputil.DumpRequest and some proxies leave Content-Length
		// out; then the body is the rest of the dump.
		req.Body = io.NopCloser(br)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: reading the body: %v", name, err)
	}
	if len(req.Header) == 0 {
		return nil, nil, fmt.Errorf("%s holds no headers: the request line is followed by a blank line", name)
	}
	return body, req.Header, nil
}

// readBodyAndHeaders reads the two files, and the arrival a capture's
// headers file records on its "# received:" line (zero if none parses).
func readBodyAndHeaders(bodyName, headersName string, stdin io.Reader) ([]byte, http.Header, time.Time, error) {
	body, err := readInput("body", bodyName, stdin)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	raw, err := readInput("headers", headersName, stdin)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	var arrived time.Time
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "# received:"); ok {
			arrived, _ = time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
		}
	}
	h, err := webhooktest.ParseHeaders(raw)
	switch {
	case len(h) == 0 && looksLikeBody(raw):
		return nil, nil, time.Time{}, fmt.Errorf("%s holds no headers: it looks like a JSON body (are --body and --headers swapped?)", headersName)
	case err != nil:
		return nil, nil, time.Time{}, fmt.Errorf("%s: %v", headersName, err)
	case len(h) == 0:
		return nil, nil, time.Time{}, fmt.Errorf(`%s holds no headers: expected "Name: value" lines, as "webhook sign" prints`, headersName)
	}
	return body, h, arrived, nil
}

// looksLikeBody reports whether raw starts as a JSON object or array.
func looksLikeBody(raw []byte) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && (raw[0] == '{' || raw[0] == '[')
}

// readInput reads the file name, or stdin for "-", that the flag
// --flag names; an error names the flag.
func readInput(flag, name string, stdin io.Reader) ([]byte, error) {
	var b []byte
	var err error
	if name == "-" {
		b, err = io.ReadAll(stdin)
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	return b, nil
}

// requestFault says which line of raw, a request dump http.ReadRequest
// refused, is at fault, without quoting it as ReadRequest's errors do: a
// request line may carry a credential in its query, a header line a
// signature, and a body given as --request by mistake is a body.
func requestFault(raw []byte) string {
	for i, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if i == 0 {
			parts := strings.Split(line, " ")
			if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
				return "line 1 is not a request line (METHOD TARGET HTTP/1.1)"
			}
			if _, _, ok := http.ParseHTTPVersion(parts[2]); !ok {
				return "line 1 is not a request line (METHOD TARGET HTTP/1.1)"
			}
			continue
		}
		if line == "" {
			break
		}
		if name, _, ok := strings.Cut(line, ":"); !ok || name == "" || strings.ContainsAny(name, " \t") {
			return fmt.Sprintf("line %d is not \"Name: value\"", i+1)
		}
	}
	return "its request line or headers do not parse (the line at fault is not shown: it may hold a credential)"
}
