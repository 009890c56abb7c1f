package flow

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// sFlow v5 sample and record formats (enterprise 0), per
// https://sflow.org/sflow_version_5.txt.
const (
	sfFlowSample            = 1
	sfCounterSample         = 2
	sfExpandedFlowSample    = 3
	sfExpandedCounterSample = 4
	sfDiscardSample         = 5

	sfRecRawHeader = 1
	sfRecEthernet  = 2
	sfRecIPv4      = 3
	sfRecIPv6      = 4
	sfRecSwitch    = 1001
	sfRecRouter    = 1002
	sfRecGateway   = 1003

	sfIfUnknown = 0x3fffffff // "interface not known / internal"
)

// sfReader reads XDR (big-endian, 4-byte aligned) values with bounds
// checks; the first failure sticks, so callers check err once.
type sfReader struct {
	b   []byte
	pos int
	bad bool
}

func (r *sfReader) u32() uint32 {
	if r.bad || len(r.b)-r.pos < 4 {
		r.bad = true
		return 0
	}
	v := binary.BigEndian.Uint32(r.b[r.pos:])
	r.pos += 4
	return v
}

func (r *sfReader) bytes(n int) []byte {
	if r.bad || n < 0 || len(r.b)-r.pos < n {
		r.bad = true
		return nil
	}
	v := r.b[r.pos : r.pos+n]
	r.pos += n
	return v
}

// addr reads an sFlow address (type 1 IPv4, 2 IPv6); ok is false for type 0
// (unknown) and on errors, which set bad for other types.
func (r *sfReader) addr() (schema.Addr, bool) {
	switch r.u32() {
	case 1:
		if b := r.bytes(4); b != nil {
			return addr4(b), true
		}
	case 2:
		if b := r.bytes(16); b != nil {
			return addr16(b), true
		}
	case 0:
	default:
		r.bad = true
	}
	return schema.Addr{}, false
}

// decodeSFlow decodes an sFlow v5 datagram; dev is the agent address (the
// UDP source when the agent address is unknown).
func (d *Decoder) decodeSFlow(src netip.Addr, p []byte, received time.Time, into *Batch) (netip.Addr, *DecodeError) {
	rd := sfReader{b: p}
	rd.u32() // version, checked by sniff
	agent, ok := rd.addr()
	if rd.bad {
		return src, &DecodeError{Kind: ErrTruncated, Offset: 4, What: "agent address", Why: "unknown address type or truncated"}
	}
	dev := src
	if ok && !unspecified(agent) {
		dev = agent.Netip()
	}
	subAgent := rd.u32()
	seq := rd.u32()
	rd.u32() // uptime
	nSamples := rd.u32()
	if rd.bad {
		return dev, &DecodeError{Kind: ErrTruncated, Offset: rd.pos, What: "header", Why: fmt.Sprintf("%d bytes, header incomplete", len(p))}
	}
	if uint64(nSamples)*8 > uint64(len(p)-rd.pos) {
		return dev, &DecodeError{Kind: ErrBadLength, Offset: rd.pos - 4, What: "sample count", Why: fmt.Sprintf("%d samples cannot fit in %d bytes", nSamples, len(p)-rd.pos)}
	}
	dom, derr := d.domain(domainKey{addr: dev, format: FormatSFlow, id: subAgent})
	if derr != nil {
		return dev, derr
	}
	dom.mu.Lock()
	defer dom.mu.Unlock()
	d.account(dom, dom.seq.next(seq, 1, 1, true, false), false)
	start := len(into.Rows)
	defer func() { dom.loss.flows += uint64(len(into.Rows) - start) }()
	now := schema.Micros(received)

	for i := range int(nSamples) {
		at := rd.pos
		tag := rd.u32()
		length := rd.u32()
		body := rd.bytes(int(length))
		if rd.bad || length > 1<<16 {
			return dev, &DecodeError{Kind: ErrTruncated, Offset: at, What: fmt.Sprintf("sample %d", i+1), Why: fmt.Sprintf("length %d overruns the datagram (%d bytes left)", length, len(p)-at-8)}
		}
		if tag>>12 != 0 {
			d.counters.SFlowSkippedSamples.Add(1)
			continue
		}
		switch tag & 0xfff {
		case sfFlowSample, sfExpandedFlowSample:
			if err := d.flowSample(dom, tag&0xfff == sfExpandedFlowSample, body, at+8, now, into); err != nil {
				err.What = fmt.Sprintf("sample %d %s", i+1, err.What)
				return dev, err
			}
		case sfCounterSample, sfExpandedCounterSample:
			d.counters.SFlowCounterSamples.Add(1)
		case sfDiscardSample:
			d.counters.SFlowDiscardSamples.Add(1)
		default:
			d.counters.SFlowSkippedSamples.Add(1)
		}
	}
	return dev, nil
}

