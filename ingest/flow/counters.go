package flow

import "sync/atomic"

// Format identifies the wire format of a datagram.
type Format uint8

// The formats Decoder understands.
const (
	FormatNetFlowV5 Format = iota
	FormatNetFlowV9
	FormatIPFIX
	FormatSFlow
	numFormats
)

// String returns the format's short name as used in metrics labels.
func (f Format) String() string {
	switch f {
	case FormatNetFlowV5:
		return "netflow5"
	case FormatNetFlowV9:
		return "netflow9"
	case FormatIPFIX:
		return "ipfix"
	case FormatSFlow:
		return "sflow"
	}
	return "unknown"
}

// ErrKind classifies decode errors for counting.
type ErrKind uint8

// The kinds of decode error. Each failed datagram is counted under exactly one.
const (
	// ErrUnknownVersion: the datagram is not NetFlow v5/v9, IPFIX or sFlow v5.
	ErrUnknownVersion ErrKind = iota
	// ErrTruncated: a header, set, sample or record is shorter than declared.
	ErrTruncated
	// ErrBadLength: a length or count field is impossible (too small, too many).
	ErrBadLength
	// ErrBadTemplate: a template or options template is malformed.
	ErrBadTemplate
	// ErrBadSample: an sFlow sample or record is malformed.
	ErrBadSample
	// ErrLimit: a configured limit (exporters, templates) would be exceeded.
	ErrLimit
	numErrKinds
)

// String returns the kind's short name as used in metrics labels.
func (k ErrKind) String() string {
	switch k {
	case ErrUnknownVersion:
		return "unknown_version"
	case ErrTruncated:
		return "truncated"
	case ErrBadLength:
		return "bad_length"
	case ErrBadTemplate:
		return "bad_template"
	case ErrBadSample:
		return "bad_sample"
	case ErrLimit:
		return "limit"
	}
	return "unknown"
}

// Counters account for everything a Decoder sees, so nothing is dropped
// without being counted. All fields are updated atomically and may be read
// at any time (for /metrics); Snapshot copies them.
type Counters struct {
	// Datagrams received per format (including ones that fail to decode);
	// datagrams of no known format count only in Errors[ErrUnknownVersion].
	Datagrams [numFormats]atomic.Uint64
	// Flows appended to batches' Rows per format (quarantined rows are
	// counted in TimeQuarantined instead).
	Flows [numFormats]atomic.Uint64
	// Errors counts datagrams that failed, by kind. Rows decoded from the
	// datagram before the failure are kept (and counted in Flows).
	Errors [numErrKinds]atomic.Uint64
	// TemplatesLearned counts template and options-template records stored
	// (a re-sent identical template counts again).
	TemplatesLearned atomic.Uint64
	// TemplatesWithdrawn counts IPFIX template withdrawals applied.
	TemplatesWithdrawn atomic.Uint64
	// TemplateMisses counts data sets skipped because their template is not
	// (yet) known; TemplateMissBytes their size. Their records are lost.
	TemplateMisses    atomic.Uint64
	TemplateMissBytes atomic.Uint64
	// OptionRecords counts options data records read (sampling rates etc.).
	OptionRecords atomic.Uint64
	// SetsSkipped counts v9/IPFIX sets with a reserved id (2–255 / 4–255).
	SetsSkipped atomic.Uint64
	// SequenceGaps counts datagrams whose sequence number shows loss before
	// them; LostFlows the records (v5, IPFIX) and LostDatagrams the export
	// packets (v9, sFlow) missing according to the sequence numbers.
	SequenceGaps  atomic.Uint64
	LostFlows     atomic.Uint64
	LostDatagrams atomic.Uint64
	// SequenceResets counts sequence numbers that went backwards or jumped
	// too far to be loss (exporter restart, reordering); not counted as loss.
	SequenceResets atomic.Uint64
	// SFlowCounterSamples counts sFlow counter samples (interface counters,
	// not flows; read past by design).
	SFlowCounterSamples atomic.Uint64
	// SFlowDiscardSamples counts sFlow discarded-packet samples (format 5),
	// read past by design.
	SFlowDiscardSamples atomic.Uint64
	// SFlowSkippedSamples counts samples of enterprise or format unknown to
	// the decoder, read past.
	SFlowSkippedSamples atomic.Uint64
	// SFlowUnparsedHeaders counts flow samples whose sampled header was not
	// Ethernet/IPv4/IPv6 or too short for an IP header; the row keeps the
	// fields the sample's other records gave.
	SFlowUnparsedHeaders atomic.Uint64
	// TimeQuarantined counts rows whose time was outside the window around
	// their receipt (Config.MaxPast/MaxFuture): set aside in
	// Batch.Quarantined, not counted in Flows.
	TimeQuarantined atomic.Uint64
	// SamplingUnknown counts rows whose exporter samples but whose rate was
	// not known when they were decoded (the record names a sampler whose
	// option data has not arrived, or the domain announced sampling
	// options without data yet) and no rule applied: they carry
	// sampling_rate 0 and uncorrected bytes and packets.
	SamplingUnknown atomic.Uint64
	// SamplingRulesShadowed counts exporter domains where a fallback
	// (unforced) sampling rule matched but the exporter reports its own
	// rate, so the rule does not apply (once per domain).
	SamplingRulesShadowed atomic.Uint64
	// TunnelRecords counts records that described an outer and an inner
	// IP header (IP-in-IP templates, tunnelled sampled frames): their rows
	// hold the inner header's addresses, ports and protocol.
	TunnelRecords atomic.Uint64
	// FrameSections counts IPFIX records whose addresses, ports and
	// protocol came from a sampled frame (IE 315 dataLinkFrameSection);
	// FrameUnparsed those whose frame held no IP header we could read (the
	// row keeps the fields the record's other elements gave).
	FrameSections atomic.Uint64
	FrameUnparsed atomic.Uint64
}

