package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/ingest/cloudconn"
)

// TestEdgeStateGolden puts the configuration guide's sample state in an
// edge's state file and checks that `flowlake edge state` prints the
// guide's display (testdata/edge-state.golden.txt: the sample's lines,
// its wrong weekday corrected), and --json the same values by column.
func TestEdgeStateGolden(t *testing.T) {
	f, err := os.Open(filepath.Join(cloudSamples, "guide-en.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := cloudconn.Parse(f, cloudconn.Options{File: "guide", Observed: time.Date(2018, 1, 27, 14, 20, 41, 0, time.UTC)})
	if err != nil || len(res.Rows) != 1 {
		t.Fatalf("%v, %d rows", err, len(res.Rows))
	}
	b, _ := json.Marshal(res.Rows[0])
	spool := t.TempDir()
	if err := os.WriteFile(filepath.Join(spool, cloudStateFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runCLI(t, nil, "edge", "state", "--file", filepath.Join(spool, cloudStateFile), "--tz", "UTC")
	if code != 0 {
		t.Fatalf("edge state exited %d: %s", code, stderr)
	}
	want, err := os.ReadFile("testdata/edge-state.golden.txt")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(out, "\n")); diff != "" {
		t.Errorf("edge state (-golden +got):\n%s", diff)
	}
	out, stderr, code = runCLI(t, nil, "edge", "state", "--file", filepath.Join(spool, cloudStateFile), "--json")
	var got map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("edge state --json exited %d: %s %s", code, out, stderr)
	}
	for k, v := range map[string]any{"conn_state": "Established", "server_addr": "139.217.27.153", "duration": "00d 00h 02m 01s",
		"connected_at": "2018-01-27T14:18:40Z", "last_down_reason": "Socket connection error", "failure_reason": "", "dropped_total": 1.0} {
		if got[k] != v {
			t.Errorf("--json %s = %v, want %v", k, got[k], v)
		}
	}
	if _, stderr, code := runCLI(t, nil, "edge", "state", "--file", filepath.Join(t.TempDir(), cloudStateFile)); code != 1 || !strings.Contains(stderr, "no tunnel state in") {
		t.Errorf("no state file: exit %d, %q", code, stderr)
	}
}
