package schema_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
)

// columnsGolden records every column of every dataset as released: files
// with those columns exist in lakes and must stay readable.
var columnsGolden = filepath.Join("testdata", "columns.golden")

// releasedColumn is one line of columnsGolden.
type releasedColumn struct {
	physical string
	optional bool
}

func repetition(optional bool) string {
	if optional {
		return "optional"
	}
	return "required"
}

// columnLines renders the datasets' columns as columnsGolden holds them:
// "dataset<TAB>column<TAB>physical type<TAB>optional|required".
func columnLines(ds []*schema.Dataset) []byte {
	var b bytes.Buffer
	b.WriteString("# Every column of every dataset as released (docs/lake-format.md, \"Schema evolution\").\n")
	b.WriteString("# Checked by TestSchemaEvolution; new optional columns are added by its -update.\n")
	for _, d := range ds {
		for _, c := range d.Columns {
			fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", d.Name, c.Name, c.Physical, repetition(c.Nullable))
		}
	}
	return b.Bytes()
}

func parseColumns(data []byte) (map[string]map[string]releasedColumn, error) {
	out := map[string]map[string]releasedColumn{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 || (f[3] != "optional" && f[3] != "required") {
			return nil, fmt.Errorf("line %d: %q: want dataset, column, physical type, optional|required, tab-separated", n, line)
		}
		if out[f[0]] == nil {
			out[f[0]] = map[string]releasedColumn{}
		}
		out[f[0]][f[1]] = releasedColumn{physical: f[2], optional: f[3] == "optional"}
	}
	return out, sc.Err()
}

// evolutionProblems lists what in ds breaks the schema evolution rule
// against the released columns: a released column removed or changed (its
// files would be refused), or a column added to a released dataset that is
// not optional (every file written before it would be refused). A new
// dataset may have required columns: no file of it exists yet.
func evolutionProblems(released map[string]map[string]releasedColumn, ds []*schema.Dataset) []string {
	var out []string
	current := map[string]*schema.Dataset{}
	for _, d := range ds {
		current[d.Name] = d
	}
	for name, cols := range released {
		d := current[name]
		if d == nil {
			out = append(out, fmt.Sprintf("dataset %s was released and is gone: its files would be unreadable", name))
			continue
		}
		for col, rc := range cols {
			c, ok := d.Column(col)
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("%s.%s was released and is gone (removed or renamed): files holding it would be refused", name, col))
			case c.Physical != rc.physical || c.Nullable != rc.optional:
				out = append(out, fmt.Sprintf("%s.%s was released as %s %s and is now %s %s: files holding it would be refused; add a new optional column instead",
					name, col, repetition(rc.optional), rc.physical, repetition(c.Nullable), c.Physical))
			}
		}
	}
	for _, d := range ds {
		cols, ok := released[d.Name]
		if !ok {
			continue
		}
		for _, c := range d.Columns {
			if _, ok := cols[c.Name]; !ok && !c.Nullable {
				out = append(out, fmt.Sprintf("%s.%s is new and required: every %s file written before it would be refused; make it optional", d.Name, c.Name, d.Name))
			}
		}
	}
	return out
}

// TestSchemaEvolution enforces docs/lake-format.md's rule, "columns are
// only added, as optional", against the columns released so far
// (testdata/columns.golden). -update records the current columns once
// they keep the rule.
func TestSchemaEvolution(t *testing.T) {
	data, err := os.ReadFile(columnsGolden)
	if err != nil {
		t.Fatal(err)
	}
	released, err := parseColumns(data)
	if err != nil {
		t.Fatalf("%s: %v", columnsGolden, err)
	}
	problems := evolutionProblems(released, schema.All())
	for _, p := range problems {
		t.Error(p)
	}
	if *update && len(problems) == 0 {
		if err := os.WriteFile(columnsGolden, columnLines(schema.All()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := columnLines(schema.All()); !bytes.Equal(got, data) && len(problems) == 0 {
		t.Errorf("%s does not list the current columns (new optional columns?): run go test ./storage/schema -run TestSchemaEvolution -update", columnsGolden)
	}
}

// TestSchemaEvolutionRule checks the checker: each way of breaking the
// rule is caught, and an added optional column is not.
func TestSchemaEvolutionRule(t *testing.T) {
	old, err := schema.Lookup(schema.TCPConns)
	if err != nil {
		t.Fatal(err)
	}
	base, err := parseColumns(columnLines([]*schema.Dataset{old}))
	if err != nil {
		t.Fatal(err)
	}
	with := func(edit func(d *schema.Dataset)) []*schema.Dataset {
		d := *old
		d.Columns = append([]schema.Column(nil), old.Columns...)
		edit(&d)
		return []*schema.Dataset{&d}
	}
	for _, tc := range []struct {
		name string
		ds   []*schema.Dataset
		want string
	}{
		{"unchanged", with(func(*schema.Dataset) {}), ""},
		{"optional column added", with(func(d *schema.Dataset) {
			d.Columns = append(d.Columns, schema.Column{Name: "rtt_hint", Physical: "INT64", Nullable: true})
		}), ""},
		{"required column added", with(func(d *schema.Dataset) {
			d.Columns = append(d.Columns, schema.Column{Name: "rtt_hint", Physical: "INT64"})
		}), "tcp_conns.rtt_hint is new and required"},
		{"column removed", with(func(d *schema.Dataset) { d.Columns = d.Columns[:len(d.Columns)-1] }),
			"tcp_conns.end was released and is gone"},
		{"column retyped", with(func(d *schema.Dataset) { d.Columns[12].Physical = "INT64" }),
			"tcp_conns.iss was released as required INT32 INT(32,false) and is now required INT64"},
		{"optional made required", with(func(d *schema.Dataset) { d.Columns[11].Nullable = false }),
			"tcp_conns.setup_time was released as optional"},
		{"dataset removed", nil, "dataset tcp_conns was released and is gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(evolutionProblems(base, tc.ds), "\n")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("problems %q, want %q", got, tc.want)
			}
		})
	}
}
