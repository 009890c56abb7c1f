package edge

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"
)

// floodEnv sets TestDHCPFlood's duration ("60s" for the acceptance
// figure of docs/benchmarks.md); unset, the suite runs floodShort.
const floodEnv = "FLOWLAKE_DHCP_FLOOD"

// floodShort is the flood's duration in the suite.
const floodShort = 3 * time.Second

// discoverFrame builds the i-th DISCOVER of a starvation flood: a new MAC
// and xid each time.
func discoverFrame(i uint32) []byte {
	mac := net.HardwareAddr{0x02, 0xfe, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
	p := make([]byte, 300)
	p[0], p[1], p[2] = 1, 1, 6
	binary.BigEndian.PutUint32(p[4:], i)
	copy(p[28:], mac)
	copy(p[236:], []byte{99, 130, 83, 99, 53, 1, 1, 255})
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4zero.To4(), DstIP: net.IPv4bcast.To4()}
	udp := &layers.UDP{SrcPort: 68, DstPort: 67}
	_ = udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	_ = gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(p))
	return buf.Bytes()
}

// TestDHCPFlood sends DISCOVERs at 10,000/s (FLOWLAKE_DHCP_FLOOD long,
// floodShort in the suite) from a raw socket in one namespace through a
// bridge whose port the edge captures (AF_PACKET ring, kernel filter):
// no frame may be lost (the ring's kernel drop counter, the worker's
// queue), every one becomes a row, discover_flood is raised, and the live
// heap, sampled through the run, stays flat.
func TestDHCPFlood(t *testing.T) {
	d := floodShort
	if v := os.Getenv(floodEnv); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a duration such as 60s", floodEnv, v)
		}
	}
	lb := newLabBase(t, "sw", "fl")
	lb.ip("-n", lb.ns("sw"), "link", "add", "br0", "type", "bridge")
	lb.ip("-n", lb.ns("sw"), "link", "set", "br0", "up")
	lb.ip("-n", lb.ns("sw"), "link", "add", "p-fl", "type", "veth", "peer", "name", "eth0", "netns", lb.ns("fl"))
	lb.ip("-n", lb.ns("sw"), "link", "set", "p-fl", "master", "br0", "up")
	lb.ip("-n", lb.ns("fl"), "link", "set", "eth0", "up")

	lk := openLake(t)
	cfg := DefaultConfig()
	cfg.ID = "edge-flood"
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = nil, nil, nil
	cfg.DHCP.Interfaces = []string{"p-fl"}
	cfg.DHCP.Netns = lb.netnsPath("sw")
	cfg.DHCP.BindingsFile = "" // default: none without a template file
	e, err := New(cfg, Deps{Lake: lk, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()

	const rate = 10_000
	total := uint32(d.Seconds() * rate)
	// The live heap (after the last GC: what the edge holds, not garbage
	// waiting) sampled every 250 ms while the flood runs.
	heapLive := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var heap []uint64
	sampleDone := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampleDone)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				metrics.Read(heapLive)
				heap = append(heap, heapLive[0].Value.Uint64())
			}
		}
	}()
	start := time.Now()
	var i uint32
	err = sendRaw(lb.netnsPath("fl"), "eth0", func() ([]byte, bool) {
		if i >= total {
			return nil, false
		}
		for uint32(time.Since(start).Seconds()*rate) <= i {
			time.Sleep(time.Millisecond) // pacing the sender, not waiting for a result
		}
		i++
		return discoverFrame(i - 1), true
	})
	close(stopSampling)
	<-sampleDone
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Since(start)
	eventually(t, "every DISCOVER decoded or lost", func() bool {
		st := e.dhcp.status()
		return st.Decoded+st.QueueDrops+st.KernelDrops >= uint64(total)
	})
	st := e.dhcp.status()
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	st2 := e.dhcp.status()
	var ring []string
	for _, c := range st.Capture {
		ring = append(ring, fmt.Sprintf("%s: kernel accepted %d, dropped %d, ring full %d times; handed over %d", c.Interface, c.KernelPackets, c.KernelDrops, c.QueueFreezes, c.Packets))
	}
	mib := func(v uint64) string { return fmt.Sprintf("%.1f", float64(v)/(1<<20)) }
	q := len(heap) / 4
	peak := func(h []uint64) uint64 { return slices.Max(append([]uint64{0}, h...)) }
	second, last := peak(heap[q:2*q]), peak(heap[3*q:])
	var hs []string
	for _, h := range heap {
		hs = append(hs, mib(h))
	}
	t.Logf("%d DISCOVERs in %s (sent in %s): decoded %d, kernel drops %d (%s), queue drops %d, rows written %d; live heap MiB every 250 ms: %s; peak of the 2nd quarter %s MiB, of the last %s MiB",
		total, d, sent.Round(time.Millisecond), st.Decoded, st.KernelDrops, strings.Join(ring, "; "), st.QueueDrops, st2.RowsWritten, strings.Join(hs, " "), mib(second), mib(last))
	if st.KernelDrops != 0 || st.QueueDrops != 0 || st.Decoded != uint64(total) || st2.RowsWritten != uint64(total) {
		t.Errorf("lost DISCOVERs: %+v", st)
	}
	if st.SignalsRaised[SignalDiscoverFlood] == 0 {
		t.Error("no discover_flood raised")
	}
	// Flat: the last quarter's peak within 1.5 times the second
	// quarter's plus 16 MiB (one batch of rows being written).
	if q > 0 && last > second*3/2+16<<20 {
		t.Errorf("the live heap grew through the flood: peak %s MiB in the second quarter, %s MiB in the last", mib(second), mib(last))
	}
}

