package webhooktest

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/inhook/webhook/event"
)

// fixtures holds one body per event shape, as senders send them: under
// jam/, intercom/ and series/. The webhook package's own golden tests
// decode every one of them.
//
//go:embed testdata/jam testdata/intercom testdata/series
var fixtures embed.FS

// Fixtures returns the embedded fixtures as a file system rooted at the
// directory holding jam/, intercom/ and series/: read from it to handle a
// missing name as an error.
func Fixtures() fs.FS {
	sub, err := fs.Sub(fixtures, "testdata")
	if err != nil {
		panic(err) // the embedded tree always has testdata
	}
	return sub
}

// FixtureNames returns the names of every fixture, such as
// "jam/jam.created.maximal.json", in lexical order. The example lists
// them with the callback each one's delivery runs.
func FixtureNames() []string {
	var names []string
	_ = fs.WalkDir(Fixtures(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	return names
}

// Fixture returns the bytes of the fixture name, a copy of its own that
// the caller may change (parallel tests each get theirs). Like the
// request builders, it panics if there is no such fixture.
func Fixture(name string) []byte {
	b, err := fs.ReadFile(Fixtures(), path.Clean(name))
	if err != nil {
		panic(noFixture(name))
	}
	return b
}

// FixtureSource reports how NewFixtureRequest sends the fixture name: the
// sender's source (event.SourceStandard for the fixtures under jam/,
// event.SourceIntercom under intercom/, event.SourceSeries under series/),
// and the Content-Type (form-encoded for a Series fixture whose name ends
// in .form, JSON otherwise). ok is false if there is no such fixture.
func FixtureSource(name string) (source event.Source, contentType string, ok bool) {
	// Cleaned as Fixture cleans it, for the extension too: a name with a
	// trailing slash is the same fixture, sent with the same Content-Type.
	name = path.Clean(name)
	if fi, err := fs.Stat(Fixtures(), name); err != nil || fi.IsDir() {
		return "", "", false
	}
	contentType = "application/json"
	switch dir, _, _ := strings.Cut(name, "/"); dir {
	case "jam":
		return event.SourceStandard, contentType, true
	case "intercom":
		return event.SourceIntercom, contentType, true
	case "series":
		if strings.HasSuffix(name, ".form") {
			contentType = "application/x-www-form-urlencoded"
		}
		return event.SourceSeries, contentType, true
	}
	return "", "", false // the embedded tree has only the three
}

// NewFixtureRequest returns a request for the fixture name, signed with
// this package's test keys as its sender signs it (see FixtureSource).
// Jam fixtures carry the webhook-* headers, which the handler reads as it
// reads the svix-* set Jam sends: add WithSvixHeaders for those.
// Intercom fixtures are stamped at Time(), or at WithTime's instant, as
// Intercom stamps what it sends: their own times are long past. It panics
// if there is no such fixture.
//
// To sign a fixture with keys of your own, give Fixture(name) to its
// sender's builder, with the Content-Type FixtureSource reports; for an
// Intercom fixture add WithTime too, or the handler refuses its old
// created_at.
func NewFixtureRequest(name string, opts ...RequestOption) *http.Request {
	source, ct, ok := FixtureSource(name)
	if !ok {
		panic(noFixture(name))
	}
	body := Fixture(name)
	opts = append([]RequestOption{WithContentType(ct)}, opts...)
	switch source {
	case event.SourceStandard:
		return NewStandardRequest(Secret, body, opts...)
	case event.SourceIntercom:
		return NewIntercomRequest(IntercomSecret, body, append([]RequestOption{WithTime(Time())}, opts...)...)
	}
	return NewSeriesRequest(SeriesHeader, SeriesToken, body, opts...)
}

// noFixture is the panic message for name, which is no fixture: it names
// the fixture meant when that is plain (the same file in a sender's
// directory, the fixtures of a shape left out), as a test's author would
// otherwise look for it by hand.
func noFixture(name string) string {
	msg := "webhooktest: no fixture " + strconv.Quote(name)
	names := FixtureNames()
	var same, shaped []string
	stem := strings.TrimSuffix(strings.TrimSuffix(name, ".json"), ".form") + "."
	for _, n := range names {
		if path.Base(n) == path.Base(name) {
			same = append(same, n)
		}
		if strings.HasPrefix(n, stem) {
			shaped = append(shaped, n)
		}
	}
	switch {
	case len(same) == 1:
		return msg + "; did you mean " + strconv.Quote(same[0]) + "?"
	case len(shaped) > 0:
		return msg + "; there are " + strings.Join(shaped, ", ")
	}
	return msg + " (FixtureNames lists them)"
}
