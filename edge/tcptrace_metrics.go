package edge

import (
	"github.com/prometheus/client_golang/prometheus"
)

// tcpTraceCollector exports the passive TCP tracer's counters, read at
// scrape time.
type tcpTraceCollector struct {
	t                                     *tcpTracer
	tracked, memory, quota, packets       *prometheus.Desc
	notTraced, kernelDrops, written, rows *prometheus.Desc
}

func newTCPTraceCollector(t *tcpTracer) *tcpTraceCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("flowlake", "edge_tcptrace", name), help, labels, nil)
	}
	return &tcpTraceCollector{
		t:           t,
		tracked:     desc("connections_tracked", "TCP connections in the tracer's table."),
		memory:      desc("memory_used_bytes", "Bytes the tracer counts against its memory quota."),
		quota:       desc("memory_quota_bytes", "The tracer's memory quota."),
		packets:     desc("packets_total", "TCP packets fed to the tracer."),
		notTraced:   desc("packets_not_traced_total", "Frames or packets not traced, by cause.", "cause"),
		kernelDrops: desc("kernel_drops_total", "Frames the kernel dropped on the capture's ring (tp_drops), by interface.", "interface"),
		written:     desc("connections_written_total", "tcp_conns rows produced, by reason (none: no reason, a timeout or open).", "reason"),
		rows:        desc("rows_written_total", "tcp_conns and tcp_packets rows published into the lake or the spool."),
	}
}

// Describe sends the descriptors of every metric Collect emits.
func (c *tcpTraceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.tracked, c.memory, c.quota, c.packets, c.notTraced, c.kernelDrops, c.written, c.rows} {
		ch <- d
	}
}

// Collect reads the counters and emits them as constant metrics.
func (c *tcpTraceCollector) Collect(ch chan<- prometheus.Metric) {
	st, caps := c.t.stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	ch <- prometheus.MustNewConstMetric(c.tracked, prometheus.GaugeValue, float64(st.Tracked))
	ch <- prometheus.MustNewConstMetric(c.memory, prometheus.GaugeValue, float64(st.MemoryUsed))
	ch <- prometheus.MustNewConstMetric(c.quota, prometheus.GaugeValue, float64(c.t.cfg.MemoryQuota))
	counter(c.packets, st.Packets)
	for _, n := range []struct {
		cause string
		v     uint64
	}{{"truncated", st.Truncated}, {"bad_header", st.BadHeader}, {"fragment", st.Fragments}, {"not_tcp", st.NotTCP},
		{"other_decode", st.OtherDecode}, {"not_local", st.NotLocal}, {"filtered", st.Filtered}, {"not_new", st.NotNew},
		{"quota_refused", st.RefusedPackets}} {
		counter(c.notTraced, n.v, n.cause)
	}
	for _, s := range caps {
		counter(c.kernelDrops, s.KernelDrops, s.Interface)
	}
	for r, v := range st.Written {
		if r == "" {
			r = "none"
		}
		counter(c.written, v, r)
	}
	counter(c.rows, c.t.rows.Load())
}
