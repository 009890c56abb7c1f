package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/api"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// runCLI runs the binary in-process with the given environment (nothing
// else from the real one) and returns stdout, stderr and the exit status.
func runCLI(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr, hooks{environ: env})
	return stdout.String(), stderr.String(), code
}

// genLake returns a new lake directory holding two hours generated at a
// low rate. The lake is generated once per test binary and copied, since
// generating under the race detector is slow.
func genLake(t *testing.T) string {
	t.Helper()
	tmpl, err := generated(t)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.CopyFS(dir, os.DirFS(tmpl)); err != nil {
		t.Fatalf("copy lake: %v", err)
	}
	return dir
}

// testTmp is a directory for what tests share, removed by TestMain.
var testTmp string

// generatedLake caches genLake's template; see genLake.
var generatedLake = sync.OnceValues(func() (string, error) {
	dir := filepath.Join(testTmp, "template")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"gen", "--data", dir, "--from", "2026-11-03T10:00:00Z", "--to", "2026-11-03T12:00:00Z",
		"--rate", "2", "--seed", "7", "--json", "--log-level", "warn"}, &stdout, &stderr, hooks{})
	if code != 0 {
		return "", fmt.Errorf("gen exited %d: %s", code, stderr.String())
	}
	var sum GenSummary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		return "", fmt.Errorf("gen --json output: %v: %s", err, stdout.String())
	}
	if sum.Rows == 0 || sum.Segments == 0 || sum.Bytes == 0 {
		return "", fmt.Errorf("gen wrote nothing: %+v", sum)
	}
	return dir, nil
})

func generated(t *testing.T) (string, error) {
	t.Helper()
	return generatedLake()
}

func TestMain(m *testing.M) {
	var err error
	testTmp, err = os.MkdirTemp("", "flowlake-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(testTmp)
	os.Exit(code)
}

func TestGenThenStats(t *testing.T) {
	t.Parallel()
	dir := genLake(t)
	out, errOut, code := runCLI(t, nil, "lake", "stats", "--json", "--data", dir)
	if code != 0 {
		t.Fatalf("lake stats exited %d: %s", code, errOut)
	}
	var got api.DatasetsResponse
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("lake stats --json: %v: %s", err, out)
	}
	var names []string
	from := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	to := from.Add(2 * time.Hour)
	for _, d := range got.Datasets {
		names = append(names, d.Dataset)
		parts := 2
		if strings.HasSuffix(d.Dataset, "_1d") {
			parts = 1 // daily rollups: one UTC day
		}
		if d.Rows == 0 || d.Bytes == 0 || d.Files == 0 || d.Partitions != parts || d.MinTime == nil || d.MaxTime == nil {
			t.Errorf("%s: want rows, bytes, files and %d partitions: %+v", d.Dataset, parts, d)
			continue
		}
		if d.DerivedFrom == "" && (d.MinTime.Before(from) || !d.MaxTime.Before(to)) {
			t.Errorf("%s: coverage %s..%s outside the generated range", d.Dataset, d.MinTime, d.MaxTime)
		}
		if want := float64(d.Bytes) / float64(d.Rows); d.BytesPerRow != want {
			t.Errorf("%s: bytes_per_row = %v, want %v", d.Dataset, d.BytesPerRow, want)
		}
	}
	if diff := cmp.Diff(schema.Names(), names); diff != "" {
		t.Errorf("datasets (-want +got):\n%s", diff)
	}

	// The table shows the same datasets.
	table, _, code := runCLI(t, nil, "lake", "stats", "--data", dir)
	if code != 0 || !strings.HasPrefix(table, "DATASET") || strings.Count(table, "\n") != 1+len(schema.Names()) {
		t.Errorf("lake stats table (exit %d):\n%s", code, table)
	}

	// lake ls lists the segments of a dataset within a range.
	out, errOut, code = runCLI(t, nil, "lake", "ls", "flows", "--from", "2026-11-03T11", "--json", "--data", dir)
	if code != 0 {
		t.Fatalf("lake ls exited %d: %s", code, errOut)
	}
	var ls SegmentList
	if err := json.Unmarshal([]byte(out), &ls); err != nil {
		t.Fatal(err)
	}
	if len(ls.Segments) == 0 {
		t.Error("lake ls flows --from 11:00 listed nothing")
	}
	for _, s := range ls.Segments {
		if s.Dataset != "flows" || s.Hour != from.Add(time.Hour) {
			t.Errorf("lake ls listed %s of hour %s", s.Key, s.Hour)
		}
	}
	if _, errOut, code := runCLI(t, nil, "lake", "ls", "flow", "--data", dir); code != 2 || !strings.Contains(errOut, `unknown dataset "flow"`) {
		t.Errorf("lake ls of an unknown dataset: exit %d, %s", code, errOut)
	}

	// Compaction merges the edges' segments of each hour.
	out, errOut, code = runCLI(t, nil, "lake", "compact", "--before", "2026-11-04", "--json", "--data", dir)
	if code != 0 {
		t.Fatalf("lake compact exited %d: %s", code, errOut)
	}
	var res lake.CompactResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Partitions == 0 || res.FilesAfter >= res.FilesBefore {
		t.Errorf("compaction did nothing: %+v", res)
	}
	if _, errOut, code := runCLI(t, nil, "lake", "verify", "--data", dir); code != 0 {
		t.Errorf("lake verify after compaction exited %d: %s", code, errOut)
	}
}

