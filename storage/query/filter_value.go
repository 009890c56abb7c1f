package query

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// timeLayout is how timestamps are written and read (RFC 3339, optional
// fraction).
const timeLayout = time.RFC3339Nano

// protoNames maps the protocol names `proto` accepts to their numbers.
var protoNames = map[string]uint64{"icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "icmp6": 58, "ipv6-icmp": 58, "sctp": 132}

// lastAddr returns the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	b := a.As16()
	off := 0
	if a.Is4() {
		off = 96
	}
	for i := p.Bits() + off; i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	r := netip.AddrFrom16(b)
	if a.Is4() {
		r = r.Unmap()
	}
	return r
}

// parseAddrRange parses "a", "a/bits" or "lo-hi"; it returns a reason for
// the error message when s is none of them.
func parseAddrRange(s string) (AddrRange, string) {
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		l, err1 := netip.ParseAddr(lo)
		h, err2 := netip.ParseAddr(hi)
		if err1 != nil || err2 != nil || l.Zone() != "" || h.Zone() != "" {
			return AddrRange{}, "an address range lo-hi"
		}
		l, h = l.Unmap(), h.Unmap()
		if l.Is4() != h.Is4() || h.Less(l) {
			return AddrRange{}, "a range lo-hi of one address family with lo <= hi"
		}
		return AddrRange{Lo: l, Hi: h}, ""
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return AddrRange{}, "an IP prefix (10.0.0.0/8, 2001:db8::/32)"
		}
		if a := p.Addr(); a.Is4In6() {
			if p.Bits() < 96 {
				return AddrRange{}, "an IPv4-mapped prefix of at least /96"
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		return AddrRange{Lo: p.Addr(), Hi: lastAddr(p)}, ""
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return AddrRange{}, "an IP address, prefix or range"
	}
	a = a.Unmap()
	return AddrRange{Lo: a, Hi: a}, ""
}

// maskBits returns the prefix length of a dotted IPv4 netmask.
func maskBits(s string) (int, bool) {
	m, err := netip.ParseAddr(s)
	if err != nil || !m.Is4() {
		return 0, false
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for n < 32 && v&(1<<(31-n)) != 0 {
		n++
	}
	if v<<n != 0 {
		return 0, false // not contiguous
	}
	return n, true
}

// normalizeRanges sorts ranges and merges overlapping or adjacent ones of
// the same family.
func normalizeRanges(rs []AddrRange) []AddrRange {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b AddrRange) int {
		return cmp.Or(a.Lo.Compare(b.Lo), a.Hi.Compare(b.Hi))
	})
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 {
			last := &out[n-1]
			next := last.Hi.Next()
			if last.Lo.Is4() == r.Lo.Is4() && (!next.IsValid() || r.Lo.Compare(next) <= 0) {
				if last.Hi.Less(r.Hi) {
					last.Hi = r.Hi
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// parseUint parses a decimal number with an optional K, M or G suffix
// (×1000, as nfdump) and checks it fits bits.
func parseUint(s string, bits int) (uint64, bool) {
	mul := uint64(1)
	if n := len(s); n > 1 {
		switch s[n-1] {
		case 'k', 'K':
			mul = 1e3
		case 'm', 'M':
			mul = 1e6
		case 'g', 'G':
			mul = 1e9
		}
		if mul != 1 {
			s = s[:n-1]
		}
	}
	if s == "" || s[0] == '+' {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > (1<<64-1)/mul {
		return 0, false
	}
	v *= mul
	if bits < 64 && v >= 1<<bits {
		return 0, false
	}
	return v, true
}

// parseFlags parses TCP flag letters (FSRPAUEC, X for all) into a mask.
func parseFlags(s string) (uint8, bool) {
	if s == "" {
		return 0, false
	}
	var m uint8
	for _, c := range strings.ToUpper(s) {
		if c == 'X' {
			m = 0xff
			continue
		}
		i := strings.IndexRune(tcpFlagLetters, c)
		if i < 0 {
			return 0, false
		}
		m |= 1 << i
	}
	return m, true
}

// parseValue parses s as a literal of column c; it returns what was expected
// when s is not one.
func parseValue(c colInfo, s string) (Value, string) {
	switch c.kind {
	case KindUint:
		if c.proto {
			if n, ok := protoNames[strings.ToLower(s)]; ok {
				return Value{Kind: KindUint, Uint: n}, ""
			}
		}
		v, ok := parseUint(s, c.bits)
		if !ok {
			return Value{}, c.expect()
		}
		return Value{Kind: KindUint, Uint: v}, ""
	case KindInt:
		v, err := strconv.ParseInt(s, 10, c.bits)
		if err != nil {
			return Value{}, c.expect()
		}
		return Value{Kind: KindInt, Int: v}, ""
	case KindString:
		return Value{Kind: KindString, Str: s}, ""
	case KindBool:
		v, err := strconv.ParseBool(s)
		if err != nil {
			return Value{}, c.expect()
		}
		return Value{Kind: KindBool, Bool: v}, ""
	case KindMAC:
		m, err := schema.ParseMAC(s)
		if err != nil {
			return Value{}, c.expect()
		}
		return Value{Kind: KindMAC, MAC: m}, ""
	case KindTime:
		t, err := time.Parse(timeLayout, s)
		if y := t.UTC().Year(); err != nil || y < 0 || y > 9999 {
			return Value{}, c.expect()
		}
		return Value{Kind: KindTime, Int: t.UnixMicro()}, ""
	}
	return Value{}, c.expect()
}
