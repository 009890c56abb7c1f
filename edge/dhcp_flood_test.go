package edge

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"
)

// floodEnv opts in to TestDHCPFlood and sets its duration ("60s" for the
// acceptance figure of docs/benchmarks.md). It is not part of make test.
const floodEnv = "FLOWLAKE_DHCP_FLOOD"

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

// TestDHCPFlood sends DISCOVERs at 10,000/s for FLOWLAKE_DHCP_FLOOD from
// a raw socket in one namespace through a bridge whose port the edge
// captures: no frame may be lost (kernel drops, queue drops), every one
// becomes a row, discover_flood is raised, and the heap stays flat.
func TestDHCPFlood(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv(floodEnv))
	if err != nil || d <= 0 {
		t.Skipf("opt-in: %s=60s runs the 10k DISCOVER/s flood (docs/benchmarks.md)", floodEnv)
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
	heapMid := make(chan uint64, 1)
	start := time.Now()
	var i uint32
	measured := false
	err = sendRaw(lb.netnsPath("fl"), "eth0", func() ([]byte, bool) {
		if i >= total {
			return nil, false
		}
		for uint32(time.Since(start).Seconds()*rate) <= i {
			time.Sleep(time.Millisecond) // pacing the sender, not waiting for a result
		}
		if i >= total/2 && !measured {
			measured = true
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heapMid <- ms.HeapInuse // buffered: never blocks
		}
		i++
		return discoverFrame(i - 1), true
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "every DISCOVER decoded or lost", func() bool {
		st := e.dhcp.status()
		return st.Decoded+st.QueueDrops+st.KernelDrops >= uint64(total)
	})
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := e.dhcp.status()
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	st2 := e.dhcp.status()
	mid := <-heapMid
	t.Logf("%d DISCOVERs in %s: decoded %d, kernel drops %d, queue drops %d, rows written %d, heap in use %d MiB at half time, %d MiB at the end",
		total, d, st.Decoded, st.KernelDrops, st.QueueDrops, st2.RowsWritten, mid>>20, ms.HeapInuse>>20)
	if st.KernelDrops != 0 || st.QueueDrops != 0 || st.Decoded != uint64(total) || st2.RowsWritten != uint64(total) {
		t.Errorf("lost DISCOVERs: %+v", st)
	}
	if st.SignalsRaised[SignalDiscoverFlood] == 0 {
		t.Error("no discover_flood raised")
	}
	if ms.HeapInuse > 2*mid+32<<20 {
		t.Errorf("heap grew from %d MiB to %d MiB", mid>>20, ms.HeapInuse>>20)
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
