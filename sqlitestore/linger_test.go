package sqlitestore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLinger holds the writer's wait for company: none for a lone caller
// or with group commit off, half a transaction under concurrent load,
// never more than maxLinger.
func TestLinger(t *testing.T) {
	for _, tt := range []struct {
		name     string
		maxBatch int
		last     lastCommit
		want     time.Duration
	}{
		{"first transaction", DefaultMaxBatch, lastCommit{}, 0},
		{"lone caller", DefaultMaxBatch, lastCommit{ops: 1, avg: 800 * time.Microsecond}, 0},
		{"group commit off", 1, lastCommit{ops: 1, avg: 800 * time.Microsecond}, 0},
		{"concurrent", DefaultMaxBatch, lastCommit{ops: 8, avg: 800 * time.Microsecond}, 400 * time.Microsecond},
		{"slow syncs", DefaultMaxBatch, lastCommit{ops: 8, avg: 30 * time.Millisecond}, maxLinger},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &Inbox{cfg: config{maxBatch: tt.maxBatch}}
			require.Equal(t, tt.want, s.linger(tt.last))
		})
	}
}

// TestGatherTo holds where lingering stops: at the largest batch since
// the last probe, and at maxBatch (the whole linger) on a probe.
func TestGatherTo(t *testing.T) {
	for _, tt := range []struct {
		name string
		last lastCommit
		want int
	}{
		{"first transaction probes", lastCommit{}, DefaultMaxBatch},
		{"probe", lastCommit{ops: 8, peak: 16, n: probeEvery}, DefaultMaxBatch},
		{"merged cohorts", lastCommit{ops: 16, peak: 16, n: 3}, 16},
		{"a smaller batch since", lastCommit{ops: 5, peak: 16, n: 4}, 16},
		{"at least two", lastCommit{ops: 1, peak: 1, n: 5}, 2},
		{"bounded by maxBatch", lastCommit{ops: 300, peak: 300, n: 5}, DefaultMaxBatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &Inbox{cfg: config{maxBatch: DefaultMaxBatch}}
			require.Equal(t, tt.want, s.gatherTo(tt.last))
		})
	}
}
