package edge

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// mustGate skips a test whose external dependency is missing, unless CI=true
// in which case the missing dependency fails it.
func mustGate(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf(format, args...)
}

// realData returns the shared captures directory (FLOWLAKE_REALDATA,
// default ../shared/data next to the repository root).
func realData(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("FLOWLAKE_REALDATA")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, "..", "shared", "data")
				break
			}
			if filepath.Dir(d) == d {
				t.Fatal("go.mod not found above the working directory")
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.md")); err != nil {
		mustGate(t, "real captures not found in %s (set FLOWLAKE_REALDATA): %v", dir, err)
	}
	return dir
}

func needTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		mustGate(t, "%s not installed (Debian package %s)", name, pkg)
	}
	return p
}

// TestSoftflowdCrossCheck replays every mixed/ capture through softflowd
// (NetFlow v5, v9, IPFIX) into both this edge and nfcapd through a UDP tee,
// and asserts identical totals (flows, packets, bytes) and identical top-10
// source and destination addresses by bytes, as nfdump reports them.
func TestSoftflowdCrossCheck(t *testing.T) {
	root := realData(t)
	tools := map[string]string{}
	for _, tool := range [][2]string{{"softflowd", "softflowd"}, {"nfcapd", "nfdump"}, {"nfdump", "nfdump"}} {
		tools[tool[0]] = needTool(t, tool[0], tool[1])
	}
	files, err := filepath.Glob(filepath.Join(root, "mixed", "*.pcap*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in %s/mixed: %v", root, err)
	}
	var flows uint64
	for _, f := range files {
		for _, version := range []string{"5", "9", "10"} {
			t.Run(fmt.Sprintf("%s/v%s", filepath.Base(f), version), func(t *testing.T) {
				flows += crossCheck(t, tools, f, version)
			})
		}
	}
	// Every capture holds traffic: equal totals of nothing prove nothing.
	if floor := uint64(len(files)) * 3 * crossCheckMinFlows; flows < floor {
		t.Errorf("%d flows compared over %d captures × 3 versions, want at least %d", flows, len(files), floor)
	}
}

// crossCheckMinFlows is the least one capture replayed in one NetFlow
// version must compare: softflowd must export that many records and both
// collectors count them, or the capture is empty or was not replayed.
const crossCheckMinFlows = 1

