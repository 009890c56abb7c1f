package tcptrace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// Tracer is the passive TCP tracer's state machine: fed decoded packets in
// capture order, it follows every TCP connection, seen from the side of the
// configured local prefixes, and when one ends it produces a tcp_conns row
// with the close reason derived from the wire (docs/tcptrace.md) and the
// connection's last packets as tcp_packets rows. It opens no sockets and
// starts no goroutines; time is the packets' own (Advance moves it on when
// no packet comes). A Tracer is not safe for concurrent use.
type Tracer struct {
	cfg   TracerConfig
	conns connTable
	now   time.Time
	mem   int64
	out   []Record
	stats Stats
}

// Record is one connection the tracer wrote: its row and its kept packets,
// oldest first, joined by trace_id.
type Record struct {
	Conn    schema.TCPConn
	Packets []schema.TCPPacket
}

// Stats counts what the tracer did; nothing it drops goes uncounted.
type Stats struct {
	Packets    uint64 // TCP packets fed
	Tracked    int    // connections in the table now
	MemoryUsed int64  // bytes counted against the quota now
	// Decode errors by kind (Tracer.Decode): truncated frames, bogus
	// header lengths, IP fragments, non-TCP, unsupported link types.
	Truncated, BadHeader, Fragments, NotTCP, OtherDecode uint64
	// NotLocal counts packets neither of whose addresses is local;
	// Filtered those of connections the filter leaves out; NotNew those
	// of connections whose SYN was not seen, under only-new-connection.
	NotLocal, Filtered, NotNew uint64
	// RefusedConns counts connection attempts (SYNs) not traced because
	// the memory quota was reached; RefusedPackets every packet refused so,
	// midstream connections' included.
	RefusedConns, RefusedPackets uint64
	// Overwritten counts packets a ring did not keep: the slots overwritten
	// by newer packets, and packets of a connection whose ring could not get
	// its first slot under the memory quota.
	Overwritten uint64
	// Written counts rows written by reason ("" for a connection that ended
	// without one: a timeout, a half close, open at shutdown); Skipped the
	// connections cache mode abnormal-close left out.
	Written map[string]uint64
	Skipped uint64
}

// NewTracer returns a tracer for cfg, which Validate must accept.
func NewTracer(cfg TracerConfig) (*Tracer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tcp tracer settings: %w", err)
	}
	return &Tracer{cfg: cfg, conns: newConnTable(), stats: Stats{Written: map[string]uint64{}}}, nil
}

// Config returns the tracer's settings.
func (t *Tracer) Config() TracerConfig { return t.cfg }

// Stats returns a copy of the tracer's counters.
func (t *Tracer) Stats() Stats {
	s := t.stats
	s.Written = make(map[string]uint64, len(t.stats.Written))
	for k, v := range t.stats.Written {
		s.Written[k] = v
	}
	s.Tracked, s.MemoryUsed = t.conns.n, t.mem
	return s
}

// Decode decodes one captured frame and feeds it. A frame that does not
// decode is counted by kind (Stats) and its error returned for logging.
func (t *Tracer) Decode(link int, data []byte, ts time.Time) error {
	var p Packet
	if err := Decode(link, data, ts, &p); err != nil {
		t.countDecode(err)
		return err
	}
	t.Feed(&p)
	return nil
}

func (t *Tracer) countDecode(err error) {
	switch {
	case errors.Is(err, ErrTruncated):
		t.stats.Truncated++
	case errors.Is(err, ErrBadHeader):
		t.stats.BadHeader++
	case errors.Is(err, ErrFragment):
		t.stats.Fragments++
	case errors.Is(err, ErrNotTCP), errors.Is(err, ErrNotIP):
		t.stats.NotTCP++
	default:
		t.stats.OtherDecode++
	}
}

// Take returns the records written since the last call and forgets them.
func (t *Tracer) Take() []Record {
	out := t.out
	t.out = nil
	return out
}

// Advance moves the tracer's clock to now (when later than the last
// packet's) and ends the connections whose timeouts passed: closed ones
// after CloseWait, stalled ones after StallTimeout, half-open ones after
// SynTimeout, idle ones after IdleTimeout.
func (t *Tracer) Advance(now time.Time) {
	if now.After(t.now) {
		t.now = now
	}
	t.conns.each(func(c *tconn) {
		if end, ok := t.expired(c); ok {
			t.finish(c, end)
		}
	})
}

// Flush ends every connection at shutdown: those whose timeouts passed at
// now as Advance would, the rest written as open (tcp_conns.end = open),
// in both cache modes.
func (t *Tracer) Flush(now time.Time) {
	t.Advance(now)
	t.conns.each(func(c *tconn) { t.finish(c, schema.TCPEndOpen) })
}