// sendRaw sends the frames next returns, until it returns false, from a
// raw AF_PACKET socket on iface inside the network namespace at netns.
func sendRaw(netns, iface string, next func() ([]byte, bool)) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine, in that namespace
		ns, err := os.Open(netns)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			errc <- err
			return
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
		for {
			f, ok := next()
			if !ok {
				errc <- nil
				return
			}
			if err := unix.Sendto(fd, f, 0, to); err != nil {
				errc <- err
				return
			}
		}
	}()
	return <-errc
}

// TestDHCPCaptureVLAN sends DISCOVERs tagged 802.1Q VLAN 10, 802.1ad
// VLAN 20 and untagged through a bridge: the edge's AF_PACKET capture
// keeps each tag (put back when the kernel strips it), so the rows carry
// vlan 10, 20 and 0.
func TestDHCPCaptureVLAN(t *testing.T) {
	lb := newLabBase(t, "sw", "fl")
	lb.ip("-n", lb.ns("sw"), "link", "add", "br0", "type", "bridge")
	lb.ip("-n", lb.ns("sw"), "link", "set", "br0", "up")
	lb.ip("-n", lb.ns("sw"), "link", "add", "p-fl", "type", "veth", "peer", "name", "eth0", "netns", lb.ns("fl"))
	lb.ip("-n", lb.ns("sw"), "link", "set", "p-fl", "master", "br0", "up")
	lb.ip("-n", lb.ns("fl"), "link", "set", "eth0", "up")
	lk := openLake(t)
	cfg := DefaultConfig()
	cfg.ID = "edge-vlan"
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = nil, nil, nil
	cfg.DHCP.Interfaces = []string{"p-fl"}
	cfg.DHCP.Netns = lb.netnsPath("sw")
	e, err := New(cfg, Deps{Lake: lk, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	tag := func(f []byte, tpid uint16, vlan uint16) []byte {
		out := append([]byte(nil), f[:12]...)
		out = binary.BigEndian.AppendUint16(out, tpid)
		out = binary.BigEndian.AppendUint16(out, vlan)
		return append(out, f[12:]...)
	}
	frames := [][]byte{tag(discoverFrame(1), 0x8100, 10), tag(discoverFrame(2), 0x88a8, 20), discoverFrame(3)}
	n := 0
	if err := sendRaw(lb.netnsPath("fl"), "eth0", func() ([]byte, bool) {
		if n == len(frames) {
			return nil, false
		}
		n++
		return frames[n-1], true
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "3 DISCOVERs", func() bool { return e.dhcp.status().Decoded == 3 })
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	got := map[uint32]uint16{}
	for _, r := range readDHCP(t, lk) {
		got[r.XID] = r.VLAN
	}
	if want := map[uint32]uint16{1: 10, 2: 20, 3: 0}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("vlan by xid %v, want %v", got, want)
	}
}

// ethFrame wraps a DHCP payload in Ethernet, IPv4 and UDP.
func ethFrame(payload []byte, src, dst string, sport, dport layers.UDPPort) []byte {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 0x55}, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	udp := &layers.UDP{SrcPort: sport, DstPort: dport}
	_ = udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	_ = gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(payload))
	return buf.Bytes()
}

// TestDHCPLiveExpiry: on a live capture, a binding whose lease ran out
// by the edge's clock leaves the table without any further message.
func TestDHCPLiveExpiry(t *testing.T) {
	lb := newLabBase(t, "sw", "fl")
	lb.ip("-n", lb.ns("sw"), "link", "add", "br0", "type", "bridge")
	lb.ip("-n", lb.ns("sw"), "link", "set", "br0", "up")
	lb.ip("-n", lb.ns("sw"), "link", "add", "p-fl", "type", "veth", "peer", "name", "eth0", "netns", lb.ns("fl"))
	lb.ip("-n", lb.ns("sw"), "link", "set", "p-fl", "master", "br0", "up")
	lb.ip("-n", lb.ns("fl"), "link", "set", "eth0", "up")
	var skew atomic.Int64 // added to the edge's clock
	cfg := DefaultConfig()
	cfg.ID = "edge-expiry"
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = nil, nil, nil
	cfg.DHCP.Interfaces = []string{"p-fl"}
	cfg.DHCP.Netns = lb.netnsPath("sw")
	cfg.DHCP.BatchAge = 400 * time.Millisecond // the worker's tick: 100 ms
	e, err := New(cfg, Deps{Lake: openLake(t), Logger: testLogger(t), Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	ack, err := dhcpv4.New(dhcpv4.WithReply(&dhcpv4.DHCPv4{OpCode: dhcpv4.OpcodeBootRequest}), dhcpv4.WithTransactionID(dhcpv4.TransactionID{5}),
		dhcpv4.WithHwAddr(net.HardwareAddr{2, 0, 0, 0, 0, 0x77}), dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithYourIP(net.ParseIP("10.0.0.77")), dhcpv4.WithLeaseTime(60), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP("10.0.0.1"))))
	if err != nil {
		t.Fatal(err)
	}
	sent := false
	if err := sendRaw(lb.netnsPath("fl"), "eth0", func() ([]byte, bool) {
		if sent {
			return nil, false
		}
		sent = true
		return ethFrame(ack.ToBytes(), "10.0.0.1", "255.255.255.255", 67, 68), true
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the binding", func() bool { return len(e.DHCPBindings()) == 1 })
	skew.Store(int64(61 * time.Second))
	eventually(t, "the binding to expire", func() bool { return len(e.DHCPBindings()) == 0 })
	if n := e.dhcp.status().BindingsEnded["expiry"]; n != 1 {
		t.Errorf("ended by expiry: %d, want 1", n)
	}
}