func TestVerifyReportsDamage(t *testing.T) {
	t.Parallel()
	dir := genLake(t) // TestGenThenStats verifies a healthy lake

	// Truncate one segment and drop a foreign file into the lake.
	victim := truncateSegment(t, dir)
	foreign := filepath.Join(dir, "dhcp_events", "notes.txt")
	if err := os.WriteFile(foreign, []byte("not parquet"), 0o644); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := runCLI(t, nil, "lake", "verify", "--json", "--data", dir)
	if code != 1 {
		t.Errorf("verify of a damaged lake exited %d, want 1", code)
	}
	if !strings.Contains(errOut, "2 problems") {
		t.Errorf("stderr = %q, want the problem count", errOut)
	}
	var rep VerifyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("verify --json: %v: %s", err, out)
	}
	var keys []string
	for _, p := range rep.Problems {
		keys = append(keys, p.Key)
		if p.Err == "" {
			t.Errorf("problem %s has no error", p.Key)
		}
	}
	rel := func(p string) string { r, _ := filepath.Rel(dir, p); return filepath.ToSlash(r) }
	want := []string{rel(foreign), rel(victim)}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("problem keys (-want +got):\n%s", diff)
	}
}

func TestServe(t *testing.T) {
	dir := genLake(t)
	token := addUserToken(t, dir) // cmd_user_test.go
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addrs := make(chan net.Addr, 1)
	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--data", dir, "--listen", "127.0.0.1:0"}, &stdout, &stderr,
			hooks{onListen: func(a net.Addr) { addrs <- a }})
	}()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case code := <-done:
		t.Fatalf("serve exited %d before listening: %s", code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not listen within 10s")
	}

	get := func(path string, v any) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		if v != nil {
			if err := json.NewDecoder(res.Body).Decode(v); err != nil {
				t.Fatalf("GET %s: decode: %v", path, err)
			}
		}
		return res.StatusCode
	}
	if code := get("/healthz", nil); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code := get("/readyz", nil); code != 200 {
		t.Errorf("/readyz = %d", code)
	}
	var ds api.DatasetsResponse
	if code := get("/api/v1/datasets", &ds); code != 200 {
		t.Fatalf("/api/v1/datasets = %d", code)
	}
	if len(ds.Datasets) != len(schema.Names()) {
		t.Fatalf("got %d datasets, want %d", len(ds.Datasets), len(schema.Names()))
	}
	for _, d := range ds.Datasets {
		if d.Rows == 0 || d.Bytes == 0 || d.MinTime == nil {
			t.Errorf("%s is empty over HTTP: %+v", d.Dataset, d)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	_, _ = metrics.ReadFrom(res.Body)
	res.Body.Close()
	for _, want := range []string{"flowlake_http_requests_total", "flowlake_jobs_runs_total", "flowlake_lake_", "go_goroutines"} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	cancel() // what SIGINT does
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20s")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still answers after stop")
	}
}

func TestServeAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, errOut, code := runCLI(t, nil, "serve", "--data", t.TempDir(), "--listen", ln.Addr().String())
	if code != 1 || !strings.Contains(errOut, "address already in use") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	out, _, code := runCLI(t, nil, "version", "--json")
	var v VersionInfo
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Go == "" || v.Version == "" {
		t.Errorf("version --json: exit %d, %s", code, out)
	}
	out, _, code = runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "flowlake ") {
		t.Errorf("version: exit %d, %s", code, out)
	}
}

// TestUsageErrors checks that a usage error exits 2, names the command
// once and points at that command's help.
func TestUsageErrors(t *testing.T) {
	lake := genLake(t)
	for _, tc := range []struct {
		args []string
		cmd  string // the command path errors and help name
	}{
		{[]string{"nope"}, "flowlake"},
		{[]string{"config", "extra"}, "flowlake config"},
		{[]string{"lake", "stats", "--bogus"}, "flowlake lake stats"},
		{[]string{"lake", "stats", "extra"}, "flowlake lake stats"},
		{[]string{"lake", "ls", "flow"}, "flowlake lake ls"},
		{[]string{"gen", "--from", "yesterday"}, "flowlake gen"},
		{[]string{"gen", "--from", "2026-11-02", "--days", "1"}, "flowlake gen"},
		{[]string{"gen", "--from", "2026-11-02", "--to", "2026-11-01"}, "flowlake gen"},
		{[]string{"query"}, "flowlake query"},
		{[]string{"query", "flows", "--format", "xml"}, "flowlake query"},
		{[]string{"query", "flows", "src port >"}, "flowlake query"},
		{[]string{"query", "flows", "--by", "srcaddr"}, "flowlake query"},
		{[]string{"user", "add", "--role", "admin"}, "flowlake user add"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, errOut, code := runCLI(t, nil, append(tc.args, "--data", lake)...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %s", code, errOut)
			}
			if !strings.HasPrefix(errOut, tc.cmd+": ") {
				t.Errorf("stderr = %q, want it to start with %q", errOut, tc.cmd+": ")
			}
			if want := "Run '" + tc.cmd + " --help' for usage.\n"; !strings.HasSuffix(errOut, want) {
				t.Errorf("stderr = %q, want it to end with %q", errOut, want)
			}
			// The CLI adds no prefix of its own to the command's: not
			// "flowlake lake stats: lake stats: …" nor "… stats: flowlake lake stats …".
			// (The engine's own messages are the engine's.)
			first, _, _ := strings.Cut(errOut, "\n")
			rest := strings.TrimPrefix(first, tc.cmd+": ")
			if sub, ok := strings.CutPrefix(tc.cmd, "flowlake "); ok && (strings.HasPrefix(rest, sub+": ") || strings.HasPrefix(rest, "flowlake ")) {
				t.Errorf("the message repeats the command: %q", first)
			}
		})
	}
}

func TestDemoInfo(t *testing.T) {
	a := &app{cfg: DefaultConfig(), hooks: hooks{argv0: "/opt/flow lake/flowlake"}}
	info := a.demoInfo(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, demoCredentials{Token: "flk_secret", Password: "pw"})
	if info.URL != "http://127.0.0.1:8080" || info.Data != "./data" || info.Token != "flk_secret" || info.Password != "pw" || info.User != demoUser {
		t.Errorf("demo info %+v", info)
	}
	if !slices.ContainsFunc(info.Try, func(l string) bool { return strings.HasPrefix(l, "'/opt/flow lake/flowlake' lake stats --data ./data") }) {
		t.Errorf("no quoted call of the binary in %q", info.Try)
	}
	for _, line := range info.Try {
		if strings.Contains(line, "/api/v1/") && strings.HasPrefix(line, "curl") && !strings.Contains(line, "Bearer $TOKEN") {
			t.Errorf("%q calls the API without the token", line)
		}
	}
}

// truncateSegment cuts the first flows segment of the lake dir in half, so
// that it is unreadable, and returns its path.
func truncateSegment(t *testing.T, dir string) string {
	t.Helper()
	var victim string
	err := filepath.WalkDir(filepath.Join(dir, "flows"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && victim == "" && strings.HasSuffix(p, ".parquet") {
			victim = p
		}
		return err
	})
	if err != nil || victim == "" {
		t.Fatalf("no segment to damage: %v", err)
	}
	info, err := os.Stat(victim)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(victim, info.Size()/2); err != nil {
		t.Fatal(err)
	}
	return victim
}
