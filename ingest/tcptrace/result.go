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
