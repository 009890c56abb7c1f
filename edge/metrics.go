package edge

import (
	"context"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowlake/flowlake/ingest/flow"
)

// Stats counts what the edge itself does with datagrams and rows (the
// decoder counts what is inside the datagrams: flow.Counters).
type Stats struct {
	// Received counts datagrams read from the sockets.
	Received atomic.Uint64
	// QueueDrops counts datagrams dropped because their worker's queue was
	// full (decoding falls behind the network).
	QueueDrops atomic.Uint64
	// BatchWaits counts the times a decode worker found every batch in use
	// (the writer behind) and waited for one; meanwhile its queue absorbs
	// datagrams, and drops beyond it count in QueueDrops.
	BatchWaits atomic.Uint64
	// CommitWaits counts the times the writer found the most encoded
	// segments allowed waiting to be published (storage slower than
	// encoding: fsync stalls) and waited; meanwhile decode workers may wait
	// for batches (BatchWaits).
	CommitWaits atomic.Uint64
	// ReadErrors counts failed socket reads.
	ReadErrors atomic.Uint64
	// RestartDrained counts datagrams read, at a receiver restart, from
	// the queue of a socket being replaced, before it closed (they are in
	// Received too; without this read they would be lost with it).
	RestartDrained atomic.Uint64
	// RowsWritten and Segments count what reached the lake.
	RowsWritten atomic.Uint64
	Segments    atomic.Uint64
	// WriteErrors counts failed lake writes; RowsLost the rows they lost.
	WriteErrors atomic.Uint64
	RowsLost    atomic.Uint64
	// TemplateSaveErrors counts failed template snapshot writes or reads.
	TemplateSaveErrors atomic.Uint64
	// SpoolDroppedSegments and SpoolDroppedRows count what the spool quota
	// dropped, oldest first (remote mode).
	SpoolDroppedSegments atomic.Uint64
	SpoolDroppedRows     atomic.Uint64
	// SegmentsShipped, RowsShipped and BytesShipped count what the core
	// acknowledged (remote mode).
	SegmentsShipped atomic.Uint64
	RowsShipped     atomic.Uint64
	BytesShipped    atomic.Uint64
	// SegmentsRejected and RowsRejected count segments the core refused as
	// invalid; they are set aside in the spool's _rejected folder.
	SegmentsRejected atomic.Uint64
	RowsRejected     atomic.Uint64
	// UploadFailures counts failed uploads that will be retried (core
	// down, network, authentication, server errors).
	UploadFailures atomic.Uint64
	// QuarantineRows counts rows outside the decoder's time window written
	// to the quarantine file; QuarantineLost those that could not be
	// (no file configured, write errors); QuarantineRotations the times
	// the file reached quarantine_max_bytes and was rotated.
	QuarantineRows      atomic.Uint64
	QuarantineLost      atomic.Uint64
	QuarantineRotations atomic.Uint64
	// LossRowsWritten counts flow_loss rows published (the lake, or the
	// spool); LossRowsLost those failed writes lost.
	LossRowsWritten atomic.Uint64
	LossRowsLost    atomic.Uint64
}

// StatsSnapshot is a plain copy of Stats.
type StatsSnapshot struct {
	Received, QueueDrops, BatchWaits, CommitWaits, ReadErrors, RowsWritten, Segments, WriteErrors, RowsLost, TemplateSaveErrors uint64
	RestartDrained                                                                                                              uint64
	SpoolDroppedSegments, SpoolDroppedRows, SegmentsShipped, RowsShipped, BytesShipped                                          uint64
	SegmentsRejected, RowsRejected, UploadFailures                                                                              uint64
	QuarantineRows, QuarantineLost, QuarantineRotations                                                                         uint64
	LossRowsWritten, LossRowsLost                                                                                               uint64
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{
		Received: s.Received.Load(), QueueDrops: s.QueueDrops.Load(), BatchWaits: s.BatchWaits.Load(), CommitWaits: s.CommitWaits.Load(), ReadErrors: s.ReadErrors.Load(),
		RestartDrained: s.RestartDrained.Load(),
		RowsWritten:    s.RowsWritten.Load(), Segments: s.Segments.Load(), WriteErrors: s.WriteErrors.Load(),
		RowsLost: s.RowsLost.Load(), TemplateSaveErrors: s.TemplateSaveErrors.Load(),
		SpoolDroppedSegments: s.SpoolDroppedSegments.Load(), SpoolDroppedRows: s.SpoolDroppedRows.Load(),
		SegmentsShipped: s.SegmentsShipped.Load(), RowsShipped: s.RowsShipped.Load(), BytesShipped: s.BytesShipped.Load(),
		SegmentsRejected: s.SegmentsRejected.Load(), RowsRejected: s.RowsRejected.Load(), UploadFailures: s.UploadFailures.Load(),
		QuarantineRows: s.QuarantineRows.Load(), QuarantineLost: s.QuarantineLost.Load(), QuarantineRotations: s.QuarantineRotations.Load(),
		LossRowsWritten: s.LossRowsWritten.Load(), LossRowsLost: s.LossRowsLost.Load(),
	}
}

