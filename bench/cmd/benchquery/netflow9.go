package main

import (
	"encoding/binary"
	"net/netip"

	"github.com/flowlake/flowlake/storage/schema"
)

// NetFlow v9 (RFC 3954) encoding of flows, as a router exports them: one
// template for IPv4 flows and one for IPv6, data records with absolute
// millisecond timestamps (flowStartMilliseconds/flowEndMilliseconds, IEs 152
// and 153, which nfcapd reads in v9 as in IPFIX). The application Flowlake
// classified has no NetFlow field that nfdump aggregates on, so its numeric
// id rides in postVlanId (IE 59, nfdump's "dstvlan"): Q6 groups on it.

const (
	v9TemplateV4 = 256
	v9TemplateV6 = 257
	v9MaxPacket  = 1400 // bytes of a UDP payload: under any MTU on loopback or Ethernet
)

// v9Field is one field of a template: information element and length.
type v9Field struct{ ie, len uint16 }

func v9Fields(v6 bool) []v9Field {
	addr := []v9Field{{8, 4}, {12, 4}} // sourceIPv4Address, destinationIPv4Address
	if v6 {
		addr = []v9Field{{27, 16}, {28, 16}} // sourceIPv6Address, destinationIPv6Address
	}
	// ICMP type×256+code goes in IE 32 for both families: nfdump 1.7.1
	// reads ICMP type and code from there, not from the port, and ignores
	// icmpTypeCodeIPv6 (139).
	icmp := v9Field{32, 2}
	return append([]v9Field{
		{152, 8}, // flowStartMilliseconds
		{153, 8}, // flowEndMilliseconds
		{1, 8},   // octetDeltaCount (IN_BYTES)
		{2, 8},   // packetDeltaCount (IN_PKTS)
	}, append(addr,
		v9Field{7, 2},  // sourceTransportPort
		v9Field{11, 2}, // destinationTransportPort
		v9Field{4, 1},  // protocolIdentifier
		v9Field{6, 1},  // tcpControlBits
		v9Field{5, 1},  // ipClassOfService
		v9Field{10, 4}, // ingressInterface
		v9Field{14, 4}, // egressInterface
		v9Field{16, 4}, // bgpSourceAsNumber
		v9Field{17, 4}, // bgpDestinationAsNumber
		v9Field{58, 2}, // vlanId
		v9Field{59, 2}, // postVlanId: the application id
		icmp,           // ICMP type×256+code (nfdump reads it from here, not from the port)
	)...)
}

func recordLen(v6 bool) int {
	n := 0
	for _, f := range v9Fields(v6) {
		n += int(f.len)
	}
	return n
}

// v9Packer builds NetFlow v9 packets for one exporter (one observation
// domain): a template flowset first and every templateEvery packets, then
// data flowsets of one template each.
type v9Packer struct {
	seq     uint32
	packets int
	buf     []byte
	count   int // records (templates and data) in buf
	setAt   int // offset of the open data flowset, -1 if none
	setTmpl uint16
	appID   func(string) uint16
}

const templateEvery = 64

func newV9Packer(appID func(string) uint16) *v9Packer {
	return &v9Packer{setAt: -1, appID: appID, buf: make([]byte, 0, v9MaxPacket)}
}

// begin starts a packet stamped with export time now (Unix ms).
func (p *v9Packer) begin(nowMS int64) {
	p.buf = p.buf[:0]
	p.count = 0
	p.setAt = -1
	p.buf = binary.BigEndian.AppendUint16(p.buf, 9)
	p.buf = binary.BigEndian.AppendUint16(p.buf, 0) // count, set in finish
	p.buf = binary.BigEndian.AppendUint32(p.buf, 1_000_000)
	p.buf = binary.BigEndian.AppendUint32(p.buf, uint32(nowMS/1000))
	p.buf = binary.BigEndian.AppendUint32(p.buf, p.seq)
	p.buf = binary.BigEndian.AppendUint32(p.buf, 0) // source id
	if p.packets%templateEvery == 0 {
		start := len(p.buf)
		p.buf = binary.BigEndian.AppendUint16(p.buf, 0) // template flowset
		p.buf = binary.BigEndian.AppendUint16(p.buf, 0)
		for _, t := range []struct {
			id uint16
			v6 bool
		}{{v9TemplateV4, false}, {v9TemplateV6, true}} {
			fs := v9Fields(t.v6)
			p.buf = binary.BigEndian.AppendUint16(p.buf, t.id)
			p.buf = binary.BigEndian.AppendUint16(p.buf, uint16(len(fs)))
			for _, f := range fs {
				p.buf = binary.BigEndian.AppendUint16(p.buf, f.ie)
				p.buf = binary.BigEndian.AppendUint16(p.buf, f.len)
			}
			p.count++
		}
		binary.BigEndian.PutUint16(p.buf[start+2:], uint16(len(p.buf)-start))
	}
}

