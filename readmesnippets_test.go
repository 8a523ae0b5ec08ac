package webhook_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// notCompiled are the README's Go blocks that no code of the repository
// compiles, by their first line, each with why: the README says so of
// them.
var notCompiled = map[string]string{
	"// chi: an http.Handler mounts as is; Handle routes every method.": "chi, gin and echo snippets: no module depends on a framework",
}

// TestREADMESnippetsCompile: every Go block of README.md is quoted, line
// for line at one indentation, from a Go file of one of the repository's
// modules, which CI builds and vets (and runs, where the file is a test
// that calls it), so a snippet a change breaks fails CI instead of the
// reader who pastes it. A block found nowhere, or a notCompiled entry no
// longer in the README, fails.
func TestREADMESnippetsCompile(t *testing.T) {
	if dir := missingModule(t, os.DirFS(".")); dir != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI runs in the repository", dir)
		}
		t.Skipf("%s is missing: the core's module alone, not the repository, whose modules hold the README's snippets", dir)
	}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := goBlocks(string(readme))
	require.Greater(t, len(blocks), 10, "found too few Go blocks to trust the parse")

	var sources []string // the lines of every Go file CI compiles
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !strings.Contains(string(src), "//go:build ignore") {
			sources = append(sources, string(src))
		}
		return nil
	})
	require.NoError(t, err)

	exempt := map[string]bool{}
	var missing []int
	for _, b := range blocks {
		first, _, _ := strings.Cut(b.text, "\n")
		if _, ok := notCompiled[first]; ok {
			exempt[first] = true
			continue
		}
		found := false
		for _, src := range sources {
			if quotes(src, b.text) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, b.line)
		}
	}
	require.Empty(t, missing, "README.md's Go blocks at these lines are in no Go file of the repository: put each, verbatim, in code CI compiles (and runs, if it can)")
	for first, why := range notCompiled {
		require.True(t, exempt[first], "notCompiled's %q (%s) is no longer a Go block of README.md", first, why)
	}
}

// A goBlock is the text of a ```go block and the line of its fence.
type goBlock struct {
	line int
	text string
}

func goBlocks(md string) []goBlock {
	var blocks []goBlock
	var cur []string
	open, inGo := 0, false
	for i, line := range strings.Split(md, "\n") {
		switch rest, fence := strings.CutPrefix(line, "```"); {
		case fence && open == 0:
			open, inGo, cur = i+1, rest == "go", nil
		case fence:
			if inGo {
				blocks = append(blocks, goBlock{open, strings.Join(cur, "\n")})
			}
			open = 0
		case open != 0:
			cur = append(cur, line)
		}
	}
	return blocks
}

// quotes reports whether src holds block's lines in a row, each behind
// one and the same run of tabs (none for a whole file), blank lines
// blank.
func quotes(src, block string) bool {
	want := strings.Split(block, "\n")
	lines := strings.Split(src, "\n")
	for i := 0; i+len(want) <= len(lines); i++ {
		indent, ok := strings.CutSuffix(lines[i], want[0])
		if !ok || strings.Trim(indent, "\t") != "" {
			continue
		}
		match := true
		for j, w := range want {
			if got := lines[i+j]; w == "" && got != "" || w != "" && got != indent+w {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
