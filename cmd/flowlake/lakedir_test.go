package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/api"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestReadCommandsRefuseNonLake runs every command that reads the lake on
// directories that are not lakes: each must fail with a message that says
// so, and leave nothing behind (no directory, no catalog).
func TestReadCommandsRefuseNonLake(t *testing.T) {
	t.Parallel()
	commands := [][]string{
		{"query", "flows", "--from", "2026-11-03T10:00:00Z"},
		{"query", "flows", "--by", "app", "--metrics", "count()"},
		{"lake", "stats"},
		{"lake", "ls"},
		{"lake", "ls", "flows"},
		{"lake", "verify"},
		{"lake", "compact"},
	}
	dirs := []struct {
		name string
		make func(t *testing.T) string
		want string
	}{
		{"missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, "does not exist"},
		{"empty", func(t *testing.T) string { return t.TempDir() }, "holds neither _catalog.json nor a dataset directory"},
		{"other files", func(t *testing.T) string {
			d := t.TempDir()
			if err := os.WriteFile(filepath.Join(d, "notes.txt"), []byte("hi"), 0o644); err != nil {
				t.Fatal(err)
			}
			return d
		}, "holds neither"},
		{"a file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "data")
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "not a directory"},
	}
	for _, args := range commands {
		for _, d := range dirs {
			t.Run(strings.Join(args, " ")+"/"+d.name, func(t *testing.T) {
				dir := d.make(t)
				before := listDir(t, dir)
				out, errOut, code := runCLI(t, nil, append(args, "--data", dir)...)
				if code != 1 {
					t.Errorf("exit %d, want 1; stdout %q", code, out)
				}
				if !strings.Contains(errOut, "not a Flowlake lake") || !strings.Contains(errOut, d.want) || !strings.Contains(errOut, dir) {
					t.Errorf("stderr = %q, want %q about %s", errOut, d.want, dir)
				}
				if after := listDir(t, dir); strings.Join(after, ",") != strings.Join(before, ",") {
					t.Errorf("the command changed %s: %v, then %v", dir, before, after)
				}
			})
		}
	}
}

// listDir lists the names in dir; nil when it does not exist, the name
// itself for a file.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return []string{filepath.Base(dir)}
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestReadCommandsAcceptLake checks the other side: a lake made by gen,
// and one that serve created but that holds no data yet, both read.
func TestReadCommandsAcceptLake(t *testing.T) {
	t.Parallel()
	if _, errOut, code := runCLI(t, nil, "lake", "stats", "--data", genLake(t)); code != 0 {
		t.Errorf("lake stats of a generated lake: exit %d: %s", code, errOut)
	}
	// A lake only written by the catalog (serve on a new directory).
	dir := filepath.Join(t.TempDir(), "new")
	a := &app{cfg: DefaultConfig()}
	a.cfg.Lake.Root = dir
	l, err := a.createLake()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCLI(t, nil, "lake", "stats", "--data", dir); code != 0 {
		t.Errorf("lake stats of a new, empty lake: exit %d: %s", code, errOut)
	}
}

// baseRows returns the rows of the datasets gen writes, from lake stats.
func baseRows(t *testing.T, dir string) int64 {
	t.Helper()
	out, errOut, code := runCLI(t, nil, "lake", "stats", "--json", "--data", dir)
	if code != 0 {
		t.Fatalf("lake stats exited %d: %s", code, errOut)
	}
	var got api.DatasetsResponse
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, d := range got.Datasets {
		if ds, err := schema.Lookup(d.Dataset); err == nil && ds.DerivedFrom == "" {
			n += d.Rows
		}
	}
	return n
}

// TestGenOverExistingData runs gen over a range that already holds data:
// it must refuse and change nothing, and --replace must leave exactly the
// new rows, with rollups that agree.
func TestGenOverExistingData(t *testing.T) {
	t.Parallel()
	dir := genLake(t) // 2026-11-03 10:00 to 12:00, seed 7
	have := baseRows(t, dir)
	gen := func(args ...string) (GenSummary, string, int) {
		t.Helper()
		out, errOut, code := runCLI(t, nil, append([]string{"gen", "--data", dir, "--rate", "2", "--json", "--log-level", "warn"}, args...)...)
		var sum GenSummary
		if code == 0 {
			if err := json.Unmarshal([]byte(out), &sum); err != nil {
				t.Fatalf("gen --json: %v: %s", err, out)
			}
		}
		return sum, errOut, code
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"same range", []string{"--from", "2026-11-03T10:00:00Z", "--to", "2026-11-03T12:00:00Z", "--seed", "7"}, "--replace"},
		{"overlapping range", []string{"--from", "2026-11-03T11:30:00Z", "--to", "2026-11-03T13:00:00Z", "--seed", "8"}, "already holds data"},
		{"replace part of an hour", []string{"--from", "2026-11-03T10:30:00Z", "--to", "2026-11-03T12:00:00Z", "--seed", "8", "--replace"}, "use whole hours"},
	} {
		_, errOut, code := gen(tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want 1 and %q", tc.name, code, errOut, tc.want)
		}
		if got := baseRows(t, dir); got != have {
			t.Errorf("%s: the lake holds %d rows after a refused gen, had %d", tc.name, got, have)
		}
	}

	// An adjacent range is new data.
	next, errOut, code := gen("--from", "2026-11-03T12:00:00Z", "--to", "2026-11-03T13:00:00Z", "--seed", "7")
	if code != 0 {
		t.Fatalf("gen of the next hour: exit %d: %s", code, errOut)
	}
	if got := baseRows(t, dir); got != have+next.Rows {
		t.Errorf("after the next hour: %d rows, want %d + %d", got, have, next.Rows)
	}

	// --replace regenerates the two hours with another seed.
	sum, errOut, code := gen("--from", "2026-11-03T10:00:00Z", "--to", "2026-11-03T12:00:00Z", "--seed", "8", "--replace")
	if code != 0 {
		t.Fatalf("gen --replace: exit %d: %s", code, errOut)
	}
	if sum.Replaced != have {
		t.Errorf("gen --replace reports %d replaced rows, want %d", sum.Replaced, have)
	}
	if got := baseRows(t, dir); got != sum.Rows+next.Rows {
		t.Errorf("after --replace: %d rows, want %d + %d", got, sum.Rows, next.Rows)
	}
	// The rollups follow: flows_1h sums the bytes flows holds.
	count := func(dataset string) string {
		out, errOut, code := runCLI(t, nil, "query", dataset, "--data", dir, "--from", "2026-11-03T10:00:00Z", "--to", "2026-11-03T13:00:00Z",
			"--metrics", "sum(bytes)", "--format", "csv")
		if code != 0 {
			t.Fatalf("query %s: exit %d: %s", dataset, code, errOut)
		}
		return out
	}
	if raw, rolled := count("flows"), count("flows_1h"); raw != rolled {
		t.Errorf("sum(bytes) of flows %q, of flows_1h %q", raw, rolled)
	}
	if _, errOut, code := runCLI(t, nil, "lake", "verify", "--data", dir); code != 0 {
		t.Errorf("lake verify after --replace: exit %d: %s", code, errOut)
	}
}
