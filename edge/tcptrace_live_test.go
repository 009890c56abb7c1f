package edge

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/ingest/tcptrace"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestTCPTraceLive runs the edge's tracer on a live veth (AF_PACKET with
// the kernel TCP filter, through edge.tcptrace.netns) while socat in a
// client namespace opens two connections to a server namespace: one
// closed normally by the client (AN), one refused by a closed port (RR).
// UDP on the same veth is filtered out by the kernel.
func TestTCPTraceLive(t *testing.T) {
	if os.Geteuid() != 0 {
		mustGate(t, "network namespaces need root")
	}
	for _, tool := range []string{"ip", "socat"} {
		if _, err := exec.LookPath(tool); err != nil {
			mustGate(t, "%s not installed (Debian packages iproute2, socat)", tool)
		}
	}
	id := fmt.Sprintf("%04x", os.Getpid()&0xffff)
	cli, srv := "fltcp-"+id+"-cli", "fltcp-"+id+"-srv"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, n := range []string{cli, srv} {
		run("ip", "netns", "add", n)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n).Run() })
	}
	run("ip", "-n", cli, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", srv)
	run("ip", "-n", cli, "addr", "add", "10.78.0.1/24", "dev", "eth0")
	run("ip", "-n", srv, "addr", "add", "10.78.0.2/24", "dev", "eth0")
	run("ip", "-n", cli, "link", "set", "eth0", "up")
	run("ip", "-n", srv, "link", "set", "eth0", "up")

	cfg := DefaultConfig()
	cfg.ID = "edge-live"
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = nil, nil, nil
	cfg.TCPTrace.Interfaces, cfg.TCPTrace.Netns = []string{"eth0"}, "/var/run/netns/"+cli
	cfg.TCPTrace.Local, cfg.TCPTrace.CacheMode = []string{"10.78.0.1/32"}, tcptrace.CacheAll
	cfg.QuarantineFile = t.TempDir() + "/q.jsonl"
	lk := openLake(t)
	e, err := New(cfg, Deps{Lake: lk, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	server := exec.Command("ip", "netns", "exec", srv, "socat", "-u", "TCP-LISTEN:7001,reuseaddr", "OPEN:/dev/null")
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Process.Kill(); _ = server.Wait() })
	// socat retries until the listener is up; then sends and closes.
	run("ip", "netns", "exec", cli, "socat", "-u", "OPEN:/dev/null", "TCP:10.78.0.2:7001,retry=50,interval=0.05")
	_ = exec.Command("ip", "netns", "exec", cli, "socat", "-u", "OPEN:/dev/null", "TCP:10.78.0.2:7002").Run() // refused
	run("ip", "netns", "exec", cli, "socat", "-u", "OPEN:/dev/null", "UDP:10.78.0.2:9")
	// A marker connection: once the tracer holds it (closed connections
	// stay in the table for close_wait, 5 s), every earlier frame of the
	// interface's ring was read.
	_ = exec.Command("ip", "netns", "exec", cli, "socat", "-u", "OPEN:/dev/null", "TCP:10.78.0.2:7003").Run()
	eventually(t, "the marker connection traced", func() bool {
		st, _ := e.tcpTrace.stats()
		return st.Tracked >= 3 // more when socat's first attempt came before the listener (refused, RR)
	})
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	segs, err := lk.Segments(ctx, schema.TCPConns, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint16][]string{}
	for _, s := range segs {
		rows, err := lake.Read[schema.TCPConn](ctx, lk, s)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			got[r.ForeignPort] = append(got[r.ForeignPort], r.Reason+" "+r.ConnState)
		}
	}
	// The marker's own RST may come after Stop: only its row is asked for
	// (written at stop, open or refused). Port 7001 may also hold socat's
	// refused attempts from before the listener was up.
	ok := len(got) == 3 && len(got[7002]) == 1 && got[7002][0] == "RR REJ" && len(got[7003]) == 1
	an := 0
	for _, r := range got[7001] {
		switch r {
		case "AN SF":
			an++
		case "RR REJ":
		default:
			ok = false
		}
	}
	if !ok || an != 1 {
		t.Errorf("tcp_conns by foreign port %v, want 7001: one AN SF (and refused attempts), 7002: RR REJ, and the marker 7003", got)
	}
	st, caps := e.tcpTrace.stats()
	if st.NotTCP != 0 {
		t.Errorf("%d non-TCP frames reached the tracer: the kernel filter should drop them", st.NotTCP)
	}
	if len(caps) != 1 || caps[0].KernelDrops != 0 {
		t.Errorf("capture stats %+v: want one interface, no kernel drops", caps)
	}
}