// flowSample decodes one (expanded) flow sample into a row.
func (d *Decoder) flowSample(dom *domain, expanded bool, body []byte, off int, now int64, into *Batch) *DecodeError {
	rd := sfReader{b: body}
	rd.u32() // sequence number
	rd.u32() // source id (type+index); expanded: two words
	if expanded {
		rd.u32()
	}
	rate := rd.u32()
	rd.u32() // sample pool
	rd.u32() // drops
	var inIf, outIf uint32
	if expanded {
		inFmt, inVal := rd.u32(), rd.u32()
		outFmt, outVal := rd.u32(), rd.u32()
		if inFmt == 0 {
			inIf = inVal
		}
		if outFmt == 0 {
			outIf = outVal
		}
	} else {
		in, out := rd.u32(), rd.u32()
		if in>>30 == 0 {
			inIf = in & 0x3fffffff
		}
		if out>>30 == 0 {
			outIf = out & 0x3fffffff
		}
	}
	if inIf == sfIfUnknown {
		inIf = 0
	}
	if outIf == sfIfUnknown {
		outIf = 0
	}
	nRecords := rd.u32()
	if rd.bad {
		return &DecodeError{Kind: ErrBadSample, Offset: off, What: "flow sample", Why: fmt.Sprintf("sample of %d bytes is shorter than its fixed fields", len(body))}
	}
	if uint64(nRecords)*8 > uint64(len(body)-rd.pos) {
		return &DecodeError{Kind: ErrBadLength, Offset: off + rd.pos - 4, What: "record count", Why: fmt.Sprintf("%d records cannot fit in %d bytes", nRecords, len(body)-rd.pos)}
	}

	start := len(into.Rows)
	r := d.newRow(dom, into)
	r.Time = now
	r.InIf, r.OutIf = inIf, outIf
	rate = d.rate(dom, rate)
	r.SamplingRate = rate
	var (
		frameLen   uint64
		gotIP      bool
		switchVLAN uint16
		gwNextHop  schema.Addr
		headerSeen bool
	)
	fail := func(at int, why string) *DecodeError {
		into.Rows = into.Rows[:start]
		return &DecodeError{Kind: ErrBadSample, Offset: off + at, What: "flow record", Why: why}
	}
	for j := range int(nRecords) {
		at := rd.pos
		tag := rd.u32()
		length := rd.u32()
		rb := rd.bytes(int(length))
		if rd.bad || length > 1<<16 {
			return fail(at, fmt.Sprintf("record %d: length %d overruns the sample", j+1, length))
		}
		if tag>>12 != 0 {
			continue // enterprise record: not used
		}
		rr := sfReader{b: rb}
		switch tag & 0xfff {
		case sfRecRawHeader:
			proto, fl := rr.u32(), rr.u32()
			rr.u32() // stripped
			hl := rr.u32()
			hdr := rr.bytes(int(min(hl, uint32(len(rb)))))
			if rr.bad {
				return fail(at, fmt.Sprintf("record %d (raw header): header length %d overruns the record", j+1, hl))
			}
			frameLen, headerSeen = uint64(fl), true
			var fi frameInfo
			if parseHeader(proto, hdr, r, &fi) {
				gotIP = true
				if fi.tunnel {
					d.counters.TunnelRecords.Add(1)
				}
			} else {
				d.counters.SFlowUnparsedHeaders.Add(1)
			}
		case sfRecEthernet:
			l := rr.u32()
			if len(rb) >= 24 { // XDR: each 6-byte MAC padded to 8
				r.SrcMAC, r.DstMAC = mac(rb[4:10]), mac(rb[12:18])
			} else if len(rb) >= 20 { // unpadded, as some agents send
				r.SrcMAC, r.DstMAC = mac(rb[4:10]), mac(rb[10:16])
			} else {
				return fail(at, fmt.Sprintf("record %d (ethernet): %d bytes, need 20", j+1, len(rb)))
			}
			if !headerSeen {
				frameLen = uint64(l)
			}
		case sfRecIPv4, sfRecIPv6:
			l, proto := rr.u32(), rr.u32()
			n := 4
			if tag&0xfff == sfRecIPv6 {
				n = 16
			}
			src, dst := rr.bytes(n), rr.bytes(n)
			sp, dp, flags, tos := rr.u32(), rr.u32(), rr.u32(), rr.u32()
			if rr.bad {
				return fail(at, fmt.Sprintf("record %d (sampled IP): %d bytes is too short", j+1, len(rb)))
			}
			if gotIP {
				continue // the raw header said it already
			}
			if n == 4 {
				r.SrcAddr, r.DstAddr = addr4(src), addr4(dst)
			} else {
				r.SrcAddr, r.DstAddr = addr16(src), addr16(dst)
			}
			r.Proto, r.SrcPort, r.DstPort, r.TCPFlags, r.ToS = uint8(proto), uint16(sp), uint16(dp), uint8(flags), uint8(tos)
			if !headerSeen {
				frameLen = uint64(l)
			}
		case sfRecSwitch:
			vlan := rr.u32()
			if rr.bad {
				return fail(at, fmt.Sprintf("record %d (extended switch): %d bytes is too short", j+1, len(rb)))
			}
			if vlan != 0 && vlan <= 4095 { // 0xffffffff: unknown
				switchVLAN = uint16(vlan)
			}
		case sfRecRouter:
			nh, ok := rr.addr()
			if rr.bad {
				return fail(at, fmt.Sprintf("record %d (extended router): bad next-hop address", j+1))
			}
			if ok && !unspecified(nh) {
				r.NextHop = nh
			}
		case sfRecGateway:
			nh, ok := rr.addr()
			as := rr.u32()
			srcAS := rr.u32()
			rr.u32() // src peer AS
			segments := rr.u32()
			dstAS := as
			if !rr.bad && uint64(segments)*8 > uint64(len(rb)-rr.pos) {
				rr.bad = true
			}
			for s := 0; s < int(segments) && !rr.bad; s++ {
				rr.u32() // segment type
				n := rr.u32()
				if uint64(n)*4 > uint64(len(rb)-rr.pos) {
					rr.bad = true
					break
				}
				if n > 0 {
					path := rr.bytes(int(n) * 4)
					dstAS = binary.BigEndian.Uint32(path[len(path)-4:])
				}
			}
			if rr.bad {
				return fail(at, fmt.Sprintf("record %d (extended gateway): AS path overruns the record", j+1))
			}
			if ok && !unspecified(nh) {
				gwNextHop = nh
			}
			r.SrcAS, r.DstAS = srcAS, dstAS
		}
	}
	if switchVLAN != 0 { // the switch's own view beats a tag in the header
		r.VLAN = switchVLAN
	}
	if r.NextHop.IsZero() {
		r.NextHop = gwNextHop
	}
	r.Packets = uint64(rate)
	r.Bytes = mulSat(frameLen, rate)
	return nil
}
