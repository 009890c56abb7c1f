package tcptrace

import (
	"unsafe"
)

// update follows one packet of connection c, sent by endpoint a of its key
// when fromA.
func (t *Tracer) update(c *tconn, fromA bool, p *Packet) {
	i := c.idx(fromA)
	s, o := &c.sides[i], &c.sides[1-i]
	now := p.Time.UnixNano()
	if now > c.last {
		c.last = now
	}
	syn, fin, rst, ack := p.Flags&FlagSYN != 0, p.Flags&FlagFIN != 0, p.Flags&FlagRST != 0, p.Flags&FlagACK != 0
	seqLen := uint32(p.Payload)
	if syn {
		seqLen++
	}
	if fin {
		seqLen++
	}
	end := p.Seq + seqLen
	isOrig := (i == 0) == c.origLocal

	// Classify before the sequence space moves.
	var retrans, keepalive, probe bool
	cur := lastSeg{seq: p.Seq, ack: p.Ack, flags: p.Flags, length: uint16(min(p.Payload, 65535)), ipid: p.IPID, sum: p.TCPSum, valid: true}
	switch {
	case rst || !s.seqKnown:
	case s.last == cur && (p.Payload > 0 || syn || fin || (p.Src.Is4() && p.IPID != 0)):
		retrans = true // an exact duplicate
	case !syn && !fin && p.Payload <= 1 && p.Seq == s.maxEnd-1 && o.ackKnown && o.maxAck == s.maxEnd:
		// One byte below what the peer acknowledged: a keepalive, or a
		// window probe when the peer's window is zero (Linux sends both so).
		if o.win == 0 && o.ackKnown {
			probe = true
		} else {
			keepalive = true
		}
	case !syn && !fin && p.Payload == 1 && o.win == 0 && o.ackKnown && p.Seq == o.maxAck:
		probe = true
	case seqLen > 0 && seqGT(s.maxEnd, p.Seq):
		// Below the highest sequence sent: a retransmission, unless it
		// fills a range never seen (out of order, or missed by the capture).
		retrans = !s.fillHoles(p.Seq, end)
	}
	s.last = cur

	// Sequence space and options.
	if syn {
		s.synPure, s.synAck = s.synPure || !ack, s.synAck || ack
		if !ack && !c.hasOpened {
			c.opened, c.hasOpened = now, true
		}
		if !s.synSeen {
			s.synSeen, s.isn, s.seqKnown, s.maxEnd = true, p.Seq, true, p.Seq
		}
		if p.MSS != 0 {
			s.mss = p.MSS
		}
		if p.WScale >= 0 {
			s.wscale = p.WScale
		}
	} else if !s.seqKnown {
		s.seqKnown, s.isn, s.maxEnd = true, p.Seq-1, p.Seq
	}
	if !rst && seqLen > 0 && s.synSeen && seqGT(p.Seq, s.maxEnd) {
		s.addHole(s.maxEnd, p.Seq)
	}
	if !rst && seqGT(end, s.maxEnd) {
		s.maxEnd = end
	}
	if ack && !rst && (!s.ackKnown || seqGT(p.Ack, s.maxAck)) {
		if o.ackedHoles(p.Ack) {
			// Acknowledges over a range never seen: a content gap.
			c.scaled(!isOrig, 'G', &o.gCount)
		}
		switch {
		case o.seqKnown && seqGT(p.Ack, o.maxEnd):
			c.scaled(!isOrig, 'G', &o.gCount)
			o.maxEnd = p.Ack
		}
		s.maxAck, s.ackKnown = p.Ack, true
	}
	if !rst {
		s.win = p.Window
	}
	s.pkts++
	s.bytes += uint64(p.Payload)
	if retrans {
		s.retrans++
	}

	// Streaks: any packet from s answers o's probes; an acknowledgement
	// past o's retransmitted segment ends o's retransmission streak.
	o.kaCount, o.zwpCount = 0, 0
	if o.rtCount > 0 && ack && seqGT(p.Ack, o.rtSeq) {
		o.rtCount = 0
	}
	switch {
	case keepalive:
		s.kaCount++
	case probe:
		s.zwpCount++
	case retrans && seqLen > 0 && !syn:
		s.noteRetrans(p.Seq, now)
	case seqLen > 0 && !retrans:
		s.rtCount = 0
	}

	// Handshake, closes and resets.
	if !c.hasConnected && ack && !syn && !rst && !s.rst && !o.rst && !(s.synSeen && !o.synSeen && !o.seqKnown) {
		c.connected, c.hasConnected = now, true
	}
	if fin && !s.finSeen {
		s.finSeen, s.finEnd = true, end
		if c.firstFin < 0 {
			c.firstFin = int8(i)
			// AA: the local side closes first while data the foreign side
			// sent is still unacknowledged by it (docs/tcptrace.md).
			if i == 0 && o.bytes > 0 && (!ack || seqGT(o.maxEnd, p.Ack)) {
				c.aa = true
			}
		}
	}
	if rst && !s.rst {
		s.rst = true
		if c.firstRst < 0 {
			c.firstRst = int8(i)
		}
	}
	if !c.hasClosed && (s.rst || s.finSeen && o.finSeen) {
		c.closedAt, c.hasClosed = now, true
	}
	before := c.mem
	c.history(s, isOrig, p, retrans) // a long history spills into a counted slice
	t.mem += int64(c.mem - before)
	c.state = c.localState()
	t.keep(c, i, p, retrans)
}

