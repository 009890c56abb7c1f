package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/api"
)

// TestUnreadableFileIsInTheAnswer damages one flows segment: the CLI
// prints the answer, names the file on stderr and exits 3; REST lists it
// under "warnings" (and counts it in Flowlake-Warnings); GraphQL under
// extensions.warnings. None of them only logs it.
func TestUnreadableFileIsInTheAnswer(t *testing.T) {
	dir := genLake(t)
	victim := truncateSegment(t, dir)
	key, _ := filepath.Rel(dir, victim)
	key = filepath.ToSlash(key)

	const from, to = "2026-11-03T10:00:00Z", "2026-11-03T12:00:00Z"
	out, errOut, code := runCLI(t, nil, "query", "flows", "--from", from, "--to", to, "--metrics", "count(),max(bytes)", "--data", dir)
	if code != exitIncomplete {
		t.Errorf("query over a damaged file exited %d, want %d; stderr %q", code, exitIncomplete, errOut)
	}
	if !strings.Contains(errOut, "skipping unreadable segment "+key) || !strings.Contains(out, "count()") {
		t.Errorf("query: stdout %q, stderr %q: want the answer and the file named", out, errOut)
	}

	srv := startServe(t, dir, nil)
	ctx := t.Context()
	status, h, body, err := srv.post(ctx, "/api/v1/query", map[string]any{"dataset": "flows", "from": from, "to": to, "metrics": []string{"count()", "max(bytes)"}})
	if err != nil || status != 200 {
		t.Fatalf("POST /api/v1/query: %d %v: %s", status, err, body)
	}
	var res api.QueryResponse
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Segment != key || h.Get(api.HeaderWarnings) != "1" {
		t.Errorf("REST warnings = %+v, header %q: want %s", res.Warnings, h.Get(api.HeaderWarnings), key)
	}
	gq, err := srv.graphQL(ctx, `{ aggregate(from: "`+from+`", to: "`+to+`", metrics: ["count()", "max(bytes)"]) { rows { values } } }`)
	if err != nil {
		t.Fatal(err)
	}
	ext, _ := gq["extensions"].(map[string]any)
	ws, _ := ext["warnings"].([]any)
	if len(ws) != 1 || !strings.Contains(toJSON(ws[0]), key) {
		t.Errorf("GraphQL extensions = %v: want one warning naming %s", gq["extensions"], key)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
