package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/api"
	"github.com/flowlake/flowlake/storage/schema"
)

// demoRun is one `flowlake demo` serving in the background.
type demoRun struct {
	info   DemoInfo
	stderr *bytes.Buffer
	stop   func() int // cancels the run (what SIGTERM does) and returns its exit status
}

// startDemo runs `flowlake demo --json` on dir (one small day, no live
// traffic) as if started as ./bin/flowlake, and waits until it serves.
func startDemo(t *testing.T, dir string) demoRun {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	addrs := make(chan net.Addr, 1)
	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"demo", "--data", dir, "--days", "1", "--rate", "0.5", "--live-rate", "0", "--json",
			"--listen", "127.0.0.1:0", "--netflow-listen", "127.0.0.1:0", "--ipfix-listen", "127.0.0.1:0", "--sflow-listen", "127.0.0.1:0"},
			&stdout, &stderr, hooks{argv0: "./bin/flowlake", onListen: func(a net.Addr) { addrs <- a }})
	}()
	select {
	case <-addrs:
	case code := <-done:
		cancel()
		t.Fatalf("demo exited %d: %s", code, stderr.String())
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("demo did not serve within 60s")
	}
	var info DemoInfo
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil || info.Token == "" || info.Password == "" {
		cancel()
		t.Fatalf("demo --json printed %q: %v", stdout.String(), err)
	}
	return demoRun{info: info, stderr: &stderr, stop: func() int { cancel(); return <-done }}
}

// status sends a request with the token and returns the status code.
func status(t *testing.T, method, url, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestDemoServesWithToken runs `flowlake demo` on an empty lake (one small
// day), uses the token it prints to ask a TopN over HTTP and its password
// to log in, checks the commands it prints, stops it as SIGTERM does, and
// runs it again on the same data: the second run counts the flows it
// reuses, and the first run's token no longer works.
func TestDemoServesWithToken(t *testing.T) {
	dir := t.TempDir()
	first := startDemo(t, dir)
	info := first.info
	req, _ := http.NewRequest(http.MethodGet, info.URL+"/api/v1/topn?from=-24h&by=app&limit=3", nil)
	req.Header.Set("Authorization", "Bearer "+info.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Rows []map[string]any `json:"rows"`
	}
	err = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || len(body.Rows) != 3 {
		t.Fatalf("topn with the demo token: status %d, %d rows, %v", res.StatusCode, len(body.Rows), err)
	}
	login := fmt.Sprintf(`{"name":%q,"password":%q}`, info.User, info.Password)
	if code := status(t, http.MethodPost, info.URL+"/api/v1/login", "", login); code != 200 {
		t.Errorf("login with the demo password: %d", code)
	}
	for _, line := range info.Try {
		if strings.Contains(line, " query flows ") || strings.Contains(line, " lake stats ") {
			if !strings.HasPrefix(line, "./bin/flowlake ") {
				t.Errorf("%q does not call the binary as it was started (./bin/flowlake)", line)
			}
		}
		if strings.Contains(line, "playground") && !strings.Contains(line, info.Password) {
			t.Errorf("the playground hint %q does not say how to log in", line)
		}
	}
	// The demo leaves yesterday's report in the archive, and its daily and
	// weekly schedules.
	req, _ = http.NewRequest(http.MethodGet, info.URL+api.PathReportArchive, nil)
	req.Header.Set("Authorization", "Bearer "+info.Token)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var archive api.ArchiveResponse
	err = json.NewDecoder(res.Body).Decode(&archive)
	res.Body.Close()
	if err != nil || len(archive.Reports) != 2 {
		t.Errorf("the demo's archive: %+v, %v: want yesterday's summary as html and xlsx", archive, err)
	}
	for _, r := range archive.Reports {
		if r.PeriodKind != "daily" || r.Size == 0 || r.Format != "html" && r.Format != "xlsx" {
			t.Errorf("the demo's archive holds %+v", r)
		}
	}
	if !strings.Contains(first.stderr.String(), `Report schedules "Demo daily" and "Demo weekly" are defined`) {
		t.Errorf("the demo does not say where its report is:\n%s", first.stderr.String())
	}
	if code := first.stop(); code != 0 {
		t.Errorf("demo exited %d: %s", code, first.stderr.String())
	}
	if strings.Contains(first.stderr.String(), "level=ERROR") {
		t.Errorf("a normal stop logged errors:\n%s", first.stderr.String())
	}

	// How many flows the lake holds, to compare with what the second run says.
	out, errOut, code := runCLI(t, nil, "lake", "stats", "--json", "--data", dir)
	if code != 0 {
		t.Fatalf("lake stats: %d %s", code, errOut)
	}
	var ds api.DatasetsResponse
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		t.Fatal(err)
	}
	var flows int64
	for _, d := range ds.Datasets {
		if d.Dataset == schema.Flows {
			flows = d.Rows
		}
	}

	second := startDemo(t, dir)
	defer second.stop()
	m := regexp.MustCompile(`Reusing the (\d+) flows`).FindStringSubmatch(second.stderr.String())
	if m == nil || m[1] != strconv.FormatInt(flows, 10) {
		t.Errorf("second run says %q, want %d flows reused:\n%s", m, flows, second.stderr.String())
	}
	if second.info.Token == info.Token || second.info.Password == info.Password {
		t.Error("the second run printed the same secrets")
	}
	if code := status(t, http.MethodGet, second.info.URL+"/api/v1/datasets", info.Token, ""); code != http.StatusUnauthorized {
		t.Errorf("the first run's token answers %d on the second run, want 401 (revoked)", code)
	}
	if code := status(t, http.MethodGet, second.info.URL+"/api/v1/datasets", second.info.Token, ""); code != 200 {
		t.Errorf("the second run's token answers %d", code)
	}
	if code := status(t, http.MethodPost, second.info.URL+"/api/v1/login", "", login); code == 200 {
		t.Error("the first run's password still logs in")
	}
	// A second start finds its schedules: still two, the report not run twice.
	out, errOut, code = runCLI(t, nil, "report", "runs", "--json", "--data", dir)
	var runs ReportRuns
	if code != 0 || json.Unmarshal([]byte(out), &runs) != nil || len(runs.Runs) != 1 {
		t.Errorf("runs after two demo starts: %d %s %s", code, out, errOut)
	}
}
