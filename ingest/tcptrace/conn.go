package tcptrace

import (
	"net/netip"
	"time"
	"unsafe"
)

// connKey identifies a connection: both endpoints in canonical order (the
// lower address/port first) and the VLAN.
type connKey struct {
	a, b   [16]byte
	pa, pb uint16
	vlan   uint16
}

// makeKey returns p's connection key and whether p's sender is endpoint a.
func makeKey(p *Packet) (connKey, bool) {
	s, d := p.Src.As16(), p.Dst.As16()
	if less(s, p.SrcPort, d, p.DstPort) {
		return connKey{a: s, b: d, pa: p.SrcPort, pb: p.DstPort, vlan: p.VLAN}, true
	}
	return connKey{a: d, b: s, pa: p.DstPort, pb: p.SrcPort, vlan: p.VLAN}, false
}

func less(a [16]byte, pa uint16, b [16]byte, pb uint16) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return pa <= pb
}

// Zeek's endpoint states (scripts/base/init-bare.zeek).
const (
	zInactive = iota
	zSynSent
	zSynAckSent
	zPartial
	zEstablished
	zClosed
	zReset
)

// side is what one endpoint sent: sequence space, flags seen, counters and
// the streaks that make RT, KT and PT.
type side struct {
	seqKnown bool
	isn      uint32 // initial sequence number (its SYN's, else first seq-1)
	synSeen  bool
	synPure  bool   // sent a SYN without ACK
	synAck   bool   // sent a SYN-ACK
	maxEnd   uint32 // highest sequence sent plus its length (absolute)
	ackKnown bool
	maxAck   uint32 // highest acknowledgement sent (absolute)
	win      uint16 // last advertised window, unscaled
	wscale   int8   // SYN option, -1 when absent
	mss      uint16
	finSeen  bool
	finEnd   uint32 // sequence after the FIN
	rst      bool
	// holes are ranges of sequence space skipped (a segment that started
	// past maxEnd) and not filled since, oldest first: a segment inside one
	// is new data, not a retransmission; acknowledged over, one is a
	// content gap (Zeek's G). The oldest is forgotten past len(holes).
	holes   [4]seqRange
	nholes  int
	pkts    uint32
	bytes   uint64
	retrans uint32
	last    lastSeg

	// Zeek history bookkeeping.
	histLastSyn, histLastFin, histLastRst uint32
	histSeen                              uint16
	tCount, tNext, wCount, wNext          uint32
	gCount, gNext                         uint32

	// Streaks, reset when the peer answers.
	rtSeq     uint32
	rtCount   int
	rtGap     time.Duration
	rtAt      time.Time
	rtGrowing bool
	kaCount   int
	zwpCount  int
}

// seqRange is [lo, hi) in sequence space.
type seqRange struct{ lo, hi uint32 }

// lastSeg is the previous segment of a side, to recognise exact duplicates.
type lastSeg struct {
	seq, ack uint32
	flags    uint8
	length   int
	ipid     uint16
	sum      uint16
	valid    bool
}

// Zeek history flag bits (per side).
const (
	hSyn uint16 = 1 << iota
	hFin
	hRst
	hData
	hAck
	hMulti
	hFinRst
)

// ringPkt is one kept packet. Its frame buffer is reused when the ring
// overwrites the slot.
type ringPkt struct {
	time     int64
	seq, ack uint32
	win      uint32 // scaled
	length   uint16
	ipid     uint16
	sum      uint16
	flags    uint8
	out      bool
	retrans  bool
	state    uint8
	sndUna   uint32
	sndNxt   uint32
	sndWnd   uint32
	rcvNxt   uint32
	rcvWnd   uint32
	frameLen uint32
	frame    []byte
}

// tconn is one traced connection. sides[0] is the local side, sides[1] the
// foreign one.
type tconn struct {
	key       connKey
	local     Endpoint
	foreign   Endpoint
	localIsA  bool
	origLocal bool // Zeek's originator is the local side
	flipped   bool
	sides     [2]side
	first     time.Time
	last      time.Time
	connected time.Time
	closedAt  time.Time // both FINs or an RST seen: waiting CloseWait
	firstFin  int       // -1 none, 0 local, 1 foreign
	firstRst  int
	aa        bool
	state     uint8
	hist      []byte
	ring      []ringPkt
	head      int // next slot to write once the ring is full
	mem       int64
	traceID   uint64
}

// Sizes the memory quota counts (see TracerConfig.MemoryQuota).
var (
	connSize    = int64(unsafe.Sizeof(tconn{})) + int64(unsafe.Sizeof(connKey{})) + 16 // map slot: key, pointer, tophash
	ringPktSize = int64(unsafe.Sizeof(ringPkt{}))
)

// idx returns 0 for the local side, 1 for the foreign one, for a packet
// whose sender is endpoint a of the key when fromA.
func (c *tconn) idx(fromA bool) int {
	if fromA == c.localIsA {
		return 0
	}
	return 1
}

// Local TCP states recorded on packets (tcp_packets.state).
const (
	stClosed uint8 = iota
	stSynSent
	stSynReceived
	stEstablished
	stFinWait1
	stFinWait2
	stCloseWait
	stClosing
	stLastAck
	stTimeWait
)

var stateNames = [...]string{"CLOSED", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2",
	"CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT"}

// localState derives the local side's TCP state from what both sides sent.
func (c *tconn) localState() uint8 {
	l, f := &c.sides[0], &c.sides[1]
	switch {
	case l.rst || f.rst:
		return stClosed
	case l.finSeen && f.finSeen:
		lAcked := f.ackKnown && seqGE(f.maxAck, l.finEnd)
		fAcked := l.ackKnown && seqGE(l.maxAck, f.finEnd)
		switch {
		case c.firstFin == 0 && fAcked:
			return stTimeWait
		case c.firstFin == 1 && lAcked:
			return stClosed
		case c.firstFin == 1:
			return stLastAck
		default:
			return stClosing
		}
	case l.finSeen:
		if f.ackKnown && seqGE(f.maxAck, l.finEnd) {
			return stFinWait2
		}
		return stFinWait1
	case f.finSeen:
		return stCloseWait
	case !c.connected.IsZero():
		return stEstablished
	case l.synPure && f.synAck:
		return stEstablished // a client has on the SYN-ACK
	case l.synSeen && !f.synSeen:
		return stSynSent
	case f.synSeen:
		return stSynReceived
	}
	return stEstablished
}

// seqGE compares sequence numbers modulo 2^32 (RFC 1982).
func seqGE(a, b uint32) bool { return int32(a-b) >= 0 }

// seqGT is a > b modulo 2^32.
func seqGT(a, b uint32) bool { return int32(a-b) > 0 }

func endpointOf(a [16]byte, port uint16) Endpoint {
	return Endpoint{Addr: netip.AddrFrom16(a).Unmap(), Port: port}
}
