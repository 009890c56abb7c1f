package meta

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// AddressRange is an inclusive range of IP addresses of one family: what a
// member of an IP group or an application's address list stands for. A
// CIDR prefix and a single address are ranges too.
type AddressRange struct {
	From, To netip.Addr
}

// ParseAddressRange reads an IP group member: a CIDR prefix
// ("10.0.0.0/8", "2001:db8::/32"), a single address ("192.0.2.7") or a
// range ("192.0.2.10-192.0.2.20"), IPv4 or IPv6. IPv4-mapped IPv6
// addresses are read as IPv4. Errors say what is wrong: host bits set
// (with the network meant), mixed families, a reversed range, zones.
func ParseAddressRange(s string) (AddressRange, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return AddressRange{}, fmt.Errorf("empty address")
	}
	if from, to, ok := strings.Cut(s, "-"); ok {
		a, err := parseAddr(strings.TrimSpace(from))
		if err != nil {
			return AddressRange{}, fmt.Errorf("range %q: start: %w", s, err)
		}
		b, err := parseAddr(strings.TrimSpace(to))
		if err != nil {
			return AddressRange{}, fmt.Errorf("range %q: end: %w", s, err)
		}
		if a.Is4() != b.Is4() {
			return AddressRange{}, fmt.Errorf("range %q: mixes IPv4 and IPv6", s)
		}
		if b.Less(a) {
			return AddressRange{}, fmt.Errorf("range %q: start is after end", s)
		}
		return AddressRange{From: a, To: b}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return AddressRange{}, fmt.Errorf("prefix %q: %s", s, plainNetipErr(err))
		}
		if p.Addr().Is4In6() {
			bits := p.Bits() - 96
			if bits < 0 {
				return AddressRange{}, fmt.Errorf("prefix %q: an IPv4-mapped prefix needs at least /96", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), bits)
		}
		if p.Addr().Zone() != "" {
			return AddressRange{}, fmt.Errorf("prefix %q: zones are not allowed", s)
		}
		if m := p.Masked(); m != p {
			return AddressRange{}, fmt.Errorf("prefix %q: host bits set; the network is %s", s, m)
		}
		return AddressRange{From: p.Addr(), To: lastAddr(p)}, nil
	}
	a, err := parseAddr(s)
	if err != nil {
		return AddressRange{}, err
	}
	return AddressRange{From: a, To: a}, nil
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("address %q: %s", s, plainNetipErr(err))
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("address %q: zones are not allowed", s)
	}
	return a.Unmap(), nil
}

// plainNetipErr drops netip's quoting of the whole input, which the
// callers' messages already show.
func plainNetipErr(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// lastAddr returns the last address of a masked prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Contains reports whether a falls within the range; IPv4-mapped IPv6
// addresses (the lake's form of IPv4) match IPv4 ranges.
func (r AddressRange) Contains(a netip.Addr) bool {
	a = a.Unmap()
	return a.Is4() == r.From.Is4() && !a.Less(r.From) && !r.To.Less(a)
}

// String writes the range the shortest way ParseAddressRange reads it: a
// single address, a CIDR prefix when the range is exactly one, else
// "from-to".
func (r AddressRange) String() string {
	if r.From == r.To {
		return r.From.String()
	}
	bits := r.From.BitLen()
	for b := 0; b <= bits; b++ {
		p := netip.PrefixFrom(r.From, b)
		if p.Masked().Addr() == r.From && lastAddr(p) == r.To {
			return p.String()
		}
	}
	return r.From.String() + "-" + r.To.String()
}

// maxMembers bounds an IP group's or application's address list.
const maxMembers = 10000

// normalizeAddresses parses every member and returns their normal forms,
// duplicates dropped, order kept. The error names the member by position
// and value.
func normalizeAddresses(field string, members []string) ([]string, error) {
	if len(members) > maxMembers {
		return nil, fmt.Errorf("%w: %s: %d entries, at most %d", ErrInvalid, field, len(members), maxMembers)
	}
	out := make([]string, 0, len(members))
	seen := make(map[string]bool, len(members))
	for i, m := range members {
		r, err := ParseAddressRange(m)
		if err != nil {
			return nil, fmt.Errorf("%w: %s[%d]: %w", ErrInvalid, field, i, err)
		}
		s := r.String()
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// PortRange is an inclusive range of TCP/UDP ports.
type PortRange struct{ From, To uint16 }

// ParsePortRange reads "443" or "8000-8080".
func ParsePortRange(s string) (PortRange, error) {
	s = strings.TrimSpace(s)
	from, to, isRange := strings.Cut(s, "-")
	a, err := parsePort(from)
	if err != nil {
		return PortRange{}, fmt.Errorf("port %q: %w", s, err)
	}
	b := a
	if isRange {
		if b, err = parsePort(to); err != nil {
			return PortRange{}, fmt.Errorf("port range %q: %w", s, err)
		}
		if b < a {
			return PortRange{}, fmt.Errorf("port range %q: start is after end", s)
		}
	}
	return PortRange{From: a, To: b}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil {
		return 0, fmt.Errorf("want a number from 0 to 65535")
	}
	return uint16(n), nil
}

// String writes "443" or "8000-8080".
func (p PortRange) String() string {
	if p.From == p.To {
		return strconv.Itoa(int(p.From))
	}
	return fmt.Sprintf("%d-%d", p.From, p.To)
}

// protocolNumbers are the IP protocols known by name.
var protocolNumbers = map[string]int{"icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "sctp": 132}

// NormalizeProtocol reads an application's protocol: "any", a name (tcp,
// udp, icmp, icmpv6, sctp, gre, esp, ah, any case) or an IP protocol
// number 0-255, and returns its normal form (the name if it has one).
func NormalizeProtocol(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || s == "any" {
		return "any", nil
	}
	if _, ok := protocolNumbers[s]; ok {
		return s, nil
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return "", fmt.Errorf("protocol %q: want any, tcp, udp, icmp, icmpv6, sctp, gre, esp, ah or a number 0-255", s)
	}
	for name, num := range protocolNumbers {
		if num == int(n) {
			return name, nil
		}
	}
	return strconv.Itoa(int(n)), nil
}
