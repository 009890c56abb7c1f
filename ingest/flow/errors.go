package flow

import (
	"fmt"
	"net/netip"
)

// DecodeError says what could not be decoded, where and why. Decode returns
// it (wrapped in nothing) for every failed datagram; Kind is what Counters
// counted it as.
type DecodeError struct {
	// Kind is the class the failure was counted under.
	Kind ErrKind
	// Format is the datagram's format.
	Format Format
	// Exporter is the UDP source the datagram came from.
	Exporter netip.AddrPort
	// Offset is the byte offset into the datagram where the problem is.
	Offset int
	// What names the structure being read ("header", "set 256", "sample 3 record 1001", …).
	What string
	// Why explains the problem.
	Why string
}

// Error formats the failure as "<format> datagram from <exporter>: <what> at
// offset <n>: <why> (<kind>)".
func (e *DecodeError) Error() string {
	return fmt.Sprintf("%s datagram from %s: %s at offset %d: %s (%s)", e.Format, e.Exporter, e.What, e.Offset, e.Why, e.Kind)
}
