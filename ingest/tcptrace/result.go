package tcptrace

import (
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// Options says how Parse names and places what it reads.
type Options struct {
	// File names the input in errors ("file:line:col: …").
	File string
	// Device names the device that printed the output; when empty, the
	// sysname of the output's own prompt ("<DeviceA> display …") is used.
	Device string
	// Edge fills the rows' edge column: who collected the output.
	Edge string
	// Location is the zone the device's clock keeps (its output prints
	// none); nil means UTC.
	Location *time.Location
}

// Line is an input line Parse kept: Number is 1-based.
type Line struct {
	Number int
	Text   string
}

// Setting is one "key: value" line of `display tcp trace information`.
type Setting struct {
	Line  int
	Key   string
	Value string
}

// Result is what Parse read from one input.
type Result struct {
	// Conns holds one row per traced connection: a verbose block's header,
	// or a cache-connection table row that no verbose block in the same
	// input describes (see docs/tcptrace.md, "joining").
	Conns []schema.TCPConn
	// Packets holds every per-packet block, each joined to its connection
	// by trace_id.
	Packets []schema.TCPPacket
	// Settings holds the lines of `display tcp trace information`.
	Settings []Setting
	// Unknown holds the lines Parse did not recognise, in order.
	Unknown []Line
	// Lines counts the lines read; Merged counts table rows folded into the
	// verbose block of the same connection.
	Lines  int
	Merged int
}

// Rows returns the number of rows Parse produced (connections and packets).
func (r *Result) Rows() int { return len(r.Conns) + len(r.Packets) }

// LeaveOut removes from r the connections whose trace_id known reports
// (stored already: the same output imported again, or an overlapping
// dump) and every repeat of a connection within r (one output pasted
// twice into the same input), with their packets, and returns how many
// connections it removed. The trace_id is the connection's identity
// (device, VPN, endpoints, close time, reason): `flowlake tcptrace
// import`, the push and an edge's drop folder all leave out by it, so a
// connection reaches the lake once whichever way it came. A packet is
// kept once per trace_id and position (idx).
func (r *Result) LeaveOut(known func(traceID uint64) bool) int {
	seen := make(map[uint64]bool, len(r.Conns))
	conns := r.Conns[:0]
	for _, c := range r.Conns {
		if seen[c.TraceID] || known != nil && known(c.TraceID) {
			seen[c.TraceID] = true // its packets: left out below unless kept
			continue
		}
		seen[c.TraceID] = true
		conns = append(conns, c)
	}
	removed := len(r.Conns) - len(conns)
	r.Conns = conns
	kept := make(map[uint64]bool, len(conns))
	for _, c := range conns {
		kept[c.TraceID] = true
	}
	type pos struct {
		id  uint64
		idx uint16
	}
	had := make(map[pos]bool, len(r.Packets))
	pkts := r.Packets[:0]
	for _, p := range r.Packets {
		k := pos{p.TraceID, p.Index}
		if !kept[p.TraceID] || had[k] {
			continue
		}
		had[k] = true
		pkts = append(pkts, p)
	}
	r.Packets = pkts
	return removed
}
