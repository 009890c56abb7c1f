package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// tcpSeg is one segment of a scripted capture.
type tcpSeg struct {
	out                bool
	syn, ack, fin, rst bool
	seq, acknum        uint32
	payload            int
}

// writeCapture writes an Ethernet pcap of segs between 10.1.0.5:40000 (the
// local host) and 198.51.100.9:443, 10 ms apart.
func writeCapture(t *testing.T, path string, segs []tcpSeg) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for i, s := range segs {
		src, dst := []byte{198, 51, 100, 9}, []byte{10, 1, 0, 5}
		sp, dp := layers.TCPPort(443), layers.TCPPort(40000)
		if s.out {
			src, dst, sp, dp = dst, src, dp, sp
		}
		eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst, Id: uint16(i + 1)}
		tcp := &layers.TCP{SrcPort: sp, DstPort: dp, Seq: s.seq, Ack: s.acknum, SYN: s.syn, ACK: s.ack, FIN: s.fin, RST: s.rst, Window: 64000}
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, tcp, gopacket.Payload(make([]byte, s.payload))); err != nil {
			t.Fatal(err)
		}
		ts := start.Add(time.Duration(i) * 10 * time.Millisecond)
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
}

// resetCapture: a handshake, 100 bytes out, an RST from the server (RR).
var resetCapture = []tcpSeg{
	{out: true, syn: true, seq: 100},
	{syn: true, ack: true, seq: 900, acknum: 101},
	{out: true, ack: true, seq: 101, acknum: 901},
	{out: true, ack: true, seq: 101, acknum: 901, payload: 100},
	{rst: true, seq: 901},
}

// TestTCPTracePcap replays a capture through `flowlake tcptrace pcap` and
// reads the connection and its packets back with `flowlake query`.
func TestTCPTracePcap(t *testing.T) {
	tmp := t.TempDir()
	file, dir := filepath.Join(tmp, "rst.pcap"), filepath.Join(tmp, "data")
	writeCapture(t, file, resetCapture)
	stdout, stderr, code := runCLI(t, nil, "tcptrace", "pcap", file, "--local", "10.1.0.0/16", "--data", dir, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum TCPTracePcap
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if sum.Frames != 5 || sum.Conns != 1 || sum.Kept != 5 || sum.ByReason["RR"] != 1 {
		t.Fatalf("summary %+v: want 5 frames, 1 connection (RR), 5 packets", sum)
	}
	rng := []string{"--data", dir, "--from", "2026-05-04T00:00:00Z", "--to", "2026-05-05T00:00:00Z", "--format", "csv"}
	conns, stderr, code := runCLI(t, nil, append([]string{"query", "tcp_conns", "reason RR",
		"--columns", "local_addr,local_port,foreign_addr,foreign_port,reason,conn_state,history,end,source,in_packets,out_packets,iss,irs,snd_max"}, rng...)...)
	if code != 0 {
		t.Fatalf("query exited %d: %s", code, stderr)
	}
	want := "10.1.0.5,40000,198.51.100.9,443,RR,RSTR,ShADr,closed,passive,2,3,100,900,100"
	if lines := strings.Split(strings.TrimSpace(conns), "\n"); len(lines) != 2 || lines[1] != want {
		t.Fatalf("tcp_conns:\n%s\nwant the row %s", conns, want)
	}
	pkts, stderr, code := runCLI(t, nil, append([]string{"query", "tcp_packets", "--columns", "idx,direction,event,seq,data_len,flags,state,frame_len", "--order", "idx"}, rng...)...)
	if code != 0 {
		t.Fatalf("query exited %d: %s", code, stderr)
	}
	wantPkts := "idx,direction,event,seq,data_len,flags,state,frame_len\n" +
		"1,out,S,100,0,2,SYN_SENT,40\n2,in,R,900,0,18,ESTABLISHED,40\n3,out,S,101,0,16,ESTABLISHED,40\n" +
		"4,out,S,101,100,16,ESTABLISHED,140\n5,in,R,901,0,4,CLOSED,40\n"
	if pkts != wantPkts {
		t.Errorf("tcp_packets:\n%s\nwant\n%s", pkts, wantPkts)
	}
}

// TestTCPTracePcapSettings: cache mode, the filter and bad flags, through
// the CLI.
func TestTCPTracePcapSettings(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "rst.pcap")
	writeCapture(t, file, resetCapture)
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		conns int64
		out   string
	}{
		{"filter leaves it out", []string{"--filter", "foreign_port 80"}, 0, 0, ""},
		{"filter keeps it", []string{"--filter", "foreign_addr 198.51.100.0/24 and local_port 40000"}, 0, 1, ""},
		{"filter on a column the tracer cannot know", []string{"--filter", "reason RR"}, 2, 0, "the tracer's filter takes local_addr, foreign_addr, local_port, foreign_port only"},
		{"bad cache mode", []string{"--cache-mode", "some"}, 2, 0, `cache_mode "some": want "abnormal-close" or "all"`},
		{"ring over the device's range", []string{"--max-packets", "501"}, 2, 0, "max_packets 501: want 1 to 500"},
		{"only-new keeps a connection whose SYN was seen", []string{"--only-new"}, 0, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			stdout, stderr, code := runCLI(t, nil, append([]string{"tcptrace", "pcap", file, "--data", dir, "--json"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.out) {
				t.Fatalf("exit %d, stderr %q: want %d and %q", code, stderr, tc.code, tc.out)
			}
			if code != 0 {
				return
			}
			var sum TCPTracePcap
			if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
				t.Fatal(err)
			}
			if sum.Conns != tc.conns {
				t.Errorf("%d connections written, want %d: %+v", sum.Conns, tc.conns, sum)
			}
		})
	}
}

