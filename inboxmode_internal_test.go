package webhook

import (
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBackoffBounds: the wait after n failed runs lies between MinBackoff
// and MinBackoff·2ⁿ capped at MaxBackoff, computed exactly, for any
// attempt count and durations up to the largest, with no overflow.
func TestBackoffBounds(t *testing.T) {
	durations := []time.Duration{1, 3 * time.Millisecond, time.Second, time.Hour, 1<<40 + 1, math.MaxInt64 / 3, math.MaxInt64}
	for _, lo := range durations {
		for _, hi := range durations {
			c := WorkerConfig{MinBackoff: lo, MaxBackoff: hi}.withDefaults()
			for _, n := range []int{-1, 0, 1, 2, 24, 25, 30, 37, 41, 53, 61, 62, 63, 64, 100, math.MaxInt} {
				exact := new(big.Int).Lsh(big.NewInt(int64(c.MinBackoff)), uint(min(max(n, 0), 64)))
				if exact.Cmp(big.NewInt(int64(c.MaxBackoff))) > 0 {
					exact = big.NewInt(int64(c.MaxBackoff))
				}
				require.Equal(t, exact.Int64(), int64(c.backoffCap(n)), "cap after %d runs, min %v, max %v", n, c.MinBackoff, c.MaxBackoff)
				for range 20 {
					w := c.backoff(n)
					require.True(t, w >= c.MinBackoff && w <= c.backoffCap(n), "backoff(%d) = %v, min %v, max %v", n, w, c.MinBackoff, c.MaxBackoff)
				}
			}
		}
	}
}
