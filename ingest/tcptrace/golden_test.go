package tcptrace

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

// columns renders a row as its columns by name (the parquet tag), with
// addresses as text and timestamps as RFC 3339, so golden files read like
// the device's output they come from.
func columns(row any) map[string]any {
	out := map[string]any{}
	v := reflect.ValueOf(row)
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("parquet"), ",")
		val := v.Field(i).Interface()
		switch x := val.(type) {
		case schema.Addr:
			val = x.String()
		case int64:
			if strings.Contains(f.Tag.Get("parquet"), "timestamp") && x != 0 {
				val = schema.FromMicros(x).Format(time.RFC3339Nano)
			}
		}
		out[name] = val
	}
	return out
}

// golden is what a sample's golden file holds.
type golden struct {
	Conns    []map[string]any `json:"tcp_conns"`
	Packets  []map[string]any `json:"tcp_packets"`
	Settings []Setting        `json:"settings"`
	Unknown  []Line           `json:"unknown"`
	Lines    int              `json:"lines"`
	Merged   int              `json:"merged"`
}

func toGolden(r *Result) golden {
	g := golden{Settings: r.Settings, Unknown: r.Unknown, Lines: r.Lines, Merged: r.Merged,
		Conns: []map[string]any{}, Packets: []map[string]any{}}
	for _, c := range r.Conns {
		g.Conns = append(g.Conns, columns(c))
	}
	for _, p := range r.Packets {
		g.Packets = append(g.Packets, columns(p))
	}
	return g
}

// TestGoldenSamples parses every sample output of the device document
// (testdata/samples, copied verbatim) and compares all rows, field by
// field, with testdata/golden (go test -update rewrites them).
func TestGoldenSamples(t *testing.T) {
	files, err := filepath.Glob("testdata/samples/*.txt")
	if err != nil || len(files) < 6 {
		t.Fatalf("want the 6 samples of the device document, found %d (%v)", len(files), err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			res, err := Parse(f, Options{File: file, Edge: "test"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(toGolden(res), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(strings.TrimSpace(string(want)), string(got)); diff != "" {
				t.Errorf("%s differs from its golden file (-want +got):\n%s", file, diff)
			}
		})
	}
}
