package flow

import (
	"encoding/binary"

	"github.com/flowlake/flowlake/storage/schema"
)

// Header protocols of an sFlow sampled header (sflow_header_protocol).
const (
	headerEthernet = 1
	headerIPv4     = 11
	headerIPv6     = 12
)

// parseHeader fills r from a sampled packet header: MACs and the first VLAN
// tag from Ethernet, addresses, protocol and ToS from IPv4/IPv6 (through
// MPLS labels), ports and TCP flags (ICMP type/code as dst port). It
// reports whether an IP header was found.
func parseHeader(proto uint32, b []byte, r *schema.Flow) bool {
	switch proto {
	case headerEthernet:
		return parseEthernet(b, r)
	case headerIPv4, headerIPv6:
		return parseIP(b, r)
	}
	return false
}

func parseEthernet(b []byte, r *schema.Flow) bool {
	if len(b) < 14 {
		return false
	}
	r.DstMAC = mac(b[0:6])
	r.SrcMAC = mac(b[6:12])
	et := binary.BigEndian.Uint16(b[12:])
	b = b[14:]
	vlanSeen := false
	for range 4 { // 802.1Q, 802.1ad, QinQ (0x9100): at most a few tags
		if et != 0x8100 && et != 0x88a8 && et != 0x9100 {
			break
		}
		if len(b) < 4 {
			return false
		}
		if !vlanSeen {
			r.VLAN = binary.BigEndian.Uint16(b) & 0x0fff
			vlanSeen = true
		}
		et = binary.BigEndian.Uint16(b[2:])
		b = b[4:]
	}
	switch et {
	case 0x0800, 0x86dd:
		return parseIP(b, r)
	case 0x8847, 0x8848: // MPLS unicast/multicast: skip the label stack
		for range 16 {
			if len(b) < 4 {
				return false
			}
			bottom := b[2]&1 == 1
			b = b[4:]
			if bottom {
				return parseIP(b, r)
			}
		}
	}
	return false
}

// parseIP parses an IPv4 or IPv6 header (by its version nibble) and the
// transport header after it.
func parseIP(b []byte, r *schema.Flow) bool {
	if len(b) < 1 {
		return false
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return false
		}
		ihl := int(b[0]&0x0f) * 4
		r.ToS = b[1]
		r.Proto = b[9]
		r.SrcAddr = addr4(b[12:16])
		r.DstAddr = addr4(b[16:20])
		if ihl < 20 || len(b) < ihl || binary.BigEndian.Uint16(b[6:])&0x1fff != 0 {
			return true // options cut off, or a later fragment: no transport header
		}
		parseTransport(r.Proto, b[ihl:], r)
		return true
	case 6:
		if len(b) < 40 {
			return false
		}
		r.ToS = uint8(binary.BigEndian.Uint16(b) >> 4)
		r.SrcAddr = addr16(b[8:24])
		r.DstAddr = addr16(b[24:40])
		next := b[6]
		b = b[40:]
	ext:
		for range 8 { // extension headers
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(b) < 8 {
					r.Proto = next
					return true
				}
				l := (int(b[1]) + 1) * 8
				if len(b) < l {
					r.Proto = next
					return true
				}
				next, b = b[0], b[l:]
				continue
			case 44: // fragment
				if len(b) < 8 {
					r.Proto = next
					return true
				}
				frag := binary.BigEndian.Uint16(b[2:])&0xfff8 != 0
				next, b = b[0], b[8:]
				if frag {
					r.Proto = next
					return true
				}
				continue
			}
			break ext
		}
		r.Proto = next
		parseTransport(next, b, r)
		return true
	}
	return false
}

func parseTransport(proto uint8, b []byte, r *schema.Flow) {
	switch proto {
	case 6: // TCP
		if len(b) >= 14 {
			r.SrcPort = binary.BigEndian.Uint16(b)
			r.DstPort = binary.BigEndian.Uint16(b[2:])
			r.TCPFlags = b[13]
		} else if len(b) >= 4 {
			r.SrcPort = binary.BigEndian.Uint16(b)
			r.DstPort = binary.BigEndian.Uint16(b[2:])
		}
	case 17, 132, 136: // UDP, SCTP, UDP-Lite
		if len(b) >= 4 {
			r.SrcPort = binary.BigEndian.Uint16(b)
			r.DstPort = binary.BigEndian.Uint16(b[2:])
		}
	case 1, 58: // ICMP, ICMPv6: type×256+code as dst port, like exporters
		if len(b) >= 2 {
			r.DstPort = uint16(b[0])<<8 | uint16(b[1])
		}
	}
}
