package event

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIntercomTopicsListed checks that intercomTopics, which OnIntercom
// checks patterns against, holds every Topic constant of the package.
func TestIntercomTopicsListed(t *testing.T) {
	consts := packageConsts(t, "Topic")
	require.NotEmpty(t, consts)
	require.ElementsMatch(t, consts, intercomTopics[:])
}

// packageConsts returns the values of the package's string constants
// whose names start with prefix, read from its non-test source files.
func packageConsts(t *testing.T, prefix string) []string {
	t.Helper()
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	var consts []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), e.Name(), nil, 0)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if strings.HasPrefix(name.Name, prefix) && i < len(vs.Values) {
						lit, ok := vs.Values[i].(*ast.BasicLit)
						require.True(t, ok, name.Name)
						v, err := strconv.Unquote(lit.Value)
						require.NoError(t, err)
						consts = append(consts, v)
					}
				}
			}
		}
	}
	return consts
}
