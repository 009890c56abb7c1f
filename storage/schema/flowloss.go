package schema

// Causes of flow_loss rows (flow_loss.cause). LossSequence rows describe one
// exporter domain; the others are edge-wide drops, counted in the unit
// LossUnit gives.
const (
	// LossSequence: an exporter domain's traffic and the loss its sequence
	// numbers show (gaps, lost flows, lost datagrams) or template misses.
	LossSequence = "sequence"
	// LossQueueFull: datagrams dropped because a decode worker's queue was
	// full (decoding behind the network).
	LossQueueFull = "queue_full"
	// LossReadError: failed socket reads.
	LossReadError = "read_error"
	// LossDecodeError: datagrams that failed to decode (rows decoded
	// before the failure are kept).
	LossDecodeError = "decode_error"
	// LossWriteError: flow rows lost by failed segment writes.
	LossWriteError = "write_error"
	// LossSpoolFull: rows of segments a remote edge's full spool dropped.
	LossSpoolFull = "spool_full"
	// LossRejected: rows of segments the core refused as invalid.
	LossRejected = "rejected"
	// LossQuarantineLost: rows outside the time window that could not be
	// written to the quarantine file.
	LossQuarantineLost = "quarantine_lost"
)

// Units of flow_loss.dropped.
const (
	LossUnitDatagrams = "datagrams"
	LossUnitRows      = "rows"
)

// LossCauses lists the edge-wide causes in the order docs/schema.md shows
// them.
func LossCauses() []string {
	return []string{LossQueueFull, LossReadError, LossDecodeError, LossWriteError, LossSpoolFull, LossRejected, LossQuarantineLost}
}

// LossUnit returns the unit of an edge-wide cause's dropped count
// (datagrams for what is lost before decoding, rows after), "" for
// LossSequence and unknown causes.
func LossUnit(cause string) string {
	switch cause {
	case LossQueueFull, LossReadError, LossDecodeError:
		return LossUnitDatagrams
	case LossWriteError, LossSpoolFull, LossRejected, LossQuarantineLost:
		return LossUnitRows
	}
	return ""
}

// FlowLoss is one row of the `flow_loss` dataset: what one flow collector
// (edge) received from and lost of one exporter domain during one
// interval, or what it dropped itself for one cause. Counts are deltas of
// the interval, never running totals, so sums over any range are right; an
// edge restart starts its counters, and its intervals, afresh. Only
// intervals with activity are written: an exporter domain that sent
// nothing has no row, and neither has a cause with nothing dropped.
type FlowLoss struct {
	Time           int64  `parquet:"time,timestamp(microsecond),delta" unit:"µs since epoch, UTC" doc:"Start of the interval the counts cover." origin:"edge clock (edge.loss_interval boundaries, or the edge's start)"`
	DurationMS     uint32 `parquet:"duration_ms" unit:"ms" doc:"Length of the interval: the counts cover [time, time + duration_ms)." origin:"edge clock"`
	Edge           string `parquet:"edge,dict" doc:"Serial or id of the edge agent that collected the record." origin:"edge configuration"`
	Cause          string `parquet:"cause,dict" unit:"sequence queue_full read_error decode_error write_error spool_full rejected quarantine_lost" doc:"sequence: an exporter domain's traffic and sequence loss; any other value: an edge-wide drop of that cause, counted in dropped (docs/ingest-flow.md)." origin:"edge"`
	Device         string `parquet:"device,dict" doc:"Exporter, as in flows: its configured name, else its address (NetFlow/IPFIX: UDP source; sFlow: agent address); \"\" for edge-wide causes." origin:"UDP source address / sFlow agent address / edge configuration (exporter names)"`
	Format         string `parquet:"format,dict" unit:"netflow5 netflow9 ipfix sflow" doc:"Wire format of the exporter domain; \"\" for edge-wide causes." origin:"header version"`
	Domain         uint32 `parquet:"domain,dict" doc:"Observation domain: v9 source id, IPFIX observation domain id, v5 engine type×256+engine id, sFlow sub-agent id; 0 for edge-wide causes." origin:"v9 header Source ID / IPFIX header Observation Domain ID / v5 engine_type, engine_id / sFlow sub_agent_id"`
	Datagrams      uint64 `parquet:"datagrams" unit:"datagrams" doc:"Datagrams of the domain decoded in the interval." origin:"edge decoder"`
	Flows          uint64 `parquet:"flows" unit:"flows" doc:"Flow records decoded from them." origin:"edge decoder"`
	SequenceGaps   uint64 `parquet:"sequence_gaps" doc:"Datagrams whose sequence number showed loss before them." origin:"v5/IPFIX header sequence (records), v9/sFlow header sequence (datagrams)"`
	LostFlows      uint64 `parquet:"lost_flows" unit:"flows" doc:"Flow records missing according to the sequence numbers (NetFlow v5, IPFIX, which number records)." origin:"v5/IPFIX header sequence"`
	LostDatagrams  uint64 `parquet:"lost_datagrams" unit:"datagrams" doc:"Export datagrams missing according to the sequence numbers (NetFlow v9, sFlow, which number datagrams)." origin:"v9/sFlow header sequence"`
	SequenceResets uint64 `parquet:"sequence_resets" doc:"Sequence numbers that went backwards or jumped too far to be loss (exporter restart, reordering); not counted as loss." origin:"header sequence"`
	TemplateMisses uint64 `parquet:"template_misses" unit:"data sets" doc:"v9/IPFIX data sets skipped because their template was not known yet: their records are lost." origin:"v9/IPFIX set id without template"`
	Dropped        uint64 `parquet:"dropped" doc:"Edge-wide causes: what the edge dropped, in dropped_unit; 0 for sequence rows." origin:"edge counters (/metrics)"`
	DroppedUnit    string `parquet:"dropped_unit,dict" unit:"datagrams rows" doc:"Unit of dropped: datagrams (queue_full, read_error, decode_error) or rows (write_error, spool_full, rejected, quarantine_lost); \"\" for sequence rows." origin:"cause"`
}

// Column names of the flow_loss dataset that code refers to by name.
const (
	LossCause          = "cause"
	LossSequenceGaps   = "sequence_gaps"
	LossLostFlows      = "lost_flows"
	LossLostDatagrams  = "lost_datagrams"
	LossDropped        = "dropped"
	LossDroppedUnit    = "dropped_unit"
	LossTemplateMisses = "template_misses"
)
