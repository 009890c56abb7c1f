package edge

import (
	"context"
	"encoding/binary"
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
	sent := make(chan error, 1)
	heapMid := make(chan uint64, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine, in the flood namespace
		ns, err := os.Open(lb.netnsPath("fl"))
		if err != nil {
			sent <- err
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			sent <- err
			return
		}
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			sent <- err
			return
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			sent <- err
			return
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		start := time.Now()
		var i uint32
		measured := false
		for i < total {
			<-tick.C
			due := min(uint32(time.Since(start).Seconds()*rate), total)
			for ; i < due; i++ {
				if err := unix.Sendto(fd, discoverFrame(i), 0, to); err != nil {
					sent <- err
					return
				}
			}
			if i >= total/2 && !measured {
				measured = true
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				heapMid <- ms.HeapInuse // buffered: never blocks
			}
		}
		sent <- nil
	}()
	if err := <-sent; err != nil {
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
