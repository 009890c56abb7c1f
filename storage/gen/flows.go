package gen

import (
	"math"

	"github.com/flowlake/flowlake/storage/schema"
)

// TCP flag bits as the flows.tcp_flags column stores them.
const (
	flagFIN = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
)

// inboundShare is the fraction of connections that come from the Internet
// (to public servers, or scanning).
const inboundShare = 0.05

// flowGen generates one edge's flow records; it owns its reused buffer.
type flowGen struct {
	top     *topology
	ed      *edge
	ipv6    float64
	appPick [numGroups]alias
	rows    []schema.Flow
	hi      int64 // end of the current hour window, µs
	seed    int64
	g       rng
}

func newFlowGen(top *topology, ed *edge, cfg *Config) *flowGen {
	f := &flowGen{top: top, ed: ed, ipv6: cfg.IPv6Share, seed: cfg.Seed, g: newRNG(cfg.Seed, streamFlows)}
	for gi := range numGroups {
		f.appPick[gi] = newAlias(groupApps[gi][:])
	}
	return f
}

// endpoint is one side of a generated connection.
type endpoint struct {
	addr  schema.Addr
	as    uint32
	group string
	h     *host // nil for external hosts
}

// hour fills the buffer with n flow records (±1: a connection's reply may
// overshoot by one) whose start times lie in [lo, hi) µs.
func (f *flowGen) hour(seed int64, absHour int64, lo, hi int64, n int) []schema.Flow {
	f.g.reseed(seed, streamFlows, uint64(f.ed.index), uint64(absHour))
	if cap(f.rows) < n+1 {
		f.rows = make([]schema.Flow, 0, n+n/8+1)
	}
	f.rows = f.rows[:0]
	f.hi = hi
	loMs, spanMs := lo/1000, (hi-lo)/1000
	if spanMs <= 0 {
		return f.rows
	}
	for len(f.rows) < n {
		start := (loMs + int64(f.g.intn(int(spanMs)))) * 1000
		if start < lo {
			start = lo
		}
		if f.g.chance(inboundShare) {
			f.inbound(start)
		} else {
			f.outbound(start)
		}
	}
	return f.rows
}

// outbound generates a connection started by an internal host.
func (f *flowGen) outbound(start int64) {
	g, ed, st := &f.g, f.ed, f.ed.site
	h := &st.hosts[ed.hosts[ed.clients.pick(g)]]
	a := &apps[f.appPick[h.group].pick(g)]
	v6 := a.v6 && g.chance(f.ipv6*1.25) // not every app runs over IPv6
	// The address the host's DHCP lease gives it at the time (addrAt):
	// the dhcp_leases the same run derives name this flow's host.
	src := endpoint{addr: st.addrAt(f.seed, h, start), as: st.asn, group: groupDefs[h.group].name, h: h}
	if v6 {
		src.addr = h.v6
	}
	dst := f.destination(a, v6, h)
	x := &ed.exporters[h.exporter]
	var sport uint16
	switch {
	case a.proto == 1:
		sport = 0
	case a.serverSrc123 && (h.group == grpServers || h.group == grpInfra):
		sport = 123
	case a.portHi > 0 && a.proto == 17 && a.pool == poolVoice:
		sport = uint16(a.port + uint16(g.intn(int(a.portHi-a.port)/2))*2)
	default:
		p := &osProfiles[h.os]
		sport = p.ephLo + uint16(g.intn(int(p.ephHi-p.ephLo)+1))
	}
	dport := a.port
	if a.portHi > a.port {
		dport = a.port + uint16(g.intn(int(a.portHi-a.port)+1))
		if a.pool == poolVoice {
			dport &^= 1
		}
	}
	if a.proto == 1 {
		dport = 8 << 8 // echo request
		if v6 {
			dport = 128 << 8
		}
	}
	f.conn(x, a, v6, start, src, dst, sport, dport, float64(h.bytesMul), false)
}

// inbound generates a connection from the Internet to the site.
func (f *flowGen) inbound(start int64) {
	g, ed, st := &f.g, f.ed, f.ed.site
	srv := st.byGroup[grpServers]
	h := &st.hosts[srv[st.servers.pick(g)]]
	x := &ed.exporters[0]
	dst := endpoint{addr: h.v4, as: st.asn, group: groupDefs[h.group].name, h: h}
	if g.chance(0.7) { // users reaching the public web servers
		v6 := g.chance(f.ipv6 * 1.5)
		var e extHost
		if v6 {
			e = f.top.ext6[f.top.pop6.pick(g)]
			dst.addr = h.v6
		} else {
			e = f.top.ext4[f.top.pop4.pick(g)]
		}
		src := endpoint{addr: e.addr, as: e.as}
		sport := uint16(32768 + g.intn(32768))
		f.conn(x, &apps[appHTTPS], v6, start, src, dst, sport, 443, 1, false)
		return
	}
	// A scanner probing a port: a bare SYN, maybe an RST back.
	e := f.top.scan[g.intn(len(f.top.scan))]
	if g.chance(0.5) {
		dst.h = &st.hosts[ed.hosts[g.intn(len(ed.hosts))]]
		dst.addr, dst.group = st.addrAt(f.seed, dst.h, start), groupDefs[dst.h.group].name
	}
	sp := scanPorts[g.intn(len(scanPorts))]
	scan := app{name: sp.app, proto: 6}
	f.conn(x, &scan, false, start, endpoint{addr: e.addr, as: e.as}, dst, uint16(1024+g.intn(64511)), sp.port, 1, true)
}

