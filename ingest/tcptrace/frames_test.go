package tcptrace

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// seg describes one segment a test sends through Decode and the tracer.
type seg struct {
	at       time.Duration // after the scenario's start
	out      bool          // sent by the local host (10.0.0.1:40000)
	flags    uint8
	seq, ack uint32
	win      uint16
	data     int
	ipid     uint16
	opts     []byte
	zero     bool // advertise a zero window (win 0 otherwise means the default)
}

var (
	testLocal   = netip.MustParseAddr("10.0.0.1")
	testForeign = netip.MustParseAddr("192.0.2.7")
	testStart   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// rawFrame builds an IPv4 packet holding a TCP segment (pcap link type RAW).
func rawFrame(src, dst netip.Addr, sport, dport uint16, s seg) []byte {
	thl := 20 + (len(s.opts)+3)/4*4
	b := make([]byte, 20+thl+s.data)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:], s.ipid)
	b[8], b[9] = 64, 6
	s4, d4 := src.As4(), dst.As4()
	copy(b[12:], s4[:])
	copy(b[16:], d4[:])
	t := b[20:]
	binary.BigEndian.PutUint16(t, sport)
	binary.BigEndian.PutUint16(t[2:], dport)
	binary.BigEndian.PutUint32(t[4:], s.seq)
	binary.BigEndian.PutUint32(t[8:], s.ack)
	t[12] = byte(thl/4) << 4
	t[13] = s.flags
	binary.BigEndian.PutUint16(t[14:], s.win)
	copy(t[20:], s.opts)
	for i := range s.data {
		t[thl+i] = byte('a' + i%26)
	}
	return b
}

// feed sends segs between testLocal:40000 and testForeign:80 through the
// tracer's real entry point, Decode.
func feed(t *testing.T, tr *Tracer, segs []seg) {
	t.Helper()
	for i, s := range segs {
		src, dst, sp, dp := testForeign, testLocal, uint16(80), uint16(40000)
		if s.out {
			src, dst, sp, dp = testLocal, testForeign, 40000, 80
		}
		if s.win == 0 && !s.zero {
			s.win = 64000
		}
		if err := tr.Decode(LinkRaw, rawFrame(src, dst, sp, dp, s), testStart.Add(s.at)); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
}

const (
	lISS = 1000
	fISS = 5000
	syn  = FlagSYN
	ack  = FlagACK
	fin  = FlagFIN | FlagACK
	rst  = FlagRST
	psh  = FlagPSH | FlagACK
)

// handshake is a client handshake from the local side, done at 30 ms.
func handshake() []seg {
	return []seg{
		{at: 0, out: true, flags: syn, seq: lISS, opts: []byte{2, 4, 5, 0xb4, 1, 3, 3, 7}},
		{at: 10 * time.Millisecond, flags: syn | ack, seq: fISS, ack: lISS + 1, opts: []byte{2, 4, 5, 0x78, 1, 3, 3, 8}},
		{at: 20 * time.Millisecond, out: true, flags: ack, seq: lISS + 1, ack: fISS + 1},
	}
}