// crossCheck replays pcap through softflowd as NetFlow version into nfcapd
// and the edge, compares what they stored and returns the flows compared.
func crossCheck(t *testing.T, tools map[string]string, pcap, version string) uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()

	// nfcapd, the peer collector.
	nfPort := freeUDPPort(t)
	nfDir := filepath.Join(dir, "nfc")
	if err := os.Mkdir(nfDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var nfLog bytes.Buffer
	nfcapd := exec.CommandContext(ctx, tools["nfcapd"], "-p", strconv.Itoa(nfPort), "-b", "127.0.0.1", "-w", nfDir, "-t", "3600", "-B", "8388608")
	nfcapd.Stdout, nfcapd.Stderr = &nfLog, &nfLog
	if err := nfcapd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = nfcapd.Process.Kill()
			_ = nfcapd.Wait()
		}
	}()
	waitFor(t, func() bool { _, bound := udpRxQueue(t, nfPort); return bound }, "nfcapd to bind")

	// Our edge.
	l := openLake(t)
	cfg := DefaultConfig()
	cfg.ID = "crosscheck"
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = []string{"127.0.0.1:0"}, nil, nil
	cfg.Workers, cfg.BatchAge = 1, time.Hour
	// softflowd replays the capture's own times (years ago): open the
	// decoder's time window as nfcapd, which has none, is.
	cfg.Flow.MaxPast, cfg.Flow.MaxFuture = 100*365*24*time.Hour, 100*365*24*time.Hour
	e := startEdge(t, cfg, l)
	edgeAddr := e.Addrs()["netflow"][0]

	// The tee: every datagram softflowd sends goes to both collectors.
	tee, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tee.Close()
	var teed atomic.Uint64
	go func() {
		buf := make([]byte, 65536)
		nf := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(nfPort)))
		ours := net.UDPAddrFromAddrPort(edgeAddr)
		for {
			n, _, err := tee.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, err1 := tee.WriteToUDP(buf[:n], nf)
			_, err2 := tee.WriteToUDP(buf[:n], ours)
			if err := errors.Join(err1, err2); err != nil {
				t.Errorf("tee: %v", err)
			}
			teed.Add(1)
		}
	}()

	args := []string{"-r", pcap, "-n", tee.LocalAddr().String(), "-v", version, "-a", "-p", filepath.Join(dir, "softflowd.pid")}
	if version != "5" {
		args = append(args, "-A", "milli")
	}
	out, err := exec.CommandContext(ctx, tools["softflowd"], args...).CombinedOutput()
	if err != nil {
		t.Fatalf("softflowd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	m := regexp.MustCompile(`Flows exported: \d+ \((\d+) records\) in (\d+) packets`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("softflowd output without export summary:\n%s", out)
	}
	records, _ := strconv.Atoi(string(m[1]))
	packets, _ := strconv.ParseUint(string(m[2]), 10, 64)
	if records == 0 && version == "5" && regexp.MustCompile(`Packets processed: 0\b`).Match(out) && regexp.MustCompile(`Ignored packets: [1-9]\d* \(\d+ non-IP`).Match(out) {
		t.Skipf("NetFlow v5 carries IPv4 only, and %s has no IPv4 packet", filepath.Base(pcap))
	}
	if records < crossCheckMinFlows || packets == 0 {
		t.Fatalf("softflowd exported %d records in %d packets from %s: nothing to compare\n%s", records, packets, pcap, out)
	}
	waitFor(t, func() bool { return teed.Load() >= packets && e.Stats().Received.Load() >= packets }, "all export packets teed and received")
	// nfcapd has read everything once its socket queue stays empty.
	for range 2 {
		waitFor(t, func() bool { q, _ := udpRxQueue(t, nfPort); return q == 0 }, "nfcapd to drain its socket")
		time.Sleep(20 * time.Millisecond)
	}

	if err := nfcapd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if err := nfcapd.Wait(); err != nil {
		t.Fatalf("nfcapd: %v\n%s", err, nfLog.String())
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	rows := readFlows(t, l)
	c := e.Decoder().Counters().Snapshot()
	if c.TotalErrors() != 0 || c.TemplateMisses != 0 || c.SequenceGaps != 0 {
		t.Errorf("decoder: %d errors %v, %d template misses, %d sequence gaps", c.TotalErrors(), c.Errors, c.TemplateMisses, c.SequenceGaps)
	}

	// nfdump's view of the same stream.
	info := runNfdump(t, tools["nfdump"], "-R", nfDir, "-I")
	want := map[string]uint64{}
	for _, k := range []string{"Flows", "Packets", "Bytes"} {
		mm := regexp.MustCompile(`(?m)^` + k + `: (\d+)$`).FindStringSubmatch(info)
		if mm == nil {
			t.Fatalf("nfdump -I output has no %s:\n%s", k, info)
		}
		want[k], _ = strconv.ParseUint(mm[1], 10, 64)
	}
	var got struct{ flows, packets, bytes uint64 }
	for _, r := range rows {
		got.flows++
		got.packets += r.Packets
		got.bytes += r.Bytes
	}
	if got.flows != want["Flows"] || got.packets != want["Packets"] || got.bytes != want["Bytes"] {
		t.Errorf("totals flows/packets/bytes: ours %d/%d/%d, nfdump %d/%d/%d", got.flows, got.packets, got.bytes, want["Flows"], want["Packets"], want["Bytes"])
	}
	if got.flows != uint64(records) {
		t.Errorf("%d flows, softflowd exported %d records", got.flows, records)
	}
	if want["Flows"] < crossCheckMinFlows || got.bytes == 0 || got.packets == 0 {
		t.Errorf("nothing compared: nfdump %d flows, ours %d flows %d packets %d bytes", want["Flows"], got.flows, got.packets, got.bytes)
	}
	for _, side := range []string{"srcip", "dstip"} {
		ours := topByBytes(rows, side == "srcip")
		theirs := nfdumpTop(t, tools["nfdump"], nfDir, side)
		if err := compareTop(ours, theirs); err != nil {
			t.Errorf("top 10 %s by bytes: %v\nours:   %v\nnfdump: %v", side, err, ours, theirs)
		}
	}
	t.Logf("%d export packets, %d flows, %d packets, %d bytes; sequence resets %d", packets, got.flows, got.packets, got.bytes, c.SequenceResets)
	return got.flows
}

// hostBytes is one line of a top-N table.
type hostBytes struct {
	addr  netip.Addr
	bytes uint64
}

func (h hostBytes) String() string { return fmt.Sprintf("%s=%d", h.addr, h.bytes) }

func topByBytes(rows []schema.Flow, src bool) []hostBytes {
	sum := map[netip.Addr]uint64{}
	for _, r := range rows {
		a := r.DstAddr
		if src {
			a = r.SrcAddr
		}
		addr := netip.AddrFrom16(a).Unmap()
		if addr == netip.IPv6Unspecified() {
			// nfdump keeps IPv4 as ::a.b.c.d, so its statistics merge ::
			// into 0.0.0.0; do the same to compare.
			addr = netip.IPv4Unspecified()
		}
		sum[addr] += r.Bytes
	}
	var list []hostBytes
	for a, b := range sum {
		list = append(list, hostBytes{a, b})
	}
	sortTop(list)
	return list[:min(10, len(list))]
}

func sortTop(list []hostBytes) {
	slices.SortFunc(list, func(a, b hostBytes) int {
		if c := cmp.Compare(b.bytes, a.bytes); c != 0 {
			return c
		}
		return a.addr.Compare(b.addr)
	})
}

func nfdumpTop(t *testing.T, nfdump, dir, side string) []hostBytes {
	out := runNfdump(t, nfdump, "-R", dir, "-s", side+"/bytes", "-n", "10", "-o", "csv")
	if strings.HasPrefix(out, "No matching flows") {
		return nil
	}
	// The statistic's CSV ends at the first blank line (then a summary).
	table, _, _ := strings.Cut(out, "\n\n")
	recs, err := csv.NewReader(strings.NewReader(table)).ReadAll()
	if err != nil {
		t.Fatalf("nfdump csv: %v\n%s", err, out)
	}
	var list []hostBytes
	if len(recs) == 0 {
		return nil
	}
	val, byt := slices.Index(recs[0], "val"), slices.Index(recs[0], "byt")
	if val < 0 || byt < 0 {
		t.Fatalf("nfdump csv header %v lacks val/byt", recs[0])
	}
	for _, r := range recs[1:] {
		a, err := netip.ParseAddr(r[val])
		if err != nil {
			t.Fatalf("nfdump address %q: %v", r[val], err)
		}
		b, err := strconv.ParseUint(r[byt], 10, 64)
		if err != nil {
			t.Fatalf("nfdump bytes %q: %v", r[byt], err)
		}
		list = append(list, hostBytes{a.Unmap(), b})
	}
	sortTop(list)
	return list
}

// compareTop compares two top-10 lists: the byte values must be equal rank
// by rank, and so must the addresses, except within a tie at the cut-off,
// where either collector may list any of the tied hosts.
func compareTop(ours, theirs []hostBytes) error {
	if len(ours) != len(theirs) {
		return fmt.Errorf("%d entries, nfdump %d", len(ours), len(theirs))
	}
	if len(ours) == 0 {
		return errors.New("both lists are empty: nothing compared")
	}
	cut := theirs[len(theirs)-1].bytes
	for i := range ours {
		if ours[i].bytes != theirs[i].bytes {
			return fmt.Errorf("rank %d: %d bytes, nfdump %d", i+1, ours[i].bytes, theirs[i].bytes)
		}
		if ours[i].bytes != cut && ours[i].addr != theirs[i].addr {
			return fmt.Errorf("rank %d: %s, nfdump %s", i+1, ours[i].addr, theirs[i].addr)
		}
	}
	return nil
}

func runNfdump(t *testing.T, nfdump string, args ...string) string {
	out, err := exec.Command(nfdump, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nfdump %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// udpRxQueue reads /proc/net/udp for the socket bound to 127.0.0.1:port and
// returns its receive queue length and whether such a socket exists.
// Watching the kernel's table avoids binding the port to probe it, which
// would race with nfcapd's own bind.
func udpRxQueue(t *testing.T, port int) (int, bool) {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		mustGate(t, "no /proc/net/udp to watch nfcapd's socket: %v", err)
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 4 && f[1] == want {
			_, rx, _ := strings.Cut(f[4], ":")
			n, err := strconv.ParseUint(rx, 16, 32)
			if err != nil {
				t.Fatalf("/proc/net/udp queue %q: %v", f[4], err)
			}
			return int(n), true
		}
	}
	return 0, false
}
