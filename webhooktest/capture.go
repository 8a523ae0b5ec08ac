package webhooktest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// A Capture is a real delivery saved by the inspector of "webhook serve
// --inspect" (its "save as fixture" action): the body, byte for byte, in
// a file laid out as this package's fixtures are (jam/, intercom/,
// series/), and beside it a ".headers" file of "Name: value" lines
// holding the headers that verification reads.
type Capture struct {
	// Name is the body's file name, such as "jam/jam.created.msg_….json".
	Name string
	// Method is the delivery's method, from the headers file's
	// "# captured by webhook serve --inspect: PUT /path, …" line: a
	// Series block can send PUT. Empty if the line is absent.
	Method string
	// Target is the path the delivery came to, escaped as it arrived
	// (but for a path starting "//", saved as "/%2F…": the same path once
	// decoded, which no reader takes for a host), from the same line: Request sends the capture there, so a test's
	// router routes it as the receiver's did. The inspector leaves the
	// query out, where an endpoint may carry a credential of its own: a
	// test sets Target to a path and query of its own before Request, to
	// send it elsewhere. Empty if the line is absent, and Request then
	// sends it to DefaultTarget.
	Target string
	// Header holds the saved headers.
	Header http.Header
	// Body is the body as received.
	Body []byte
	// Received is when the delivery arrived, from the headers file's
	// "# received:" line: set a handler's clock to it (webhook.WithClock)
	// so a capture's timestamp stays inside the window. Zero if absent.
	Received time.Time
}

// ReadCapture reads the capture name from fsys (os.DirFS of the
// directory given to --fixtures, say): the body file name and the
// ".headers" file that replaces its extension. Naming the ".headers" file
// is an error that names the body.
func ReadCapture(fsys fs.FS, name string) (*Capture, error) {
	name = path.Clean(name)
	if path.Ext(name) == ".headers" {
		// Read as a body, the headers file would be sent as one, and the
		// handler under test refuse it for a reason far from the cause.
		msg := "webhooktest: " + name + " is a capture's headers file: name its body"
		stem := strings.TrimSuffix(name, ".headers")
		for _, ext := range []string{".json", ".form"} {
			if _, err := fs.Stat(fsys, stem+ext); err == nil {
				msg += ", " + stem + ext
				break
			}
		}
		return nil, errors.New(msg)
	}
	body, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	hname := strings.TrimSuffix(name, path.Ext(name)) + ".headers"
	raw, err := fs.ReadFile(fsys, hname)
	if err != nil {
		return nil, err
	}
	c := &Capture{Name: name, Body: body}
	for i, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimRight(line, "\r")
		if v, ok := strings.CutPrefix(line, "# received:"); ok {
			if c.Received, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(v)); err != nil {
				return nil, fmt.Errorf("webhooktest: %s line %d: %v", hname, i+1, err)
			}
		}
		if v, ok := strings.CutPrefix(line, capturedBy); ok {
			// A method is a token (RFC 9110); anything else would make
			// Request panic in httptest.NewRequest.
			var rest string
			if c.Method, rest, _ = strings.Cut(strings.TrimSpace(v), " "); !headerName(c.Method) {
				return nil, fmt.Errorf("webhooktest: %s line %d: no method after %q", hname, i+1, capturedBy)
			}
			if c.Target, err = capturedTarget(rest); err != nil {
				return nil, fmt.Errorf("webhooktest: %s line %d: %v", hname, i+1, err)
			}
		}
	}
	if c.Header, err = ParseHeaders(raw); err != nil {
		return nil, fmt.Errorf("webhooktest: %s: %v", hname, err)
	}
	return c, nil
}

// capturedBy starts the line on which the inspector writes how a
// delivery came: "# captured by webhook serve --inspect: PUT /hook,
// answered 200".
const capturedBy = "# captured by webhook serve --inspect:"