// expired says whether c's time is up at t.now, and how it ended.
func (t *Tracer) expired(c *tconn) (string, bool) {
	now := t.now.UnixNano()
	idle := time.Duration(now - c.last)
	switch {
	case c.hasClosed:
		return schema.TCPEndClosed, time.Duration(now-c.closedAt) >= t.cfg.CloseWait
	case c.stalled(t.cfg.Probes) != "":
		return schema.TCPEndTimeout, idle >= t.cfg.StallTimeout
	case !c.hasConnected && c.sides[0].synSeen != c.sides[1].synSeen && !c.sides[0].finSeen && !c.sides[1].finSeen:
		return schema.TCPEndTimeout, idle >= t.cfg.SynTimeout
	}
	return schema.TCPEndTimeout, idle >= t.cfg.IdleTimeout
}

// Feed follows one decoded TCP packet. Packets must come in capture order;
// one older than the last is taken as if it came at the last's time.
func (t *Tracer) Feed(p *Packet) {
	t.stats.Packets++
	if p.Time.After(t.now) {
		t.now = p.Time
	}
	key, fromA := makeKey(p)
	c := t.conns.get(&key)
	if c != nil && c.hasClosed && p.Flags&(FlagSYN|FlagACK|FlagRST) == FlagSYN {
		// A new SYN on a closed connection: the 4-tuple is reused.
		if s := &c.sides[c.idx(fromA)]; !s.synSeen || s.isn != p.Seq {
			t.finish(c, schema.TCPEndClosed)
			c = nil
		}
	}
	if c == nil {
		if c = t.open(key, fromA, p); c == nil {
			return
		}
	}
	t.update(c, fromA, p)
}

// open starts tracing the connection of p, or counts why it does not.
func (t *Tracer) open(key connKey, fromA bool, p *Packet) *tconn {
	srcLocal, dstLocal := t.isLocal(p.Src), t.isLocal(p.Dst)
	if !srcLocal && !dstLocal {
		t.stats.NotLocal++
		return nil
	}
	syn := p.Flags&(FlagSYN|FlagACK|FlagRST) == FlagSYN
	if t.cfg.OnlyNew && !syn {
		t.stats.NotNew++
		return nil
	}
	// The local side: the one in the local prefixes; when both are, the
	// client (SYN sender, or SYN-ACK receiver), else the first sender.
	senderLocal := srcLocal
	if srcLocal && dstLocal && p.Flags&(FlagSYN|FlagACK) == FlagSYN|FlagACK {
		senderLocal = false
	}
	localIsA := senderLocal == fromA
	if t.cfg.Filter != nil {
		a, b := endpointOf(key.a, key.pa), endpointOf(key.b, key.pb)
		if !localIsA {
			a, b = b, a
		}
		if !t.cfg.Filter(a, b) {
			t.stats.Filtered++
			return nil
		}
	}
	growth := t.conns.growth()
	if t.mem+connSize+growth > t.cfg.MemoryQuota {
		t.stats.RefusedPackets++
		if syn {
			t.stats.RefusedConns++
		}
		return nil
	}
	// Zeek's originator: the SYN sender; the SYN-ACK's receiver (history
	// starts with ^); else the first packet's sender.
	now := p.Time.UnixNano()
	c := &tconn{key: key, localIsA: localIsA, firstFin: -1, firstRst: -1, first: now, last: now}
	senderOrig := true
	if p.Flags&(FlagSYN|FlagACK) == FlagSYN|FlagACK {
		senderOrig, c.flipped = false, true
	}
	c.origLocal = senderOrig == senderLocal
	c.sides[0].wscale, c.sides[1].wscale = -1, -1
	c.mem = int32(connSize)
	t.mem += connSize + growth
	c.traceID = t.traceID(c, p.Time)
	t.conns.put(c)
	return c
}

// isLocal reports whether a is in the local prefixes (every address is
// when none are configured).
func (t *Tracer) isLocal(a netip.Addr) bool {
	if len(t.cfg.Local) == 0 {
		return true
	}
	a = a.Unmap()
	for _, p := range t.cfg.Local {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// traceID is an FNV-64a hash of the device, both endpoints, the VLAN and
// the first packet's time: unique per edge, the same on a replay.
func (t *Tracer) traceID(c *tconn, first time.Time) uint64 {
	h := fnv.New64a()
	var b [8]byte
	h.Write([]byte(t.cfg.Edge))
	h.Write([]byte{0})
	h.Write([]byte(t.cfg.Device))
	h.Write(c.key.a[:])
	h.Write(c.key.b[:])
	binary.BigEndian.PutUint16(b[:], c.key.pa)
	binary.BigEndian.PutUint16(b[2:], c.key.pb)
	binary.BigEndian.PutUint16(b[4:], c.key.vlan)
	h.Write(b[:6])
	binary.BigEndian.PutUint64(b[:], uint64(first.UnixNano()))
	h.Write(b[:])
	return h.Sum64()
}