// CountersSnapshot is a plain copy of Counters, keyed by label names.
type CountersSnapshot struct {
	Datagrams             map[string]uint64
	Flows                 map[string]uint64
	Errors                map[string]uint64
	TemplatesLearned      uint64
	TemplatesWithdrawn    uint64
	TemplateMisses        uint64
	TemplateMissBytes     uint64
	OptionRecords         uint64
	SetsSkipped           uint64
	SequenceGaps          uint64
	LostFlows             uint64
	LostDatagrams         uint64
	SequenceResets        uint64
	SFlowCounterSamples   uint64
	SFlowDiscardSamples   uint64
	SFlowSkippedSamples   uint64
	SFlowUnparsedHeaders  uint64
	TimeQuarantined       uint64
	SamplingUnknown       uint64
	SamplingRulesShadowed uint64
	TunnelRecords         uint64
	FrameSections         uint64
	FrameUnparsed         uint64
}

// Snapshot copies the counters. Values are read one by one, so a snapshot
// taken during decoding may mix moments; each value is exact.
func (c *Counters) Snapshot() CountersSnapshot {
	s := CountersSnapshot{
		Datagrams:             map[string]uint64{},
		Flows:                 map[string]uint64{},
		Errors:                map[string]uint64{},
		TemplatesLearned:      c.TemplatesLearned.Load(),
		TemplatesWithdrawn:    c.TemplatesWithdrawn.Load(),
		TemplateMisses:        c.TemplateMisses.Load(),
		TemplateMissBytes:     c.TemplateMissBytes.Load(),
		OptionRecords:         c.OptionRecords.Load(),
		SetsSkipped:           c.SetsSkipped.Load(),
		SequenceGaps:          c.SequenceGaps.Load(),
		LostFlows:             c.LostFlows.Load(),
		LostDatagrams:         c.LostDatagrams.Load(),
		SequenceResets:        c.SequenceResets.Load(),
		SFlowCounterSamples:   c.SFlowCounterSamples.Load(),
		SFlowDiscardSamples:   c.SFlowDiscardSamples.Load(),
		SFlowSkippedSamples:   c.SFlowSkippedSamples.Load(),
		SFlowUnparsedHeaders:  c.SFlowUnparsedHeaders.Load(),
		TimeQuarantined:       c.TimeQuarantined.Load(),
		SamplingUnknown:       c.SamplingUnknown.Load(),
		SamplingRulesShadowed: c.SamplingRulesShadowed.Load(),
		TunnelRecords:         c.TunnelRecords.Load(),
		FrameSections:         c.FrameSections.Load(),
		FrameUnparsed:         c.FrameUnparsed.Load(),
	}
	for f := range numFormats {
		s.Datagrams[f.String()] = c.Datagrams[f].Load()
		s.Flows[f.String()] = c.Flows[f].Load()
	}
	for k := range numErrKinds {
		s.Errors[k.String()] = c.Errors[k].Load()
	}
	return s
}

// TotalFlows returns the flows decoded across formats.
func (s CountersSnapshot) TotalFlows() uint64 {
	var n uint64
	for _, v := range s.Flows {
		n += v
	}
	return n
}

// TotalErrors returns the failed datagrams across kinds.
func (s CountersSnapshot) TotalErrors() uint64 {
	var n uint64
	for _, v := range s.Errors {
		n += v
	}
	return n
}
