package tcptrace

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// abnormal lists the reasons cache mode abnormal-close writes.
var abnormal = map[string]bool{
	schema.ReasonReceivedReset: true, schema.ReasonSentReset: true, schema.ReasonAppAbnormalClose: true,
	schema.ReasonKeepaliveTimeout: true, schema.ReasonPersistTimeout: true, schema.ReasonRetransmitTimeout: true,
}

// finish removes c from the table and writes its record if the cache mode
// keeps it: every connection in mode all; abnormal closes and connections
// open at shutdown in mode abnormal-close.
func (t *Tracer) finish(c *tconn, end string) {
	t.mem -= int64(c.mem) + t.conns.del(c)
	if end == schema.TCPEndOpen && c.hasClosed {
		end = schema.TCPEndClosed
	}
	reason := c.reason(end, t.cfg.Probes)
	if t.cfg.CacheMode != CacheAll && end != schema.TCPEndOpen && !abnormal[reason] {
		t.stats.Skipped++
		return
	}
	t.stats.Written[reason]++
	t.out = append(t.out, t.record(c, end, reason))
}

// reason derives the device's close reason from what the wire showed
// (docs/tcptrace.md, "Reasons on the wire"); "" when none applies.
func (c *tconn) reason(end string, probes int) string {
	if c.aa {
		return schema.ReasonAppAbnormalClose
	}
	if end != schema.TCPEndOpen {
		for i := range c.sides {
			if r := c.stallOf(i, probes); r != "" && (end == schema.TCPEndTimeout || int(c.firstRst) == i) {
				return r
			}
		}
	}
	switch c.firstRst {
	case 0:
		return schema.ReasonSentReset
	case 1:
		return schema.ReasonReceivedReset
	}
	if end == schema.TCPEndClosed && c.sides[0].finSeen && c.sides[1].finSeen {
		if c.firstFin == 0 {
			return schema.ReasonAppNormalClose
		}
		return schema.ReasonPeerNormalClose
	}
	return ""
}

// stallOf says whether side i's last packets were unanswered
// retransmissions of one segment with growing back-off (RT), window probes
// against a zero window (PT) or keepalive probes (KT).
func (c *tconn) stallOf(i, probes int) string {
	s, o := &c.sides[i], &c.sides[1-i]
	switch {
	case s.rtCount >= uint32(probes) && s.rtGrowing && c.hasConnected:
		return schema.ReasonRetransmitTimeout
	case s.zwpCount >= uint32(probes) && o.win == 0:
		return schema.ReasonPersistTimeout
	case s.kaCount >= uint32(probes):
		return schema.ReasonKeepaliveTimeout
	}
	return ""
}

// stalled reports the stall reason of either side, "" when none.
func (c *tconn) stalled(probes int) string {
	for i := range c.sides {
		if r := c.stallOf(i, probes); r != "" {
			return r
		}
	}
	return ""
}

// zeekState is an endpoint's final state as Zeek would hold it.
func (c *tconn) zeekState(i int) int {
	s := &c.sides[i]
	switch {
	case s.rst:
		return zReset
	case s.finSeen:
		return zClosed
	case s.pkts == 0:
		return zInactive
	case (s.synPure || s.synAck) && c.hasConnected:
		return zEstablished
	case s.synPure:
		return zSynSent
	case s.synAck:
		return zSynAckSent
	}
	return zPartial
}

// connState is Zeek's conn_state (scripts/base/protocols/tconn/main.zeek).
func (c *tconn) connState() string {
	oi, ri := 0, 1
	if !c.origLocal {
		oi, ri = 1, 0
	}
	os, rs := c.zeekState(oi), c.zeekState(ri)
	oInactive := os == zInactive || os == zPartial
	rInactive := rs == zInactive || rs == zPartial
	switch {
	case rs == zReset:
		switch {
		case os == zSynSent || os == zSynAckSent || os == zReset && c.sides[oi].bytes == 0 && c.sides[ri].bytes == 0:
			return "REJ"
		case oInactive:
			return "RSTRH"
		}
		return "RSTR"
	case os == zReset:
		if rInactive {
			if rstos0(c.historyBytes()) {
				return "RSTOS0"
			}
			return "OTH"
		}
		return "RSTO"
	case rs == zClosed && os == zClosed:
		return "SF"
	case os == zClosed:
		if rInactive {
			return "SH"
		}
		return "S2"
	case rs == zClosed:
		if oInactive {
			return "SHR"
		}
		return "S3"
	case os == zSynSent && rs == zInactive:
		return "S0"
	case os == zEstablished && rs == zEstablished:
		return "S1"
	}
	return "OTH"
}

