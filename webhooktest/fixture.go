package webhooktest

import (
	"embed"
	"io/fs"
	"path"
	"testing"
)

// fixtures holds one body per event shape, as senders send them: under
// jam/, intercom/ and series/. The webhook package's own golden tests
// decode every one of them.
//
//go:embed testdata/jam testdata/intercom testdata/series
var fixtures embed.FS

// Fixtures returns the embedded fixtures as a file system rooted at the
// directory holding jam/, intercom/ and series/.
func Fixtures() fs.FS {
	sub, err := fs.Sub(fixtures, "testdata")
	if err != nil {
		panic(err) // the embedded tree always has testdata
	}
	return sub
}

// FixtureNames returns the names of every fixture, such as
// "jam/jam.created.maximal.json", in lexical order.
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

// ReadFixture returns the bytes of the fixture name.
func ReadFixture(name string) ([]byte, error) {
	return fs.ReadFile(Fixtures(), path.Clean(name))
}

// Fixture returns the bytes of the fixture name, failing t if there is
// none.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := ReadFixture(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
