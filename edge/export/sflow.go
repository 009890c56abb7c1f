package export

import (
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// encodeSFlow writes one flow sample per row: a raw packet header record
// (Ethernet, 802.1Q when the row has a VLAN, IPv4 or IPv6, TCP or UDP)
// whose sampling rate is the row's packets, and whose frame length is its
// average packet size, so a collector's bytes = frame length × rate and
// packets = rate come back close to the row's.
func (x *Exporter) encodeSFlow(out [][]byte, rows []schema.Flow, now time.Time) [][]byte {
	var samples [][]byte
	size := 28
	flush := func() {
		if len(samples) == 0 {
			return
		}
		a := x.cfg.Agent.As4()
		b := be32(nil, 5)
		if x.cfg.Agent.Is4() {
			b = append(be32(b, 1), a[:]...)
		} else {
			a16 := x.cfg.Agent.As16()
			b = append(be32(b, 2), a16[:]...)
		}
		b = be32(be32(be32(be32(b, x.cfg.Domain), x.seq), uint32(now.Sub(x.boot).Milliseconds())), uint32(len(samples)))
		for _, s := range samples {
			b = append(b, s...)
		}
		out = append(out, b)
		x.seq++
		samples, size = nil, 28
	}
	for i := range rows {
		s := x.sample(&rows[i])
		if size+len(s) > x.cfg.MaxDatagram {
			flush()
		}
		samples = append(samples, s)
		size += len(s)
	}
	flush()
	return out
}

func (x *Exporter) sample(r *schema.Flow) []byte {
	pkts := max(r.Packets, 1)
	frame := min(max(r.Bytes/pkts, 64), 65535)
	hdr := packetHeader(r)
	rec := be32(be32(be32(be32(nil, 1), uint32(frame)), 4), uint32(len(hdr)))
	rec = append(rec, hdr...)
	for len(rec)%4 != 0 {
		rec = append(rec, 0)
	}
	record := append(be32(be32(nil, 1), uint32(len(rec))), rec...)
	x.samples++
	rate := uint32(min(pkts, 1<<32-1))
	body := be32(nil, x.samples)
	body = be32(body, r.InIf&0xffffff) // source id: ifIndex
	body = be32(be32(be32(body, rate), rate), 0)
	body = be32(be32(body, r.InIf&0x3fffffff), r.OutIf&0x3fffffff)
	body = be32(body, 1)
	body = append(body, record...)
	return append(be32(be32(nil, 1), uint32(len(body))), body...)
}

// packetHeader builds the first bytes of a packet of the flow.
func packetHeader(r *schema.Flow) []byte {
	b := []byte{0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01} // dst, src MAC
	if r.SrcMAC != (schema.MAC{}) {
		copy(b[6:12], r.SrcMAC[:])
	}
	if r.DstMAC != (schema.MAC{}) {
		copy(b[0:6], r.DstMAC[:])
	}
	if r.VLAN != 0 {
		b = be16(be16(b, 0x8100), r.VLAN&0x0fff)
	}
	l4 := l4Header(r)
	if isV4(r.SrcAddr) && isV4(r.DstAddr) {
		b = be16(b, 0x0800)
		ip := []byte{0x45, r.ToS}
		ip = be16(ip, uint16(20+len(l4)))
		ip = append(ip, 0, 0, 0x40, 0, 64, r.Proto, 0, 0)
		ip = append(ip, r.SrcAddr[12:]...)
		ip = append(ip, r.DstAddr[12:]...)
		return append(append(b, ip...), l4...)
	}
	b = be16(b, 0x86dd)
	ip := be32(nil, 6<<28|uint32(r.ToS)<<20)
	ip = be16(ip, uint16(len(l4)))
	ip = append(ip, r.Proto, 64)
	ip = append(ip, r.SrcAddr[:]...)
	ip = append(ip, r.DstAddr[:]...)
	return append(append(b, ip...), l4...)
}

func l4Header(r *schema.Flow) []byte {
	switch r.Proto {
	case 6:
		h := be16(be16(nil, r.SrcPort), r.DstPort)
		h = be32(be32(h, 1), 0)
		return append(h, 0x50, r.TCPFlags, 0xff, 0xff, 0, 0, 0, 0)
	case 17:
		h := be16(be16(nil, r.SrcPort), r.DstPort)
		return be16(be16(h, 8), 0)
	case 1, 58:
		return []byte{byte(r.DstPort >> 8), byte(r.DstPort), 0, 0, 0, 0, 0, 0}
	}
	return nil
}
