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

	"github.com/flowlake/flowlake/api"
)

// TestTCPTracePush pushes the device document's verbose IPv4 sample (with
// an extra unknown line) to a real `flowlake serve` over HTTP, as
// TestCloudStatePush does for the cloud display: the connection and its
// packets land in tcp_conns/tcp_packets under the pushing edge; the unknown
// line is counted in the answer; the same output again writes nothing; a
// malformed body is 400 naming its line and column; an edge the token may
// not write for is 403; an oversized body is 413.
func TestTCPTracePush(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	srv := startServe(t, dir, []string{"FLOWLAKE_LOG_LEVEL=warn"})
	push := func(query string, body io.Reader) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.base+api.PathTCPTraceState+"?"+query, body)
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
	sample, err := os.ReadFile(filepath.Join(tcptraceSamples, "cache-packet-ip.txt"))
	if err != nil {
		t.Fatal(err)
	}
	body := append(append([]byte{}, sample...), "this line is no trace output\n"...)
	status, out := push("edge=admin", bytes.NewReader(body))
	var got api.TCPTraceResult
	if err := json.Unmarshal([]byte(out), &got); err != nil || status != http.StatusCreated {
		t.Fatalf("push: %d %s (%v); want 201 with a result", status, out, err)
	}
	want := api.TCPTraceResult{Edge: "admin", Conns: 1, Packets: 3, Rows: 4, Lines: 132, Unknown: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("push answer (-want +got):\n%s", diff)
	}
	status, out = push("edge=admin", bytes.NewReader(sample))
	if status != http.StatusOK || !strings.Contains(out, `"rows":0`) || !strings.Contains(out, `"connections_already_imported":1`) {
		t.Errorf("second push: %d %s; want 200, nothing written, one connection known", status, out)
	}
	bad := "<sw1> display tcp trace cache-packet ip verbose\n MDC ID: 1, Sep 18 15:38:58:503 2019, VPN name: N/A\n" +
		" iss 10, irs 20, in 1 (drop 0), out 1, retrans 0\n (1) Sep 18 15:33:08:367 2019 RS\n Reason: sudden death\n"
	if status, out := push("edge=admin", strings.NewReader(bad)); status != http.StatusBadRequest || !strings.Contains(out, `body:5:10: unknown reason`) {
		t.Errorf("malformed push: %d %s; want 400 naming line 5 column 10", status, out)
	}
	if status, out := push("edge=someone-else", bytes.NewReader(sample)); status != http.StatusForbidden {
		t.Errorf("push for another edge: %d %s; want 403", status, out)
	}
	if status, out := push("edge=admin", bytes.NewReader(make([]byte, api.MaxTCPTraceBytes+1))); status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized push: %d %s; want 413", status, out)
	}
	srv.stop()
	rows, stderr, code := runCLI(t, nil, "query", "tcp_conns", "--data", dir, "--format", "csv",
		"--from", "2019-09-18T00:00:00Z", "--to", "2019-09-19T00:00:00Z", "--columns", "edge,device,local_port,foreign_port,reason,retrans_packets")
	if code != 0 {
		t.Fatalf("query exited %d: %s", code, stderr)
	}
	if diff := cmp.Diff("edge,device,local_port,foreign_port,reason,retrans_packets\nadmin,DeviceA,9732,23,RT,14", strings.TrimSpace(rows)); diff != "" {
		t.Errorf("tcp_conns after the pushes (-want +got):\n%s", diff)
	}
	count, stderr, code := runCLI(t, nil, "query", "tcp_packets", "--data", dir, "--format", "csv",
		"--from", "2019-09-18T00:00:00Z", "--to", "2019-09-19T00:00:00Z", "--columns", "edge,idx", "--order", "idx")
	if code != 0 {
		t.Fatalf("query exited %d: %s", code, stderr)
	}
	if diff := cmp.Diff("edge,idx\nadmin,1\nadmin,2\nadmin,3", strings.TrimSpace(count)); diff != "" {
		t.Errorf("tcp_packets after the pushes (-want +got):\n%s", diff)
	}
}
