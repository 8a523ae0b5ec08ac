package webhook

import (
	"testing"

	"github.com/inhook/webhook/internal/layers"
	"github.com/stretchr/testify/require"
)

// TestLayers holds the files of this package and of package event to the
// layers their doc.go lists: no production file uses a top-level name
// defined in a file of a higher layer, and every production file is in
// the table.
func TestLayers(t *testing.T) {
	for _, dir := range []string{".", "event"} {
		bad, err := layers.Check(dir)
		require.NoError(t, err, dir)
		require.Empty(t, bad, "uses of names from a higher layer in %s", dir)
	}
}
