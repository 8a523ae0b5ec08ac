package webhook

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLayers holds the package's files to the layers doc.go lists: no
// production file uses a top-level name defined in a file of a higher
// layer, and every production file is in the table.
func TestLayers(t *testing.T) {
	layers := readLayers(t)
	fset := token.NewFileSet()
	defined := map[string]string{} // top-level name -> file
	files := map[string]*ast.File{}
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if ok, err := build.Default.MatchFile(".", name); err != nil || !ok {
			continue // a generator behind //go:build ignore, say
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		files[name] = f
		_, listed := layers[name]
		require.True(t, listed, "%s is not in doc.go's table of layers", name)
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					defined[d.Name.Name] = name
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						defined[s.Name.Name] = name
					case *ast.ValueSpec:
						for _, n := range s.Names {
							defined[n.Name] = name
						}
					}
				}
			}
		}
	}
	var bad []string
	for name, f := range files {
		// The parser resolves names declared in the same file (and
		// locals); what it leaves unresolved are names from other files,
		// and predeclared ones.
		seen := map[string]bool{}
		for _, id := range f.Unresolved {
			from, ok := defined[id.Name]
			if !ok || from == name || seen[id.Name] {
				continue
			}
			seen[id.Name] = true
			if layers[from] > layers[name] {
				bad = append(bad, fset.Position(id.Pos()).String()+": "+id.Name+" from "+from)
			}
		}
	}
	sort.Strings(bad)
	require.Empty(t, bad, "uses of names from a higher layer")
}

// readLayers reads the table in doc.go: one layer a line, lowest first,
// a name and then its files.
func readLayers(t *testing.T) map[string]int {
	t.Helper()
	src, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	row := regexp.MustCompile(`(?m)^//\t(\w+) +(.+\.go)$`)
	layers := map[string]int{}
	for i, m := range row.FindAllStringSubmatch(string(src), -1) {
		for _, f := range strings.Fields(m[2]) {
			_, dup := layers[f]
			require.False(t, dup, "%s in two layers", f)
			layers[filepath.Base(f)] = i
		}
	}
	require.NotEmpty(t, layers)
	return layers
}
