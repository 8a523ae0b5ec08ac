package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRun runs the example and checks that its output holds what the
// package doc promises: the request and process spans, their messaging
// attributes, and the metrics.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out))
	for _, want := range []string{
		`"Name":"process standard:jam.created"`,
		`"Key":"messaging.operation.type","Value":{"Type":"STRING","Value":"process"}`,
		`"Key":"webhook.outcome","Value":{"Type":"STRING","Value":"duplicate"}`,
		`"Key":"webhook.reason","Value":{"Type":"STRING","Value":"signature"}`,
		`"Name":"messaging.process.duration"`,
		`"Name":"webhook.verification.failures"`,
		`"Name":"webhook.duplicates"`,
	} {
		require.Contains(t, out.String(), want)
	}
	inboxRuns(t, out.String())
}

// inboxRuns checks the inbox part: each worker run's span is in the trace
// of the request that stored the delivery, and links to that request's
// span.
func inboxRuns(t *testing.T, out string) {
	t.Helper()
	type spanContext struct{ TraceID, SpanID string }
	type span struct {
		Name        string
		SpanContext spanContext
		Parent      spanContext
		SpanKind    int
		Links       []struct{ SpanContext spanContext }
		Attributes  []struct {
			Key   string
			Value struct{ Value any }
		}
	}
	_, inbox, ok := strings.Cut(out, "== inbox:")
	require.True(t, ok, "no inbox part")
	// A run may end before the request that stored it: the request's span
	// ends once the handler has answered.
	var spans []span
	requests := map[string]bool{} // trace id/span id of every request span
	for _, line := range strings.Split(inbox, "\n") {
		if !strings.HasPrefix(line, "{\"Name\"") {
			continue
		}
		var s span
		require.NoError(t, json.Unmarshal([]byte(line), &s))
		if s.SpanKind == 2 { // server
			requests[s.SpanContext.TraceID+"/"+s.SpanContext.SpanID] = true
		}
		spans = append(spans, s)
	}
	outcomes := map[string][]string{}
	for _, s := range spans {
		if s.SpanKind == 2 {
			continue
		}
		require.Equal(t, "process standard:jam.created", s.Name)
		require.Len(t, s.Links, 1)
		link := s.Links[0].SpanContext
		require.Equal(t, link.TraceID, s.SpanContext.TraceID, "the run is not in its request's trace")
		require.True(t, requests[link.TraceID+"/"+link.SpanID], "the run links to no request span")
		for _, a := range s.Attributes {
			if a.Key == "webhook.outcome" {
				outcomes[link.TraceID] = append(outcomes[link.TraceID], a.Value.Value.(string))
			}
		}
	}
	var got []string
	for _, o := range outcomes {
		got = append(got, strings.Join(o, ","))
	}
	require.ElementsMatch(t, []string{"retry,success", "retry,dead"}, got)
}
