package webhook_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// goLines are the go lines this repository's go.mod files and go.work
// must declare. A go line is the oldest toolchain a user can build with,
// and `go get github.com/inhook/webhook` raises the user's own go.mod to
// the core's, so each is the lowest its module needs, never the patch
// release installed where it was last edited (go vet's stdversion check
// reports a standard library name newer than the line, the compiler a
// language feature). Raise a row only with the reason in its comment.
var goLines = []struct {
	file, want string
}{
	// crypto/rand.Text (the keys the inbox generates), log/slog's
	// DiscardHandler, testing.B.Loop and strings.Lines need 1.24.0. Never
	// below 1.22: the line sets the loop variable semantics, and the code
	// relies on per-iteration variables. The main module's line (at least
	// this one) picks GODEBUG defaults: from 1.22 the ServeMux patterns
	// the examples and docs use, from 1.23 timers that hold no stale tick
	// after the worker's poll.Reset (before, the worker polls once early).
	{"go.mod", "1.24.0"},
	// Modules of their own, each at its dependencies' go line: go-redis
	// v9.23.0, modernc.org/sqlite v1.62.0 (and modernc.org/libc,
	// golang.org/x/sys), OpenTelemetry v1.47.0 and otelhttp v0.72.0 say
	// 1.26.0; their code needs no more (sync.WaitGroup.Go, 1.25).
	{"redisstore/go.mod", "1.26.0"},
	{"sqlitestore/go.mod", "1.26.0"},
	{"otelwebhook/go.mod", "1.26.0"},
	{"bench/go.mod", "1.26.0"},
	{"cmd/webhook/go.mod", "1.26.0"},
	{"examples/observability/go.mod", "1.26.0"},
	// chromedp v0.23.0 says 1.25; the tests need 1.24.
	{"e2e/go.mod", "1.25.0"},
	// At least every module's; the installed toolchain builds it.
	{"go.work", "1.26.0"},
}

// TestGoLines holds each go.mod and go.work of the repository to its row
// of goLines, with no toolchain line (one makes the go command download
// that toolchain). A module zip holds the core alone, so a missing nested
// file passes, but every go.mod found must have a row.
func TestGoLines(t *testing.T) {
	want := make(map[string]string)
	for _, tt := range goLines {
		want[tt.file] = tt.want
		src, err := os.ReadFile(filepath.FromSlash(tt.file))
		if tt.file != "go.mod" && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		goLine, toolchain := goDirectives(string(src))
		require.Equal(t, tt.want, goLine, "%s: the go line is the oldest Go its users can build with: keep it at what the code and its dependencies need (see goLines)", tt.file)
		require.Empty(t, toolchain, "%s: a toolchain line", tt.file)
	}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != "." && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir // the go command ignores these too
		}
		if name == "go.mod" {
			_, ok := want[filepath.ToSlash(path)]
			require.True(t, ok, "%s has no row in goLines", path)
		}
		return nil
	})
	require.NoError(t, err)
}

// goDirectives returns the versions of the go and toolchain directives of
// a go.mod or go.work file.
func goDirectives(src string) (goLine, toolchain string) {
	for line := range strings.Lines(src) {
		line, _, _ = strings.Cut(line, "//")
		switch f := strings.Fields(line); {
		case len(f) == 2 && f[0] == "go":
			goLine = f[1]
		case len(f) == 2 && f[0] == "toolchain":
			toolchain = f[1]
		}
	}
	return goLine, toolchain
}

// placeholderVersion is the version the nested modules require the core
// (and each other) at until the first tag: go.work's replaces map it onto
// the checkout, and nothing outside a clone resolves it.
const placeholderVersion = "v0.0.0-00010101000000-000000000000"

// TestREADMEPlaceholderVersion: README.md says that the modules of their
// own install only from a clone exactly while a published module (not
// bench, e2e or an example) requires one of this repository's modules at
// placeholderVersion: a user's `go get …/sqlitestore` or `go install
// …/cmd/webhook@latest` fails then, and works once tags replace it, when
// the sentence must go.
func TestREADMEPlaceholderVersion(t *testing.T) {
	if dir := missingModule(t, os.DirFS(".")); dir != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI runs in the repository", dir)
		}
		t.Skipf("%s is missing: the core's module alone, not the repository", dir)
	}
	var placeholders []string
	for _, file := range []string{"redisstore/go.mod", "sqlitestore/go.mod", "otelwebhook/go.mod", "cmd/webhook/go.mod"} {
		src, err := os.ReadFile(filepath.FromSlash(file))
		require.NoError(t, err)
		for line := range strings.Lines(string(src)) {
			line, _, _ = strings.Cut(line, "//")
			if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[len(f)-2], "github.com/inhook/webhook") && f[len(f)-1] == placeholderVersion {
				placeholders = append(placeholders, file+": "+f[len(f)-2])
			}
		}
	}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	text, _, ok := strings.Cut(string(readme), "\n## Changelog\n")
	require.True(t, ok, "README.md has no Changelog section")
	_, install, ok := strings.Cut(text, "\n## Install\n")
	require.True(t, ok, "README.md has no Install section")
	install, _, _ = strings.Cut(install, "\n## ")
	if len(placeholders) > 0 {
		require.Contains(t, install, placeholderVersion, "these modules require %s, which go get cannot fetch: README.md's Install section must say they install from a clone: %v", placeholderVersion, placeholders)
	} else {
		require.NotContains(t, text, placeholderVersion, "no published module requires %s any more: README.md must not say they install from a clone only", placeholderVersion)
	}
}
