// Package flowlake_test holds the architecture tests of the module: the
// one-way package dependencies of DESIGN.md and a package doc on every
// package. `make lint` and `make test` run them.
package flowlake_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/flowlake/flowlake"

// rule says which of Flowlake's own packages a package tree may import.
// Paths are relative to the module; "x" matches x and every package below
// it; "x/*" matches the same, but makes each x/<child> a tree of its own.
type rule struct {
	pkg        string   // the package tree the rule governs
	may        []string // own package trees it may import; nil means none
	any        bool     // may import every own package (the wiring in cmd/flowlake)
	thirdParty []string // when non-nil, the only non-stdlib modules it may import
}

// rules is DESIGN.md's dependency table. The most specific rule (longest
// pkg) governs a package; a package below a rule's tree may always import
// packages of its own tree.
var rules = []rule{
	{pkg: "", may: nil}, // the module root: these tests only
	{pkg: "cmd/flowlake", any: true},
	{pkg: "storage/schema", thirdParty: []string{"github.com/parquet-go/parquet-go", "github.com/apache/arrow-go/v18"}},
	{pkg: "storage/lake", may: []string{"storage/schema"}},
	{pkg: "storage/gen", may: []string{"storage/schema"}},
	{pkg: "storage/query", may: []string{"storage/schema", "storage/lake"}},
	{pkg: "storage/meta", may: nil},
	{pkg: "ingest/*", may: []string{"storage/schema"}},
	{pkg: "edge", may: []string{"ingest", "storage/lake", "storage/schema"}},
	{pkg: "api", may: []string{"storage/query", "storage/meta", "storage/lake", "storage/schema", "graph"}},
	{pkg: "graph", may: []string{"storage/query", "storage/meta", "storage/schema"}},
	{pkg: "jobs", may: []string{"storage", "reports"}},
	{pkg: "reports", may: []string{"storage/query", "storage/schema"}},
}

// forbidden holds the edges DESIGN.md rules out whatever a table row says:
// nothing in storage or ingest imports api, graph, jobs or edge.
var forbidden = []struct{ from, to string }{
	{"storage", "api"}, {"storage", "graph"}, {"storage", "jobs"}, {"storage", "edge"},
	{"ingest", "api"}, {"ingest", "graph"}, {"ingest", "jobs"}, {"ingest", "edge"},
}

// testOnlyThirdParty may be imported by tests of any package.
var testOnlyThirdParty = []string{"github.com/google/go-cmp"}

// testOnlyOwn are Flowlake packages that tests of any package may import:
// the synthetic data generator, which itself imports only storage/schema, so
// no test can close a cycle through it.
var testOnlyOwn = []string{"storage/gen"}

// within reports whether rel is the package tree tree or below it.
func within(rel, tree string) bool {
	return tree == "" && rel == "" || rel == tree || tree != "" && strings.HasPrefix(rel, tree+"/")
}

// ruleFor returns the most specific rule governing the own package rel, and
// the package tree rel belongs to under that rule.
func ruleFor(rel string) (r rule, tree string, found bool) {
	for _, c := range rules {
		base, split := strings.CutSuffix(c.pkg, "/*")
		if !within(rel, base) || found && len(c.pkg) <= len(r.pkg) {
			continue
		}
		r, tree, found = c, base, true
		if split && rel != base {
			child, _, _ := strings.Cut(strings.TrimPrefix(rel, base+"/"), "/")
			tree = base + "/" + child
		}
	}
	return r, tree, found
}

// checkEdge returns why from may not import imp, or "" when it may. Both are
// full import paths; from is one of Flowlake's packages.
func checkEdge(from, imp string, test bool) string {
	rel := relPath(from)
	r, tree, ok := ruleFor(rel)
	if !ok {
		return fmt.Sprintf("package %s has no row in the dependency table of arch_test.go (DESIGN.md): add one", rel)
	}
	if !isOwn(imp) {
		if isStdlib(imp) || r.thirdParty == nil {
			return ""
		}
		allowed := r.thirdParty
		if test {
			allowed = append(slices.Clip(allowed), testOnlyThirdParty...)
		}
		for _, m := range allowed {
			if imp == m || strings.HasPrefix(imp, m+"/") {
				return ""
			}
		}
		return fmt.Sprintf("%s may import only the standard library and %s", display(rel), strings.Join(r.thirdParty, ", "))
	}
	to := relPath(imp)
	for _, f := range forbidden {
		if within(rel, f.from) && within(to, f.to) {
			return fmt.Sprintf("nothing in %s may import %s", f.from, f.to)
		}
	}
	if r.any || tree != "" && within(to, tree) {
		return ""
	}
	may := r.may
	if test {
		may = append(slices.Clip(may), testOnlyOwn...)
	}
	for _, m := range may {
		if within(to, m) {
			return ""
		}
	}
	if len(r.may) == 0 {
		return fmt.Sprintf("%s may import none of Flowlake's packages", display(r.pkg))
	}
	return fmt.Sprintf("%s may import only %s among Flowlake's packages", display(r.pkg), strings.Join(r.may, ", "))
}

