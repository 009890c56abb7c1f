// Package flowlake_test holds the architecture tests of the module: the
// one-way package dependencies of docs/architecture.md and a package doc on
// every package, in the module and in bench/ (a module of its own). `make
// lint` and `make test` run them.
package flowlake_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
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

// rules is docs/architecture.md's dependency table. The most specific rule (longest
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
	{pkg: "edge", may: []string{"ingest", "storage/lake", "storage/schema", "tunnel"}},
	{pkg: "api", may: []string{"storage/query", "storage/meta", "storage/lake", "storage/schema", "graph", "tunnel"}},
	// tunnel is the edge↔core tunnel's wire protocol, shared by both ends
	// (edge/tunnel, api/tunnelcore), which import nothing of each other.
	{pkg: "tunnel", may: []string{"storage/schema"}},
	{pkg: "graph", may: []string{"storage/query", "storage/meta", "storage/schema"}},
	{pkg: "jobs", may: []string{"storage", "reports"}},
	{pkg: "reports", may: []string{"storage/query", "storage/schema"}},
	// reports/forecast is math only: the standard library and gonum, none
	// of Flowlake's packages, so reports, alerts and jobs can all use it.
	{pkg: "reports/forecast", thirdParty: []string{"gonum.org/v1/gonum"}},
	// bench/ is a module of its own (cgo, DuckDB): it measures and checks
	// the storage engines against peers and may import only them.
	{pkg: "bench", may: []string{"storage"}},
}

// plannedTrees are rows of the table whose packages do not exist yet; every
// other row must match at least one package (loadModule).
var plannedTrees = []string{}

// benchOnly are imports only bench/ may use: cgo and DuckDB. The binary
// and every package it could link build with CGO_ENABLED=0.
var benchOnly = []string{"C", "github.com/duckdb/duckdb-go"}

// forbidden holds the edges docs/architecture.md rules out whatever a table row says:
// nothing in storage or ingest imports api, graph, jobs or edge.
var forbidden = []struct{ from, to string }{
	{"storage", "api"}, {"storage", "graph"}, {"storage", "jobs"}, {"storage", "edge"},
	{"ingest", "api"}, {"ingest", "graph"}, {"ingest", "jobs"}, {"ingest", "edge"},
}

// testOnlyThirdParty may be imported by tests of any package.
var testOnlyThirdParty = []string{"github.com/google/go-cmp"}

