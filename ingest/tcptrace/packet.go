package tcptrace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// TCP flag bits as they sit in the header's 14th byte (schema.TCPPacket.Flags).
const (
	FlagFIN uint8 = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// Link types Decode understands: the pcap LINKTYPE_* numbers.
const (
	LinkNull     = 0   // BSD loopback: a 4-byte address family in host order
	LinkEthernet = 1   // DLT_EN10MB
	LinkLoop     = 108 // OpenBSD loopback: the family in network order
	LinkRaw      = 101 // raw IPv4 or IPv6, no link header
	LinkLinuxSLL = 113 // Linux "cooked" capture v1
	LinkIPv4     = 228
	LinkIPv6     = 229
)

// Packet is one decoded TCP segment, what the Tracer is fed. Decode fills
// it from a captured frame; a caller with its own decoder fills it itself.
type Packet struct {
	Time     time.Time
	Src, Dst netip.Addr
	SrcPort  uint16
	DstPort  uint16
	// VLAN is the innermost 802.1Q VLAN id, 0 when untagged: the same
	// 5-tuple on two VLANs is two connections.
	VLAN    uint16
	Flags   uint8
	Seq     uint32
	Ack     uint32
	Window  uint16 // as carried, not scaled
	Payload int    // TCP payload length
	IPID    uint16
	TCPSum  uint16
	// MSS and WScale are the SYN options (0 and -1 when absent).
	MSS    uint16
	WScale int8
	// IPLen is the packet's length from the IP header on, as the IP header
	// says; Frame is the captured bytes from the IP header on (possibly cut
	// short by the capture's snap length). The Tracer copies what it keeps.
	IPLen int
	Frame []byte
}

// Decode errors, wrapped with the detail by Decode. The tracer counts
// each kind (Stats.Decode), nothing is dropped silently.
var (
	ErrTruncated  = errors.New("truncated")
	ErrBadHeader  = errors.New("bad header length")
	ErrFragment   = errors.New("ip fragment")
	ErrNotTCP     = errors.New("not tcp")
	ErrLinkType   = errors.New("unsupported link type")
	ErrNotIP      = errors.New("not ip")
	ErrBadVersion = errors.New("bad ip version")
)

// Decode reads one captured frame of the given pcap link type into p. It
// reuses no memory of its own: p.Frame aliases data. Errors wrap one of the
// Err* sentinels so callers can count them by kind.
func Decode(link int, data []byte, ts time.Time, p *Packet) error {
	*p = Packet{Time: ts, WScale: -1}
	ip, vlan, err := linkPayload(link, data)
	if err != nil {
		return err
	}
	p.VLAN = vlan
	return decodeIP(ip, p)
}

// linkPayload strips the link header (and any VLAN tags) and returns the
// bytes from the IP header on.
func linkPayload(link int, data []byte) ([]byte, uint16, error) {
	var etype uint16
	var rest []byte
	switch link {
	case LinkRaw, LinkIPv4, LinkIPv6:
		return data, 0, nil
	case LinkNull, LinkLoop:
		if len(data) < 4 {
			return nil, 0, fmt.Errorf("loopback header of %d bytes: %w", len(data), ErrTruncated)
		}
		return data[4:], 0, nil // the IP version nibble tells the family
	case LinkEthernet:
		if len(data) < 14 {
			return nil, 0, fmt.Errorf("ethernet header of %d bytes: %w", len(data), ErrTruncated)
		}
		etype, rest = binary.BigEndian.Uint16(data[12:]), data[14:]
	case LinkLinuxSLL:
		if len(data) < 16 {
			return nil, 0, fmt.Errorf("linux cooked header of %d bytes: %w", len(data), ErrTruncated)
		}
		etype, rest = binary.BigEndian.Uint16(data[14:]), data[16:]
	default:
		return nil, 0, fmt.Errorf("link type %d: %w", link, ErrLinkType)
	}
	var vlan uint16
	for etype == 0x8100 || etype == 0x88a8 || etype == 0x9100 {
		if len(rest) < 4 {
			return nil, 0, fmt.Errorf("vlan tag: %w", ErrTruncated)
		}
		vlan = binary.BigEndian.Uint16(rest) & 0x0fff
		etype, rest = binary.BigEndian.Uint16(rest[2:]), rest[4:]
	}
	if etype != 0x0800 && etype != 0x86dd {
		return nil, 0, fmt.Errorf("ethertype %#04x: %w", etype, ErrNotIP)
	}
	return rest, vlan, nil
}

func decodeIP(b []byte, p *Packet) error {
	if len(b) < 1 {
		return fmt.Errorf("ip header: %w", ErrTruncated)
	}
	var tcp []byte
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return fmt.Errorf("ipv4 header of %d bytes: %w", len(b), ErrTruncated)
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:]))
		if ihl < 20 || total < ihl {
			return fmt.Errorf("ipv4 header length %d, total length %d: %w", ihl, total, ErrBadHeader)
		}
		if len(b) < ihl {
			return fmt.Errorf("ipv4 header of %d bytes, %d captured: %w", ihl, len(b), ErrTruncated)
		}
		if frag := binary.BigEndian.Uint16(b[6:]); frag&0x3fff != 0 {
			return fmt.Errorf("ipv4 offset %d more-fragments %t: %w", frag&0x1fff*8, frag&0x2000 != 0, ErrFragment)
		}
		if b[9] != 6 {
			return fmt.Errorf("ip protocol %d: %w", b[9], ErrNotTCP)
		}
		p.IPID = binary.BigEndian.Uint16(b[4:])
		p.Src = netip.AddrFrom4([4]byte(b[12:16]))
		p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
		p.IPLen = total
		end := min(total, len(b))
		tcp = b[ihl:end]
		p.Payload = total - ihl // minus the TCP header below
	case 6:
		if len(b) < 40 {
			return fmt.Errorf("ipv6 header of %d bytes: %w", len(b), ErrTruncated)
		}
		plen := int(binary.BigEndian.Uint16(b[4:]))
		p.Src = netip.AddrFrom16([16]byte(b[8:24]))
		p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
		p.IPLen = 40 + plen
		next, off := b[6], 40
		for {
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(b) < off+2 {
					return fmt.Errorf("ipv6 extension header %d: %w", next, ErrTruncated)
				}
				next, off = b[off], off+(int(b[off+1])+1)*8
				continue
			case 44:
				return fmt.Errorf("ipv6 fragment header: %w", ErrFragment)
			case 6:
			default:
				return fmt.Errorf("ipv6 next header %d: %w", next, ErrNotTCP)
			}
			break
		}
		if off > p.IPLen {
			return fmt.Errorf("ipv6 extension headers end at %d past payload length %d: %w", off, plen, ErrBadHeader)
		}
		if len(b) < off {
			return fmt.Errorf("ipv6 extension headers: %w", ErrTruncated)
		}
		end := min(p.IPLen, len(b))
		tcp = b[off:end]
		p.Payload = p.IPLen - off
	default:
		return fmt.Errorf("ip version %d: %w", b[0]>>4, ErrBadVersion)
	}
	p.Frame = b[:min(p.IPLen, len(b))]
	return decodeTCP(tcp, p)
}

