package main

import (
	"bytes"
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
}
