package schema

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Addr is an IP address stored as 16 bytes: IPv4 as an IPv4-mapped IPv6
// address (::ffff:a.b.c.d), so one column serves both families and compares
// bytewise. The zero Addr means "absent" and is written as null in optional
// columns.
type Addr [16]byte

// AddrFrom converts a netip.Addr; the invalid (zero) netip.Addr maps to the
// zero Addr.
func AddrFrom(a netip.Addr) Addr {
	if !a.IsValid() {
		return Addr{}
	}
	return Addr(a.As16())
}

// MustParseAddr parses an IPv4 or IPv6 literal and panics on error; for
// tests and constant tables only.
func MustParseAddr(s string) Addr { return AddrFrom(netip.MustParseAddr(s)) }

// ParseAddr parses an IPv4 or IPv6 literal.
func ParseAddr(s string) (Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return Addr{}, fmt.Errorf("parse address %q: %w", s, err)
	}
	return AddrFrom(a), nil
}

// IsZero reports whether a is the absent address.
func (a Addr) IsZero() bool { return a == Addr{} }

// Netip returns the address as netip.Addr, unmapping IPv4.
func (a Addr) Netip() netip.Addr {
	if a.IsZero() {
		return netip.Addr{}
	}
	return netip.AddrFrom16(a).Unmap()
}

// String formats a in its usual textual form ("" for the zero Addr).
func (a Addr) String() string {
	if a.IsZero() {
		return ""
	}
	return a.Netip().String()
}

// MAC is an Ethernet hardware address stored as 6 bytes.
type MAC [6]byte

// ParseMAC parses a MAC in any form net.ParseMAC accepts.
func ParseMAC(s string) (MAC, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return MAC{}, fmt.Errorf("parse MAC %q: not a 48-bit address", s)
	}
	return MAC(hw), nil
}

// IsZero reports whether m is the absent address.
func (m MAC) IsZero() bool { return m == MAC{} }

// String formats m as aa:bb:cc:dd:ee:ff ("" for the zero MAC).
func (m MAC) String() string {
	if m.IsZero() {
		return ""
	}
	return net.HardwareAddr(m[:]).String()
}

// Micros converts t to the microseconds since the Unix epoch that every
// timestamp column stores.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros converts a stored timestamp back to a UTC time.Time.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