// testOnlyOwn are Flowlake packages that tests of any package may import:
// the synthetic data generator and the lake (to open the one a test engine
// reads), which themselves import only storage/schema, so no test can close a
// cycle through them.
var testOnlyOwn = []string{"storage/gen", "storage/lake"}

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
		return fmt.Sprintf("package %s has no row in the dependency table of arch_test.go (docs/architecture.md): add one", rel)
	}
	if !within(rel, "bench") {
		for _, m := range benchOnly {
			if imp == m || strings.HasPrefix(imp, m+"/") {
				return fmt.Sprintf("only bench/ may import %s: the module builds with CGO_ENABLED=0", imp)
			}
		}
		if isOwn(imp) && within(relPath(imp), "bench") {
			return "nothing outside bench/ may import it: bench is a module of its own that depends on this one"
		}
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

// violations checks every import of every package against the rules and
// returns one line per forbidden edge, naming the file that declares it.
func violations(pkgs []sourcePackage) []string {
	var out []string
	for _, p := range pkgs {
		if !isOwn(p.ImportPath) {
			out = append(out, fmt.Sprintf("package %s is outside module %s", p.ImportPath, module))
			continue
		}
		for _, k := range []struct {
			imports map[string]string
			test    bool
		}{{p.Imports, false}, {p.TestImports, true}, {p.XTestImports, true}} {
			for _, imp := range sortedKeys(k.imports) {
				if imp == p.ImportPath {
					continue // an external test importing its package
				}
				if why := checkEdge(p.ImportPath, imp, k.test); why != "" {
					out = append(out, fmt.Sprintf("%s -> %s (%s): %s", display(relPath(p.ImportPath)), imp, k.imports[imp], why))
				}
			}
		}
	}
	return out
}

// loadModule loads the module this test runs in and checks that it is the
// one the rules are written for, so a drifted module constant cannot make
// every import look foreign and pass.
func loadModule(t *testing.T) []sourcePackage {
	t.Helper()
	mods, pkgs, err := loadSource(".")
	if err != nil {
		t.Fatalf("load the module's sources: %v", err)
	}
	want := map[string]string{"": module, "bench": module + "/bench"}
	for _, m := range mods {
		if w, ok := want[m.Dir]; ok && m.Path != w {
			t.Fatalf("%s/go.mod declares module %s, but arch_test.go's rules are written for %s: update the module constant", m.Dir, m.Path, w)
		}
		delete(want, m.Dir)
	}
	if len(want) > 0 {
		t.Fatalf("no go.mod found for %v", want)
	}
	// Every rule governs packages that exist: a rule that matches nothing
	// is a typo, and a loader that finds nothing would pass vacuously.
	for _, r := range rules {
		base, _ := strings.CutSuffix(r.pkg, "/*")
		found := false
		for _, p := range pkgs {
			found = found || within(relPath(p.ImportPath), base)
		}
		if !found && !slices.Contains(plannedTrees, r.pkg) {
			t.Errorf("no package found for the rule of %s (%d packages loaded)", display(r.pkg), len(pkgs))
		}
	}
	return pkgs
}

// TestImportDirection enforces docs/architecture.md's one-way dependencies
// on the imports of every file of every package, tests included, whatever
// their build constraints, in the module and in bench/.
func TestImportDirection(t *testing.T) {
	for _, v := range violations(loadModule(t)) {
		t.Error(v)
	}
}

// TestPackageDocs checks that every package has a package doc comment on
// the package clause of one of its non-test files.
func TestPackageDocs(t *testing.T) {
	for _, p := range loadModule(t) {
		if len(p.GoFiles) == 0 {
			continue // the module root holds only these tests
		}
		fset := token.NewFileSet()
		documented := false
		for _, name := range p.GoFiles {
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

// TestArchLoaderSeesEveryFile builds a small module in which the only
// forbidden imports are in files the current build would not compile (a
// windows-only file, a file behind a tag, an ignored generator) and in a
// nested module, and checks that each is reported.
func TestArchLoaderSeesEveryFile(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module "+module+"\n\ngo 1.26\n")
	write("edge/doc.go", "// Package edge is a test fixture.\npackage edge\n")
	write("edge/win.go", "//go:build windows\n\npackage edge\n\nimport _ \""+module+"/api\"\n")
	write("storage/lake/tagged.go", "//go:build sometag\n\npackage lake\n\nimport _ \""+module+"/jobs\"\n")
	write("storage/lake/tagged_test.go", "//go:build plan9\n\npackage lake_test\n\nimport _ \""+module+"/graph\"\n")
	write("storage/schema/cgo_linux.go", "//go:build cgo\n\npackage schema\n\nimport _ \"github.com/duckdb/duckdb-go/v2\"\n")
	write("bench/go.mod", "module "+module+"/bench\n")
	write("bench/x/x.go", "package x\n\nimport _ \""+module+"/api\"\n")
	write("storage/query/bench_user.go", "package query\n\nimport _ \""+module+"/bench/x\"\n")
	write("storage/query/testdata/ignored.go", "package ignored\n\nimport _ \""+module+"/api\"\n")

	mods, pkgs, err := loadSource(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 2 || mods[1].Path != module+"/bench" {
		t.Errorf("modules %+v, want the root and bench", mods)
	}
	got := violations(pkgs)
	want := []string{
		"bench/x -> " + module + "/api (x.go:3)",
		"edge -> " + module + "/api (win.go:5)",
		"storage/lake -> " + module + "/jobs (tagged.go:5)",
		"storage/lake -> " + module + "/graph (tagged_test.go:5)",
		"storage/query -> " + module + "/bench/x (bench_user.go:3)",
		"storage/schema -> github.com/duckdb/duckdb-go/v2 (cgo_linux.go:5)",
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("no violation %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d violations, want %d (testdata is not part of a module):\n%s", len(got), len(want), strings.Join(got, "\n"))
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
	f("reports/forecast", "gonum.org/v1/gonum/optimize", false, true)
	f("reports/forecast", "github.com/labstack/echo/v4", false, false)
	f("reports/forecast", own("storage/query"), false, false)
	f("reports/forecast", own("storage/gen"), true, true)
	f("reports", own("reports/forecast"), false, true)
	f("cmd/flowlake", own("api"), false, true)
	f("cmd/flowlake", own("storage/lake"), false, true)
	f("", own("storage/schema"), true, false)
	f("internal/unknown", own("storage/schema"), false, false)
	// storage or ingest never reach the top, whatever a row says.
	f("storage/lake", own("edge"), false, false)
	f("ingest/dhcp", own("jobs"), true, false)
	// bench/: the storage engines and DuckDB; nobody imports bench, and
	// nothing but bench uses cgo or DuckDB.
	f("bench/cmd/benchquery", own("storage/query"), false, true)
	f("bench/duckdb", own("storage/gen"), true, true)
	f("bench/duckdb", "github.com/duckdb/duckdb-go/v2", true, true)
	f("bench/cmd/benchquery", own("edge"), false, false)
	f("bench/cmd/benchquery", own("api"), false, false)
	f("storage/query", own("bench/duckdb"), true, false)
	f("cmd/flowlake", own("bench/cmd/benchquery"), false, false)
	f("cmd/flowlake", "github.com/duckdb/duckdb-go/v2", false, false)
	f("storage/lake", "C", false, false)
	f("bench/duckdb", "C", false, true)
}
