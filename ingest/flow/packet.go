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

// maxInnerHeaders bounds the IP-in-IP headers parseIP follows.
const maxInnerHeaders = 2

// frameInfo is what parsing a sampled header learns besides row fields.
type frameInfo struct {
	// length is the frame's length as its headers state it: the bytes
	// before the outermost IP header plus that header's total length (0
	// when no IP header was found).
	length int
	// tunnel is set when the row's IP fields come from an inner header
	// (IP-in-IP, SRv6, Ethernet over MPLS).
	tunnel bool
}

// parseHeader fills r from a sampled packet header: MACs and the first VLAN
// tag from Ethernet, addresses, protocol and ToS from IPv4/IPv6 (through
// MPLS labels), ports and TCP flags (ICMP type/code as dst port). It
// reports whether an IP header was found. Addresses, ports and protocol
// all come from the innermost IP header (see parseIP).
func parseHeader(proto uint32, b []byte, r *schema.Flow, fi *frameInfo) bool {
	switch proto {
	case headerEthernet:
		return parseEthernet(b, r, fi)
	case headerIPv4, headerIPv6:
		return parseIP(b, r, fi, 0, 0)
	}
	return false
}

// parseEthernet parses an Ethernet frame. MACs and VLAN are the outermost
// Ethernet header's (the link the exporter saw), including for Ethernet
// over MPLS, where the IP fields come from the inner frame.
func parseEthernet(b []byte, r *schema.Flow, fi *frameInfo) bool {
	if len(b) < 14 {
		return false
	}
	r.DstMAC = mac(b[0:6])
	r.SrcMAC = mac(b[6:12])
	return parseEthernetPayload(b, 0, r, fi, true)
}

// parseEthernetPayload parses what follows the MACs of the Ethernet header
// at b[at:]; outer says whether its VLAN tag is the row's.
func parseEthernetPayload(b []byte, at int, r *schema.Flow, fi *frameInfo, outer bool) bool {
	if len(b)-at < 14 {
		return false
	}
	et := binary.BigEndian.Uint16(b[at+12:])
	at += 14
	vlanSeen := !outer
	for range 4 { // 802.1Q, 802.1ad, QinQ (0x9100): at most a few tags
		if et != 0x8100 && et != 0x88a8 && et != 0x9100 {
			break
		}
		if len(b)-at < 4 {
			return false
		}
		if !vlanSeen {
			r.VLAN = binary.BigEndian.Uint16(b[at:]) & 0x0fff
			vlanSeen = true
		}
		et = binary.BigEndian.Uint16(b[at+2:])
		at += 4
	}
	switch et {
	case 0x0800, 0x86dd:
		return parseIP(b[at:], r, fi, at, 0)
	case 0x8847, 0x8848: // MPLS unicast/multicast: skip the label stack
		for range 16 {
			if len(b)-at < 4 {
				return false
			}
			bottom := b[at+2]&1 == 1
			at += 4
			if !bottom {
				continue
			}
			if len(b)-at < 1 {
				return false
			}
			switch b[at] >> 4 {
			case 4, 6:
				return parseIP(b[at:], r, fi, at, 0)
			case 0: // pseudowire control word, then the customer's frame
				at += 4
				if len(b)-at < 14 {
					return false
				}
				if parseEthernetPayload(b, at, r, fi, false) {
					fi.tunnel = true
					return true
				}
			}
			return false
		}
	}
	return false
}

// parseIP parses an IPv4 or IPv6 header (by its version nibble) at b, off
// bytes into the frame, and the transport header after it. An IPv4 or
// IPv6 packet inside (protocol 4 or 41, also after an SRv6 routing
// header) is parsed in turn, so the row's addresses, ports and protocol
// all come from the innermost header; fi.length stays the outermost
// header's.
func parseIP(b []byte, r *schema.Flow, fi *frameInfo, off, depth int) bool {
	if len(b) < 1 {
		return false
	}
	var payload []byte
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
		if depth == 0 {
			fi.length = off + int(binary.BigEndian.Uint16(b[2:]))
		}
		if ihl < 20 || len(b) < ihl || binary.BigEndian.Uint16(b[6:])&0x1fff != 0 {
			return true // options cut off, or a later fragment: no transport header
		}
		payload = b[ihl:]
	case 6:
		if len(b) < 40 {
			return false
		}
		r.ToS = uint8(binary.BigEndian.Uint16(b) >> 4)
		r.SrcAddr = addr16(b[8:24])
		r.DstAddr = addr16(b[24:40])
		if depth == 0 {
			fi.length = off + 40 + int(binary.BigEndian.Uint16(b[4:]))
		}
		next := b[6]
		b = b[40:]
		r.Proto = next
	ext:
		for range 8 { // extension headers
			switch next {
			case 0, 43, 60: // hop-by-hop, routing (SRv6), destination options
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
		payload = b
	default:
		return false
	}
	if (r.Proto == 4 || r.Proto == 41) && depth < maxInnerHeaders {
		var inner schema.Flow
		if parseIP(payload, &inner, fi, 0, depth+1) {
			r.SrcAddr, r.DstAddr, r.Proto, r.ToS = inner.SrcAddr, inner.DstAddr, inner.Proto, inner.ToS
			r.SrcPort, r.DstPort, r.TCPFlags = inner.SrcPort, inner.DstPort, inner.TCPFlags
			fi.tunnel = true
			return true
		}
	}
	parseTransport(r.Proto, payload, r)
	return true
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
