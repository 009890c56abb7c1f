package tcptrace

import (
	"net/netip"
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
// the streaks that make RT, KT and PT. Its fields are laid out small: the
// table holds one pair per connection (docs/tcptrace.md, "Limits").
type side struct {
	isn    uint32 // initial sequence number (its SYN's, else first seq-1)
	maxEnd uint32 // highest sequence sent plus its length (absolute)
	maxAck uint32 // highest acknowledgement sent (absolute)
	finEnd uint32 // sequence after the FIN
	// holes are ranges of sequence space skipped (a segment that started
	// past maxEnd) and not filled since, oldest first: a segment inside one
	// is new data, not a retransmission; acknowledged over, one is a
	// content gap (Zeek's G). The oldest is forgotten past len(holes).
	holes   [4]seqRange
	bytes   uint64
	pkts    uint32
	retrans uint32
	last    lastSeg

	// Zeek history bookkeeping: the last SYN, FIN and RST sequence, and
	// the counts of the scaled letters (T, W, G), each added at the 1st,
	// 10th, 100th... time.
	histLastSyn, histLastFin, histLastRst uint32
	tCount, wCount, gCount                uint32

	// Streaks, reset when the peer answers.
	rtSeq    uint32
	rtCount  uint32
	kaCount  uint32
	zwpCount uint32
	rtGap    int64 // ns between the last two retransmissions
	rtAt     int64 // ns since the epoch of the last one

	win      uint16 // last advertised window, unscaled
	mss      uint16
	histSeen uint16
	wscale   int8 // SYN option, -1 when absent
	nholes   uint8

	seqKnown  bool
	synSeen   bool
	synPure   bool // sent a SYN without ACK
	synAck    bool // sent a SYN-ACK
	ackKnown  bool
	finSeen   bool
	rst       bool
	rtGrowing bool
}

// seqRange is [lo, hi) in sequence space.
type seqRange struct{ lo, hi uint32 }

// lastSeg is the previous segment of a side, to recognise exact duplicates.
type lastSeg struct {
	seq, ack uint32
	length   uint16
	ipid     uint16
	sum      uint16
	flags    uint8
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

// histInline is how many history letters a connection holds without an
// allocation; longer histories spill into histMore.
const histInline = 12

// tconn is one traced connection. sides[0] is the local side, sides[1] the
// foreign one. Times are nanoseconds since the epoch. It holds no more
// than the rows need: the endpoints come from key, the kept packets are
// in ring (ring.go).
type tconn struct {
	key       connKey
	localIsA  bool
	origLocal bool // Zeek's originator is the local side
	flipped   bool
	aa        bool
	firstFin  int8 // -1 none, 0 local, 1 foreign
	firstRst  int8
	state     uint8
	histLen   uint8 // letters in hist (the rest in histMore)

	hasOpened    bool
	hasConnected bool
	hasClosed    bool // both FINs or an RST seen: waiting CloseWait

	mem       int32 // bytes counted against the quota
	first     int64
	last      int64
	opened    int64 // the first SYN without ACK
	connected int64
	closedAt  int64
	traceID   uint64
	sides     [2]side
	hist      [histInline]byte
	histMore  *[]byte
	ring      ring
}

// connSize is what one connection's record costs on the heap (its ring,
// a long history and the table's slot are counted apart).
var connSize = allocSize(unsafe.Sizeof(tconn{}), true)

// historyBytes returns c's Zeek history letters.
func (c *tconn) historyBytes() []byte {
	h := c.hist[:c.histLen]
	if c.histMore != nil {
		return append(append([]byte(nil), h...), *c.histMore...)
	}
	return h
}

// endpoints returns c's local and foreign endpoints.
func (c *tconn) endpoints() (local, foreign Endpoint) {
	a, b := endpointOf(c.key.a, c.key.pa), endpointOf(c.key.b, c.key.pb)
	if c.localIsA {
		return a, b
	}
	return b, a
}

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
	case c.hasConnected:
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
