package capture

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// mustGate skips a test whose requirement is missing, unless CI=true, in
// which case it fails it.
func mustGate(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf(format, args...)
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		mustGate(t, "AF_PACKET capture needs root (CAP_NET_RAW)")
	}
}

// udpPort returns a bound loopback UDP socket, so frames to its port are
// received by the host (no ICMP unreachable) and no other test uses it.
func udpPort(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func send(t *testing.T, to *net.UDPAddr, n int) {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, to)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range n {
		if _, err := c.Write([]byte{byte(i), 1, 2, 3}); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor polls cond (kernel counters have no notification) until it holds
// or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestLiveFilterAndCounters captures on the loopback interface through
// AF_PACKET with a kernel filter for one UDP port: frames to that port
// reach the handler once each (inbound only), frames to another port do
// not, and the kernel's counters agree.
func TestLiveFilterAndCounters(t *testing.T) {
	needRoot(t)
	want, other := udpPort(t), udpPort(t)
	wantAddr, otherAddr := want.LocalAddr().(*net.UDPAddr), other.LocalAddr().(*net.UDPAddr)
	filter, err := UDPPortsFilter(uint16(wantAddr.Port))
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Interfaces = []string{"lo"}
	cfg.Filter = filter
	cfg.InboundOnly = true
	var mu sync.Mutex
	var got []Packet
	c, err := New(cfg, func(p Packet) {
		mu.Lock()
		defer mu.Unlock()
		p.Data = append([]byte(nil), p.Data...)
		got = append(got, p)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	send(t, otherAddr, 7)
	send(t, wantAddr, 5)
	waitFor(t, "5 frames", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 5 })
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("handler got %d frames, want 5", len(got))
	}
	for _, p := range got {
		pkt := gopacket.NewPacket(p.Data, p.LinkType, gopacket.Default)
		udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok || int(udp.DstPort) != wantAddr.Port || p.Interface != "lo" || p.Time.IsZero() {
			t.Errorf("frame %+v: want UDP to port %d on lo with a time", pkt, wantAddr.Port)
		}
	}
	st := c.Stats()
	if len(st) != 1 || st[0].Packets != 5 || st[0].KernelPackets != 5 || st[0].KernelDrops != 0 {
		t.Errorf("stats %+v, want 5 packets, 5 kernel packets, 0 drops", st)
	}
}

// TestLiveKernelDrops blocks the handler while a one-block ring overflows:
// the kernel's drop counter (tp_drops) counts every frame that did not
// reach the handler.
func TestLiveKernelDrops(t *testing.T) {
	needRoot(t)
	dst := udpPort(t)
	addr := dst.LocalAddr().(*net.UDPAddr)
	filter, err := UDPPortsFilter(uint16(addr.Port))
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Interfaces = []string{"lo"}
	cfg.Filter = filter
	cfg.InboundOnly = true
	cfg.BlockSize, cfg.NumBlocks = 4096, 1
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c, err := New(cfg, func(p Packet) {
		once.Do(func() { close(entered); <-release })
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	send(t, addr, 1)
	<-entered
	const burst = 400
	send(t, addr, burst)
	close(release)
	total := uint64(burst + 1)
	waitFor(t, "every frame handled or dropped", func() bool {
		s := c.Stats()[0]
		return s.Packets+s.KernelDrops == total
	})
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	s := c.Stats()[0]
	if s.KernelDrops == 0 || c.Drops() != s.KernelDrops || s.KernelPackets != total {
		t.Errorf("stats %+v: want drops > 0 and %d kernel packets", s, total)
	}
}

// TestFileSource writes a capture of DHCP and other frames and replays it:
// the same filter passes the DHCP frames only, in order, with their times,
// and Done closes at the end of the file.
func TestFileSource(t *testing.T) {
	frames := []struct {
		f    frame
		keep bool
	}{
		{frame{sport: 68, dport: 67}, true},
		{frame{sport: 5353, dport: 53}, false},
		{frame{vlan: 10, sport: 67, dport: 68}, true},
		{frame{tcp: true, sport: 1, dport: 67}, false},
		{frame{v6: true, sport: 546, dport: 547}, true},
	}
	for _, ng := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "c.pcap")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		type writer interface {
			WritePacket(gopacket.CaptureInfo, []byte) error
		}
		var w writer
		var ngw *pcapgo.NgWriter
		if ng {
			ngw, err = pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
			if err != nil {
				t.Fatal(err)
			}
			w = ngw
		} else {
			pw := pcapgo.NewWriter(f)
			if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
				t.Fatal(err)
			}
			w = pw
		}
		base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
		var want []time.Time
		for i, fr := range frames {
			b := fr.f.bytes(t)
			at := base.Add(time.Duration(i) * time.Second)
			if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(b), Length: len(b), InterfaceIndex: 0}, b); err != nil {
				t.Fatal(err)
			}
			if fr.keep {
				want = append(want, at)
			}
		}
		if ngw != nil {
			if err := ngw.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.File = path
		cfg.Filter = DHCPFilter()
		var got []time.Time
		c, err := New(cfg, func(p Packet) { got = append(got, p.Time) }, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-c.Done()
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("pcapng %v: got %d frames, want %d", ng, len(got), len(want))
		}
		for i := range got {
			if !got[i].Equal(want[i]) {
				t.Errorf("pcapng %v: frame %d at %s, want %s", ng, i, got[i], want[i])
			}
		}
		if st := c.Stats(); len(st) != 1 || st[0].Packets != uint64(len(want)) {
			t.Errorf("pcapng %v: stats %+v", ng, st)
		}
	}
}

// TestFileErrors: a missing file fails Start; a file that is not a
// capture ends the source with an error Stop returns.
func TestFileErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.File = filepath.Join(t.TempDir(), "missing.pcap")
	c, err := New(cfg, func(Packet) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err == nil {
		t.Error("missing file: Start did not fail")
	}
	bad := filepath.Join(t.TempDir(), "bad.pcap")
	if err := os.WriteFile(bad, []byte("this is not a capture file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.File = bad
	c, err = New(cfg, func(Packet) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if err := c.Stop(); err == nil {
		t.Error("not a capture: Stop returned no error")
	}
	if _, err := New(DefaultConfig(), nil, nil); err == nil {
		t.Error("no source, no handler: New did not fail")
	}
}