// traceIDOf returns the trace_id of the one tcp_conns row in dir.
func traceIDOf(t *testing.T, dir string) string {
	t.Helper()
	out, stderr, code := runCLI(t, nil, "query", "tcp_conns", "--data", dir, "--from", "2000-01-01T00:00:00Z", "--to", "2030-01-01T00:00:00Z", "--columns", "trace_id", "--format", "csv")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("query trace_id: exit %d %s: %s", code, stderr, out)
	}
	return lines[1]
}

// tsharkFields reads a pcap with tshark and returns one line per packet.
func tsharkFields(t *testing.T, file string, fields ...string) []string {
	t.Helper()
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but tshark is not installed (Debian package tshark)")
		}
		t.Skip("tshark not installed (Debian package tshark)")
	}
	args := []string{"-r", file, "-o", "tcp.relative_sequence_numbers:FALSE", "-T", "fields"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", file, err)
	}
	return strings.Split(strings.TrimRight(string(out), "\n"), "\n")
}

// TestTCPTraceExportTshark: a passively traced connection exported with
// `flowlake tcptrace export` opens in tshark and holds exactly its kept
// packets, in order; `tcptrace show` prints it like the device.
func TestTCPTraceExportTshark(t *testing.T) {
	tmp := t.TempDir()
	file, dir, out := filepath.Join(tmp, "rst.pcap"), filepath.Join(tmp, "data"), filepath.Join(tmp, "conn.pcap")
	writeCapture(t, file, resetCapture)
	if _, stderr, code := runCLI(t, nil, "tcptrace", "pcap", file, "--local", "10.1.0.5", "--data", dir); code != 0 {
		t.Fatalf("pcap: %s", stderr)
	}
	id := traceIDOf(t, dir)
	if _, stderr, code := runCLI(t, nil, "tcptrace", "export", id, "--data", dir, "--out", out); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	got := tsharkFields(t, out, "ip.src", "tcp.srcport", "tcp.seq", "tcp.len", "tcp.flags")
	want := []string{
		"10.1.0.5\t40000\t100\t0\t0x0002", "198.51.100.9\t443\t900\t0\t0x0012", "10.1.0.5\t40000\t101\t0\t0x0010",
		"10.1.0.5\t40000\t101\t100\t0x0010", "198.51.100.9\t443\t901\t0\t0x0004",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tshark reads\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	show, stderr, code := runCLI(t, nil, "tcptrace", "show", id, "--data", dir)
	if code != 0 {
		t.Fatalf("show: %s", stderr)
	}
	for _, w := range []string{"Connection: 10.1.0.5:40000 -> 198.51.100.9:443\n", "Reason: Received reset\n",
		"iss 100, irs 900, in 2 (drop 0), out 3, retrans 0\n", "Zeek conn_state: RSTR, history: ShADr, end: closed",
		"(5) May 4 10:00:00:040 2026 R\n  seq 901(1), ack 0(0), data 0\n  flag RST, status CLOSED"} {
		if !strings.Contains(show, w) {
			t.Errorf("show lacks %q:\n%s", w, show)
		}
	}
	if _, stderr, code := runCLI(t, nil, "tcptrace", "export", "42", "--data", dir, "--out", out); code == 0 || !strings.Contains(stderr, "trace_id 42: no such connection") {
		t.Errorf("unknown trace: exit %d, %s", code, stderr)
	}
}

// TestTCPTraceExportDevice: a connection from a device's output (no
// frames) is exported with headers built from its fields; tshark reads
// its three packets in order.
func TestTCPTraceExportDevice(t *testing.T) {
	dir, out := filepath.Join(t.TempDir(), "data"), filepath.Join(t.TempDir(), "dev.pcap")
	if _, stderr, code := runCLI(t, nil, "tcptrace", "import", filepath.Join(tcptraceSamples, "cache-packet-ip.txt"), "--data", dir); code != 0 {
		t.Fatalf("import: %s", stderr)
	}
	id := traceIDOf(t, dir)
	if _, stderr, code := runCLI(t, nil, "tcptrace", "export", id, "--data", dir, "--out", out); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	got := tsharkFields(t, out, "ip.src", "tcp.srcport", "tcp.seq", "ip.id")
	want := []string{"1.1.1.1\t9732\t2236102038\t0x00c8", "1.1.1.1\t9732\t2236102038\t0x00c9"}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("tshark reads %q, want 3 packets starting %q", got, want)
	}
}

