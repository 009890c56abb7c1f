package edge

import "github.com/prometheus/client_golang/prometheus"

// dropCollector exports the drop folder's counters.
type dropCollector struct {
	d                                   *dropWatcher
	files, failed, rows, unknown, known *prometheus.Desc
}

func newDropCollector(d *dropWatcher) *dropCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("flowlake", "edge_drop", name), help, labels, nil)
	}
	return &dropCollector{d: d,
		files:   desc("files_total", "Files taken from the drop folder, by result (done, failed).", "result"),
		failed:  desc("files_failed_total", "Files moved to failed/, by cause.", "cause"),
		rows:    desc("rows_written_total", "Rows written from dropped files, by dataset.", "dataset"),
		unknown: desc("lines_unknown_total", "Lines of dropped files that were no display output, kept out of the rows."),
		known:   desc("connections_already_imported_total", "Traced connections of dropped files left out, with their packets, because the edge stored their trace_id already."),
	}
}

// Describe sends the descriptors of every metric Collect emits.
func (c *dropCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.files, c.failed, c.rows, c.unknown, c.known} {
		ch <- d
	}
}

// Collect reads the counters and emits them as constant metrics.
func (c *dropCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.d.status()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.files, st.Done, "done")
	counter(c.files, st.Failed, "failed")
	for _, cause := range dropCauses {
		counter(c.failed, st.FailedBy[cause], cause)
	}
	for _, ds := range []string{"tcp_conns", "tcp_packets", "cloud_conn"} {
		counter(c.rows, st.Rows[ds], ds)
	}
	counter(c.unknown, st.LinesUnknown)
	counter(c.known, st.ConnsKnown)
}