// Stats returns the edge's counters.
func (e *Edge) Stats() *Stats { return &e.stats }

// Collectors returns the edge's and its decoder's metrics for registration
// on a registry (never a global one). Values are read at scrape time from
// the counters, so nothing is instrumented twice.
func (e *Edge) Collectors() []prometheus.Collector {
	cs := []prometheus.Collector{newCollector(e)}
	if e.dhcp != nil {
		cs = append(cs, newDHCPCollector(e.dhcp))
	}
	if e.tcpTrace != nil {
		cs = append(cs, newTCPTraceCollector(e.tcpTrace))
	}
	if e.drop != nil {
		cs = append(cs, newDropCollector(e.drop))
	}
	return cs
}

// collector exports Stats and the decoder's Counters.
type collector struct {
	e                                               *Edge
	received, queueDrops, readErrors, rowsWritten   *prometheus.Desc
	batchWaits, commitWaits, restartDrained         *prometheus.Desc
	segments, writeErrors, rowsLost, templateErrors *prometheus.Desc
	datagrams, flows, decodeErrors, decoderEvents   *prometheus.Desc
	spoolDropped, spoolDroppedRows, shipped         *prometheus.Desc
	rowsShipped, bytesShipped, rejected, rowsRej    *prometheus.Desc
	uploadFailures, spoolBytes, spoolSegments       *prometheus.Desc
	quarantined, lossRows                           *prometheus.Desc
}

func newCollector(e *Edge) *collector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("flowlake", "edge", name), help, labels, nil)
	}
	return &collector{
		e:              e,
		received:       desc("datagrams_received_total", "Datagrams read from the flow sockets."),
		queueDrops:     desc("queue_drops_total", "Datagrams dropped because a decode worker's queue was full."),
		readErrors:     desc("read_errors_total", "Failed socket reads."),
		restartDrained: desc("restart_drained_datagrams_total", "Datagrams read at a receiver restart from the queue of a socket being replaced, before it closed (in datagrams_received_total too)."),
		batchWaits:     desc("batch_waits_total", "Times a decode worker waited for a free batch because the writer was behind."),
		commitWaits:    desc("commit_waits_total", "Times the writer waited because too many encoded segments were waiting to be published (storage behind)."),
		rowsWritten:    desc("rows_written_total", "Flow rows published into the lake."),
		segments:       desc("segments_written_total", "Segments published into the lake."),
		writeErrors:    desc("write_errors_total", "Failed lake writes."),
		rowsLost:       desc("rows_lost_total", "Rows lost by failed lake writes."),
		templateErrors: desc("template_save_errors_total", "Failed template snapshot saves or restores."),
		datagrams:      desc("flow_datagrams_total", "Datagrams decoded, by format.", "format"),
		flows:          desc("flows_total", "Flow rows decoded, by format.", "format"),
		decodeErrors:   desc("decode_errors_total", "Datagrams that failed to decode, by kind.", "kind"),
		decoderEvents:  desc("decoder_events_total", "Decoder events: templates, misses, sequence loss, skipped samples.", "event"),

		spoolDropped:     desc("spool_dropped_segments_total", "Segments the full spool dropped, oldest first."),
		spoolDroppedRows: desc("spool_dropped_rows_total", "Rows in segments the full spool dropped."),
		shipped:          desc("segments_shipped_total", "Segments the core acknowledged."),
		rowsShipped:      desc("rows_shipped_total", "Rows in segments the core acknowledged."),
		bytesShipped:     desc("bytes_shipped_total", "Bytes of segments the core acknowledged."),
		rejected:         desc("segments_rejected_total", "Segments the core refused as invalid (set aside in the spool)."),
		rowsRej:          desc("rows_rejected_total", "Rows in segments the core refused."),
		uploadFailures:   desc("upload_failures_total", "Failed uploads, retried with backoff."),
		spoolBytes:       desc("spool_bytes", "Bytes of segments waiting in the spool."),
		spoolSegments:    desc("spool_segments", "Segments waiting in the spool."),
		lossRows:         desc("flow_loss_rows_total", "flow_loss rows (the edge's record of its own loss), by outcome: written (into the lake or the spool) or lost (failed writes).", "outcome"),
		quarantined:      desc("quarantine_rows_total", "Rows outside the time window around their receipt, by outcome: written to the quarantine file or lost (no file, write error).", "outcome"),
	}
}

