package cloudconn

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// observed is the time column every golden row carries.
var observed = time.Date(2026, 12, 7, 17, 30, 0, 0, time.UTC)

// columns renders a row as its columns by name (the parquet tag), with
// addresses as text and timestamps as RFC 3339.
func columns(row any) map[string]any {
	out := map[string]any{}
	v := reflect.ValueOf(row)
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("parquet"), ",")
		val := v.Field(i).Interface()
		switch x := val.(type) {
		case schema.Addr:
			val = ""
			if !x.IsZero() {
				val = x.String()
			}
		case int64:
			if strings.Contains(f.Tag.Get("parquet"), "timestamp") && x != 0 {
				val = schema.FromMicros(x).Format(time.RFC3339Nano)
			}
		}
		out[name] = val
	}
	return out
}

type golden struct {
	Rows          []map[string]any `json:"cloud_conn"`
	Unknown       []Line           `json:"unknown"`
	UnknownValues []Value          `json:"unknown_values"`
	Lines         int              `json:"lines"`
}

// TestGoldenSamples parses every sample (testdata/samples: the guide's and
// the command reference's displays copied verbatim from the documents, a
// display with Chinese labels and values, two displays of one session)
// and compares every column of every row with testdata/golden (go test
// -update rewrites them).
func TestGoldenSamples(t *testing.T) {
	files, err := filepath.Glob("testdata/samples/*.txt")
	if err != nil || len(files) < 4 {
		t.Fatalf("want at least 4 samples, got %d (%v)", len(files), err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			res, err := Parse(f, Options{File: file, Edge: "import", Observed: observed})
			if err != nil {
				t.Fatal(err)
			}
			g := golden{Rows: []map[string]any{}, Unknown: res.Unknown, UnknownValues: res.UnknownValues, Lines: res.Lines}
			for _, r := range res.Rows {
				g.Rows = append(g.Rows, columns(r))
			}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata/golden", name+".json")
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(strings.TrimSpace(string(want)), strings.TrimSpace(string(got))); diff != "" {
				t.Errorf("%s differs from its golden file (-want +got):\n%s", file, diff)
			}
		})
	}
}

// TestFormatGuideSample formats the row parsed from the configuration
// guide's sample and compares it with the sample itself, line by line
// (no-break spaces and the blank lines of the document aside): the edge's
// state display prints what the device prints.
func TestFormatGuideSample(t *testing.T) {
	raw, err := os.ReadFile("testdata/samples/guide-en.txt")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Parse(strings.NewReader(string(raw)), Options{File: "guide", Observed: observed})
	if err != nil || len(res.Rows) != 1 {
		t.Fatalf("parse: %v, %d rows", err, len(res.Rows))
	}
	var want []string
	for i, l := range strings.Split(strings.ReplaceAll(string(raw), "\u00a0", " "), "\n") {
		if i == 0 || strings.TrimSpace(l) == "" {
			continue // the prompt and the document's blank lines
		}
		// The document names a wrong weekday: 27 January 2018 was a
		// Saturday, and Format prints the date's own.
		l = strings.Replace(l, "Wed Jan 27", "Sat Jan 27", 1)
		want = append(want, strings.TrimRight(l, " "))
	}
	var b strings.Builder
	if err := Format(&b, res.Rows[0], time.UTC); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Format differs from the guide's display (-guide +format):\n%s", diff)
	}
}
