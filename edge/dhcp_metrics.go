package edge

import (
	"github.com/prometheus/client_golang/prometheus"
)

// dhcpCollector exports DHCP snooping's counters, read at scrape time.
type dhcpCollector struct {
	d                                      *dhcpSnoop
	frames, drops, decoded, rejected, rows *prometheus.Desc
	quarantined, bindings, ended, raised   *prometheus.Desc
	active, poolUse                        *prometheus.Desc
	leaseRows, leaseOutOfOrder             *prometheus.Desc
}

func newDHCPCollector(d *dhcpSnoop) *dhcpCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("flowlake", "edge_dhcp", name), help, labels, nil)
	}
	return &dhcpCollector{
		d:           d,
		frames:      desc("frames_total", "Frames the DHCP capture handed over, by interface.", "interface"),
		drops:       desc("drops_total", "DHCP frames lost, by cause: kernel (capture ring full, tp_drops) or queue (worker behind).", "cause"),
		decoded:     desc("messages_decoded_total", "DHCP messages decoded into dhcp_events rows."),
		rejected:    desc("messages_rejected_total", "Malformed DHCP messages, by reason (kept raw in the DHCP quarantine file).", "reason"),
		rows:        desc("rows_written_total", "dhcp_events rows published into the lake or the spool."),
		quarantined: desc("quarantine_total", "Malformed DHCP messages by outcome: written to the quarantine file or lost.", "outcome"),
		bindings:    desc("bindings", "Bindings in the DHCP binding table."),
		ended:       desc("bindings_ended_total", "Bindings ended, by reason.", "reason"),
		raised:      desc("signals_total", "DHCP signals raised, by signal.", "signal"),
		active:      desc("signal_active", "1 while a rate signal is raised, by signal and interface.", "signal", "interface"),
		poolUse:     desc("pool_use_ratio", "Share of a watched pool's addresses bound, by subnet.", "subnet"),
		leaseRows:   desc("lease_rows_total", "dhcp_leases rows (the lease history), by outcome: written into the lake or the spool, or lost.", "outcome"),
		leaseOutOfOrder: desc("lease_out_of_order_total",
			"DHCP events the lease history left out as older than one it had already taken (still dhcp_events rows)."),
	}
}

// Describe sends the descriptors of every metric Collect emits.
func (c *dhcpCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.frames, c.drops, c.decoded, c.rejected, c.rows, c.quarantined, c.bindings, c.ended, c.raised, c.active, c.poolUse, c.leaseRows, c.leaseOutOfOrder} {
		ch <- d
	}
}

// Collect reads the counters and emits them as constant metrics.
func (c *dhcpCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.d.status()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, s := range st.Capture {
		counter(c.frames, s.Packets, s.Interface)
	}
	counter(c.drops, st.KernelDrops, "kernel")
	counter(c.drops, st.QueueDrops, "queue")
	counter(c.decoded, st.Decoded)
	for k, v := range st.Rejected {
		counter(c.rejected, v, k)
	}
	counter(c.rows, st.RowsWritten)
	counter(c.quarantined, st.Quarantined, "written")
	counter(c.quarantined, st.QuarantineLost, "lost")
	counter(c.leaseRows, st.LeaseRowsWritten, "written")
	counter(c.leaseRows, st.LeaseRowsLost, "lost")
	counter(c.leaseOutOfOrder, st.LeaseOutOfOrder)
	gauge(c.bindings, float64(st.Bindings))
	for k, v := range st.BindingsEnded {
		counter(c.ended, v, k)
	}
	for k, v := range st.SignalsRaised {
		counter(c.raised, v, k)
	}
	for _, s := range st.Signals {
		if s.Subnet != "" {
			gauge(c.poolUse, s.Use/100, s.Subnet)
			continue
		}
		v := 0.0
		if s.Active {
			v = 1
		}
		gauge(c.active, v, s.Signal, s.Interface)
	}
}
