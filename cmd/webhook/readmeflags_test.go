package main

import (
	"errors"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestREADMENamesRealFlags: every --flag the repository's README speaks
// of, outside its changelog, is a flag of the command it speaks of it for
// (the one named just before it, as in "webhook serve --test-keys"), or of
// some command, as TestHelpNamesRealFlags holds the help texts: a flag
// renamed or removed leaves no README line telling users to pass it.
func TestREADMENamesRealFlags(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if errors.Is(err, fs.ErrNotExist) && os.Getenv("CI") != "true" {
		t.Skip("../../README.md is missing: this module alone, not the repository")
	}
	require.NoError(t, err)
	text, _, ok := strings.Cut(string(readme), "\n## Changelog\n")
	require.True(t, ok, "README.md has no Changelog section")

	clearEnv(t)
	flags := map[string]map[string]bool{"": {}}
	for name, args := range map[string][]string{
		"serve": {"serve"}, "send": {"send"}, "sign": {"sign"}, "verify": {"verify"},
		"version": {"version"}, "inbox": {"inbox", "list"},
	} {
		_, flags[name] = helpFlags(t, args...)
		for fl := range flags[name] {
			flags[""][fl] = true
		}
	}
	mention := regexp.MustCompile(`(?:\b(serve|send|sign|verify|inbox)(?: [a-z]+)? )?--([a-z][a-z0-9-]*)`)
	found := 0
	for i, line := range strings.Split(text, "\n") {
		for _, m := range mention.FindAllStringSubmatch(line, -1) {
			found++
			require.True(t, flags[m[1]][m[2]], "README.md:%d speaks of --%s, which %q does not take", i+1, m[2], m[1])
		}
	}
	require.Greater(t, found, 30, "found too few flags in README.md to trust the pattern")
}
