package main

import (
	"strings"
	"testing"
)

// TestQueryMessages: `flowlake query` names the command once and the
// engine the part of the query once — no "query: query filter: bad
// filter: filter:" — and unknown columns and metrics get a "did you mean".
func TestQueryMessages(t *testing.T) {
	dir := genLake(t)
	for _, tc := range []struct {
		name string
		args []string
		want string // the engine's part of stderr's first line
	}{
		{"filter", []string{"prot tcp"}, `filter: at 0: unknown column "prot" in flows; did you mean "proto"?`},
		{"by", []string{"--by", "srcaddr"}, `group_by: dataset flows has no column "srcaddr"; did you mean "src_addr"?`},
		{"metric column", []string{"--by", "app", "--metrics", "sum(byts)"}, `metrics: "sum(byts)": dataset flows has no column "byts"; did you mean "bytes"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"query", "flows", "--data", dir, "--log-level", "warn"}, tc.args...)
			_, stderr, code := runCLI(t, nil, args...)
			first, _, _ := strings.Cut(stderr, "\n")
			if code == 0 || !strings.HasSuffix(first, ": "+tc.want) || strings.Count(first, "query") != 1 {
				t.Errorf("exit %d, stderr:\n%s\nwant first line:\n%s", code, stderr, tc.want)
			}
		})
	}
}