// capturedTarget returns the path in rest, what follows the method on
// the captured line: "/hook?…, answered 200". An escaped path holds no
// space; the inspector writes a query it left out as "?…". A line that
// names no target gives "".
func capturedTarget(rest string) (string, error) {
	target, _, _ := strings.Cut(rest, " ")
	if target == "" {
		return "", nil
	}
	target = strings.TrimSuffix(target, ",")
	target, _, _ = strings.Cut(target, "?")
	// Anything else would make Request panic in httptest.NewRequest, or
	// send the capture to a host of its own.
	if u, err := url.ParseRequestURI(target); err != nil || !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") || u.Host != "" {
		return "", errors.New("the request target is not a path")
	}
	return target, nil
}

// Request returns a request to Target, or DefaultTarget if it is empty,
// carrying the capture's body and headers, as it arrived, with its
// Method, or POST if it has none.
// Its signature is the sender's: the handler under test verifies it with
// the secret the sender signed with. To use test keys instead, send
// Resigned.
func (c *Capture) Request() *http.Request {
	method := c.Method
	if method == "" {
		method = http.MethodPost
	}
	target := c.Target
	if target == "" {
		target = DefaultTarget
	}
	r := httptest.NewRequest(method, target, bytes.NewReader(c.Body))
	for k, vs := range c.Header {
		r.Header[k] = append([]string(nil), vs...)
	}
	return r
}

// Resigned returns Request's request with the sender's signature replaced
// by one made with this package's test keys, so that a test committing a
// capture of a real delivery needs none of the receiver's: a Standard
// Webhooks (Jam) capture is signed with Secret (v1) over its captured
// message id and timestamp, in each header family it came with (svix-*,
// webhook-*); an Intercom capture with IntercomSecret. The body, created_at
// included, and every other header go as captured, so the handler under
// test, given the test keys and Received as its clock, takes the request
// as the receiver took the delivery. A Series capture goes as Request
// sends it: the inspector saves SeriesToken in place of a token that
// matched, and a value matching none in place of one that did not.
//
// Whatever the captured signature was, forged or repeated, the test keys
// sign it anew: a capture of a forgery verifies once re-signed. A
// timestamp that is no canonical Unix time is left with its signature, as
// the handler refuses it signed or not.
func (c *Capture) Resigned() *http.Request {
	r := c.Request()
	for _, p := range []string{"Webhook-", "Svix-"} {
		if !hasAny(r.Header, p+"Id", p+"Timestamp", p+"Signature") {
			continue
		}
		ts := r.Header.Get(p + "Timestamp")
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || strconv.FormatInt(n, 10) != ts {
			continue
		}
		sig, err := SignStandard(Secret, r.Header.Get(p+"Id"), time.Unix(n, 0), c.Body)
		if err != nil {
			panic(err) // Secret always signs
		}
		r.Header.Set(p+"Signature", sig)
	}
	if hasAny(r.Header, "X-Hub-Signature") {
		r.Header.Set("X-Hub-Signature", SignIntercom(IntercomSecret, c.Body))
	}
	return r
}

// hasAny reports whether h holds any of keys, canonical header names.
func hasAny(h http.Header, keys ...string) bool {
	for _, k := range keys {
		if _, ok := h[k]; ok {
			return true
		}
	}
	return false
}

// ParseHeaders reads headers written as "Name: value" lines, as
// "webhook sign" prints them and the inspector saves them beside a
// capture. Blank lines and lines starting with # are skipped; names and
// values are trimmed of the spaces around them. The error names the first
// line that is not a header, and holds none of its text, which may be a
// signature.
func ParseHeaders(raw []byte) (http.Header, error) {
	h := http.Header{}
	for i, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || !headerName(name) {
			return nil, fmt.Errorf("line %d is not \"Name: value\"", i+1)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

// headerName reports whether s is a header name: RFC 9110 token
// characters, which a JSON body's braces and quotes are not.
func headerName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
