package flow

// maxSeqLoss is the largest forward jump of a sequence number counted as
// loss; a larger jump, or one backwards, is an exporter restart or
// reordering and resynchronises instead (counted as a reset).
const maxSeqLoss = 1 << 24

// IPFIX numbering modes (bits of seqState.mode).
const (
	seqInclusive = 1 << iota // the number already counts the current message's records (softflowd)
	seqFlowsOnly             // options data records are not counted (softflowd)
)

// seqState follows one domain's sequence numbers.
//
// NetFlow v5 and IPFIX number data records: a message's sequence number is
// the count of records sent before it, so the next one is expected at
// seq+records. NetFlow v9 and sFlow number export datagrams (next = seq+1).
//
// Exporters disagree on IPFIX: softflowd counts the current message's
// records too (off by one message) and leaves options data records out. So
// an IPFIX domain's sequence number is checked against four expectations
// (before/including the current message × with/without options records);
// the one that matches becomes the domain's mode, tried first next time,
// and a gap is measured against the mode's expectation. Neither kind of
// exporter then reports false loss.
type seqState struct {
	valid     bool   // a previous datagram was seen
	last      uint32 // its sequence number
	lastN     uint32 // its records (v5/IPFIX) or 1 (v9/sFlow)
	lastFlows uint32 // its flow records (IPFIX: without options records)
	lastKnown bool   // the counts are exact (false when an IPFIX set was skipped)
	mode      uint8  // IPFIX numbering mode
}

// seqResult is what one datagram's sequence number says.
type seqResult struct {
	gap   bool
	lost  uint32
	reset bool
}

// next checks seq of a datagram carrying n units (records, or 1 for a
// datagram-numbered format), flows of them flow records, and records it as
// the latest. nKnown is false when the datagram's record count is unknown
// (a set was skipped): the next datagram is then not checked.
func (s *seqState) next(seq, n, flows uint32, nKnown, ipfix bool) seqResult {
	var res seqResult
	if s.valid && s.lastKnown {
		if !ipfix {
			res = classify(seq - (s.last + s.lastN))
		} else {
			matched := false
			for _, m := range [5]uint8{s.mode, 0, seqInclusive, seqFlowsOnly, seqInclusive | seqFlowsOnly} {
				if e, ok := s.expect(m, n, flows, nKnown); ok && e == seq {
					s.mode, matched = m, true
					break
				}
			}
			if !matched {
				if e, ok := s.expect(s.mode, n, flows, nKnown); ok {
					res = classify(seq - e)
				}
			}
		}
	}
	s.valid, s.last, s.lastN, s.lastFlows, s.lastKnown = true, seq, n, flows, nKnown
	return res
}

// expect returns the sequence number mode m predicts for the current
// message, and false when it cannot tell.
func (s *seqState) expect(m uint8, n, flows uint32, nKnown bool) (uint32, bool) {
	cur, prev := n, s.lastN
	if m&seqFlowsOnly != 0 {
		cur, prev = flows, s.lastFlows
	}
	if m&seqInclusive != 0 {
		return s.last + cur, nKnown
	}
	return s.last + prev, true
}

func classify(delta uint32) seqResult {
	if delta == 0 {
		return seqResult{}
	}
	if delta > maxSeqLoss {
		return seqResult{reset: true}
	}
	return seqResult{gap: true, lost: delta}
}

// account adds a sequence result to the counters; flows says whether the
// lost units are flow records (v5, IPFIX) or datagrams (v9, sFlow).
func (c *Counters) account(r seqResult, flows bool) {
	switch {
	case r.reset:
		c.SequenceResets.Add(1)
	case r.gap:
		c.SequenceGaps.Add(1)
		if flows {
			c.LostFlows.Add(uint64(r.lost))
		} else {
			c.LostDatagrams.Add(uint64(r.lost))
		}
	}
}
