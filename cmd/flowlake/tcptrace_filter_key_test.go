package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// writeTwoResets writes an Ethernet pcap of two connections from the local
// host 10.1.0.5, one to 198.51.100.9:443 and one to 198.51.100.9:80, each a
// handshake, 100 bytes out and an RST from the server (RR).
func writeTwoResets(t *testing.T, path string) {
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
	n := 0
	for c, port := range []layers.TCPPort{443, 80} {
		lport := layers.TCPPort(40000 + c)
		for _, s := range resetCapture {
			src, dst := []byte{198, 51, 100, 9}, []byte{10, 1, 0, 5}
			sp, dp := port, lport
			if s.out {
				src, dst, sp, dp = dst, src, dp, sp
			}
			n++
			eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst, Id: uint16(n)}
			tcp := &layers.TCP{SrcPort: sp, DstPort: dp, Seq: s.seq, Ack: s.acknum, SYN: s.syn, ACK: s.ack, FIN: s.fin, RST: s.rst, Window: 64000}
			if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
				t.Fatal(err)
			}
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
				eth, ip, tcp, gopacket.Payload(make([]byte, s.payload))); err != nil {
				t.Fatal(err)
			}
			ts := start.Add(time.Duration(n) * 10 * time.Millisecond)
			if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestTCPTraceFilterKey: edge.tcptrace.filter is the tracer's filter as a
// configuration key. `flowlake serve` replays a capture of two reset
// connections (foreign ports 443 and 80) through the embedded edge's
// tracer with `filter: foreign_port 443`: only that connection is in
// tcp_conns, and the other's packets are counted as filtered on /metrics.
// A filter on a column the tracer cannot know is refused at start.
func TestTCPTraceFilterKey(t *testing.T) {
	tmp := t.TempDir()
	capFile := filepath.Join(tmp, "two.pcap")
	writeTwoResets(t, capFile)
	conf := func(name, filter string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(`
edge:
  netflow_listen: []
  ipfix_listen: []
  sflow_listen: []
  tcptrace:
    pcap: `+capFile+`
    local: [10.1.0.0/16]
    filter: "`+filter+`"
`), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dir := filepath.Join(tmp, "data")
	srv := startServe(t, dir, []string{"FLOWLAKE_LOG_LEVEL=warn"}, "--config", conf("ok.yaml", "foreign_port 443"))
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, err := srv.metric(t.Context(), "flowlake_edge_tcptrace_rows_written_total")
		if err == nil && n >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rows not written: %v %v\n%s", n, err, srv.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	filtered, err := srv.metric(t.Context(), `flowlake_edge_tcptrace_packets_not_traced_total{cause="filtered"}`)
	if err != nil || filtered != float64(len(resetCapture)) {
		t.Errorf("filtered packets on /metrics: %v %v; want the %d packets of the port-80 connection", filtered, err, len(resetCapture))
	}
	code, body, err := srv.get(t.Context(), "/api/v1/flows?dataset=tcp_conns&from=2026-05-04T00:00:00Z&to=2026-05-05T00:00:00Z&columns=foreign_port,reason")
	if err != nil || code != 200 || !strings.Contains(string(body), `"rows":[{"foreign_port":443,"reason":"RR"}]`) {
		t.Errorf("tcp_conns %d %v %s: want only the port-443 connection", code, err, body)
	}
	srv.stop()

	_, stderr, code2 := runCLI(t, nil, "serve", "--config", conf("bad.yaml", "reason RR"), "--data", filepath.Join(tmp, "data2"))
	if code2 == 0 || !strings.Contains(stderr, "edge: tcptrace: filter:") || !strings.Contains(stderr, "the tracer's filter takes local_addr, foreign_addr, local_port, foreign_port only") {
		t.Errorf("a filter on reason: exit %d, stderr %q; want a configuration error naming edge.tcptrace.filter", code2, stderr)
	}
}
