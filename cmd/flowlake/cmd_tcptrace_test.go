package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tcptraceSamples holds the device document's sample outputs (ingest/tcptrace).
const tcptraceSamples = "../../ingest/tcptrace/testdata/samples"

// TestTCPTraceImportQueryBack imports the document's IPv4 verbose sample
// through the CLI and reads the connection and its packets back with
// `flowlake query`, joined by trace_id.
func TestTCPTraceImportQueryBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	file := filepath.Join(tcptraceSamples, "cache-packet-ip.txt")
	stdout, stderr, code := runCLI(t, nil, "tcptrace", "import", file, "--data", dir, "--json")
	if code != 0 {
		t.Fatalf("import exited %d: %s", code, stderr)
	}
	var sum TCPTraceImport
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("import --json: %v: %s", err, stdout)
	}
	want := TCPTraceImport{File: file, Conns: 1, Packets: 3, Rows: 4, Lines: 131}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("import summary (-want +got):\n%s", diff)
	}

	rng := []string{"--data", dir, "--from", "2019-09-18T00:00:00Z", "--to", "2019-09-19T00:00:00Z", "--format", "csv"}
	conns, stderr, code := runCLI(t, nil, append([]string{"query", "tcp_conns", "reason RT",
		"--columns", "time,device,local_addr,local_port,foreign_addr,foreign_port,reason,connected_at,iss,irs,in_packets,out_packets,retrans_packets,mdc_id,trace_id"}, rng...)...)
	if code != 0 {
		t.Fatalf("query tcp_conns exited %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(conns), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a header and one connection, got:\n%s", conns)
	}
	f := strings.Split(lines[1], ",")
	wantConn := "2019-09-18T15:38:58.503Z,DeviceA,1.1.1.1,9732,1.1.1.2,23,RT,2019-09-18T15:29:39.003Z,2236101971,3798739327,21,23,14,1"
	if got := strings.Join(f[:len(f)-1], ","); got != wantConn {
		t.Errorf("tcp_conns row\n got %s\nwant %s", got, wantConn)
	}
	traceID := f[len(f)-1]

	pkts, stderr, code := runCLI(t, nil, append([]string{"query", "tcp_packets",
		"--columns", "trace_id,idx,time,event,direction,seq,ack,data_len,flags,ip_id,checksum,rexmt_shift,tick", "--order", "idx"}, rng...)...)
	if code != 0 {
		t.Fatalf("query tcp_packets exited %d: %s", code, stderr)
	}
	wantPkts := strings.Join([]string{
		"trace_id,idx,time,event,direction,seq,ack,data_len,flags,ip_id,checksum,rexmt_shift,tick",
		traceID + ",1,2019-09-18T15:33:08.367Z,RS,out,2236102038,3798739839,6,24,200,60086,10,4310754371",
		traceID + ",2,2019-09-18T15:33:23.928Z,RS,out,2236102038,3798739839,6,24,201,44526,11,4310769931",
		traceID + ",3,2019-09-18T15:33:39.488Z,RS,out,2236102038,3798739839,6,24,202,28966,12,4310785491",
	}, "\n")
	if diff := cmp.Diff(wantPkts, strings.TrimSpace(pkts)); diff != "" {
		t.Errorf("tcp_packets (-want +got):\n%s", diff)
	}

	// The same output again stores nothing twice, and says so.
	stdout, stderr, code = runCLI(t, nil, "tcptrace", "import", file, "--data", dir, "--json")
	if code != 0 {
		t.Fatalf("second import exited %d: %s", code, stderr)
	}
	sum = TCPTraceImport{}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("import --json: %v: %s", err, stdout)
	}
	want.Conns, want.Packets, want.Rows, want.Known = 0, 0, 0, 1
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("second import summary (-want +got):\n%s", diff)
	}
	count, stderr, code := runCLI(t, nil, append([]string{"query", "tcp_packets", "--metrics", "count()"}, rng...)...)
	if code != 0 || strings.TrimSpace(count) != "count()\n3" {
		t.Errorf("tcp_packets after the second import: exit %d, %q (%s); want 3 rows", code, count, stderr)
	}
}

