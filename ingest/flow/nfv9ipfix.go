package flow

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"github.com/flowlake/flowlake/storage/schema"
)

const (
	v9HeaderLen    = 20
	ipfixHeaderLen = 16
	maxRates       = 1024 // sampler ids remembered per domain
)

// msgHeader carries what data records need from the message header.
type msgHeader struct {
	ipfix    bool
	exportMs int64  // export time, ms since epoch
	uptime   uint32 // v9 sysUpTime (ms) at export
}

// decodeV9 decodes a NetFlow v9 export packet.
func (d *Decoder) decodeV9(dev netip.Addr, p []byte, into *Batch) *DecodeError {
	if len(p) < v9HeaderLen {
		return &DecodeError{Kind: ErrTruncated, What: "header", Why: fmt.Sprintf("%d bytes, need %d", len(p), v9HeaderLen)}
	}
	hdr := msgHeader{
		uptime:   binary.BigEndian.Uint32(p[4:]),
		exportMs: int64(binary.BigEndian.Uint32(p[8:])) * 1000,
	}
	seq := binary.BigEndian.Uint32(p[12:])
	dom, err := d.domain(domainKey{addr: dev, format: FormatNetFlowV9, id: binary.BigEndian.Uint32(p[16:])})
	if err != nil {
		return err
	}
	dom.mu.Lock()
	defer dom.mu.Unlock()
	d.account(dom, dom.seq.next(seq, 1, 1, true, false), false)
	start := len(into.Rows)
	_, _, err = d.decodeSets(dom, hdr, p, v9HeaderLen, into)
	dom.loss.flows += uint64(len(into.Rows) - start)
	return err
}

// decodeIPFIX decodes an IPFIX message.
func (d *Decoder) decodeIPFIX(dev netip.Addr, p []byte, into *Batch) *DecodeError {
	if len(p) < ipfixHeaderLen {
		return &DecodeError{Kind: ErrTruncated, What: "header", Why: fmt.Sprintf("%d bytes, need %d", len(p), ipfixHeaderLen)}
	}
	length := int(binary.BigEndian.Uint16(p[2:]))
	switch {
	case length < ipfixHeaderLen:
		return &DecodeError{Kind: ErrBadLength, Offset: 2, What: "header length", Why: fmt.Sprintf("message length %d is below the header's %d bytes", length, ipfixHeaderLen)}
	case length > len(p):
		return &DecodeError{Kind: ErrTruncated, Offset: len(p), What: "message", Why: fmt.Sprintf("header announces %d bytes, datagram has %d", length, len(p))}
	}
	p = p[:length]
	hdr := msgHeader{ipfix: true, exportMs: int64(binary.BigEndian.Uint32(p[4:])) * 1000}
	seq := binary.BigEndian.Uint32(p[8:])
	dom, err := d.domain(domainKey{addr: dev, format: FormatIPFIX, id: binary.BigEndian.Uint32(p[12:])})
	if err != nil {
		return err
	}
	dom.mu.Lock()
	defer dom.mu.Unlock()
	start := len(into.Rows)
	records, known, err := d.decodeSets(dom, hdr, p, ipfixHeaderLen, into)
	flows := uint32(len(into.Rows) - start)
	d.account(dom, dom.seq.next(seq, records, flows, known && err == nil, true), true)
	dom.loss.flows += uint64(flows)
	return err
}