// fits reports whether one more record of f fits in the packet.
func (p *v9Packer) fits(f *schema.Flow) bool {
	v6 := isV6(f)
	need := recordLen(v6) + 3 // padding of the flowset
	if p.setAt < 0 || p.setTmpl != tmplOf(v6) {
		need += 4
	}
	return len(p.buf)+need <= v9MaxPacket
}

// isV6 reports whether f needs the IPv6 template: either address is not
// IPv4.
func isV6(f *schema.Flow) bool { return !f.SrcAddr.Netip().Is4() || !f.DstAddr.Netip().Is4() }

func tmplOf(v6 bool) uint16 {
	if v6 {
		return v9TemplateV6
	}
	return v9TemplateV4
}

// add appends f as a data record; call fits first.
func (p *v9Packer) add(f *schema.Flow) {
	src, dst := f.SrcAddr.Netip(), f.DstAddr.Netip()
	v6 := isV6(f)
	if t := tmplOf(v6); p.setAt < 0 || p.setTmpl != t {
		p.closeSet()
		p.setAt = len(p.buf)
		p.setTmpl = t
		p.buf = binary.BigEndian.AppendUint16(p.buf, t)
		p.buf = binary.BigEndian.AppendUint16(p.buf, 0)
	}
	startMS := f.Time / 1000
	p.buf = binary.BigEndian.AppendUint64(p.buf, uint64(startMS))
	p.buf = binary.BigEndian.AppendUint64(p.buf, uint64(startMS+int64(f.DurationMS)))
	p.buf = binary.BigEndian.AppendUint64(p.buf, f.Bytes)
	p.buf = binary.BigEndian.AppendUint64(p.buf, f.Packets)
	p.buf = appendAddr(p.buf, src, v6)
	p.buf = appendAddr(p.buf, dst, v6)
	p.buf = binary.BigEndian.AppendUint16(p.buf, f.SrcPort)
	p.buf = binary.BigEndian.AppendUint16(p.buf, f.DstPort)
	p.buf = append(p.buf, f.Proto, f.TCPFlags, f.ToS)
	p.buf = binary.BigEndian.AppendUint32(p.buf, f.InIf)
	p.buf = binary.BigEndian.AppendUint32(p.buf, f.OutIf)
	p.buf = binary.BigEndian.AppendUint32(p.buf, f.SrcAS)
	p.buf = binary.BigEndian.AppendUint32(p.buf, f.DstAS)
	p.buf = binary.BigEndian.AppendUint16(p.buf, f.VLAN)
	p.buf = binary.BigEndian.AppendUint16(p.buf, p.appID(f.App))
	var icmp uint16
	if f.Proto == 1 || f.Proto == 58 {
		icmp = f.DstPort
	}
	p.buf = binary.BigEndian.AppendUint16(p.buf, icmp)
	p.count++
}

func appendAddr(b []byte, a netip.Addr, v6 bool) []byte {
	if v6 {
		s := a.As16()
		return append(b, s[:]...)
	}
	s := a.As4()
	return append(b, s[:]...)
}

// closeSet pads the open data flowset to 4 bytes and writes its length.
func (p *v9Packer) closeSet() {
	if p.setAt < 0 {
		return
	}
	for (len(p.buf)-p.setAt)%4 != 0 {
		p.buf = append(p.buf, 0)
	}
	binary.BigEndian.PutUint16(p.buf[p.setAt+2:], uint16(len(p.buf)-p.setAt))
	p.setAt = -1
}

// finish closes the packet and returns it; the slice is reused by begin.
func (p *v9Packer) finish() []byte {
	p.closeSet()
	binary.BigEndian.PutUint16(p.buf[2:], uint16(p.count))
	p.seq++
	p.packets++
	return p.buf
}
