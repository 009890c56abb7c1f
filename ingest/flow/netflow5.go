package flow

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

const (
	v5HeaderLen = 24
	v5RecordLen = 48
)

// decodeV5 decodes a NetFlow v5 datagram: a 24-byte header and count
// 48-byte records.
func (d *Decoder) decodeV5(dev netip.Addr, p []byte, into *Batch) *DecodeError {
	if len(p) < v5HeaderLen {
		return &DecodeError{Kind: ErrTruncated, What: "header", Why: fmt.Sprintf("%d bytes, need %d", len(p), v5HeaderLen)}
	}
	count := int(binary.BigEndian.Uint16(p[2:]))
	if count == 0 {
		return &DecodeError{Kind: ErrBadLength, Offset: 2, What: "header count", Why: "0 records"}
	}
	if need := v5HeaderLen + count*v5RecordLen; len(p) < need {
		return &DecodeError{Kind: ErrTruncated, Offset: len(p), What: "records", Why: fmt.Sprintf("header announces %d records (%d bytes), datagram has %d bytes", count, need, len(p))}
	}
	uptime := binary.BigEndian.Uint32(p[4:])
	exportMs := int64(binary.BigEndian.Uint32(p[8:]))*1000 + int64(binary.BigEndian.Uint32(p[12:]))/1e6
	seq := binary.BigEndian.Uint32(p[16:])
	engine := uint32(p[20])<<8 | uint32(p[21])
	rate := uint32(binary.BigEndian.Uint16(p[22:]) & 0x3fff)

	dom, derr := d.domain(domainKey{addr: dev, format: FormatNetFlowV5, id: engine})
	if derr != nil {
		return derr
	}
	dom.mu.Lock()
	defer dom.mu.Unlock()
	d.account(dom, dom.seq.next(seq, uint32(count), uint32(count), true, false), true)
	start := len(into.Rows)
	defer func() { dom.loss.flows += uint64(len(into.Rows) - start) }()
	rate = d.rate(dom, rate)

	for i := range count {
		b := p[v5HeaderLen+i*v5RecordLen:][:v5RecordLen]
		r := d.newRow(dom, into)
		r.SrcAddr = addr4(b[0:4])
		r.DstAddr = addr4(b[4:8])
		if nh := addr4(b[8:12]); !unspecified(nh) {
			r.NextHop = nh
		}
		r.InIf = uint32(binary.BigEndian.Uint16(b[12:]))
		r.OutIf = uint32(binary.BigEndian.Uint16(b[14:]))
		r.Packets = mulSat(uint64(binary.BigEndian.Uint32(b[16:])), rate)
		r.Bytes = mulSat(uint64(binary.BigEndian.Uint32(b[20:])), rate)
		first := binary.BigEndian.Uint32(b[24:])
		last := binary.BigEndian.Uint32(b[28:])
		r.Time = (exportMs - int64(int32(uptime-first))) * 1000
		r.DurationMS = uptimeDuration(first, last)
		r.SrcPort = binary.BigEndian.Uint16(b[32:])
		r.DstPort = binary.BigEndian.Uint16(b[34:])
		r.TCPFlags = b[37]
		r.Proto = b[38]
		r.ToS = b[39]
		r.SrcAS = uint32(binary.BigEndian.Uint16(b[40:]))
		r.DstAS = uint32(binary.BigEndian.Uint16(b[42:]))
		r.SamplingRate = rate
	}
	return nil
}

// uptimeDuration returns last−first of two uptime stamps in ms, 0 when
// last is before first.
func uptimeDuration(first, last uint32) uint32 {
	if d := int32(last - first); d > 0 {
		return uint32(d)
	}
	return 0
}
