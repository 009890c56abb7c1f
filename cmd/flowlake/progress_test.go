package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestGenProgress runs gen with stderr not a terminal: it prints a line at
// every tenth of the hours, then says what it does until the end (writing
// the last hours, building rollups), so no part of the run is silent.
func TestGenProgress(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"gen", "--data", t.TempDir(), "--from", "2026-11-03T00:00:00Z", "--to", "2026-11-03T10:00:00Z",
		"--rate", "0.2", "--seed", "3", "--log-level", "warn"}, &stdout, &stderr, hooks{})
	if code != 0 {
		t.Fatalf("gen exited %d: %s", code, stderr.String())
	}
	var want []string
	for i := 1; i <= 10; i++ {
		want = append(want, fmt.Sprintf("generate: %d/10 hours (%d %%), ", i, 10*i))
	}
	want = append(want, "generate: writing the last hours…", "generate: writing the last hours done in ",
		"generate: building rollups…", "generate: building rollups done in ")
	out := stderr.String()
	at := 0
	for _, w := range want {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Fatalf("stderr lacks %q after offset %d:\n%s", w, at, out)
		}
		at += i + len(w)
	}
	if !strings.HasPrefix(stdout.String(), "generated ") {
		t.Errorf("stdout = %q, want the summary", stdout.String())
	}
}
