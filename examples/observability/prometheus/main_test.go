package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRun checks the scrape the example prints: the exporter's names for
// otelwebhook's metrics, with the points the three deliveries made.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	_, err := run(&out)
	require.NoError(t, err)
	t.Log(out.String())
	for _, want := range []string{
		`webhook_deliveries_total{`,
		`webhook_duplicates_total{`,
		`webhook_verification_failures_total{`,
		`messaging_process_duration_seconds_count{`,
	} {
		require.Contains(t, out.String(), want)
	}
}
