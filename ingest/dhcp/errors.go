package dhcp

import "fmt"

// Reason classifies why a message could not be decoded. Counters counts every
// rejected message under exactly one Reason so that operators see which kind
// of bad input arrives.
type Reason uint8

// The reasons a message is rejected.
const (
	// ReasonShort: the payload (or a relayed DHCPv6 message) is shorter
	// than its fixed header: for DHCPv4 the 236-byte BOOTP header plus the
	// 4-byte magic cookie, for DHCPv6 4 bytes (34 for a relay message).
	ReasonShort Reason = iota
	// ReasonBadOp: the header's op is neither 1 (BOOTREQUEST) nor 2
	// (BOOTREPLY).
	ReasonBadOp
	// ReasonBadCookie: the 4 bytes after the header are not the DHCP magic
	// cookie 99.130.83.99.
	ReasonBadCookie
	// ReasonTruncatedOption: an option's header is cut short or its
	// length runs past the end of the area holding it.
	ReasonTruncatedOption
	// ReasonBadOptionValue: an option Flowlake stores has a value of the
	// wrong length or form (a 3-byte address, a message type of 2 bytes, a
	// relay sub-option past its option's end, an overload value not 1-3, …).
	ReasonBadOptionValue
	numReasons
)

var reasonNames = [numReasons]string{
	ReasonShort:           "short",
	ReasonBadOp:           "bad_op",
	ReasonBadCookie:       "bad_cookie",
	ReasonTruncatedOption: "truncated_option",
	ReasonBadOptionValue:  "bad_option_value",
}

// String returns the reason's metric label (snake_case).
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Reasons returns every Reason in order, for callers that export one counter
// per reason.
func Reasons() []Reason {
	rs := make([]Reason, numReasons)
	for i := range rs {
		rs[i] = Reason(i)
	}
	return rs
}

// DecodeError says what could not be decoded, where and why.
type DecodeError struct {
	// V6 is true for a DHCPv6 message.
	V6 bool
	// Reason is what the message was counted under.
	Reason Reason
	// Offset is the byte offset into the UDP payload where the problem is.
	Offset int
	// What names the structure being read ("header", "option 51", "option
	// 82 sub-option 1", …).
	What string
	// Why explains the problem.
	Why string
}

// Error formats the failure as "dhcpv4 message: <what> at offset <n>: <why>
// (<reason>)" (dhcpv6 for a DHCPv6 message).
func (e *DecodeError) Error() string {
	v := "dhcpv4"
	if e.V6 {
		v = "dhcpv6"
	}
	return fmt.Sprintf("%s message: %s at offset %d: %s (%s)", v, e.What, e.Offset, e.Why, e.Reason)
}

// Counters counts decoded and rejected messages. A Decoder adds to its own
// Counters; the edge exports them as metrics.
type Counters struct {
	// Decoded counts messages turned into rows.
	Decoded uint64
	// Rejected counts rejected messages by Reason.
	Rejected [numReasons]uint64
}

// Count returns the number of messages rejected for r.
func (c *Counters) Count(r Reason) uint64 {
	if r < numReasons {
		return c.Rejected[r]
	}
	return 0
}

// TotalRejected returns the number of rejected messages of every reason.
func (c *Counters) TotalRejected() uint64 {
	var n uint64
	for _, v := range c.Rejected {
		n += v
	}
	return n
}

// Add adds o's counts to c.
func (c *Counters) Add(o *Counters) {
	c.Decoded += o.Decoded
	for i, v := range o.Rejected {
		c.Rejected[i] += v
	}
}
