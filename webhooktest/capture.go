package webhooktest

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
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
// directory given to --fixtures, say): the body file and the ".headers"
// file that replaces its extension.
func ReadCapture(fsys fs.FS, name string) (*Capture, error) {
	name = path.Clean(name)
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
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "# received:"); ok {
			if c.Received, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(v)); err != nil {
				return nil, fmt.Errorf("webhooktest: %s line %d: %v", hname, i+1, err)
			}
		}
	}
	if c.Header, err = ParseHeaders(raw); err != nil {
		return nil, fmt.Errorf("webhooktest: %s: %v", hname, err)
	}
	return c, nil
}

// Request returns a POST to DefaultTarget carrying the capture's body and
// headers, as it arrived.
func (c *Capture) Request() *http.Request {
	r := httptest.NewRequest(http.MethodPost, DefaultTarget, bytes.NewReader(c.Body))
	for k, vs := range c.Header {
		r.Header[k] = append([]string(nil), vs...)
	}
	return r
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
