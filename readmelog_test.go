package webhook_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/inhook/webhook"
	"github.com/inhook/webhook/webhooktest"
	"github.com/stretchr/testify/require"
)

// TestREADMELogLine: the log line the README's troubleshooting section
// shows is the one the handler writes (slog's text handler, without the
// time) for the delivery it stands for: a Jam body that a middleware
// re-marshalled before the handler read it, signed 3 s before this clock.
func TestREADMELogLine(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "## Troubleshooting: no matching signature")
	require.True(t, ok)
	_, block, ok := strings.Cut(section, "\n```\nlevel=")
	require.True(t, ok, "no log line in the troubleshooting section")
	want, _, _ := strings.Cut("level="+block, "\n")

	var logs bytes.Buffer
	h, err := webhook.NewHandler(webhook.WithSecrets(webhooktest.Secret), webhook.WithClock(webhooktest.Time),
		webhook.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			},
		}))))
	require.NoError(t, err)
	body := webhooktest.Fixture("jam/jam.created.minimal.json")
	r := webhooktest.NewStandardRequest(webhooktest.Secret, body,
		webhooktest.WithID("msg_2Qb8sT1yKz"), webhooktest.WithTime(webhooktest.Time().Add(-3*time.Second)))
	re := reencode(t, body)
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(re)), int64(len(re))
	h.ServeHTTP(httptest.NewRecorder(), r)
	require.Equal(t, want, strings.TrimSuffix(logs.String(), "\n"))
}

// TestREADMEFences: every fenced block in the README closes with a bare
// fence. A closing fence with text after it is no fence in Markdown, and
// the block runs on over the prose and headings below it.
func TestREADMEFences(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	open := 0 // the line of the open fence, 0 outside a block
	for i, line := range strings.Split(string(readme), "\n") {
		rest, fence := strings.CutPrefix(line, "```")
		switch {
		case !fence:
		case open == 0:
			open = i + 1
		default:
			require.Empty(t, strings.TrimSpace(rest), "README.md:%d: the block opened at line %d closes with text after its fence", i+1, open)
			open = 0
		}
	}
	require.Zero(t, open, "README.md: the block opened at line %d never closes", open)
}

// TestREADMELinks: every link of README.md to a section of its own
// (#anchor) names a heading, as GitHub makes its anchor (lower case, the
// punctuation but - and _ dropped, spaces as -), and every link to a file
// of the repository names one that exists: a heading reworded or a file
// moved leaves no link going nowhere.
func TestREADMELinks(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	anchors := map[string]bool{}
	punct := regexp.MustCompile(`[^\p{L}\p{N}_ -]`)
	inFence := false
	for line := range strings.Lines(string(readme)) {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		if heading, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " "); !inFence && ok && strings.HasPrefix(line, "#") {
			anchors[strings.ReplaceAll(punct.ReplaceAllString(strings.ToLower(strings.TrimSpace(heading)), ""), " ", "-")] = true
		}
	}
	links := regexp.MustCompile(`\]\(([^)\s]+)\)`).FindAllStringSubmatch(string(readme), -1)
	require.Greater(t, len(links), 5, "found too few links to trust the pattern")
	for _, m := range links {
		target := m[1]
		switch {
		case strings.HasPrefix(target, "#"):
			require.True(t, anchors[target[1:]], "README.md links to %s, which no heading makes", target)
		case strings.Contains(target, "://"):
		default:
			_, err := os.Stat(filepath.FromSlash(target))
			require.NoError(t, err, "README.md links to %s", target)
		}
	}
}
