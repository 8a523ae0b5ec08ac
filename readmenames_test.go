package webhook_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readmePackages are the packages whose names README.md writes
// qualified (webhook.WithInbox, sqlitestore.Open), by that qualifier.
var readmePackages = map[string]string{
	"webhook": ".", "event": "event", "webhooktest": "webhooktest", "inboxtest": "inboxtest",
	"sqlitestore": "sqlitestore", "redisstore": "redisstore", "otelwebhook": "otelwebhook",
}

// otherOptions are the With… names README.md writes unqualified that are
// another module's: otelhttp's, in the OpenTelemetry section.
var otherOptions = map[string]bool{"WithPublicEndpointFn": true, "WithPropagators": true}

// exported returns the exported names a package declares, outside its
// tests: top-level names, and for each type "Type.Member", its methods,
// fields and interface methods.
func exported(t *testing.T, dir string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					names[d.Name.Name] = true
					continue
				}
				recv := d.Recv.List[0].Type
				if star, ok := recv.(*ast.StarExpr); ok {
					recv = star.X
				}
				if idx, ok := recv.(*ast.IndexExpr); ok {
					recv = idx.X
				}
				if id, ok := recv.(*ast.Ident); ok {
					names[id.Name+"."+d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.ValueSpec:
						for _, n := range s.Names {
							names[n.Name] = true
						}
					case *ast.TypeSpec:
						names[s.Name.Name] = true
						var fields *ast.FieldList
						switch typ := s.Type.(type) {
						case *ast.StructType:
							fields = typ.Fields
						case *ast.InterfaceType:
							fields = typ.Methods
						}
						if fields == nil {
							continue
						}
						for _, fl := range fields.List {
							for _, n := range fl.Names {
								names[s.Name.Name+"."+n.Name] = true
							}
						}
					}
				}
			}
		}
	}
	return names
}

// TestREADMENamesExist: every name README.md's prose writes as code,
// outside its changelog, is declared where it says: a qualified name
// (`webhook.WithInbox`, `sqlitestore.WithCapacity`) in its package, a
// `Type.Member` of one of this repository's types on that type, and an
// option `With…` or a name written alone (`ErrBadCursor`,
// `NewMemoryStore`) in one of the packages. A name renamed or removed leaves
// no sentence telling users to call it. (The Go blocks are compiled by
// TestREADMESnippetsCompile.)
func TestREADMENamesExist(t *testing.T) {
	if dir := missingModule(t, os.DirFS(".")); dir != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI runs in the repository", dir)
		}
		t.Skipf("%s is missing: the core's module alone, not the repository, whose modules declare the names the README writes", dir)
	}
	byPkg, anyPkg := declared(t)
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	text, _, ok := strings.Cut(string(readme), "\n## Changelog\n")
	require.True(t, ok, "README.md has no Changelog section")
	_, text, _ = strings.Cut(text, "\n") // the title
	var prose []string                   // the text outside fenced blocks
	inFence := false
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		if !inFence {
			prose = append(prose, line)
		}
	}
	spans := regexp.MustCompile("`[^`\n]+`").FindAllString(strings.Join(prose, ""), -1)
	require.Greater(t, len(spans), 300, "found too few code spans to trust the parse")

	// A span that is one name of the kinds this repository's packages
	// declare and README.md writes alone, or a call of one
	// (`ErrBadCursor`, `NewMemoryStore`, `DefaultRetention`,
	// `InboxByUpdated`, `ReasonOf(err)`): the kinds a rename leaves
	// behind, and no other module's names share.
	bare := regexp.MustCompile(`^((?:Err|New|Default|Inbox|Reason|Hint|Memory|Sync)[A-Z]\w*)(?:\(.*\))?$`)
	var missing []string
	for _, span := range spans {
		if m := bare.FindStringSubmatch(strings.Trim(span, "`")); m != nil && !anyPkg[m[1]] {
			missing = append(missing, m[1])
		}
		missing = append(missing, undeclared(span, byPkg, anyPkg)...)
	}
	require.Empty(t, missing, "README.md writes these names, which no package of the repository declares")
}

// declared returns the names each package of readmePackages declares, by
// qualifier, and those of all of them together (unqualified: Name and
// Type.Member).
func declared(t *testing.T) (byPkg map[string]map[string]bool, anyPkg map[string]bool) {
	t.Helper()
	byPkg = map[string]map[string]bool{}
	anyPkg = map[string]bool{}
	for qual, dir := range readmePackages {
		byPkg[qual] = exported(t, dir)
		for n := range byPkg[qual] {
			anyPkg[n] = true
		}
	}
	return byPkg, anyPkg
}

