package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestQuery runs `flowlake query` on a generated lake in every format and
// checks that they agree, and that --explain reports the scan.
func TestQuery(t *testing.T) {
	dir := genLake(t)
	base := []string{"query", "flows", "--data", dir, "--from", "2026-11-03T10:00:00Z", "--to", "2026-11-03T12:00:00Z",
		"proto tcp or proto udp", "--by", "app", "--metrics", "sum(bytes),count(),percentile(bytes, 95)", "--top", "5", "--log-level", "warn"}

	out, stderr, code := runCLI(t, nil, append(base, "--format", "csv")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 6 || strings.Join(rows[0], ",") != "app,sum(bytes),count(),percentile(bytes,95)" {
		t.Fatalf("csv: %v %q", err, out)
	}

	out, _, code = runCLI(t, nil, append(base, "--json")...)
	if code != 0 {
		t.Fatalf("--json exit %d", code)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	for i := 1; dec.More(); i++ {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			t.Fatal(err)
		}
		if obj["app"] != rows[i][0] || strconv.FormatFloat(obj["count()"].(float64), 'f', -1, 64) != rows[i][2] {
			t.Errorf("json row %d %v, csv %v", i, obj, rows[i])
		}
	}

	out, _, code = runCLI(t, nil, append(base, "--format", "arrow")...)
	if code != 0 {
		t.Fatalf("arrow exit %d", code)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := ipc.NewReader(bytes.NewReader([]byte(out)), ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r.Next() {
		n += int(r.RecordBatch().NumRows())
	}
	r.Release()
	if n != 5 {
		t.Errorf("arrow stream has %d rows, want 5", n)
	}

	out, _, code = runCLI(t, nil, append(base, "--explain")...)
	if code != 0 || !strings.Contains(out, "aggregate of flows") || !strings.Contains(out, "rows        ") {
		t.Errorf("--explain exit %d:\n%s", code, out)
	}

	_, stderr, code = runCLI(t, nil, "query", "flows", "--data", dir, "src port >")
	if code == 0 || !strings.Contains(stderr, "^") {
		t.Errorf("bad filter: exit %d, stderr %q: want a caret under the position", code, stderr)
	}
}

// jsonKeys returns the keys of one JSON object in the order they appear.
func jsonKeys(t *testing.T, line string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %q", line)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
	}
	return keys
}

// TestQueryJSONKeyOrder checks that --format json (and --json) keeps the
// order of --columns, and of group-by then metrics, in every row.
func TestQueryJSONKeyOrder(t *testing.T) {
	dir := genLake(t)
	base := []string{"query", "flows", "--data", dir, "--from", "2026-11-03T10:00:00Z", "--to", "2026-11-03T12:00:00Z"}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"listing", []string{"--columns", "src_port,time,dst_addr,bytes,app", "--limit", "5", "--format", "json"}, []string{"src_port", "time", "dst_addr", "bytes", "app"}},
		{"listing --json", []string{"--columns", "proto,bytes,device", "--limit", "3", "--json"}, []string{"proto", "bytes", "device"}},
		{"aggregate", []string{"--by", "src_addr,app", "--metrics", "sum(packets),count(),sum(bytes)", "--top", "4", "--format", "json"}, []string{"src_addr", "app", "sum(packets)", "count()", "sum(bytes)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, append(base, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) < 3 {
				t.Fatalf("want several rows, got %q", out)
			}
			for i, line := range lines {
				if got := jsonKeys(t, line); strings.Join(got, ",") != strings.Join(tc.want, ",") {
					t.Errorf("row %d keys %v, want %v", i, got, tc.want)
				}
			}
		})
	}
}
