package flowlake_test

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// sourcePackage is one directory of Go files of the module (or of a module
// nested in it, such as bench/), read from the files themselves: every file
// counts whatever its build constraints, so a `//go:build windows` file is
// held to the same rules as the rest.
type sourcePackage struct {
	ImportPath string
	Dir        string
	Name       string   // the package name of its non-test files
	GoFiles    []string // non-test files, cgo ones included
	// Imports, TestImports and XTestImports map each import path of the
	// package's files, of its in-package tests and of its external tests to
	// the first file:line importing it.
	Imports, TestImports, XTestImports map[string]string
}

// goModule is a go.mod found under the root: its directory, relative to the
// root with forward slashes ("" for the root), and its module path.
type goModule struct {
	Dir, Path string
}

// readModulePath returns the module path declared in dir/go.mod.
func readModulePath(dir string) (string, error) {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			p := strings.TrimSpace(rest)
			if uq, err := strconv.Unquote(p); err == nil {
				p = uq
			}
			if p == "" {
				break
			}
			return p, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read %s/go.mod: %w", dir, err)
	}
	return "", fmt.Errorf("%s/go.mod declares no module", dir)
}

// loadSource walks root and parses the imports of every Go file of every
// module below it, as the go command would see them on any platform and
// with any tags. Directories the go command ignores (testdata, and names
// starting with "." or "_") are skipped.
func loadSource(root string) ([]goModule, []sourcePackage, error) {
	var mods []goModule
	var pkgs []sourcePackage
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if p != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		}
		if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
			mp, err := readModulePath(p)
			if err != nil {
				return err
			}
			mods = append(mods, goModule{Dir: rel, Path: mp})
		}
		pkg, ok, err := parseDir(p)
		if err != nil || !ok {
			return err
		}
		pkg.ImportPath = importPathOf(mods, rel)
		pkgs = append(pkgs, pkg)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(mods) == 0 || mods[0].Dir != "" {
		return nil, nil, fmt.Errorf("%s has no go.mod", root)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].ImportPath < pkgs[j].ImportPath })
	return mods, pkgs, nil
}

// importPathOf returns the import path of directory rel: its innermost
// module's path plus the rest.
func importPathOf(mods []goModule, rel string) string {
	best := mods[0]
	for _, m := range mods[1:] {
		if (rel == m.Dir || strings.HasPrefix(rel, m.Dir+"/")) && len(m.Dir) > len(best.Dir) {
			best = m
		}
	}
	sub := strings.TrimPrefix(strings.TrimPrefix(rel, best.Dir), "/")
	if sub == "" {
		return best.Path
	}
	return best.Path + "/" + sub
}

// parseDir reads the package clause and imports of every .go file in dir;
// ok is false when it has none.
func parseDir(dir string) (pkg sourcePackage, ok bool, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return pkg, false, err
	}
	pkg = sourcePackage{Dir: dir, Imports: map[string]string{}, TestImports: map[string]string{}, XTestImports: map[string]string{}}
	fset := token.NewFileSet()
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ImportsOnly)
		if err != nil {
			return pkg, false, fmt.Errorf("parse %s: %w", filepath.Join(dir, name), err)
		}
		ok = true
		into := pkg.Imports
		switch {
		case strings.HasSuffix(name, "_test.go") && strings.HasSuffix(f.Name.Name, "_test"):
			into = pkg.XTestImports
		case strings.HasSuffix(name, "_test.go"):
			into = pkg.TestImports
		default:
			pkg.GoFiles = append(pkg.GoFiles, name)
			pkg.Name = f.Name.Name
		}
		for _, s := range f.Imports {
			path, err := strconv.Unquote(s.Path.Value)
			if err != nil {
				return pkg, false, fmt.Errorf("%s: import %s: %w", fset.Position(s.Pos()), s.Path.Value, err)
			}
			if _, seen := into[path]; !seen {
				p := fset.Position(s.Pos())
				into[path] = fmt.Sprintf("%s:%d", filepath.Base(p.Filename), p.Line)
			}
		}
	}
	slices.Sort(pkg.GoFiles)
	return pkg, ok, nil
}

// sortedKeys returns m's keys in order, so violations print stably.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
