// Package flowtest builds NetFlow v5/v9, IPFIX and sFlow v5 datagrams for
// tests, benchmarks and demos. It writes the wire formats from the RFCs and
// the sFlow specification directly, so tests of the decoder do not depend
// on the decoder to build their input.
package flowtest

import (
	"encoding/binary"
	"net/netip"
)

// BE16 appends v big-endian.
func BE16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }

// BE32 appends v big-endian.
func BE32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// BE64 appends v big-endian.
func BE64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// Field is a template field: information element id, length, and the
// enterprise number for enterprise-specific elements.
type Field struct {
	ID, Length uint16
	PEN        uint32 // enterprise number; 0 for IANA elements
}

// TemplateRecord encodes one template record (v9 or IPFIX).
func TemplateRecord(id uint16, fields ...Field) []byte {
	b := BE16(BE16(nil, id), uint16(len(fields)))
	for _, f := range fields {
		if f.PEN != 0 {
			b = BE32(BE16(BE16(b, f.ID|0x8000), f.Length), f.PEN)
		} else {
			b = BE16(BE16(b, f.ID), f.Length)
		}
	}
	return b
}

// IPFIXOptionsTemplateRecord encodes an IPFIX options template record.
func IPFIXOptionsTemplateRecord(id uint16, scopes []Field, options ...Field) []byte {
	b := BE16(BE16(BE16(nil, id), uint16(len(scopes)+len(options))), uint16(len(scopes)))
	for _, f := range append(append([]Field{}, scopes...), options...) {
		b = BE16(BE16(b, f.ID), f.Length)
	}
	return b
}

// V9OptionsTemplateRecord encodes a NetFlow v9 options template record.
func V9OptionsTemplateRecord(id uint16, scopes []Field, options ...Field) []byte {
	b := BE16(BE16(BE16(nil, id), uint16(4*len(scopes))), uint16(4*len(options)))
	for _, f := range append(append([]Field{}, scopes...), options...) {
		b = BE16(BE16(b, f.ID), f.Length)
	}
	return b
}

// Set wraps records into a Set (FlowSet) with id, padding to 4 bytes.
func Set(id uint16, records ...[]byte) []byte {
	var body []byte
	for _, r := range records {
		body = append(body, r...)
	}
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	return append(BE16(BE16(nil, id), uint16(4+len(body))), body...)
}

// IPFIXMessage builds an IPFIX message.
func IPFIXMessage(exportSecs, seq, domain uint32, sets ...[]byte) []byte {
	n := 16
	for _, s := range sets {
		n += len(s)
	}
	b := BE32(BE32(BE32(BE16(BE16(nil, 10), uint16(n)), exportSecs), seq), domain)
	for _, s := range sets {
		b = append(b, s...)
	}
	return b
}

// V9Packet builds a NetFlow v9 export packet.
func V9Packet(uptimeMs, unixSecs, seq, source uint32, sets ...[]byte) []byte {
	b := BE32(BE32(BE32(BE32(BE16(BE16(nil, 9), uint16(len(sets))), uptimeMs), unixSecs), seq), source)
	for _, s := range sets {
		b = append(b, s...)
	}
	return b
}

// V5Record is a NetFlow v5 record.
type V5Record struct {
	Src, Dst, NextHop [4]byte
	In, Out           uint16
	Packets, Octets   uint32
	First, Last       uint32 // sysUptime ms
	SrcPort, DstPort  uint16
	Flags, Proto, ToS uint8
	SrcAS, DstAS      uint16
}

// V5Packet builds a NetFlow v5 packet.
func V5Packet(uptimeMs, unixSecs, unixNsecs, seq uint32, sampling uint16, recs ...V5Record) []byte {
	b := BE16(BE16(nil, 5), uint16(len(recs)))
	b = BE32(BE32(BE32(BE32(b, uptimeMs), unixSecs), unixNsecs), seq)
	b = append(b, 1, 2) // engine type, id
	b = BE16(b, sampling)
	for _, r := range recs {
		b = append(b, r.Src[:]...)
		b = append(b, r.Dst[:]...)
		b = append(b, r.NextHop[:]...)
		b = BE16(BE16(b, r.In), r.Out)
		b = BE32(BE32(BE32(BE32(b, r.Packets), r.Octets), r.First), r.Last)
		b = BE16(BE16(b, r.SrcPort), r.DstPort)
		b = append(b, 0, r.Flags, r.Proto, r.ToS)
		b = BE16(BE16(b, r.SrcAS), r.DstAS)
		b = append(b, 24, 16, 0, 0)
	}
	return b
}

// SFlowDatagram builds an sFlow v5 datagram from an IPv4 agent.
func SFlowDatagram(agent netip.Addr, subAgent, seq uint32, samples ...[]byte) []byte {
	b := BE32(nil, 5)
	if agent.Is4() {
		a := agent.As4()
		b = append(BE32(b, 1), a[:]...)
	} else {
		a := agent.As16()
		b = append(BE32(b, 2), a[:]...)
	}
	b = BE32(BE32(BE32(BE32(b, subAgent), seq), 123456), uint32(len(samples)))
	for _, s := range samples {
		b = append(b, s...)
	}
	return b
}

// SFlowFlowSample builds a compact flow sample (format 1).
func SFlowFlowSample(seq, rate, in, out uint32, records ...[]byte) []byte {
	body := BE32(BE32(BE32(BE32(BE32(BE32(BE32(BE32(nil, seq), 3), rate), rate*10), 0), in), out), uint32(len(records)))
	for _, r := range records {
		body = append(body, r...)
	}
	return append(BE32(BE32(nil, 1), uint32(len(body))), body...)
}

// SFlowCounterSample builds a counter sample (format 2) with no records.
func SFlowCounterSample(seq uint32) []byte {
	body := BE32(BE32(BE32(nil, seq), 3), 0)
	return append(BE32(BE32(nil, 2), uint32(len(body))), body...)
}

// SFlowRecord wraps a flow record body with its format tag.
func SFlowRecord(format uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	return append(BE32(BE32(nil, format), uint32(len(body))), body...)
}

// SFlowRawHeader builds a raw packet header record (format 1, Ethernet).
func SFlowRawHeader(frameLen uint32, hdr []byte) []byte {
	return SFlowRecord(1, append(BE32(BE32(BE32(BE32(nil, 1), frameLen), 4), uint32(len(hdr))), hdr...))
}

// SFlowSwitch builds an extended switch record.
func SFlowSwitch(srcVLAN, dstVLAN uint32) []byte {
	return SFlowRecord(1001, BE32(BE32(BE32(BE32(nil, srcVLAN), 0), dstVLAN), 0))
}

// EthIPv4TCP builds an Ethernet/802.1Q/IPv4/TCP header.
func EthIPv4TCP(src, dst [4]byte, sport, dport uint16, flags, tos uint8, vlan uint16) []byte {
	b := []byte{0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0, 0xaa}
	if vlan != 0 {
		b = BE16(BE16(b, 0x8100), vlan)
	}
	b = BE16(b, 0x0800)
	ip := []byte{0x45, tos, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0}
	ip = append(append(ip, src[:]...), dst[:]...)
	tcp := BE16(BE16(nil, sport), dport)
	tcp = append(tcp, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0)
	return append(append(b, ip...), tcp...)
}