// TestTCPTraceImportSessionLog imports one log holding every sample, a
// line that is no trace output and --device: the rows are named after
// the flag, the stray line is counted, and a table row a verbose block
// describes would be merged (the document's tables and blocks disagree on
// the time, so none is).
func TestTCPTraceImportSessionLog(t *testing.T) {
	var log strings.Builder
	for _, name := range []string{"cache-connection-ip-empty", "cache-connection-ip", "cache-packet-ip",
		"cache-connection-ipv6-empty", "cache-connection-ipv6", "cache-packet-ipv6"} {
		b, err := os.ReadFile(filepath.Join(tcptraceSamples, name+".txt"))
		if err != nil {
			t.Fatal(err)
		}
		log.Write(b)
	}
	log.WriteString("The TCP connection is normal and no output is displayed.\n")
	log.WriteString("<DeviceA> display tcp trace information\n Max packet number: 600\n")
	file := filepath.Join(t.TempDir(), "session.log")
	if err := os.WriteFile(file, []byte(log.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	stdout, stderr, code := runCLI(t, nil, "tcptrace", "import", file, "--data", dir, "--device", "edge-sw1")
	if code != 0 {
		t.Fatalf("import exited %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "10 rows written (4 tcp_conns, 6 tcp_packets)") || !strings.Contains(stdout, "1 unknown") {
		t.Errorf("summary %q: want 10 rows (4 tcp_conns, 6 tcp_packets) and 1 unknown line", stdout)
	}
	if want := "trace setting (line 363): Max packet number: 600\n"; !strings.HasSuffix(stdout, want) {
		t.Errorf("summary %q: want it to end with %q", stdout, want)
	}
	if !strings.Contains(stderr, "The TCP connection is normal") {
		t.Errorf("the unknown line is not listed on stderr: %s", stderr)
	}
	out, stderr, code := runCLI(t, nil, "query", "tcp_conns", "--data", dir, "--from", "2019-01-01T00:00:00Z", "--to", "2020-01-01T00:00:00Z",
		"--by", "device,reason", "--metrics", "count()", "--format", "csv")
	if code != 0 {
		t.Fatalf("query exited %d: %s", code, stderr)
	}
	if want := "device,reason,count()\nedge-sw1,RT,4"; strings.TrimSpace(out) != want {
		t.Errorf("query by device, reason:\n got %s\nwant %s", out, want)
	}
}

// TestTCPTraceImportErrors: a malformed value names the file, line and
// column and writes nothing; a missing device name and file are errors.
func TestTCPTraceImportErrors(t *testing.T) {
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
		{"bad port", write("port.txt", "<sw1> display tcp trace cache-connection ip\n Local Addr:port  Foreign Addr:port  VPN name  R  Time\n 1.1.1.1:99999  1.1.1.2:23  N/A  RT  20:29:08 July 1 2019\n"),
			"flowlake tcptrace import: " + filepath.Join(tmp, "port.txt") + ":3:10: local address: port \"99999\" is not a number from 0 to 65535"},
		{"no device", write("nodev.txt", " 1.1.1.1:9732  1.1.1.2:23  N/A  RT  20:29:08\n"), ""},
		{"bad month", write("month.txt", "<sw1> display tcp trace cache-packet ip verbose\n MDC ID: 1, Sepx 18 15:38:58:503 2019, VPN name: N/A\n"),
			"month.txt:2:13: close time: want a month name, found \"Sepx\""},
		{"missing", filepath.Join(tmp, "absent.txt"), "flowlake tcptrace import: read trace: open " + filepath.Join(tmp, "absent.txt") + ": no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(tmp, "data-"+strings.ReplaceAll(tc.name, " ", "-"))
			stdout, stderr, code := runCLI(t, nil, "tcptrace", "import", tc.file, "--data", dir)
			if tc.want == "" { // not trace output at all: counted, nothing written
				if code != 0 || !strings.Contains(stdout, "0 rows written") || !strings.Contains(stdout, "1 unknown") {
					t.Errorf("exit %d, stdout %q, stderr %q: want 0 rows written and 1 unknown line", code, stdout, stderr)
				}
				return
			}
			if code == 0 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q: want a failure saying %q", code, stderr, tc.want)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("a failed import created the lake %s", dir)
			}
		})
	}
}

// TestTCPTraceImportUsage: a missing FILE or an unknown zone is a usage
// error (exit 2) that points at the subcommand's help.
func TestTCPTraceImportUsage(t *testing.T) {
	file := filepath.Join(tcptraceSamples, "cache-connection-ip.txt")
	for _, args := range [][]string{
		{"tcptrace", "import"},
		{"tcptrace", "import", file, file},
		{"tcptrace", "import", file, "--tz", "Mars/Olympus"},
	} {
		t.Run(strings.Join(args[2:], " "), func(t *testing.T) {
			_, stderr, code := runCLI(t, nil, append(args, "--data", filepath.Join(t.TempDir(), "data"))...)
			if code != 2 || !strings.HasPrefix(stderr, "flowlake tcptrace import: ") ||
				!strings.HasSuffix(stderr, "Run 'flowlake tcptrace import --help' for usage.\n") {
				t.Errorf("exit %d, stderr %q: want 2 and a usage error of flowlake tcptrace import", code, stderr)
			}
		})
	}
}