// noteRetrans extends s's streak of retransmissions of the segment at seq,
// checking that the gaps between them do not shrink (exponential back-off).
func (s *side) noteRetrans(seq uint32, at int64) {
	if s.rtCount == 0 || s.rtSeq != seq {
		s.rtSeq, s.rtCount, s.rtGap, s.rtAt, s.rtGrowing = seq, 1, 0, at, true
		return
	}
	gap := at - s.rtAt
	if gap < s.rtGap*9/10 {
		s.rtGrowing = false
	}
	s.rtCount++
	s.rtGap, s.rtAt = gap, at
}

// history adds the packet's letters to Zeek's history string, with Zeek's
// rules (scripts/base/protocols/tconn/main.zeek, TCP analyzer).
func (c *tconn) history(s *side, isOrig bool, p *Packet, retrans bool) {
	syn, fin, rst := p.Flags&FlagSYN != 0, p.Flags&FlagFIN != 0, p.Flags&FlagRST != 0
	bits := 0
	for _, b := range []bool{syn, fin, rst} {
		if b {
			bits++
		}
	}
	switch {
	case bits > 1 && fin && rst:
		c.once(s, isOrig, hFinRst, 'I')
	case bits > 1:
		c.once(s, isOrig, hMulti, 'Q')
	case syn:
		code := byte('S')
		if p.Flags&FlagACK != 0 {
			code = 'H'
		}
		if c.once(s, isOrig, hSyn, code) && p.Seq != s.histLastSyn {
			c.add(isOrig, code)
		}
		s.histLastSyn = p.Seq
	case fin:
		e := p.Seq + uint32(p.Payload)
		if c.once(s, isOrig, hFin, 'F') && e != s.histLastFin {
			c.add(isOrig, 'F')
		}
		s.histLastFin = e
	case rst:
		if c.once(s, isOrig, hRst, 'R') && p.Seq != s.histLastRst {
			c.add(isOrig, 'R')
		}
		s.histLastRst = p.Seq
	case p.Payload > 0:
		c.once(s, isOrig, hData, 'D')
	case p.Flags&FlagACK != 0:
		c.once(s, isOrig, hAck, 'A')
	}
	if retrans && p.Payload > 0 {
		c.scaled(isOrig, 'T', &s.tCount)
	}
	if p.Window == 0 && !syn && !fin && !rst {
		c.scaled(isOrig, 'W', &s.wCount)
	}
}

// once adds code the first time the side shows mask, and reports whether
// it had shown it before (Zeek's CheckHistory).
func (c *tconn) once(s *side, isOrig bool, mask uint16, code byte) bool {
	if s.histSeen&mask != 0 {
		return true
	}
	s.histSeen |= mask
	c.add(isOrig, code)
	return false
}

// scaled adds code at the 1st, 10th, 100th... occurrence (Zeek's
// ScaledHistoryEntry).
func (c *tconn) scaled(isOrig bool, code byte, count *uint32) {
	*count++
	n := *count
	for n%10 == 0 {
		n /= 10
	}
	if n == 1 {
		c.add(isOrig, code)
	}
}

func (c *tconn) add(isOrig bool, code byte) {
	if c.histLen == 0 && c.histMore == nil && c.flipped {
		c.push('^')
	}
	if !isOrig {
		code += 'a' - 'A'
	}
	c.push(code)
}

// push appends one history letter, inline while there is room.
func (c *tconn) push(b byte) {
	if int(c.histLen) < len(c.hist) {
		c.hist[c.histLen] = b
		c.histLen++
		return
	}
	if c.histMore == nil {
		c.histMore = new([]byte)
		c.mem += int32(allocSize(unsafe.Sizeof([]byte(nil)), true))
	}
	before := allocSize(uintptr(cap(*c.histMore)), false)
	*c.histMore = append(*c.histMore, b)
	c.mem += int32(allocSize(uintptr(cap(*c.histMore)), false) - before)
}

