package main

import (
	"errors"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestREADMENamesRealFlags: every --flag the repository's README speaks
// of, outside its changelog, is a flag of the command it speaks of it for
// (the one named just before it, as in "webhook serve --test-keys", and an
// inbox subcommand's own, as in "inbox show"), or of
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
		"version": {"version"},
	} {
		_, flags[name] = helpFlags(t, args...)
	}
	_, flags["inbox"] = inboxHelpFlags(t)
	for sub := range inboxFlags { // "inbox show --json": show's own
		_, flags["inbox "+sub] = helpFlags(t, "inbox", sub)
	}
	for name := range flags {
		for fl := range flags[name] {
			flags[""][fl] = true
		}
	}
	mention := regexp.MustCompile(`(?:\b(serve|send|sign|verify|inbox)( [a-z]+)? )?--([a-z][a-z0-9-]*)`)
	found := 0
	for i, line := range strings.Split(text, "\n") {
		for _, m := range mention.FindAllStringSubmatch(line, -1) {
			found++
			of := m[1]
			if _, ok := flags[m[1]+m[2]]; ok {
				of += m[2]
			}
			require.True(t, flags[of][m[3]], "README.md:%d speaks of --%s, which %q does not take", i+1, m[3], of)
		}
	}
	require.Greater(t, found, 30, "found too few flags in README.md to trust the pattern")
}

// TestREADMEFlagDefaults: a default the repository's README gives a flag,
// as "`--shutdown-timeout` (10s)" or "`--inspect-keep-bytes` (64 MiB)", is
// the one the flag's help shows: a default changed in the code leaves no
// README line promising the old one.
func TestREADMEFlagDefaults(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if errors.Is(err, fs.ErrNotExist) && os.Getenv("CI") != "true" {
		t.Skip("../../README.md is missing: this module alone, not the repository")
	}
	require.NoError(t, err)
	text, _, ok := strings.Cut(string(readme), "\n## Changelog\n")
	require.True(t, ok, "README.md has no Changelog section")

	clearEnv(t)
	defaults := map[string]string{} // flag name to the default its help shows
	entry := regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)[^\n]*\n((?:    \t[^\n]*(?:\n|$))*)`)
	def := regexp.MustCompile(`\(default ([^()]*)\)\s*$`)
	for _, args := range [][]string{{"serve"}, {"send"}, {"sign"}, {"verify"}, {"inbox", "list"}, {"inbox", "purge"}} {
		help, _ := helpFlags(t, args...)
		_, list, _ := strings.Cut(help, "\nFlags:\n")
		for _, m := range entry.FindAllStringSubmatch(list, -1) {
			if d := def.FindStringSubmatch(strings.TrimSpace(m[2])); d != nil {
				defaults[m[1]] = d[1]
			}
		}
	}
	require.Equal(t, "10s", defaults["shutdown-timeout"], "the help's defaults did not parse")

	mention := regexp.MustCompile("`--([a-z][a-z0-9-]*)` \\(([0-9][^,;)]*)")
	found := 0
	for _, m := range mention.FindAllStringSubmatch(text, -1) {
		found++
		got, ok := defaults[m[1]]
		require.True(t, ok, "README.md gives --%s the default %q, and its help shows none", m[1], m[2])
		require.True(t, sameDefault(m[2], got), "README.md gives --%s the default %q; its help shows %q", m[1], m[2], got)
	}
	require.GreaterOrEqual(t, found, 4, "found too few flag defaults in README.md to trust the pattern")
}

// sameDefault reports whether the README's readme and the help's help are
// one value: equal durations (10s, 72h0m0s), or sizes (64 MiB, 67108864).
func sameDefault(readme, help string) bool {
	if r, err := time.ParseDuration(readme); err == nil {
		h, err := time.ParseDuration(help)
		return err == nil && r == h
	}
	n, unit, _ := strings.Cut(readme, " ")
	size, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return readme == help
	}
	shift, ok := map[string]int{"": 0, "KiB": 10, "MiB": 20, "GiB": 30}[unit]
	return ok && strconv.FormatInt(size<<shift, 10) == help
}

// TestREADMECommandsExist: every command the README's shell blocks run,
// "webhook serve …", "webhook inbox stats …", also after an environment
// assignment or a pipe, is one the CLI has (its --help answers 0), so a
// command renamed leaves no block telling users to type the old one.
func TestREADMECommandsExist(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if errors.Is(err, fs.ErrNotExist) && os.Getenv("CI") != "true" {
		t.Skip("../../README.md is missing: this module alone, not the repository")
	}
	require.NoError(t, err)
	text, _, ok := strings.Cut(string(readme), "\n## Changelog\n")
	require.True(t, ok, "README.md has no Changelog section")

	clearEnv(t)
	call := regexp.MustCompile(`(?:^|&&|\||;)\s*(?:[A-Z_]+=\S+\s+)*webhook\s+([a-z]+)(?:\s+([a-z]+))?`)
	inSh, found := false, 0
	for i, line := range strings.Split(text, "\n") {
		if rest, fence := strings.CutPrefix(line, "```"); fence {
			inSh = !inSh && rest == "sh"
			continue
		}
		if !inSh {
			continue
		}
		for _, m := range call.FindAllStringSubmatch(line, -1) {
			found++
			args := []string{m[1], "--help"}
			if m[1] == "inbox" {
				args = []string{m[1], m[2], "--help"}
			}
			r := runCmd(t, "", args...)
			require.Equal(t, exitOK, r.code, "README.md:%d runs webhook %s, which is no command: %s", i+1, strings.Join(args[:len(args)-1], " "), r.stderr)
		}
	}
	require.Greater(t, found, 15, "found too few commands in README.md's shell blocks to trust the pattern")
}