// TestTCPTracePcapAPI: `flowlake serve` answers GET
// /api/v1/tcptrace/{id}/pcap with the connection's pcap, which tshark
// reads; an unknown trace_id is a 404.
func TestTCPTracePcapAPI(t *testing.T) {
	tmp := t.TempDir()
	file, dir, out := filepath.Join(tmp, "rst.pcap"), filepath.Join(tmp, "data"), filepath.Join(tmp, "api.pcap")
	writeCapture(t, file, resetCapture)
	if _, stderr, code := runCLI(t, nil, "tcptrace", "pcap", file, "--local", "10.1.0.5", "--data", dir); code != 0 {
		t.Fatalf("pcap: %s", stderr)
	}
	id := traceIDOf(t, dir)
	srv := startServe(t, dir, []string{"FLOWLAKE_LOG_LEVEL=warn"})
	code, body, err := srv.get(t.Context(), "/api/v1/tcptrace/"+id+"/pcap")
	if err != nil || code != 200 {
		t.Fatalf("GET pcap: %d %v %s", code, err, body)
	}
	if err := os.WriteFile(out, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := tsharkFields(t, out, "tcp.seq", "tcp.flags"); strings.Join(got, ",") != "100\t0x0002,900\t0x0012,101\t0x0010,101\t0x0010,901\t0x0004" {
		t.Errorf("tshark reads %q", got)
	}
	// The abnormal close listed by reason through the generic REST endpoint.
	q := "/api/v1/flows?dataset=tcp_conns&from=2026-05-04T00:00:00Z&to=2026-05-05T00:00:00Z&filter=" +
		url.QueryEscape("reason RR and foreign_port 443") + "&columns=local_addr,foreign_port,reason,conn_state,trace_id"
	code, body, err = srv.get(t.Context(), q)
	if err != nil || code != 200 || !strings.Contains(string(body), `"RR"`) || !strings.Contains(string(body), id) {
		t.Errorf("GET %s: %d %v %s", q, code, err, body)
	}
	// And through GraphQL, with Zeek's columns.
	gq, err := srv.graphQL(t.Context(), `{ tcpConns(from: "2026-05-04T00:00:00Z", to: "2026-05-05T00:00:00Z", filter: "reason RR") { edges { node { reason connState history traceId } } } }`)
	if err != nil || !strings.Contains(fmt.Sprint(gq), "reason:RR") || !strings.Contains(fmt.Sprint(gq), "history:ShADr") {
		t.Errorf("GraphQL tcpConns: %v %v", gq, err)
	}
	if code, body, _ := srv.get(t.Context(), "/api/v1/tcptrace/42/pcap"); code != 404 {
		t.Errorf("unknown trace: %d %s, want 404", code, body)
	}
}

// TestTCPTraceSettingsFromConfig: the tracer's settings are configuration
// keys, so they survive a restart with the file. Two runs of `flowlake
// serve` on the same --config replay a capture through the embedded
// edge's tracer (edge.tcptrace.pcap) with cache_mode all and a 2-packet
// ring; both honour them.
func TestTCPTraceSettingsFromConfig(t *testing.T) {
	tmp := t.TempDir()
	capFile, conf := filepath.Join(tmp, "rst.pcap"), filepath.Join(tmp, "flowlake.yaml")
	writeCapture(t, capFile, resetCapture)
	if err := os.WriteFile(conf, []byte(`
edge:
  netflow_listen: []
  ipfix_listen: []
  sflow_listen: []
  tcptrace:
    pcap: `+capFile+`
    local: [10.1.0.0/16]
    cache_mode: all
    max_packets: 2
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for run := 1; run <= 2; run++ {
		dir := filepath.Join(tmp, fmt.Sprintf("data%d", run))
		srv := startServe(t, dir, []string{"FLOWLAKE_LOG_LEVEL=warn"}, "--config", conf)
		deadline := time.Now().Add(15 * time.Second)
		for {
			n, err := srv.metric(t.Context(), "flowlake_edge_tcptrace_rows_written_total")
			if err == nil && n >= 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %d: rows not written: %v %v\n%s", run, n, err, srv.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
		code, body, err := srv.get(t.Context(), "/api/v1/flows?dataset=tcp_packets&from=2026-05-04T00:00:00Z&to=2026-05-05T00:00:00Z&columns=idx,seq&order=idx")
		if err != nil || code != 200 || !strings.Contains(string(body), `"rows":[{"idx":1,"seq":101},{"idx":2,"seq":901}]`) {
			t.Errorf("run %d: tcp_packets %d %v %s: want the last 2 packets", run, code, err, body)
		}
	}
}
