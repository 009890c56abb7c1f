package lake

import "github.com/prometheus/client_golang/prometheus"

// metrics are the lake's Prometheus instruments. They are registered by the
// caller (Lake.Collectors), never on a global registry.
type metrics struct {
	segmentsWritten *prometheus.CounterVec
	rowsWritten     *prometheus.CounterVec
	bytesWritten    *prometheus.CounterVec
	unreadable      prometheus.Gauge
	compactedFiles  *prometheus.CounterVec
	compactedRows   *prometheus.CounterVec
	retainedFiles   *prometheus.CounterVec
	retainedRows    *prometheus.CounterVec
	retainedBytes   *prometheus.CounterVec
	rowsRefused     *prometheus.CounterVec
	deferredDeletes *prometheus.CounterVec
}

func newMetrics() *metrics {
	byDataset := []string{"dataset"}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "flowlake", Subsystem: "lake", Name: name, Help: help}, byDataset)
	}
	return &metrics{
		segmentsWritten: counter("segments_written_total", "Segments published by this process."),
		rowsWritten:     counter("rows_written_total", "Rows published by this process."),
		bytesWritten:    counter("bytes_written_total", "Bytes of segments published by this process."),
		unreadable: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "flowlake", Subsystem: "lake", Name: "unreadable_files",
			Help: "Files the catalog skips because they are corrupt or foreign."}),
		compactedFiles: counter("compacted_files_total", "Input segments merged away by compaction."),
		compactedRows:  counter("compacted_rows_total", "Rows rewritten by compaction."),
		retainedFiles:  counter("retention_deleted_files_total", "Segments deleted by retention."),
		retainedRows:   counter("retention_deleted_rows_total", "Rows deleted by retention."),
		retainedBytes:  counter("retention_deleted_bytes_total", "Bytes deleted by retention."),
		rowsRefused:    counter("rows_refused_total", "Rows refused because their time is outside years 1970 to 9999."),
		deferredDeletes: counter("replaced_files_deleted_total",
			"Files replaced by compaction, deleted once the grace period for readers had passed."),
	}
}

// Collectors returns the lake's metrics for registration on a registry.
func (l *Lake) Collectors() []prometheus.Collector {
	m := l.metrics
	return []prometheus.Collector{m.segmentsWritten, m.rowsWritten, m.bytesWritten, m.unreadable,
		m.compactedFiles, m.compactedRows, m.retainedFiles, m.retainedRows, m.retainedBytes, m.rowsRefused, m.deferredDeletes}
}
