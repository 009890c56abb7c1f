package flow

import (
	"math"

	"github.com/flowlake/flowlake/storage/schema"
)

// values holds what one data record carries besides directly mapped
// columns. It lives on the stack.
type values struct {
	have                   uint64 // bit per target seen
	bytesTotal, pktsTotal  uint64
	firstUp, lastUp        uint32
	startUs, endUs         int64
	durUs                  uint64
	icmpTypeCode           uint16
	icmpType, icmpCode     uint8
	postVLAN               uint16
	inPhys, outPhys        uint32
	bgpNextHop             schema.Addr
	postSrcMAC, postDstMAC schema.MAC
	samplerID              uint64
	interval, pktInterval  uint64
	pktSpace               uint64
	size, population       uint64
	probability            float64
	sysInitMs              uint64
	// Addresses by family, chosen between in finishRecord (pickHeader).
	src4, dst4, src6, dst6 schema.Addr
	// proto0 is the first protocolIdentifier of the record, protos how
	// many there were (a tunnel template repeats it: outer, inner).
	proto0, protos uint8
	// frame is the record's dataLinkFrameSection (IE 315), in place.
	frame     []byte
	frameSize uint64
}

func (v *values) has(t target) bool { return v.have&(1<<t) != 0 }

// setField stores one element's value; r is nil for options records.
func setField(r *schema.Flow, v *values, tg target, b []byte) {
	v.have |= 1 << tg
	if r == nil {
		r = &schema.Flow{} // options records: values only (never escapes)
	}
	switch tg {
	case tBytes:
		r.Bytes = be(b)
	case tPackets:
		r.Packets = be(b)
	case tBytesTotal:
		v.bytesTotal = be(b)
	case tPacketsTotal:
		v.pktsTotal = be(b)
	case tProto:
		r.Proto = uint8(be(b))
		if v.protos == 0 {
			v.proto0 = r.Proto
		}
		v.protos = min(v.protos+1, 2)
	case tToS:
		r.ToS = uint8(be(b))
	case tTCPFlags:
		r.TCPFlags = uint8(be(b)) // tcpControlBits may be 2 bytes; the low byte holds FIN…CWR
	case tSrcPort:
		r.SrcPort = uint16(be(b))
	case tDstPort:
		r.DstPort = uint16(be(b))
	case tSrcAddr4:
		v.src4 = addr4(b)
	case tDstAddr4:
		v.dst4 = addr4(b)
	case tSrcAddr6:
		v.src6 = addr16(b)
	case tDstAddr6:
		v.dst6 = addr16(b)
	case tFrame:
		v.frame = b
	case tFrameSize:
		v.frameSize = be(b)
	case tInIf:
		r.InIf = uint32(be(b))
	case tOutIf:
		r.OutIf = uint32(be(b))
	case tInPhysIf:
		v.inPhys = uint32(be(b))
	case tOutPhysIf:
		v.outPhys = uint32(be(b))
	case tNextHop4:
		r.NextHop = addr4(b)
	case tNextHop6:
		if a := addr16(b); !unspecified(a) || r.NextHop.IsZero() {
			r.NextHop = a
		}
	case tBGPNextHop4:
		if a := addr4(b); !unspecified(a) || v.bgpNextHop.IsZero() {
			v.bgpNextHop = a
		}
	case tBGPNextHop6:
		if a := addr16(b); !unspecified(a) || v.bgpNextHop.IsZero() {
			v.bgpNextHop = a
		}
	case tSrcAS:
		r.SrcAS = uint32(be(b))
	case tDstAS:
		r.DstAS = uint32(be(b))
	case tFirstUptime:
		v.firstUp = uint32(be(b))
	case tLastUptime:
		v.lastUp = uint32(be(b))
	case tStartSec:
		v.startUs = secToUs(be(b))
		v.have |= 1 << tStartMs
	case tEndSec:
		v.endUs = secToUs(be(b))
		v.have |= 1 << tEndMs
	case tStartMs:
		v.startUs = msToUs(be(b))
	case tEndMs:
		v.endUs = msToUs(be(b))
	case tStartUs, tStartNs:
		v.startUs = ntpMicros(be(b))
		v.have |= 1 << tStartMs
	case tEndUs, tEndNs:
		v.endUs = ntpMicros(be(b))
		v.have |= 1 << tEndMs
	case tDurationMs:
		v.durUs = be(b) * 1000
		v.have |= 1 << tDurationUs
	case tDurationUs:
		v.durUs = be(b)
	case tICMPTypeCode:
		v.icmpTypeCode = uint16(be(b))
	case tICMPType:
		v.icmpType = uint8(be(b))
	case tICMPCode:
		v.icmpCode = uint8(be(b))
	case tVLAN:
		r.VLAN = uint16(be(b)) & 0x0fff
	case tPostVLAN:
		v.postVLAN = uint16(be(b)) & 0x0fff
	case tSrcMAC:
		r.SrcMAC = mac(b)
	case tDstMAC:
		r.DstMAC = mac(b)
	case tPostSrcMAC:
		v.postSrcMAC = mac(b)
	case tPostDstMAC:
		v.postDstMAC = mac(b)
	case tDirection:
		r.Direction = uint8(be(b))
	case tSamplerID:
		v.samplerID = be(b)
	case tSamplingInterval:
		v.interval = be(b)
	case tSamplingPacketInterval:
		v.pktInterval = be(b)
	case tSamplingPacketSpace:
		v.pktSpace = be(b)
	case tSysInitMs:
		v.sysInitMs = be(b)
	case tSamplingSize:
		v.size = be(b)
	case tSamplingPopulation:
		v.population = be(b)
	case tSamplingProbability:
		if len(b) == 4 {
			v.probability = float64(math.Float32frombits(uint32(be(b))))
		} else {
			v.probability = math.Float64frombits(be(b))
		}
	}
}

