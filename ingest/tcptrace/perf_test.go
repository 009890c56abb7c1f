package tcptrace

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// concurrentTraffic describes a synthetic capture of many concurrent
// connections: every connection's handshake first, then rounds of a data
// segment from the client and the server's acknowledgement, round-robin
// over all connections, then every connection's close (FIN, FIN, ACK).
// All of them are open at once, as the issue's "100 k concurrent
// connections" asks.
type concurrentTraffic struct {
	conns   int // connections, each its own client port and address
	rounds  int // data segments (and their ACKs) per connection
	payload int // bytes of each data segment
}

// packets is how many frames the capture holds.
func (c concurrentTraffic) packets() int { return c.conns * (3 + 2*c.rounds + 3) }

// write writes the capture as pcap (Ethernet), one frame each 1 µs.
func (c concurrentTraffic) write(w io.Writer) error {
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(256, layers.LinkTypeEthernet); err != nil {
		return err
	}
	at := testStart
	buf := make([]byte, 0, 256)
	emit := func(i int, out bool, flags uint8, seq, ack uint32, data int) error {
		buf = c.frame(buf[:0], i, out, flags, seq, ack, data)
		at = at.Add(time.Microsecond)
		return pw.WritePacket(gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(buf), Length: len(buf)}, buf)
	}
	const ciss, siss = 1000, 900000
	for i := range c.conns {
		if err := emit(i, true, syn, ciss, 0, 0); err != nil {
			return err
		}
		if err := emit(i, false, syn|ack, siss, ciss+1, 0); err != nil {
			return err
		}
		if err := emit(i, true, ack, ciss+1, siss+1, 0); err != nil {
			return err
		}
	}
	for r := range c.rounds {
		for i := range c.conns {
			seq := uint32(ciss + 1 + r*c.payload)
			if err := emit(i, true, psh, seq, siss+1, c.payload); err != nil {
				return err
			}
			if err := emit(i, false, ack, siss+1, seq+uint32(c.payload), 0); err != nil {
				return err
			}
		}
	}
	end := uint32(ciss + 1 + c.rounds*c.payload)
	for i := range c.conns {
		if err := emit(i, true, fin, end, siss+1, 0); err != nil {
			return err
		}
		if err := emit(i, false, fin, siss+1, end+1, 0); err != nil {
			return err
		}
		if err := emit(i, true, ack, end+1, siss+2, 0); err != nil {
			return err
		}
	}
	return nil
}

// frame appends connection i's segment as an Ethernet frame: client
// 10.<i>:<port> to server 192.0.2.<i%250>:443, with the options a Linux
// host sends (MSS, SACK permitted, timestamps, window scale on SYNs;
// timestamps on the rest).
func (c concurrentTraffic) frame(b []byte, i int, out bool, flags uint8, seq, ack uint32, data int) []byte {
	client := [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
	server := [4]byte{192, 0, 2, byte(1 + i%250)}
	cport, sport := uint16(10000+i%50000), uint16(443)
	src, dst, sp, dp := client, server, cport, sport
	if !out {
		src, dst, sp, dp = server, client, sport, cport
	}
	var opts []byte
	if flags&FlagSYN != 0 {
		opts = []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}
	} else {
		opts = []byte{1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 1}
	}
	thl := 20 + len(opts)
	total := 20 + thl + data
	b = append(b, 0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00) // Ethernet
	ip := len(b)
	b = append(b, make([]byte, total)...)
	h := b[ip:]
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(total))
	binary.BigEndian.PutUint16(h[4:], uint16(i))
	h[6], h[8], h[9] = 0x40, 64, 6 // don't fragment, TTL, TCP
	copy(h[12:], src[:])
	copy(h[16:], dst[:])
	t := h[20:]
	binary.BigEndian.PutUint16(t, sp)
	binary.BigEndian.PutUint16(t[2:], dp)
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12], t[13] = byte(thl/4)<<4, flags
	binary.BigEndian.PutUint16(t[14:], 502)
	binary.BigEndian.PutUint16(t[16:], uint16(seq^ack))
	copy(t[20:], opts)
	for j := range data {
		t[thl+j] = byte('a' + j%26)
	}
	return b
}

// capture returns the path of c's capture, written once into the
// system's temporary directory and reused by later runs (it is some
// 100 MB for 100 k connections).
func (c concurrentTraffic) capture(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("flowlake-tcptrace-v1-%d-%d-%d.pcap", c.conns, c.rounds, c.payload))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".flowlake-tcptrace-*")
	if err != nil {
		tb.Fatal(err)
	}
	bw := bufio.NewWriterSize(tmp, 1<<20)
	err = c.write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		tb.Fatalf("write capture %s: %v", path, err)
	}
	return path
}

// BenchmarkReplayConcurrent replays a pcap of 100 k concurrent connections
// (handshake, 4 data segments each way acknowledged, close: 1.4 M frames)
// through the tracer with the default settings (100 MB quota, 500-packet
// rings, cache mode all) and reports packets/s. Run it on one core:
//
//	go test -run '^$' -bench BenchmarkReplayConcurrent -cpu 1 -benchtime 5x ./ingest/tcptrace/
//
// It fails when a connection is refused by the quota. packets/cpu-s divides
// by the process's CPU time (user and system, GC included) instead of the
// wall clock, which on a machine shared with other work counts the time
// the benchmark waited for a core.
func BenchmarkReplayConcurrent(b *testing.B) {
	traffic := concurrentTraffic{conns: 100_000, rounds: 4, payload: 100}
	path := traffic.capture(b)
	var st Stats
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		cfg := DefaultTracerConfig()
		cfg.CacheMode = CacheAll
		tr, err := NewTracer(cfg)
		if err != nil {
			b.Fatal(err)
		}
		cpu0 := cpuTime(b)
		b.StartTimer()
		n, err := Replay(context.Background(), f, path, tr)
		b.StopTimer()
		cpu += cpuTime(b) - cpu0
		_ = f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if n != uint64(traffic.packets()) {
			b.Fatalf("%d frames replayed, want %d", n, traffic.packets())
		}
		st = tr.Stats()
		b.StartTimer()
	}
	b.StopTimer()
	if st.RefusedConns != 0 || st.Tracked != traffic.conns {
		b.Fatalf("%d connections tracked, %d refused by the quota (%d of %d bytes used): want all %d tracked",
			st.Tracked, st.RefusedConns, st.MemoryUsed, DefaultTracerConfig().MemoryQuota, traffic.conns)
	}
	b.ReportMetric(float64(traffic.packets())*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(traffic.packets())*float64(b.N)/cpu.Seconds(), "packets/cpu-s")
	b.ReportMetric(float64(st.MemoryUsed)/float64(traffic.conns), "bytes/conn")
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
