// Package layers checks that the files of a package form the layers its
// doc.go lists, for the packages' TestLayers.
package layers

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Check reads the table of layers in dir's doc.go (one layer a line,
// lowest first: "//\tname  file.go file.go …") and returns a line for each
// use, in a production file of dir, of a top-level name defined in a file
// of a higher layer, and for each production file the table does not list.
func Check(dir string) ([]string, error) {
	layers, err := read(filepath.Join(dir, "doc.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	defined := map[string]string{} // top-level name -> file
	files := map[string]*ast.File{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if ok, err := build.Default.MatchFile(dir, name); err != nil || !ok {
			continue // a generator behind //go:build ignore, say
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			return nil, err
		}
		files[name] = f
		if _, listed := layers[name]; !listed {
			bad = append(bad, name+" is not in doc.go's table of layers")
		}
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
	return bad, nil
}

var row = regexp.MustCompile(`(?m)^//\t(\w+) +(.+\.go)$`)

// read reads the table of layers in a doc.go: each file's layer, by
// number, lowest first.
func read(path string) (map[string]int, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	layers := map[string]int{}
	for i, m := range row.FindAllStringSubmatch(string(src), -1) {
		for _, f := range strings.Fields(m[2]) {
			if _, dup := layers[f]; dup {
				return nil, fmt.Errorf("%s: %s in two layers", path, f)
			}
			layers[filepath.Base(f)] = i
		}
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("%s: no table of layers", path)
	}
	return layers, nil
}