var (
	qualifiedName = regexp.MustCompile(`\b(webhook|event|webhooktest|inboxtest|sqlitestore|redisstore|otelwebhook)\.([A-Z]\w*)(?:\.([A-Z]\w*))?`)
	memberName    = regexp.MustCompile(`(?:^|[^\w.])([A-Z]\w*)\.([A-Z]\w*)`)
	optionName    = regexp.MustCompile(`(?:^|[^\w.])(With[A-Z]\w*)`)
	testFunc      = regexp.MustCompile(`^(Test|Benchmark|Example|Fuzz)([A-Z_]|$)`)
)

// undeclared returns the names text writes that no package declares: a
// qualified name (webhook.WithInbox, sqlitestore.WithCapacity) missing
// from its package, a Type.Member of one of the packages' types missing
// from every type of that name, an option With… missing from every
// package.
func undeclared(text string, byPkg map[string]map[string]bool, anyPkg map[string]bool) []string {
	var missing []string
	for _, m := range qualifiedName.FindAllStringSubmatch(text, -1) {
		names := byPkg[m[1]]
		switch {
		case testFunc.MatchString(m[2]):
			// event.BenchmarkDecodeOverhead: a test's name, which
			// TestDocsNameRealTests checks.
		case !names[m[2]]:
			missing = append(missing, m[1]+"."+m[2])
		case m[3] != "" && anyTypeMember(names, m[2]) && !names[m[2]+"."+m[3]]:
			missing = append(missing, m[1]+"."+m[2]+"."+m[3])
		}
	}
	for _, m := range memberName.FindAllStringSubmatch(text, -1) {
		if anyTypeMember(anyPkg, m[1]) && !anyPkg[m[1]+"."+m[2]] {
			missing = append(missing, m[1]+"."+m[2])
		}
	}
	for _, m := range optionName.FindAllStringSubmatch(text, -1) {
		if !anyPkg[m[1]] && !otherOptions[m[1]] {
			missing = append(missing, m[1])
		}
	}
	return missing
}

// anyTypeMember reports whether names holds a member of typ, that is,
// whether typ is a type of the package (with methods or fields).
func anyTypeMember(names map[string]bool, typ string) bool {
	for n := range names {
		if strings.HasPrefix(n, typ+".") {
			return true
		}
	}
	return false
}

// readByOthers are the environment variables README.md names that another
// program reads, not this repository's code: Go's crypto/x509, on Linux.
var readByOthers = map[string]bool{"SSL_CERT_FILE": true, "SSL_CERT_DIR": true}

// TestREADMEEnvVarsRead: every environment variable README.md names
// outside its changelog (`WEBHOOK_INBOX`, WEBHOOK_TEST_REDIS_URL=… in a
// command) is read by some Go file or script of the repository, tests
// included, by that name: a variable renamed in the code leaves no line
// telling users to set the old one, which nothing would read.
func TestREADMEEnvVarsRead(t *testing.T) {
	if dir := missingModule(t, os.DirFS(".")); dir != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI runs in the repository", dir)
		}
		t.Skipf("%s is missing: the core's module alone, not the repository, whose modules read the variables the README names", dir)
	}
	var sources []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, ".sh") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sources = append(sources, string(src))
		return nil
	})
	require.NoError(t, err)
	all := strings.Join(sources, "\n")

	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	text, _, ok := strings.Cut(string(readme), "\n## Changelog\n")
	require.True(t, ok, "README.md has no Changelog section")
	names := regexp.MustCompile(`\b[A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9]\b`).FindAllString(text, -1)
	require.Greater(t, len(names), 20, "found too few variables to trust the pattern")
	var unread []string
	for _, name := range names {
		if readByOthers[name] {
			continue
		}
		// Go reads it as a string; a script as $NAME, ${NAME…} or NAME=.
		if !strings.Contains(all, `"`+name+`"`) && !strings.Contains(all, "$"+name) && !strings.Contains(all, "${"+name) {
			unread = append(unread, name)
		}
	}
	require.Empty(t, unread, "README.md names these environment variables, which no Go file or script of the repository reads")
}

// TestDocCommentNamesExist: the comments of every Go file of the
// repository, doc comments and the package docs go doc shows among them,
// name only what the packages declare, as TestREADMENamesExist holds the
// README to: a qualified name (sqlitestore.Open) in its package, a
// Type.Member of one of the packages' types on that type, an option
// With… in one of the packages. The compiler checks the code after a
// rename, and the README test the README's prose; without this a doc
// comment could go on telling users to call the old name.
func TestDocCommentNamesExist(t *testing.T) {
	if dir := missingModule(t, os.DirFS(".")); dir != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: CI runs in the repository", dir)
		}
		t.Skipf("%s is missing: the core's module alone, not the repository, whose modules declare the names the comments write", dir)
	}
	byPkg, anyPkg := declared(t)
	var missing []string
	comments := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, cg := range f.Comments {
			comments++
			for _, name := range undeclared(cg.Text(), byPkg, anyPkg) {
				missing = append(missing, fset.Position(cg.Pos()).String()+": "+name)
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, comments, 1000, "found too few comments to trust the walk")
	require.Empty(t, missing, "comments write these names, which no package of the repository declares")
}
