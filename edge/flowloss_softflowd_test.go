package edge

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// TestFlowLossSoftflowd replays a real capture through softflowd as
// NetFlow v5, v9 and IPFIX into the edge through a proxy that drops two
// consecutive export datagrams, the way a congested link would. The
// flow_loss rows then hold one sequence gap for the exporter, the
// datagrams that arrived, the flows the lake holds, and the loss in the
// unit the version numbers: the records softflowd exported but the lake
// does not hold (v5, IPFIX) or the two datagrams (v9).
func TestFlowLossSoftflowd(t *testing.T) {
	pcap := filepath.Join(realData(t), "mixed", "ndpi_gnutella.pcap")
	softflowd := needTool(t, "softflowd", "softflowd")
	for _, version := range []string{"5", "9", "10"} {
		t.Run("v"+version, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			l := openLake(t)
			cfg := DefaultConfig()
			cfg.ID = "softflowd-loss"
			cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = []string{"127.0.0.1:0"}, nil, nil
			cfg.Workers, cfg.BatchAge = 1, time.Hour
			cfg.Flow.MaxPast, cfg.Flow.MaxFuture = 100*365*24*time.Hour, 100*365*24*time.Hour // the capture's own times
			e := startEdge(t, cfg, l)

			// The lossy link: every datagram but the 5th and 6th reaches the edge.
			proxy, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer proxy.Close()
			var seen, forwarded atomic.Uint64
			go func() {
				buf := make([]byte, 65536)
				to := net.UDPAddrFromAddrPort(e.Addrs()["netflow"][0])
				for {
					n, _, err := proxy.ReadFromUDP(buf)
					if err != nil {
						return
					}
					if i := seen.Add(1); i == 5 || i == 6 {
						continue
					}
					if _, err := proxy.WriteToUDP(buf[:n], to); err != nil {
						t.Errorf("proxy: %v", err)
					}
					forwarded.Add(1)
				}
			}()
			args := []string{"-r", pcap, "-n", proxy.LocalAddr().String(), "-v", version, "-a", "-p", filepath.Join(t.TempDir(), "softflowd.pid")}
			if version != "5" {
				args = append(args, "-A", "milli")
			}
			out, err := exec.CommandContext(ctx, softflowd, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("softflowd: %v\n%s", err, out)
			}
			m := regexp.MustCompile(`Flows exported: \d+ \((\d+) records\) in (\d+) packets`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("softflowd output without export summary:\n%s", out)
			}
			records, _ := strconv.ParseUint(string(m[1]), 10, 64)
			packets, _ := strconv.ParseUint(string(m[2]), 10, 64)
			if packets < 8 {
				t.Fatalf("softflowd sent %d packets: too few to lose two in the middle", packets)
			}
			waitFor(t, func() bool { return seen.Load() == packets && e.Stats().Received.Load() == packets-2 }, "the proxy's datagrams received")
			if err := e.Stop(); err != nil {
				t.Fatal(err)
			}
			if c := e.Decoder().Counters().Snapshot(); c.TemplateMisses != 0 || c.TotalErrors() != 0 {
				t.Fatalf("decoder: %d template misses, errors %v: the dropped datagrams held templates; pick others", c.TemplateMisses, c.Errors)
			}
			held := uint64(len(readFlows(t, l)))
			var got lossTotals
			for _, r := range readLoss(t, l) {
				if r.Cause != schema.LossSequence || r.Device != "127.0.0.1" {
					t.Errorf("unexpected row %+v", r)
					continue
				}
				got.Datagrams += r.Datagrams
				got.Flows += r.Flows
				got.Gaps += r.SequenceGaps
				got.LostFlows += r.LostFlows
				got.LostDatagrams += r.LostDatagrams
				got.Resets += r.SequenceResets
			}
			want := lossTotals{Datagrams: packets - 2, Flows: held, Gaps: 1}
			if version == "9" {
				want.LostDatagrams = 2
			} else {
				want.LostFlows = records - held
			}
			t.Logf("softflowd v%s: %d records in %d packets, 2 dropped; flow_loss %+v", version, records, packets, got)
			if got != want {
				t.Errorf("flow_loss adds up to %+v, want %+v (softflowd: %d records in %d packets; the lake holds %d flows)", got, want, records, packets, held)
			}
			if want.LostFlows == 0 && want.LostDatagrams == 0 {
				t.Error("nothing lost: the test proves nothing")
			}
		})
	}
}