// destination picks the far end of an outbound connection of app a.
func (f *flowGen) destination(a *app, v6 bool, h *host) endpoint {
	g, st := &f.g, f.ed.site
	pickExt := func(t4, t6 []extHost) endpoint {
		var e extHost
		if v6 {
			e = t6[g.intn(len(t6))]
		} else {
			e = t4[g.intn(len(t4))]
		}
		return endpoint{addr: e.addr, as: e.as}
	}
	internal := func(hi int32) endpoint {
		d := &st.hosts[hi]
		ep := endpoint{addr: d.v4, as: st.asn, group: groupDefs[d.group].name, h: d}
		if v6 {
			ep.addr = d.v6
		}
		return ep
	}
	switch a.pool {
	case poolPublicDNS:
		return pickExt(publicDNS4, publicDNS6)
	case poolNTP:
		if h.group == grpServers || g.chance(0.3) {
			return pickExt(publicNTP4, publicNTP6)
		}
		return internal(st.resolvers[g.intn(2)])
	case poolResolver:
		return internal(st.resolvers[g.intn(2)])
	case poolServers:
		return internal(st.byGroup[grpServers][st.servers.pick(g)])
	case poolInfra:
		return internal(st.byGroup[grpInfra][g.intn(len(st.byGroup[grpInfra]))])
	case poolVoice:
		return internal(st.byGroup[grpVoice][g.intn(len(st.byGroup[grpVoice]))])
	case poolPBX:
		return internal(st.byGroup[grpServers][len(st.byGroup[grpServers])-1])
	}
	if v6 {
		e := f.top.ext6[f.top.pop6.pick(g)]
		return endpoint{addr: e.addr, as: e.as}
	}
	e := f.top.ext4[f.top.pop4.pick(g)]
	return endpoint{addr: e.addr, as: e.as}
}

// conn appends the forward record of a connection and, usually, the reply.
func (f *flowGen) conn(x *exporter, a *app, v6 bool, start int64, src, dst endpoint, sport, dport uint16, mul float64, scan bool) {
	g := &f.g
	// Forward packets: lognormal body, Pareto elephants, scaled by the
	// host's appetite.
	pk := 1 + math.Floor(g.lognormal(a.pktMu, a.pktSigma)*mul)
	if a.elephant > 0 && g.chance(a.elephant) {
		pk = math.Min(g.pareto(2000, 1.1), 5e6)
	}
	var fwdFlags, revFlags uint8
	if a.proto == 6 {
		fwdFlags, revFlags = flagSYN|flagACK|flagPSH|flagFIN, flagSYN|flagACK|flagPSH|flagFIN
		switch u := g.float(); {
		case scan || u < 0.025: // connection refused or unanswered
			pk = float64(1 + g.intn(3))
			if scan {
				pk = 1
			}
			fwdFlags, revFlags = flagSYN, flagRST|flagACK
		case u < 0.06: // reset mid-connection
			fwdFlags |= flagRST
			revFlags &^= flagFIN
		case pk < 3:
			fwdFlags, revFlags = flagACK|flagFIN, flagACK|flagFIN
		}
	}
	// Duration, cut at the exporter's active timeout.
	dur := int64(0)
	if pk > 1 {
		d := g.lognormal(a.durMu, a.durSigma)
		if pk > 5000 {
			d = math.Max(d, pk/3000)
		}
		dur = int64(math.Min(d, 86400) * 1e6)
	}
	if x.activeTimeout > 0 && dur > x.activeTimeout {
		dur = x.activeTimeout
		if a.proto == 6 {
			fwdFlags, revFlags = flagACK|flagPSH, flagACK|flagPSH
			if g.chance(0.5) {
				fwdFlags |= flagSYN
				revFlags |= flagSYN
			}
		}
	}
	rtt := int64(1 + g.intn(3))
	if src.h == nil || dst.h == nil {
		rtt = int64(5 + g.intn(120))
	}
	revProb := a.revProb
	if scan {
		revProb = 0.4
	}
	hasRev := g.chance(revProb)
	f.emit(x, a, v6, start, dur, src, dst, sport, dport, pk, a.fwdLo, a.fwdHi, fwdFlags)
	if hasRev && len(f.rows) < cap(f.rows) {
		rp := math.Max(1, math.Round(pk*a.revPkt*(0.7+0.6*g.float())))
		lo, hi := a.revLo, a.revHi
		if lo == 0 || scan || fwdFlags == flagSYN {
			rp, lo, hi = 1, 40, 60
		}
		rport := dport
		if a.proto == 1 {
			rport = 0 // echo reply
			if v6 {
				rport = 129 << 8
			}
		}
		rdur := max(dur-rtt*1000, 0)
		if rp == 1 {
			rdur = 0
		}
		// The reply starts one round trip later, still inside the hour.
		rstart := max(min(start+rtt*1000, (f.hi-1)/1000*1000), start)
		f.emit(x, a, v6, rstart, rdur, dst, src, rport, sport, rp, lo, hi, revFlags)
	}
}