// decodeSets walks the sets of a v9/IPFIX message from off. It returns the
// data records read (flows and options data, for IPFIX sequence
// accounting) and whether that count is exact (false when a data set was
// skipped for want of its template).
func (d *Decoder) decodeSets(dom *domain, hdr msgHeader, p []byte, off int, into *Batch) (records uint32, known bool, err *DecodeError) {
	known = true
	version := uint16(9)
	tmplSet, optSet := uint16(0), uint16(1)
	if hdr.ipfix {
		version, tmplSet, optSet = 10, 2, 3
	}
	for len(p)-off >= 4 {
		id := binary.BigEndian.Uint16(p[off:])
		length := int(binary.BigEndian.Uint16(p[off+2:]))
		if length < 4 {
			return records, false, &DecodeError{Kind: ErrBadLength, Offset: off + 2, What: fmt.Sprintf("set %d length", id), Why: fmt.Sprintf("%d is below the 4-byte set header", length)}
		}
		if off+length > len(p) {
			return records, false, &DecodeError{Kind: ErrTruncated, Offset: off, What: fmt.Sprintf("set %d", id), Why: fmt.Sprintf("set of %d bytes overruns the message (%d bytes left)", length, len(p)-off)}
		}
		body := p[off+4 : off+length]
		switch {
		case id == tmplSet:
			if err := d.templateSet(dom, version, body, off); err != nil {
				return records, false, err
			}
		case id == optSet:
			if err := d.optionsTemplateSet(dom, version, body, off); err != nil {
				return records, false, err
			}
		case id < 256:
			d.counters.SetsSkipped.Add(1)
		default:
			t := dom.templates[id]
			if t == nil {
				d.counters.TemplateMisses.Add(1)
				d.counters.TemplateMissBytes.Add(uint64(len(body)))
				dom.loss.templateMisses++
				known = false
				break
			}
			n, err := d.dataSet(dom, hdr, t, body, off+4, into)
			records += n
			if err != nil {
				return records, false, err
			}
		}
		off += length
	}
	return records, known, nil
}

// templateSet stores the templates of a template set (parsed by goflow2).
func (d *Decoder) templateSet(dom *domain, version uint16, body []byte, off int) *DecodeError {
	recs, gerr := netflow.DecodeTemplateSet(version, bytes.NewBuffer(body))
	if gerr != nil {
		return &DecodeError{Kind: ErrBadTemplate, Offset: off, What: "template set", Why: gerr.Error()}
	}
	for _, r := range recs {
		if r.FieldCount == 0 {
			if version == 10 && (r.TemplateId >= 256 || r.TemplateId == 2) {
				d.withdraw(dom, r.TemplateId, false)
				continue
			}
			if r.TemplateId == 0 {
				continue // padding
			}
		}
		if err := d.addTemplate(dom, r.TemplateId, false, nil, r.Fields, off); err != nil {
			return err
		}
	}
	return nil
}

// optionsTemplateSet stores the templates of an options template set.
func (d *Decoder) optionsTemplateSet(dom *domain, version uint16, body []byte, off int) *DecodeError {
	if version == 9 {
		recs, gerr := netflow.DecodeNFv9OptionsTemplateSet(bytes.NewBuffer(body))
		if gerr != nil {
			return &DecodeError{Kind: ErrBadTemplate, Offset: off, What: "options template set", Why: gerr.Error()}
		}
		for _, r := range recs {
			if r.TemplateId == 0 && r.ScopeLength == 0 && r.OptionLength == 0 {
				continue // padding
			}
			if err := d.addTemplate(dom, r.TemplateId, true, r.Scopes, r.Options, off); err != nil {
				return err
			}
		}
		return nil
	}
	recs, gerr := netflow.DecodeIPFIXOptionsTemplateSet(bytes.NewBuffer(body))
	if gerr != nil {
		return &DecodeError{Kind: ErrBadTemplate, Offset: off, What: "options template set", Why: gerr.Error()}
	}
	for _, r := range recs {
		if r.FieldCount == 0 {
			if r.TemplateId >= 256 || r.TemplateId == 3 {
				d.withdraw(dom, r.TemplateId, true)
				continue
			}
			if r.TemplateId == 0 {
				continue // padding
			}
		}
		if r.ScopeFieldCount == 0 {
			return &DecodeError{Kind: ErrBadTemplate, Offset: off, What: fmt.Sprintf("options template %d", r.TemplateId), Why: "scope field count is 0 (RFC 7011 requires at least one scope field)"}
		}
		if err := d.addTemplate(dom, r.TemplateId, true, r.Scopes, r.Options, off); err != nil {
			return err
		}
	}
	return nil
}

