package layers

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCheck: a use running up the layers, and a file the table omits,
// are reported; a use running down is not.
func TestCheck(t *testing.T) {
	write := func(dir, name, src string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644))
	}
	dir := t.TempDir()
	write(dir, "doc.go", "package p\n\n//\tlow   low.go doc.go\n//\thigh  high.go\n")
	write(dir, "low.go", "package p\n\nfunc Low() int { return High() }\n")
	write(dir, "high.go", "package p\n\nfunc High() int { return 1 }\n\nfunc Up() int { return Low() }\n")
	write(dir, "stray.go", "package p\n")
	bad, err := Check(dir)
	require.NoError(t, err)
	require.Len(t, bad, 2)
	require.Contains(t, bad[0], "low.go:3:")
	require.Contains(t, bad[0], "High from high.go")
	require.Equal(t, "stray.go is not in doc.go's table of layers", bad[1])

	write(dir, "doc.go", "package p\n\n//\tlow   low.go\n//\thigh  low.go\n")
	_, err = Check(dir)
	require.ErrorContains(t, err, "low.go in two layers")
}
