package edge

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowlake/flowlake/edge/export"
	"github.com/flowlake/flowlake/ingest/flow"
	"github.com/flowlake/flowlake/storage/schema"
)

// udpDrops sums the kernel's drop counter of the loopback UDP sockets
// bound to port (/proc/net/udp, last column).
func udpDrops(t *testing.T, port int) uint64 {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(":%04X", port)
	var sum uint64
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 12 && strings.HasSuffix(f[1], want) {
			n, _ := strconv.ParseUint(f[len(f)-1], 10, 64)
			sum += n
		}
	}
	return sum
}

// peakRSS returns a process's peak resident set (VmHWM) in MiB.
func peakRSS(t *testing.T, pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseFloat(string(m[1]), 64)
	return kb / 1024
}

// TestRateVsNfcapd ramps a NetFlow v9 stream sent to this edge and to
// nfcapd at once (each datagram to both), 10 s per rate, counting loss on
// both: ours from the decoder's flow counter, nfcapd's from its socket's
// kernel drop counter. Then it holds each collector's highest zero-loss
// rate for 60 s and checks it again, nfcapd's total with nfdump -I. Peak
// RSS is VmHWM (ours includes the sender, which runs in this process).
// It is a benchmark: FLOWLAKE_RATE_BENCH=1 runs it; docs/benchmarks.md has
// the results.
func TestRateVsNfcapd(t *testing.T) {
	if os.Getenv("FLOWLAKE_RATE_BENCH") == "" {
		t.Skip("benchmark: set FLOWLAKE_RATE_BENCH=1")
	}
	nfcapdBin := needTool(t, "nfcapd", "nfdump")
	nfdumpBin := needTool(t, "nfdump", "nfdump")
	rates := []int{50_000, 100_000, 200_000, 400_000, 800_000}
	if s := os.Getenv("FLOWLAKE_RATE_STEPS"); s != "" {
		rates = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			rates = append(rates, n)
		}
	}
	hold := 60 * time.Second
	if s := os.Getenv("FLOWLAKE_RATE_HOLD"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		hold = d
	}

	// The datagrams: 2000 v9 packets of generated-looking flows, re-sent
	// in a loop with fresh sequence numbers.
	x := export.New(export.Config{Format: export.NetFlow9, Domain: 1}, time.Now().Add(-time.Hour))
	now := time.Now()
	rows := make([]schema.Flow, 40_000)
	for i := range rows {
		rows[i] = schema.Flow{Time: schema.Micros(now) - int64(i)*1000, DurationMS: 200,
			SrcAddr: schema.AddrFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})),
			DstAddr: schema.AddrFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 200)})),
			SrcPort: uint16(1024 + i%50000), DstPort: 443, Proto: 6, Bytes: uint64(1000 + i%5000), Packets: uint64(1 + i%20), SamplingRate: 1}
	}
	dgs := x.Encode(nil, rows, now)
	flowsPer := float64(len(rows)) / float64(len(dgs))
	// The exact flows of each datagram, as a collector decodes them.
	counts := make([]int, len(dgs))
	dec, err := flow.New(flow.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var batch flow.Batch
	for i, d := range dgs {
		n := batch.Len()
		if err := dec.Decode(netip.MustParseAddrPort("127.0.0.1:9"), d, now, &batch); err != nil {
			t.Fatal(err)
		}
		counts[i] = batch.Len() - n
	}
	t.Logf("%d datagrams of %.1f flows (%d bytes)", len(dgs), flowsPer, len(dgs[0]))

	// nfcapd and our edge, the same receive buffer.
	dir := t.TempDir()
	nfPort := freeUDPPort(t)
	nfDir := filepath.Join(dir, "nfcapd")
	if err := os.Mkdir(nfDir, 0o755); err != nil {
		t.Fatal(err)
	}
	nf := exec.Command(nfcapdBin, "-p", strconv.Itoa(nfPort), "-b", "127.0.0.1", "-w", nfDir, "-t", "3600", "-B", "8388608")
	var nfLog strings.Builder
	nf.Stdout, nf.Stderr = &nfLog, &nfLog
	if err := nf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = nf.Process.Kill(); _ = nf.Wait() }()
	waitFor(t, func() bool { _, ok := udpRxQueue(t, nfPort); return ok }, "nfcapd to bind")

	cfg := DefaultConfig()
	cfg.ID = "rate"
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = []string{"127.0.0.1:0"}, nil, nil
	cfg.BatchAge = 5 * time.Second
	l := openLake(t)
	e := startEdge(t, cfg, l)
	ours := e.Addrs()["netflow"][0]
	ourPort := int(ours.Port())

	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dstOurs := net.UDPAddrFromAddrPort(ours)
	dstNf := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: nfPort}
	var seq uint32
	var sentFlows float64
	// send sends rate flows/s for d, pacing every millisecond.
	send := func(rate int, d time.Duration) (sent, flows int) {
		perSec := float64(rate) / flowsPer
		start := time.Now()
		for {
			el := time.Since(start)
			if el >= d {
				return sent, flows
			}
			for want := int(perSec * el.Seconds()); sent < want; sent++ {
				dg := dgs[int(seq)%len(dgs)]
				flows += counts[int(seq)%len(dgs)]
				binary.BigEndian.PutUint32(dg[12:], seq)
				seq++
				_, _ = conn.WriteTo(dg, dstOurs)
				_, _ = conn.WriteTo(dg, dstNf)
			}
			time.Sleep(time.Millisecond)
		}
	}
	decoded := func() uint64 { return e.Decoder().Counters().Snapshot().Flows["netflow9"] }
	drain := func() {
		for range 3 {
			waitFor(t, func() bool {
				q1, _ := udpRxQueue(t, nfPort)
				q2, _ := udpRxQueue(t, ourPort)
				return q1 == 0 && q2 == 0
			}, "sockets to drain")
			time.Sleep(100 * time.Millisecond)
		}
	}
	type result struct {
		rate              int
		d                 time.Duration
		sentFlows         float64
		oursLost, nfLost  float64
		oursDrops, nfDrop uint64
	}
	step := func(rate int, d time.Duration) result {
		f0, k0, q0, n0 := decoded(), udpDrops(t, ourPort), e.Stats().QueueDrops.Load(), udpDrops(t, nfPort)
		_, flows := send(rate, d)
		drain()
		r := result{rate: rate, d: d, sentFlows: float64(flows)}
		r.oursLost = r.sentFlows - float64(decoded()-f0)
		r.oursDrops = udpDrops(t, ourPort) - k0 + e.Stats().QueueDrops.Load() - q0
		r.nfDrop = udpDrops(t, nfPort) - n0
		r.nfLost = float64(r.nfDrop) * flowsPer
		sentFlows += r.sentFlows
		t.Logf("%7d flows/s (achieved %.0f) for %s: ours lost %.0f flows (%d datagrams dropped), nfcapd lost %.0f flows (%d datagrams dropped by the kernel)",
			rate, r.sentFlows/d.Seconds(), d, r.oursLost, r.oursDrops, r.nfLost, r.nfDrop)
		return r
	}

	bestOurs, bestNf := 0, 0
	oursOK, nfOK := true, true
	for _, rate := range rates {
		r := step(rate, 10*time.Second)
		oursOK = oursOK && r.oursLost <= 0 && r.oursDrops == 0
		nfOK = nfOK && r.nfDrop == 0
		if oursOK {
			bestOurs = rate
		}
		if nfOK {
			bestNf = rate
		}
		if !oursOK && !nfOK {
			break
		}
	}
	t.Logf("zero loss for 10 s up to: ours %d flows/s, nfcapd %d flows/s", bestOurs, bestNf)
	for _, c := range []struct {
		who  string
		rate int
	}{{"ours", bestOurs}, {"nfcapd", bestNf}} {
		if c.rate == 0 {
			continue
		}
		r := step(c.rate, hold)
		t.Logf("hold %s's rate %d flows/s for %s: ours lost %.0f, nfcapd lost %.0f", c.who, c.rate, hold, r.oursLost, r.nfLost)
	}
	oursRSS := peakRSS(t, os.Getpid())
	nfRSS := peakRSS(t, nf.Process.Pid)
	if err := nf.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = nf.Wait()
	info := runNfdump(t, nfdumpBin, "-R", nfDir, "-I")
	m := regexp.MustCompile(`(?m)^Flows: (\d+)$`).FindStringSubmatch(info)
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	s := e.Stats().Snapshot()
	t.Logf("total: sent %.0f flows; ours decoded %d, wrote %d rows; nfcapd stored %s flows", sentFlows, decoded(), s.RowsWritten, m[1])
	t.Logf("peak RSS: ours %.1f MiB (test process, sender included), nfcapd %.1f MiB", oursRSS, nfRSS)
}