// addTemplate compiles and stores one template.
func (d *Decoder) addTemplate(dom *domain, id uint16, options bool, scopes, fields []netflow.Field, off int) *DecodeError {
	if old := dom.templates[id]; old != nil && old.sameFields(options, scopes, fields) {
		d.counters.TemplatesLearned.Add(1)
		return nil
	}
	t, err := compileTemplate(id, options, scopes, fields)
	if err != nil {
		return &DecodeError{Kind: ErrBadTemplate, Offset: off, What: "template", Why: err.Error()}
	}
	if dom.templates[id] == nil && len(dom.templates) >= d.cfg.MaxTemplatesPerDomain {
		return &DecodeError{Kind: ErrLimit, Offset: off, What: fmt.Sprintf("template %d", id), Why: fmt.Sprintf("domain already has max_templates_per_domain (%d) templates", d.cfg.MaxTemplatesPerDomain)}
	}
	dom.templates[id] = t
	dom.expectsRate = dom.expectsRate || t.sampling
	d.counters.TemplatesLearned.Add(1)
	return nil
}

// withdraw removes one template, or all (data or options) templates when
// id is the template set id itself (RFC 7011 8.1).
func (d *Decoder) withdraw(dom *domain, id uint16, options bool) {
	if id >= 256 {
		if dom.templates[id] != nil {
			delete(dom.templates, id)
			d.counters.TemplatesWithdrawn.Add(1)
		}
		return
	}
	for k, t := range dom.templates {
		if t.options == options {
			delete(dom.templates, k)
			d.counters.TemplatesWithdrawn.Add(1)
		}
	}
}

// ntpEpochOffset is the seconds between 1900 (NTP) and 1970 (Unix).
const ntpEpochOffset = 2208988800

// ntpMicros converts an NTP timestamp (IPFIX dateTimeMicro/Nanoseconds).
func ntpMicros(v uint64) int64 {
	sec := int64(v>>32) - ntpEpochOffset
	frac := ((v&0xffffffff)*1_000_000 + 1<<31) >> 32 // rounded to the nearest µs
	return sec*1_000_000 + int64(frac)
}

// dataSet decodes the records of one data set with template t; setOff is
// the body's offset in the datagram, for errors.
func (d *Decoder) dataSet(dom *domain, hdr msgHeader, t *template, body []byte, setOff int, into *Batch) (uint32, *DecodeError) {
	var n uint32
	pos := 0
	for len(body)-pos >= t.minLen {
		if rest := body[pos:]; len(rest) < 4 && allZero(rest) {
			break // set padding to a 4-byte boundary, even where a record could be that short
		}
		recStart := pos
		var v values
		var r *schema.Flow
		if !t.options {
			r = d.newRow(dom, into)
		}
		for _, f := range t.fields {
			l := int(f.length)
			if f.length == varLen {
				if pos >= len(body) {
					l = -1
				} else if l = int(body[pos]); l < 255 {
					pos++
				} else if pos+3 <= len(body) {
					l = int(binary.BigEndian.Uint16(body[pos+1:]))
					pos += 3
				} else {
					l = -1
				}
			}
			if l < 0 || pos+l > len(body) {
				if r != nil {
					into.Rows = into.Rows[:len(into.Rows)-1]
				}
				if allZero(body[recStart:]) {
					return n, nil // padding
				}
				return n, &DecodeError{Kind: ErrTruncated, Offset: setOff + recStart, What: fmt.Sprintf("set %d record %d", t.id, n+1), Why: fmt.Sprintf("record overruns the set (%d bytes left)", len(body)-recStart)}
			}
			if f.target != tSkip {
				setField(r, &v, f.target, body[pos:pos+l])
			}
			pos += l
		}
		n++
		if t.options {
			d.optionRecord(dom, &v)
			continue
		}
		d.finishRecord(dom, hdr, r, &v)
	}
	return n, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// optionRecord keeps what an options data record says about sampling and
// the exporter's boot time.
func (d *Decoder) optionRecord(dom *domain, v *values) {
	d.counters.OptionRecords.Add(1)
	if v.has(tSysInitMs) {
		dom.sysInitMs = v.sysInitMs
	}
	rate := v.reportedRate()
	if rate == 0 {
		return
	}
	key := noSampler
	if v.has(tSamplerID) {
		key = v.samplerID
	}
	if _, ok := dom.rates[key]; ok || len(dom.rates) < maxRates {
		dom.rates[key] = rate
	}
	dom.lastRate = rate
}