func isOwn(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

func relPath(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

func display(rel string) string {
	if rel == "" {
		return "the module root"
	}
	return rel
}

// isStdlib reports whether path is a standard-library import path (its first
// element has no dot), or "C".
func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// listedPackage is the part of `go list -json` these tests read.
type listedPackage struct {
	ImportPath   string
	Dir          string
	Name         string
	GoFiles      []string
	CgoFiles     []string
	TestGoFiles  []string
	XTestGoFiles []string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// listPackages runs `go list -e -json ./...` on the module. Packages that do
// not compile are still listed, with the imports their files declare.
func listPackages(t *testing.T) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

// importPositions maps each import path of the files to the first file:line
// importing it, so a violation names where it comes from.
func importPositions(t *testing.T, dir string, files []string) map[string]string {
	t.Helper()
	pos := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ImportsOnly)
		if err != nil {
			continue // a file that does not parse is the compiler's to report
		}
		for _, s := range f.Imports {
			path, err := strconv.Unquote(s.Path.Value)
			if err != nil {
				continue
			}
			if _, seen := pos[path]; !seen {
				p := fset.Position(s.Pos())
				pos[path] = fmt.Sprintf("%s:%d", filepath.Base(p.Filename), p.Line)
			}
		}
	}
	return pos
}

// TestImportDirection enforces DESIGN.md's one-way dependencies on the
// imports of every package, its tests included.
func TestImportDirection(t *testing.T) {
	for _, p := range listPackages(t) {
		if !isOwn(p.ImportPath) {
			continue
		}
		kinds := []struct {
			imports []string
			files   []string
			test    bool
		}{
			{p.Imports, append(slices.Clip(p.GoFiles), p.CgoFiles...), false},
			{p.TestImports, p.TestGoFiles, true},
			{p.XTestImports, p.XTestGoFiles, true},
		}
		for _, k := range kinds {
			var pos map[string]string
			for _, imp := range k.imports {
				if imp == p.ImportPath {
					continue // an external test importing its package
				}
				why := checkEdge(p.ImportPath, imp, k.test)
				if why == "" {
					continue
				}
				if pos == nil {
					pos = importPositions(t, p.Dir, k.files)
				}
				t.Errorf("%s -> %s (%s): %s", display(relPath(p.ImportPath)), imp, pos[imp], why)
			}
		}
	}
}

// TestPackageDocs checks that every package has a package doc comment on
// the package clause of one of its non-test files.
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		files := append(slices.Clip(p.GoFiles), p.CgoFiles...)
		if !isOwn(p.ImportPath) || len(files) == 0 {
			continue // the module root holds only these tests
		}
		fset := token.NewFileSet()
		documented := false
		for _, name := range files {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				continue
			}
			if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
				documented = true
				break
			}
		}
		if !documented {
			t.Errorf("package %s has no package doc comment: add a doc.go saying what it owns (// Package %s ...)",
				display(relPath(p.ImportPath)), p.Name)
		}
	}
}

// TestArchRules checks the rule table itself on edges with a known verdict,
// so a mistake in it cannot let every import pass.
func TestArchRules(t *testing.T) {
	f := func(from, to string, test, ok bool) {
		t.Helper()
		why := checkEdge(module+"/"+from, to, test)
		if (why == "") != ok {
			t.Errorf("%s -> %s (test=%v): allowed=%v, want %v (%s)", from, to, test, why == "", ok, why)
		}
	}
	own := func(rel string) string { return module + "/" + rel }
	// storage/schema: stdlib, parquet-go, arrow, and nothing of ours.
	f("storage/schema", "fmt", false, true)
	f("storage/schema", "github.com/parquet-go/parquet-go/compress/zstd", false, true)
	f("storage/schema", "github.com/apache/arrow-go/v18/arrow", false, true)
	f("storage/schema", "github.com/labstack/echo/v4", false, false)
	f("storage/schema", "github.com/google/go-cmp/cmp", false, false)
	f("storage/schema", "github.com/google/go-cmp/cmp", true, true)
	f("storage/schema", own("storage/lake"), false, false)
	// storage/lake and below.
	f("storage/lake", own("storage/schema"), false, true)
	f("storage/lake", own("storage/query"), true, false)
	f("storage/lake", own("storage/gen"), false, false)
	f("storage/lake", own("storage/gen"), true, true)
	f("storage/query", own("storage/gen"), true, true)
	f("storage/lake/blobtest", own("storage/lake"), false, true)
	f("storage/lake", own("api"), false, false)
	f("storage/gen", own("storage/schema"), false, true)
	f("storage/gen", own("storage/lake"), false, false)
	f("storage/query", own("storage/lake"), false, true)
	f("storage/query", own("storage/meta"), false, false)
	f("storage/meta", own("storage/schema"), false, false)
	// ingest/<kind>: schema only, never a sibling.
	f("ingest/flow", own("storage/schema"), false, true)
	f("ingest/flow", own("ingest/dhcp"), false, false)
	f("ingest/flow", own("edge"), false, false)
	f("edge", own("ingest/flow"), false, true)
	f("edge", own("storage/query"), false, false)
	f("api", own("graph"), false, true)
	f("api", own("jobs"), false, false)
	f("graph", own("api"), false, false)
	f("jobs", own("storage/lake"), false, true)
	f("jobs", own("reports"), false, true)
	f("jobs", own("api"), false, false)
	f("reports", own("storage/query"), false, true)
	f("reports", own("storage/lake"), false, false)
	f("cmd/flowlake", own("api"), false, true)
	f("cmd/flowlake", own("storage/lake"), false, true)
	f("", own("storage/schema"), true, false)
	f("internal/unknown", own("storage/schema"), false, false)
	// storage or ingest never reach the top, whatever a row says.
	f("storage/lake", own("edge"), false, false)
	f("ingest/dhcp", own("jobs"), true, false)
}