// Describe sends the descriptors of every metric Collect emits.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.received, c.queueDrops, c.batchWaits, c.commitWaits, c.readErrors, c.restartDrained, c.rowsWritten, c.segments,
		c.writeErrors, c.rowsLost, c.templateErrors, c.datagrams, c.flows, c.decodeErrors, c.decoderEvents,
		c.spoolDropped, c.spoolDroppedRows, c.shipped, c.rowsShipped, c.bytesShipped, c.rejected, c.rowsRej,
		c.uploadFailures, c.spoolBytes, c.spoolSegments, c.quarantined, c.lossRows} {
		ch <- d
	}
}

// Collect reads the counters and emits them as constant metrics.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.e.stats.Snapshot()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.received, s.Received)
	counter(c.queueDrops, s.QueueDrops)
	counter(c.batchWaits, s.BatchWaits)
	counter(c.commitWaits, s.CommitWaits)
	counter(c.readErrors, s.ReadErrors)
	counter(c.restartDrained, s.RestartDrained)
	counter(c.rowsWritten, s.RowsWritten)
	counter(c.segments, s.Segments)
	counter(c.writeErrors, s.WriteErrors)
	counter(c.rowsLost, s.RowsLost)
	counter(c.templateErrors, s.TemplateSaveErrors)
	counter(c.quarantined, s.QuarantineRows, "written")
	counter(c.quarantined, s.QuarantineLost, "lost")
	counter(c.lossRows, s.LossRowsWritten, "written")
	counter(c.lossRows, s.LossRowsLost, "lost")
	if sp := c.e.spool; sp != nil {
		counter(c.spoolDropped, s.SpoolDroppedSegments)
		counter(c.spoolDroppedRows, s.SpoolDroppedRows)
		counter(c.shipped, s.SegmentsShipped)
		counter(c.rowsShipped, s.RowsShipped)
		counter(c.bytesShipped, s.BytesShipped)
		counter(c.rejected, s.SegmentsRejected)
		counter(c.rowsRej, s.RowsRejected)
		counter(c.uploadFailures, s.UploadFailures)
		if n, b, err := sp.usage(context.Background()); err == nil {
			ch <- prometheus.MustNewConstMetric(c.spoolBytes, prometheus.GaugeValue, float64(b))
			ch <- prometheus.MustNewConstMetric(c.spoolSegments, prometheus.GaugeValue, float64(n))
		}
	}
	d := c.e.dec.Counters().Snapshot()
	for k, v := range d.Datagrams {
		counter(c.datagrams, v, k)
	}
	for k, v := range d.Flows {
		counter(c.flows, v, k)
	}
	for k, v := range d.Errors {
		counter(c.decodeErrors, v, k)
	}
	for k, v := range decoderEvents(d) {
		counter(c.decoderEvents, v, k)
	}
}

func decoderEvents(d flow.CountersSnapshot) map[string]uint64 {
	return map[string]uint64{
		"templates_learned": d.TemplatesLearned, "templates_withdrawn": d.TemplatesWithdrawn,
		"template_misses": d.TemplateMisses, "template_miss_bytes": d.TemplateMissBytes,
		"option_records": d.OptionRecords, "sets_skipped": d.SetsSkipped,
		"sequence_gaps": d.SequenceGaps, "lost_flows": d.LostFlows, "lost_datagrams": d.LostDatagrams,
		"sequence_resets": d.SequenceResets, "sflow_counter_samples": d.SFlowCounterSamples,
		"sflow_discard_samples": d.SFlowDiscardSamples, "sflow_skipped_samples": d.SFlowSkippedSamples,
		"sflow_unparsed_headers": d.SFlowUnparsedHeaders,
		"time_quarantined":       d.TimeQuarantined, "sampling_unknown": d.SamplingUnknown,
		"sampling_rules_shadowed": d.SamplingRulesShadowed, "tunnel_records": d.TunnelRecords,
		"frame_sections": d.FrameSections, "frame_unparsed": d.FrameUnparsed,
	}
}