// reportedRate returns the 1-in-N rate a record or options record states
// itself (0 = none): n-out-of-N (309/310) as N/n, a probability (311) as
// 1/p, packet interval and space (305/306) as (interval+space)/interval,
// else samplingInterval / samplerRandomInterval (34/50).
func (v *values) reportedRate() uint32 {
	var rate uint64
	switch {
	case v.has(tSamplingPopulation) && v.has(tSamplingSize) && v.size > 0:
		rate = v.population / v.size // random n-out-of-N (RFC 5477)
	case v.has(tSamplingProbability) && v.probability > 0 && v.probability <= 1:
		rate = uint64(math.Round(1 / v.probability)) // uniform probabilistic
	case v.has(tSamplingPacketInterval) && v.pktInterval > 0:
		rate = (v.pktInterval + v.pktSpace) / v.pktInterval
	case v.has(tSamplingInterval):
		rate = v.interval
	}
	return uint32(min(rate, math.MaxUint32))
}

// finishRecord derives the columns that need several elements or state:
// times, ICMP type/code, fallbacks, sampling correction.
func (d *Decoder) finishRecord(dom *domain, hdr msgHeader, r *schema.Flow, v *values) {
	d.pickHeader(r, v)
	if v.frame != nil {
		d.frameSection(r, v)
	}
	if !v.has(tBytes) && v.has(tBytesTotal) {
		r.Bytes = v.bytesTotal
	}
	if !v.has(tPackets) && v.has(tPacketsTotal) {
		r.Packets = v.pktsTotal
	}
	if r.NextHop.IsZero() {
		r.NextHop = v.bgpNextHop
	}
	if unspecified(r.NextHop) {
		r.NextHop = schema.Addr{}
	}
	if !v.has(tSrcMAC) {
		r.SrcMAC = v.postSrcMAC
	}
	if !v.has(tDstMAC) {
		r.DstMAC = v.postDstMAC
	}
	if !v.has(tVLAN) {
		r.VLAN = v.postVLAN
	}
	if !v.has(tInIf) {
		r.InIf = v.inPhys
	}
	if !v.has(tOutIf) {
		r.OutIf = v.outPhys
	}
	if r.Proto == 1 || r.Proto == 58 {
		switch {
		case v.has(tICMPTypeCode):
			r.DstPort = v.icmpTypeCode
		case v.has(tICMPType) || v.has(tICMPCode):
			r.DstPort = uint16(v.icmpType)<<8 | uint16(v.icmpCode)
		}
	}

	// Times, in µs.
	start, end := hdr.exportMs*1000, int64(0)
	haveStart, haveEnd := false, false
	switch {
	case v.has(tStartMs):
		start, haveStart = v.startUs, true
	case v.has(tFirstUptime) && !hdr.ipfix:
		start, haveStart = (hdr.exportMs-int64(int32(hdr.uptime-v.firstUp)))*1000, true
	case v.has(tFirstUptime):
		if init := initMs(dom, v); init != 0 {
			start, haveStart = (int64(init)+int64(v.firstUp))*1000, true
		}
	}
	switch {
	case v.has(tEndMs):
		end, haveEnd = v.endUs, true
	case v.has(tLastUptime) && v.has(tFirstUptime):
		end, haveEnd = start+int64(uptimeDuration(v.firstUp, v.lastUp))*1000, true
	case v.has(tDurationUs) && haveStart:
		end, haveEnd = start+int64(min(v.durUs, math.MaxInt32*1000)), true
	}
	r.Time = start
	if haveEnd && end > start {
		r.DurationMS = uint32(min((end-start)/1000, math.MaxUint32))
	}

	// Sampling: the record's own rate, else its sampler's, else the
	// domain's option-data rate (see samplingRate); then the configured
	// rules. A sampling exporter's record whose rate is not known yet is
	// marked (sampling_rate 0, counts as exported) and counted, never
	// taken for unsampled.
	rate, known := v.reportedRate(), true
	if rate == 0 {
		rate, known = dom.optionRate(v)
	}
	if !known && !dom.hasRule {
		d.counters.SamplingUnknown.Add(1)
		r.SamplingRate = 0
		return
	}
	rate = d.rate(dom, rate)
	r.SamplingRate = rate
	r.Bytes = mulSat(r.Bytes, rate)
	r.Packets = mulSat(r.Packets, rate)
}