// rstos0 matches Zeek's /\^?S[^HAFGIQ]*R.*/ on the history.
func rstos0(h []byte) bool {
	if len(h) > 0 && h[0] == '^' {
		h = h[1:]
	}
	if len(h) == 0 || h[0] != 'S' {
		return false
	}
	for _, b := range h[1:] {
		switch b {
		case 'R':
			return true
		case 'H', 'A', 'F', 'G', 'I', 'Q':
			return false
		}
	}
	return false
}

// record builds c's rows.
func (t *Tracer) record(c *tconn, end, reason string) Record {
	l, f := &c.sides[0], &c.sides[1]
	closeAt := time.Unix(0, c.last)
	if end == schema.TCPEndTimeout || end == schema.TCPEndOpen {
		closeAt = t.now
	}
	local, foreign := c.endpoints()
	vpn := ""
	if c.key.vlan != 0 {
		vpn = fmt.Sprintf("vlan %d", c.key.vlan)
	}
	row := schema.TCPConn{
		Time: closeAt.UnixMicro(), Edge: t.cfg.Edge, Device: t.cfg.Device,
		LocalAddr: schema.AddrFrom(local.Addr), LocalPort: local.Port,
		ForeignAddr: schema.AddrFrom(foreign.Addr), ForeignPort: foreign.Port,
		VPN: vpn, Reason: reason, ISS: l.isn, IRS: f.isn,
		InPackets: f.pkts, OutPackets: l.pkts, RetransPackets: l.retrans + f.retrans,
		SndMax: l.maxEnd - l.isn - 1, LocalAckMax: l.maxAck - f.isn - 1,
		RcvMax: f.maxEnd - f.isn - 1, PeerAckMax: f.maxAck - l.isn - 1,
		SndMSS: f.mss, RcvMSS: l.mss, Source: "passive", TraceID: c.traceID,
		ConnState: c.connState(), History: string(c.historyBytes()), End: end,
	}
	if l.wscale >= 0 {
		row.SndScale = uint8(l.wscale)
	}
	if f.wscale >= 0 {
		row.RcvScale = uint8(f.wscale)
	}
	if !l.ackKnown {
		row.LocalAckMax = 0
	}
	if !f.ackKnown {
		row.PeerAckMax = 0
	}
	if !f.seqKnown {
		row.IRS, row.RcvMax = 0, 0
	}
	if c.hasConnected {
		row.ConnectedAt = time.Unix(0, c.connected).UnixMicro()
	}
	if c.hasOpened {
		row.OpenedAt = time.Unix(0, c.opened).UnixMicro()
		if c.hasConnected && c.connected >= c.opened {
			row.SetupTime = max(1, (c.connected-c.opened)/1e3) // µs; 0 would read as null
		}
	}
	pkts := make([]schema.TCPPacket, 0, c.ring.n)
	c.ring.each(func(off uint32, rp *ringPkt) {
		pk := schema.TCPPacket{
			Time: rp.time, Edge: t.cfg.Edge, Device: t.cfg.Device, TraceID: c.traceID, Index: uint16(len(pkts) + 1),
			Seq: rp.seq, Ack: rp.ack, DataLen: rp.length, Flags: rp.flags, State: stateNames[rp.state],
			Window: rp.win, Checksum: rp.sum, IPID: rp.ipid, SndUna: rp.sndUna, SndNxt: rp.sndNxt,
			SndWnd: rp.sndWnd, RcvNxt: rp.rcvNxt, RcvWnd: rp.rcvWnd,
			Frame: base64.StdEncoding.EncodeToString(c.ring.frame(off, rp)), FrameLen: rp.frameLen,
		}
		pk.Direction, pk.Event = "in", "R"
		if rp.out {
			pk.Direction, pk.Event = "out", "S"
		}
		if rp.retrans {
			pk.Event = "R" + pk.Event
		}
		pkts = append(pkts, pk)
	})
	return Record{Conn: row, Packets: pkts}
}
