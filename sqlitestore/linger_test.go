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
			s := &Store{cfg: config{maxBatch: tt.maxBatch}}
			require.Equal(t, tt.want, s.linger(tt.last))
		})
	}
}