// optionRate returns the option-data rate that applies to a record naming
// no rate itself (0 = none reported) and whether the rate is known: the
// rate of the sampler the record names (48 samplerId / 302 selectorId),
// else the rate of option data naming no sampler; a record naming a
// sampler the exporter has not described yet has an unknown rate (another
// sampler's rate would be off by their ratio). A record naming no sampler
// takes the domain's latest option-data rate; when there is none yet, the
// rate is unknown if the domain announced sampling options (an options
// template with a sampling element), else none (unsampled).
func (dom *domain) optionRate(v *values) (uint32, bool) {
	if v.has(tSamplerID) && v.samplerID != 0 {
		if r, ok := dom.rates[v.samplerID]; ok {
			return r, true
		}
		if r, ok := dom.rates[noSampler]; ok {
			return r, true
		}
		return 0, false
	}
	if dom.lastRate != 0 {
		return dom.lastRate, true
	}
	return 0, !dom.expectsRate
}

// pickHeader sets the row's addresses from one IP header, and its
// protocol from the same header. A record that carries both IPv4 and
// IPv6 addresses describes a tunnel when its protocol (outer) says 4
// (IPv4 inside) or 41 (IPv6 inside): the row takes the inner header's
// addresses, and the inner protocol when the template repeats
// protocolIdentifier; ports were only ever the inner header's. Without
// such a protocol, IPv6 wins unless it is :: (exporters fill the unused
// family with zeros). Repeated elements of one family keep the last
// occurrence (RFC 7011: outer first, inner after).
func (d *Decoder) pickHeader(r *schema.Flow, v *values) {
	has4 := v.has(tSrcAddr4) || v.has(tDstAddr4)
	has6 := v.has(tSrcAddr6) || v.has(tDstAddr6)
	use6 := has6
	if has4 && has6 {
		set4 := !unspecified(v.src4) || !unspecified(v.dst4)
		set6 := !unspecified(v.src6) || !unspecified(v.dst6)
		switch {
		case set4 && set6:
			if encap := v.encapsulation(r.Proto); encap != 0 {
				use6 = encap == 41
				d.counters.TunnelRecords.Add(1)
				if v.protos > 1 && r.Proto == encap {
					r.Proto = v.proto0 // inner listed first
				}
			}
		case set4:
			use6 = false
		}
	}
	switch {
	case use6:
		r.SrcAddr, r.DstAddr = v.src6, v.dst6
	case has4:
		r.SrcAddr, r.DstAddr = v.src4, v.dst4
	}
}

