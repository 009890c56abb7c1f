package edge

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/net/bpf"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestTCPTraceReplay runs an edge whose only source is tcptrace.pcap (a
// real capture, zeek's fin_retransmission: one connection reset by the
// server) and reads back its tcp_conns and tcp_packets rows, and the
// tracer's metrics.
func TestTCPTraceReplay(t *testing.T) {
	data := os.Getenv("FLOWLAKE_REALDATA")
	if data == "" {
		data = filepath.Join("..", "..", "shared", "data")
	}
	path := filepath.Join(data, "tcp", "zeek_tcp_fin_retransmission.pcap")
	if _, err := os.Stat(path); err != nil {
		mustGate(t, "real capture %s: %v", path, err)
	}
	cfg := DefaultConfig()
	cfg.ID = "edge-tcp"
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = nil, nil, nil
	cfg.TCPTrace.Pcap = path
	cfg.TCPTrace.Local = []string{"10.1.30.0/24"}
	cfg.QuarantineFile = filepath.Join(t.TempDir(), "q.jsonl")
	lk := openLake(t)
	e, err := New(cfg, Deps{Lake: lk, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-e.TCPTraceReplayDone()
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var conns []schema.TCPConn
	segs, err := lk.Segments(ctx, schema.TCPConns, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		rows, err := lake.Read[schema.TCPConn](ctx, lk, s)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, rows...)
	}
	if len(conns) != 1 || conns[0].Reason != "RR" || conns[0].ConnState != "RSTR" || conns[0].Edge != "edge-tcp" ||
		conns[0].Device != "zeek_tcp_fin_retransmission.pcap" || conns[0].LocalAddr != schema.MustParseAddr("10.1.30.117") {
		t.Fatalf("tcp_conns %+v: want one RR row from 10.1.30.117", conns)
	}
	psegs, err := lk.Segments(ctx, schema.TCPPackets, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var pkts int
	for _, s := range psegs {
		pkts += int(s.Rows)
	}
	if pkts != 5 {
		t.Errorf("%d tcp_packets rows, want 5", pkts)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.Collectors()...)
	want := `
# HELP flowlake_edge_tcptrace_connections_written_total tcp_conns rows produced, by reason (none: no reason, a timeout or open).
# TYPE flowlake_edge_tcptrace_connections_written_total counter
flowlake_edge_tcptrace_connections_written_total{reason="RR"} 1
# HELP flowlake_edge_tcptrace_packets_total TCP packets fed to the tracer.
# TYPE flowlake_edge_tcptrace_packets_total counter
flowlake_edge_tcptrace_packets_total 5
# HELP flowlake_edge_tcptrace_rows_written_total tcp_conns and tcp_packets rows published into the lake or the spool.
# TYPE flowlake_edge_tcptrace_rows_written_total counter
flowlake_edge_tcptrace_rows_written_total 6
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "flowlake_edge_tcptrace_connections_written_total",
		"flowlake_edge_tcptrace_packets_total", "flowlake_edge_tcptrace_rows_written_total"); err != nil {
		t.Error(err)
	}
}

// TestTCPFilter runs the kernel filter in the BPF VM: TCP over IPv4 and
// IPv6, plain or VLAN-tagged, passes with the snap length (the kernel keeps
// at most the frame); UDP and ARP do not.
func TestTCPFilter(t *testing.T) {
	vm, err := bpf.NewVM(tcpFilter(100))
	if err != nil {
		t.Fatal(err)
	}
	eth := func(etype ...byte) []byte { return append(make([]byte, 12), etype...) }
	v4 := func(proto byte) []byte { b := make([]byte, 40); b[0], b[9] = 0x45, proto; return b }
	v6 := func(next byte) []byte { b := make([]byte, 60); b[0], b[6] = 0x60, next; return b }
	for _, tc := range []struct {
		name  string
		frame []byte
		want  int
	}{
		{"tcp over ipv4", append(eth(8, 0), v4(6)...), 100},
		{"udp over ipv4", append(eth(8, 0), v4(17)...), 0},
		{"tcp over ipv6", append(eth(0x86, 0xdd), v6(6)...), 100},
		{"tcp over ipv4 in a vlan", append(eth(0x81, 0, 0, 7, 8, 0), v4(6)...), 100},
		{"tcp over ipv6 in a vlan", append(eth(0x81, 0, 0, 7, 0x86, 0xdd), append(v6(6), make([]byte, 100)...)...), 100},
		{"udp over ipv6 in a vlan", append(eth(0x81, 0, 0, 7, 0x86, 0xdd), v6(17)...), 0},
		{"arp", append(eth(8, 6), make([]byte, 28)...), 0},
	} {
		if got, err := vm.Run(tc.frame); err != nil || got != tc.want {
			t.Errorf("%s: kept %d bytes (%v), want %d", tc.name, got, err, tc.want)
		}
	}
}
