package edge

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRestartReceiverReadsQueued holds the edge's socket readers so that
// the datagrams sent to a NetFlow port queue in its socket, restarts that
// receiver (the "restart-receiver" remote command's entry point), and
// then lets the readers go: every datagram sent, before and after the
// restart, is received or counted as dropped, and those read from the
// replaced socket's queue are counted on the status and /metrics.
func TestRestartReceiverReadsQueued(t *testing.T) {
	cfg := testConfig(t)
	cfg.SocketsPerAddress = 2
	e, err := New(cfg, Deps{Lake: openLake(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	e.holdReads = make(chan struct{})
	released := false
	release := func() {
		if !released {
			close(e.holdReads)
			released = true
		}
	}
	defer release()
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	lastEdge = e.Stats()
	nf := e.Addrs()["netflow"][0]
	const before, after = 64, 16
	sendFrom := func(n int) {
		for i := range n { // a socket per datagram: the kernel spreads them over both sockets
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(nf))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(make([]byte, 20+i%7)); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
	}
	sendFrom(before)
	ans, err := e.RestartReceivers(ctx, RestartQuery{Kind: "netflow", Addr: nf.String()})
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Restarted) != 1 || ans.Restarted[0].Sockets != 2 || ans.Restarted[0].Drained != before {
		t.Fatalf("restart answered %+v, want the 2 sockets of %s and the %d datagrams queued in them", ans, nf, before)
	}
	sendFrom(after)
	release()
	st := func() Status { return e.Status(ctx) }
	waitFor(t, func() bool { s := st(); return s.Datagrams+s.Drops["queue"] >= before+after },
		"every datagram sent received or counted as dropped")
	s := st()
	if got := s.Datagrams + s.Drops["queue"]; got != before+after {
		t.Errorf("%d datagrams sent, %d received + %d dropped", before+after, s.Datagrams, s.Drops["queue"])
	}
	if s.RestartDrained != before {
		t.Errorf("restart_drained %d, want the %d queued in the replaced sockets", s.RestartDrained, before)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.Collectors()...)
	want := "# HELP flowlake_edge_restart_drained_datagrams_total Datagrams read at a receiver restart from the queue of a socket being replaced, before it closed (in datagrams_received_total too).\n" +
		"# TYPE flowlake_edge_restart_drained_datagrams_total counter\nflowlake_edge_restart_drained_datagrams_total 64\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "flowlake_edge_restart_drained_datagrams_total"); err != nil {
		t.Error(err)
	}
}