// encapsulation returns 4 or 41 when one of the record's protocol values
// says IPv4 or IPv6 is carried inside the other header, else 0.
func (v *values) encapsulation(last uint8) uint8 {
	for _, p := range [2]uint8{v.proto0, last} {
		if p == 4 || p == 41 {
			return p
		}
	}
	return 0
}

// frameSection fills the row from a sampled frame (IE 315), as the sFlow
// path does with a sampled header: addresses, ports, protocol, flags and
// ToS when the record has no addresses of its own, MACs and VLAN when it
// has none; bytes are the frame's length (312 dataLinkFrameSize, else the
// L2 headers plus the IP total length) and packets 1 when the record
// carries no counters. Sampling then scales them.
func (d *Decoder) frameSection(r *schema.Flow, v *values) {
	var f schema.Flow
	var fi frameInfo
	ok := parseEthernet(v.frame, &f, &fi)
	frameLen := fi.length
	if !ok {
		d.counters.FrameUnparsed.Add(1)
	} else {
		d.counters.FrameSections.Add(1)
		if fi.tunnel {
			d.counters.TunnelRecords.Add(1)
		}
		if !v.has(tSrcAddr4) && !v.has(tDstAddr4) && !v.has(tSrcAddr6) && !v.has(tDstAddr6) {
			r.SrcAddr, r.DstAddr, r.Proto, r.SrcPort, r.DstPort, r.TCPFlags, r.ToS = f.SrcAddr, f.DstAddr, f.Proto, f.SrcPort, f.DstPort, f.TCPFlags, f.ToS
		}
	}
	if !v.has(tSrcMAC) && !v.has(tPostSrcMAC) && !v.has(tDstMAC) && !v.has(tPostDstMAC) {
		r.SrcMAC, r.DstMAC = f.SrcMAC, f.DstMAC
		v.have |= 1<<tSrcMAC | 1<<tDstMAC
	}
	if !v.has(tVLAN) && !v.has(tPostVLAN) && f.VLAN != 0 {
		r.VLAN = f.VLAN
		v.have |= 1 << tVLAN
	}
	if v.has(tFrameSize) {
		frameLen = int(min(v.frameSize, math.MaxInt32))
	}
	if !v.has(tBytes) && !v.has(tBytesTotal) && frameLen > 0 {
		r.Bytes = uint64(frameLen)
	}
	if !v.has(tPackets) && !v.has(tPacketsTotal) {
		r.Packets = 1
	}
}

// initMs returns the exporter boot time for IPFIX uptime stamps: the
// record's own systemInitTimeMilliseconds, else the domain's from option
// data, else 0 (unknown).
func initMs(dom *domain, v *values) uint64 {
	if v.has(tSysInitMs) {
		return v.sysInitMs
	}
	return dom.sysInitMs
}
