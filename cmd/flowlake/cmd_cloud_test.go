package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cloudSamples holds the device documents' displays (ingest/cloudconn).
const cloudSamples = "../../ingest/cloudconn/testdata/samples"

// TestCloudImportQueryBack imports the configuration guide's display
// through the CLI, reads the row back with `flowlake query`, and imports
// the same file again: nothing is written twice.
func TestCloudImportQueryBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	file := filepath.Join(cloudSamples, "guide-en.txt")
	args := []string{"cloud", "import", file, "--device", "219801A0YF9187Q00012", "--observed", "2026-12-07T17:30:00Z", "--data", dir, "--json"}
	stdout, stderr, code := runCLI(t, nil, args...)
	if code != 0 {
		t.Fatalf("import exited %d: %s", code, stderr)
	}
	var sum CloudImport
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("import --json: %v: %s", err, stdout)
	}
	want := CloudImport{File: file, Device: "219801A0YF9187Q00012", Rows: 1, Lines: 41}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("import summary (-want +got):\n%s", diff)
	}
	rows, stderr, code := runCLI(t, nil, "query", "cloud_conn", "--data", dir, "--from", "2026-12-07T00:00:00Z", "--to", "2026-12-08T00:00:00Z",
		"--format", "csv", "--columns", "time,edge,device,conn_state,device_state,server_addr,server_domain,conn_port,connected_at,duration_s,last_down_reason,dropped_total")
	if code != 0 {
		t.Fatalf("query exited %d: %s", code, stderr)
	}
	wantRows := "time,edge,device,conn_state,device_state,server_addr,server_domain,conn_port,connected_at,duration_s,last_down_reason,dropped_total\n" +
		"2026-12-07T17:30:00Z,import,219801A0YF9187Q00012,Established,Request_success,139.217.27.153,oasis.h3c.com,443,2018-01-27T14:18:40Z,121,Socket connection error,1"
	if diff := cmp.Diff(wantRows, strings.TrimSpace(rows)); diff != "" {
		t.Errorf("cloud_conn (-want +got):\n%s", diff)
	}
	stdout, stderr, code = runCLI(t, nil, args...)
	sum = CloudImport{}
	if code != 0 || json.Unmarshal([]byte(stdout), &sum) != nil || sum.Rows != 0 || sum.Known != 1 {
		t.Errorf("second import: exit %d, %+v (%s): want 0 rows and 1 already imported", code, sum, stderr)
	}
}

// TestCloudImportErrors: a malformed value names the file, line and
// column and writes nothing; a display without a device name is an error
// asking for --device; unknown lines are counted.
func TestCloudImportErrors(t *testing.T) {
	tmp := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, file, want string
	}{
		{"bad port", write("port.txt", "<r1> display cloud-management state\nLocal port : 99999\n"), "port.txt:2:14: port \"99999\": want 1-65535"},
		{"no device", write("nodev.txt", "Cloud connection state : Established\n"), "nodev.txt:1:1: no device name for this display"},
		{"missing", filepath.Join(tmp, "absent.txt"), "flowlake cloud import: read cloud state: open"},
		{"not a display", write("junk.txt", "hello\n"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(tmp, "data-"+strings.ReplaceAll(tc.name, " ", "-"))
			stdout, stderr, code := runCLI(t, nil, "cloud", "import", tc.file, "--data", dir)
			if tc.want == "" {
				if code != 0 || !strings.Contains(stdout, "0 cloud_conn rows written") || !strings.Contains(stdout, "1 unknown") {
					t.Errorf("exit %d, stdout %q, stderr %q: want 0 rows and 1 unknown line", code, stdout, stderr)
				}
				return
			}
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q: want a failure saying %q", code, stderr, tc.want)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("a failed import created the lake %s", dir)
			}
		})
	}
	if _, stderr, code := runCLI(t, nil, "cloud", "import"); code != 2 || !strings.Contains(stderr, "want one FILE") {
		t.Errorf("no FILE: exit %d, %q; want a usage error", code, stderr)
	}
}

// TestCloudStatePush pushes the command reference's display (Chinese
// document) and a Chinese-labelled one to a real `flowlake serve` over
// HTTP: the rows land in cloud_conn under the pushing edge; a malformed
// body is 400 with its line and column; an edge the token may not write
// for is 403.
func TestCloudStatePush(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	srv := startServe(t, dir, []string{"FLOWLAKE_LOG_LEVEL=warn"})
	push := func(query string, body []byte) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.base+"/api/v1/ingest/cloud-state?"+query, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+srv.token)
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(out)
	}
	for _, name := range []string{"reference-zh-doc.txt", "labels-zh.txt"} {
		body, err := os.ReadFile(filepath.Join(cloudSamples, name))
		if err != nil {
			t.Fatal(err)
		}
		status, out := push("edge=admin", body)
		if status != http.StatusCreated || !strings.Contains(out, `"rows":1`) {
			t.Errorf("push %s: %d %s; want 201 with one row", name, status, out)
		}
	}
	if status, out := push("edge=admin&device=r1", []byte("Duration : soon\n")); status != http.StatusBadRequest || !strings.Contains(out, "body:1:12: duration") {
		t.Errorf("malformed push: %d %s; want 400 naming line 1 column 12", status, out)
	}
	if status, out := push("edge=someone-else&device=r1", []byte("Duration : 00d 00h 00m 01s\n")); status != http.StatusForbidden {
		t.Errorf("push for another edge: %d %s; want 403", status, out)
	}
	srv.stop()
	rows, stderr, code := runCLI(t, nil, "query", "cloud_conn", "--data", dir, "--format", "csv", "--order", "device",
		"--columns", "edge,device,conn_state,conn_port,last_down_reason,last_report_incomplete_reason")
	if code != 0 {
		t.Fatalf("query exited %d: %s", code, stderr)
	}
	want := "edge,device,conn_state,conn_port,last_down_reason,last_report_incomplete_reason\n" +
		"admin,AP-3F-01,Established,443,Keepalive expired,Socket buffer is full\n" +
		"admin,Sysname,Established,443,Socket connection error,"
	if diff := cmp.Diff(want, strings.TrimSpace(rows)); diff != "" {
		t.Errorf("cloud_conn after the pushes (-want +got):\n%s", diff)
	}
}