func decodeTCP(b []byte, p *Packet) error {
	if len(b) < 20 {
		return fmt.Errorf("tcp header of %d bytes: %w", len(b), ErrTruncated)
	}
	off := int(b[12]>>4) * 4
	if off < 20 || off > p.Payload {
		return fmt.Errorf("tcp data offset %d in a segment of %d bytes: %w", off, p.Payload, ErrBadHeader)
	}
	if len(b) < off {
		return fmt.Errorf("tcp header of %d bytes, %d captured: %w", off, len(b), ErrTruncated)
	}
	p.SrcPort = binary.BigEndian.Uint16(b)
	p.DstPort = binary.BigEndian.Uint16(b[2:])
	p.Seq = binary.BigEndian.Uint32(b[4:])
	p.Ack = binary.BigEndian.Uint32(b[8:])
	p.Flags = b[13]
	p.Window = binary.BigEndian.Uint16(b[14:])
	p.TCPSum = binary.BigEndian.Uint16(b[16:])
	p.Payload -= off
	if p.Flags&FlagSYN != 0 {
		synOptions(b[20:off], p)
	}
	return nil
}

// synOptions reads MSS and window scale; a malformed option list ends the
// walk (the segment itself stays valid, as a host's stack treats it).
func synOptions(o []byte, p *Packet) {
	for len(o) > 0 {
		switch o[0] {
		case 0:
			return
		case 1:
			o = o[1:]
			continue
		}
		if len(o) < 2 || int(o[1]) < 2 || int(o[1]) > len(o) {
			return
		}
		switch {
		case o[0] == 2 && o[1] == 4:
			p.MSS = binary.BigEndian.Uint16(o[2:])
		case o[0] == 3 && o[1] == 3:
			p.WScale = int8(min(o[2], 14))
		}
		o = o[o[1]:]
	}
}
