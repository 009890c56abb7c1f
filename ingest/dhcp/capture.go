package dhcp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/flowlake/flowlake/storage/schema"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// UDP ports of DHCPv4 (RFC 2131) and of DHCPv6 (RFC 8415).
const (
	PortServer4 = 67
	PortClient4 = 68
	PortClient6 = 546
	PortServer6 = 547
)

// Malformed is a DHCP packet of a capture that could not be decoded: the
// evidence a caller quarantines.
type Malformed struct {
	// Frame is the packet's 1-based number in the capture.
	Frame int
	// Meta is what the frame said about the message.
	Meta Meta
	// Payload is the UDP payload, copied.
	Payload []byte
	// Err says why it was rejected.
	Err *DecodeError
}

// CaptureResult is what DecodeCapture found in a capture.
type CaptureResult struct {
	// Rows holds one row per decoded DHCPv4 or DHCPv6 message, in capture
	// order.
	Rows []schema.DHCPEvent
	// Frames holds the 1-based frame number of each row of Rows.
	Frames []int
	// Malformed holds the DHCP packets that were rejected.
	Malformed []Malformed
	// Counters counts decoded and rejected DHCP messages.
	Counters Counters
	// V6 counts the DHCPv6 packets (UDP 546/547) among them; Other counts
	// frames that are not DHCP (not IP/UDP, other ports, later IP
	// fragments).
	V6, Other int
}

// DecodeCapture decodes the DHCPv4 and DHCPv6 packets of a pcap or pcapng capture held
// in data (Ethernet, Linux cooked or raw IP link types, 802.1Q tags kept).
// base supplies Edge, Device, Interface and Trusted; each frame's time,
// addresses, ports and VLAN come from the frame. Malformed DHCP packets are
// returned with their reason; only a capture whose file structure cannot be
// read is an error.
func DecodeCapture(data []byte, base Meta) (*CaptureResult, error) {
	src, err := openCapture(data)
	if err != nil {
		return nil, err
	}
	res := &CaptureResult{}
	var dec Decoder
	for frame := 1; ; frame++ {
		raw, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("read capture frame %d: %w", frame, err)
		}
		m := base
		m.Time = ci.Timestamp.UnixMicro()
		payload, ok := udpPayload(raw, src.LinkType(), &m)
		if !ok {
			res.Other++
			continue
		}
		var row schema.DHCPEvent
		switch {
		case isPort(&m, PortServer4, PortClient4):
			err = dec.Decode(payload, &m, &row)
		case isPort(&m, PortServer6, PortClient6):
			res.V6++
			err = dec.DecodeV6(payload, &m, &row)
		default:
			res.Other++
			continue
		}
		if err != nil {
			var de *DecodeError
			errors.As(err, &de)
			res.Malformed = append(res.Malformed, Malformed{Frame: frame, Meta: m, Payload: bytes.Clone(payload), Err: de})
			continue
		}
		res.Rows = append(res.Rows, row)
		res.Frames = append(res.Frames, frame)
	}
	res.Counters = dec.Counters
	return res, nil
}

// packetSource is what pcapgo's pcap and pcapng readers share.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// openCapture opens data as pcapng (by its section header magic) or pcap.
func openCapture(data []byte) (packetSource, error) {
	if len(data) >= 4 && bytes.Equal(data[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, fmt.Errorf("open pcapng capture: %w", err)
		}
		return r, nil
	}
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("open pcap capture: %w", err)
	}
	return r, nil
}

// udpPayload decodes a frame down to UDP, fills m's addresses, ports and
// VLAN, and returns the UDP payload; ok is false for anything else.
func udpPayload(raw []byte, lt layers.LinkType, m *Meta) ([]byte, bool) {
	pkt := gopacket.NewPacket(raw, lt, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	if l, ok := pkt.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q); ok {
		m.VLAN = l.VLANIdentifier
	}
	switch ip := pkt.NetworkLayer().(type) {
	case *layers.IPv4:
		m.SrcAddr, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		m.DstAddr, _ = netip.AddrFromSlice(ip.DstIP.To4())
		if ip.FragOffset != 0 {
			return nil, false
		}
		if ip.Flags&layers.IPv4MoreFragments != 0 {
			// A first fragment: its UDP header is here but the message
			// is cut short. Fragments are not reassembled (DHCP
			// messages fit a frame); the decoder rejects the part.
			if ip.Protocol != layers.IPProtocolUDP || len(ip.Payload) < 8 {
				return nil, false
			}
			m.SrcPort = binary.BigEndian.Uint16(ip.Payload[0:2])
			m.DstPort = binary.BigEndian.Uint16(ip.Payload[2:4])
			return ip.Payload[8:], true
		}
	case *layers.IPv6:
		m.SrcAddr, _ = netip.AddrFromSlice(ip.SrcIP)
		m.DstAddr, _ = netip.AddrFromSlice(ip.DstIP)
	default:
		return nil, false
	}
	udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if !ok {
		return nil, false
	}
	m.SrcPort, m.DstPort = uint16(udp.SrcPort), uint16(udp.DstPort)
	return udp.Payload, true
}

// isPort reports whether either UDP port of m is a or b.
func isPort(m *Meta, a, b uint16) bool {
	return m.SrcPort == a || m.DstPort == a || m.SrcPort == b || m.DstPort == b
}