// emit appends one record. pk is the true packet count; sampling keeps
// about pk/rate of them and multiplies them back.
func (f *flowGen) emit(x *exporter, a *app, v6 bool, start, dur int64, src, dst endpoint, sport, dport uint16, pk float64, szLo, szHi uint16, flags uint8) {
	g := &f.g
	size := float64(szLo) + float64(szHi-szLo)*g.float()
	if v6 {
		size += 20
	}
	size = math.Min(math.Max(size, 40), 1500)
	packets := uint64(pk)
	if x.sampling > 1 {
		// Only sampled packets reach the collector: at least one, usually
		// one, scaled back by the rate.
		k := uint64(1)
		if s := pk / float64(x.sampling); s > 1 {
			k = uint64(s)
		} else if g.chance(0.2) {
			k = uint64(2 + g.intn(2))
		}
		packets = k * uint64(x.sampling)
		if x.kind == kindSFlow {
			dur = 0
			if g.chance(0.4) {
				size = 64 + float64(g.intn(64))
			} else if g.chance(0.5) {
				size = 1400 + float64(g.intn(101))
			}
		} else {
			dur = min(dur, int64(g.intn(30e6)))
		}
	}
	n := len(f.rows)
	f.rows = f.rows[:n+1]
	r := &f.rows[n]
	*r = schema.Flow{
		Time:         start,
		DurationMS:   uint32(dur / 1000),
		Edge:         f.ed.id,
		Device:       x.name,
		SrcAddr:      src.addr,
		DstAddr:      dst.addr,
		SrcPort:      sport,
		DstPort:      dport,
		Proto:        a.proto,
		ToS:          a.tos,
		Bytes:        uint64(float64(packets) * size),
		Packets:      packets,
		SamplingRate: x.sampling,
		App:          a.name,
		SrcGroup:     src.group,
		DstGroup:     dst.group,
		Direction:    x.direction,
	}
	if v6 && a.proto == 1 {
		r.Proto = 58
		r.App = "icmpv6"
	}
	if a.proto == 6 {
		r.TCPFlags = flags
	}
	if r.ToS != 0 && g.chance(0.1) { // re-marked or untrusted on the way
		r.ToS = 0
	}
	// Interfaces, VLAN, MACs and next hop from the internal side.
	st := f.ed.site
	in, out := src.h, dst.h
	switch {
	case in != nil && out == nil: // leaving the site
		r.InIf, r.InIfName = x.lan(in)
		r.OutIf, r.OutIfName = x.uplinkIdx, x.uplinkName
		if x.hasVLAN {
			r.VLAN = groupDefs[in.group].vlan
		}
		if x.hasMAC {
			r.SrcMAC, r.DstMAC = in.mac, st.gwMAC
		}
		if x.hasNextHop {
			r.NextHop = st.wanHop4
			if v6 {
				r.NextHop = st.wanHop6
			}
		}
	case in == nil && out != nil: // entering the site
		r.InIf, r.InIfName = x.uplinkIdx, x.uplinkName
		r.OutIf, r.OutIfName = x.lan(out)
		if x.hasVLAN {
			r.VLAN = groupDefs[out.group].vlan
		}
		if x.hasMAC {
			r.SrcMAC, r.DstMAC = st.gwMAC, out.mac
		}
		if x.hasNextHop {
			r.NextHop = gateway(st.index, int(out.group), v6)
		}
	default: // inside the site
		r.InIf, r.InIfName = x.lan(in)
		if x.router {
			r.OutIf, r.OutIfName = x.lan(out)
		} else {
			r.OutIf, r.OutIfName = x.uplinkIdx, x.uplinkName
		}
		if x.hasVLAN {
			r.VLAN = groupDefs[in.group].vlan
		}
		if x.hasMAC {
			r.SrcMAC, r.DstMAC = in.mac, st.gwMAC
			if in.group == out.group {
				r.DstMAC = out.mac
			}
		}
		if x.hasNextHop {
			r.NextHop = gateway(st.index, int(out.group), v6)
		}
	}
	if x.hasAS {
		r.SrcAS, r.DstAS = src.as, dst.as
	}
}

// gateway is the router address of a group's subnet.
func gateway(s, g int, v6 bool) schema.Addr {
	if v6 {
		return addr6([4]uint16{0x2001, 0x0db8, uint16(s), uint16(g)}, 1)
	}
	return siteV4(s, g, -1)
}