// keep puts the packet into c's ring. The ring grows (doubling, up to
// MaxPackets full-size packets) while the memory quota allows; otherwise,
// and once it holds MaxPackets, the newest overwrite the oldest.
func (t *Tracer) keep(c *tconn, i int, p *Packet, retrans bool) {
	r := &c.ring
	if int(r.n) >= t.cfg.MaxPackets {
		r.evict()
		t.stats.Overwritten++
	}
	capLen := min(len(p.Frame), t.cfg.SnapLen)
	size := recSize(capLen)
	var off uint32
	for {
		var ok bool
		if off, ok = r.place(size); ok {
			break
		}
		if t.growRing(c, size) {
			continue
		}
		if r.compact(size) {
			continue
		}
		if r.n == 0 {
			t.stats.Overwritten++ // not one packet fits the quota: counted as not kept
			return
		}
		r.evict()
		t.stats.Overwritten++
	}
	l, f := &c.sides[0], &c.sides[1]
	win := uint32(p.Window)
	s := &c.sides[i]
	if p.Flags&FlagSYN == 0 && s.wscale >= 0 && c.sides[1-i].wscale >= 0 {
		win <<= uint(s.wscale)
	}
	h := r.hdr(off)
	*h = ringPkt{
		time: p.Time.UnixMicro(), seq: p.Seq, ack: p.Ack, win: win, length: uint16(min(p.Payload, 65535)),
		ipid: p.IPID, sum: p.TCPSum, flags: p.Flags, out: i == 0, retrans: retrans, state: c.state,
		sndUna: f.maxAck - l.isn - 1, sndNxt: l.maxEnd - l.isn - 1, sndWnd: scaledWin(f, l),
		rcvNxt: l.maxAck - f.isn - 1, rcvWnd: scaledWin(l, f),
		frameLen: uint32(p.IPLen), capLen: uint16(capLen),
	}
	copy(r.buf[off+ringHdr:], p.Frame[:capLen])
	if !f.ackKnown {
		h.sndUna = 0 // nothing acknowledged yet
	}
	if !l.ackKnown || !f.seqKnown {
		h.rcvNxt = 0
	}
}

// scaledWin is the last window s advertised, scaled when both sides
// agreed on window scaling.
func scaledWin(s, peer *side) uint32 {
	w := uint32(s.win)
	if s.wscale >= 0 && peer.wscale >= 0 {
		w <<= uint(s.wscale)
	}
	return w
}

// growRing enlarges c's ring buffer so that a record of size bytes fits
// (doubling, up to MaxPackets records of the snap length) if the memory
// quota allows, counting the buffer's real size.
func (t *Tracer) growRing(c *tconn, size uint32) bool {
	r := &c.ring
	limit := int(recSize(t.cfg.SnapLen)) * t.cfg.MaxPackets
	cur := len(r.buf)
	if cur >= limit {
		return false
	}
	n := min(max(initialRing, 2*cur, cur+int(size)), max(limit, int(size)))
	n = int(allocSize(uintptr(n), false)) // the size class's room is paid for anyway
	extra := allocSize(uintptr(n), false) - r.bytes()
	if t.mem+extra > t.cfg.MemoryQuota {
		return false
	}
	r.resize(n)
	c.mem += int32(extra)
	t.mem += extra
	return true
}

// addHole records [lo, hi) as skipped, forgetting the oldest hole when
// every slot is taken.
func (s *side) addHole(lo, hi uint32) {
	if int(s.nholes) == len(s.holes) {
		copy(s.holes[:], s.holes[1:])
		s.nholes--
	}
	s.holes[s.nholes] = seqRange{lo, hi}
	s.nholes++
}

// fillHoles removes [lo, hi) from the holes and reports whether it
// touched any.
func (s *side) fillHoles(lo, hi uint32) bool {
	touched := false
	for i := 0; i < int(s.nholes); i++ {
		h := &s.holes[i]
		if !seqGT(hi, h.lo) || !seqGT(h.hi, lo) {
			continue
		}
		touched = true
		switch {
		case !seqGT(lo, h.lo) && seqGE(hi, h.hi): // covered
			copy(s.holes[i:], s.holes[i+1:s.nholes])
			s.nholes--
			i--
		case !seqGT(lo, h.lo): // its start filled
			h.lo = hi
		default: // its end or middle filled: keep the part below
			h.hi = lo
		}
	}
	return touched
}

// ackedHoles removes the holes the acknowledgement ack passes and reports
// whether there were any.
func (s *side) ackedHoles(ack uint32) bool {
	n := 0
	for _, h := range s.holes[:s.nholes] {
		if !seqGE(ack, h.hi) {
			s.holes[n] = h
			n++
		}
	}
	gap := n < int(s.nholes)
	s.nholes = uint8(n)
	return gap
}
