package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out))
	text := out.String()
	require.Regexp(t, `^receiver listening on http://127\.0\.0\.1:\d+/webhooks\n`, text)
	require.True(t, strings.HasSuffix(text, "\nall statuses as expected\n"), text)

	// One row per step: number, what was sent, status, what ran.
	rows := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if m := regexp.MustCompile(`^(\d+)\s{2}.*?\s{2,}(\d{3} [A-Za-z ]+?)\s{2,}(.*)$`).FindStringSubmatch(line); m != nil {
			rows[m[1]] = m[2] + " | " + m[3]
		}
	}
	tests := []struct {
		row, status string
		ran         []string
	}{
		{"1", "200 OK", []string{"OnJamCreated: jam 7c9e6679-7425-40de-944b-e07fc1f90ae7 by marta.oyelaran@larkspur-outdoor.example", `"Checkout button`}},
		{"2", "200 OK", []string{"OnRecorderRecorded: conversation 215468124011902 recorded https://jam.dev/c/8f0b2d4f-6a8c-4eb1-a3c5-7e9a1c3e5b60"}},
		{"3", "200 OK", []string{"OnRecorderOptedOut: conversation 215468123990011 declined to record"}},
		{"4", "200 OK", []string{"OnIntercom(conversation.*): conversation.user.replied on conversation 215468124301118 by jonas.lindqvist@brightmill-foods.example"}},
		{"5", "200 OK", []string{`OnIntercom(ping): "Something for you to look at."`}},
		{"6", "200 OK", []string{"OnSeries: Jonas Lindqvist <jonas.lindqvist@brightmill-foods.example> of Brightmill Foods"}},
		{"7", "401 Unauthorized", []string{"OnError:", "no matching signature"}},
		{"8", "401 Unauthorized", []string{"OnError:", "too old"}},
		{"9", "200 OK", []string{"nothing: a duplicate is acknowledged"}},
		// Inbox mode: the retry succeeds; the dead letter is replayed.
		{"10", "200 OK", []string{"run 1 failed: CRM timed out; run 2: OnJamCreated: jam 7c9e6679-7425-40de-944b-e07fc1f90ae7; done after 2 runs"}},
		{"11", "200 OK", []string{`run 1 failed; run 2 failed; run 3 failed; dead after 3 runs, last error "CRM rejects conversation 215468124011902"`}},
	}
	require.Len(t, rows, len(tests), text)
	for _, tt := range tests {
		status, ran, _ := strings.Cut(rows[tt.row], " | ")
		require.Equal(t, tt.status, status, "row %s: %s", tt.row, text)
		for _, want := range tt.ran {
			require.Contains(t, ran, want, "row %s", tt.row)
		}
		require.NotContains(t, ran, "want", "row %s", tt.row)
	}
	require.Regexp(t, `\n12\s+replay of #11 \(Inbox\.Replay\), the CRM fixed\s+-\s+run 1: OnRecorderRecorded: conversation 215468124011902; done after 1 run\n`, text)
}
