package webhook_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDocsNameRealTests: every test, benchmark, example and fuzz target
// that README.md or BENCHMARKS.md names as evidence, or that a script's
// -run pattern selects, is a function in this repository. The documents
// cite them for claims ("TestInboxRedisCrash kills redis-server…"), and a
// -run pattern that names no test runs nothing and passes; a rename or a
// deleted test would leave either pointing at nothing.
func TestDocsNameRealTests(t *testing.T) {
	defined := map[string]bool{}
	funcs := regexp.MustCompile(`(?m)^func ((?:Test|Benchmark|Example|Fuzz)\w*)\(`)
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range funcs.FindAllSubmatch(src, -1) {
			defined[string(m[1])] = true
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, len(defined), 100, "the walk found too few tests to trust")

	// A name followed by "(" is a -run pattern's prefix, such as
	// TestHostile(Input|Control), not a name.
	named := regexp.MustCompile(`\b((?:Test|Benchmark|Example|Fuzz)[A-Z]\w*)(?:[^\w(]|$)`)
	var missing []string
	cited := 0
	scripts, err := filepath.Glob("scripts/*.sh")
	require.NoError(t, err)
	for _, doc := range append([]string{"README.md", "BENCHMARKS.md", ".ci/run"}, scripts...) {
		text, err := os.ReadFile(doc)
		require.NoError(t, err)
		for i, line := range strings.Split(string(text), "\n") {
			for _, m := range named.FindAllStringSubmatch(line, -1) {
				cited++
				if !defined[m[1]] {
					missing = append(missing, doc+":"+strconv.Itoa(i+1)+": "+m[1])
				}
			}
		}
	}
	require.Greater(t, cited, 30, "the documents cite too few tests to trust the pattern")
	require.Empty(t, missing, "named in the documents, defined nowhere")
}
