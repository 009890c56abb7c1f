package reports

import (
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// buildResponse is the application response report, from traced TCP
// connections (tcp_conns) and their packets (tcp_packets): per server
// connections, retransmissions and abnormal closes, round-trip times,
// connection setup times, and closes by reason; "no data" when the period
// has no traces.
func (b *builder) buildResponse() error {
	n, np, err := b.rows(schema.TCPConns, "")
	if err != nil {
		return err
	}
	if n == 0 {
		for id, title := range map[string]string{"servers": "Servers", "setup": "Connection setup", "reasons": "Close reasons"} {
			b.add(id, Section{Title: title, Text: []string{noData("traced TCP connections (tcp_conns)", b.cur)}})
		}
		return nil
	}
	ab, abp, err := b.rows(schema.TCPConns, abnormalFilter)
	if err != nil {
		return err
	}
	if b.wants("servers") {
		s := Section{Title: "Servers"}
		s.Text = []string{"Servers are the traced connections' foreign address and port; the port names the application. " +
			"The smoothed round-trip time comes from the traced packets (device traces); connection setup time is in its own section."}
		s.Figures = []Figure{figure("Traced connections", UnitCount, n, np), figure("Abnormal closes", UnitCount, ab, abp)}
		rtt, rttp, err := b.both(query.Query{Dataset: schema.TCPPackets, Metrics: []string{"p50(srtt)", "p95(srtt)"}})
		if err != nil {
			return err
		}
		if rtt.rows > 0 && !rtt.cols[0].nulls[0] {
			s.Figures = append(s.Figures,
				figure("Median smoothed RTT (ms)", UnitNone, rtt.numOrNaN(0, 0), rttp.numOrNaN(0, 0)),
				figure("95th percentile smoothed RTT (ms)", UnitNone, rtt.numOrNaN(0, 1), rttp.numOrNaN(0, 1)))
		} else {
			s.Text = append(s.Text, noData("traced TCP packets (tcp_packets)", b.cur))
		}
		conns, _, err := b.rankSection("Connections by server", "traced TCP connections", ranking{title: "Connections by server", n: b.def.N,
			dims: []string{"Server", "Port"}, metrics: []Column{{Name: "Connections", Kind: ColInt, Unit: UnitCount},
				{Name: "Retransmitted packets", Kind: ColInt, Unit: UnitPackets}, {Name: "Dropped packets", Kind: ColInt, Unit: UnitPackets}},
			q: query.Query{Dataset: schema.TCPConns, GroupBy: []string{"foreign_addr", "foreign_port"},
				Metrics: []string{"count()", "sum(retrans_packets)", "sum(in_dropped)"}}})
		if err != nil {
			return err
		}
		abn, _, err := b.rankSection("Abnormal closes by server", "abnormal TCP closes", ranking{title: "Abnormal closes by server", n: b.def.N,
			dims: []string{"Server", "Port"}, metrics: []Column{{Name: "Abnormal closes", Kind: ColInt, Unit: UnitCount}},
			q: query.Query{Dataset: schema.TCPConns, Filter: abnormalFilter, GroupBy: []string{"foreign_addr", "foreign_port"}, Metrics: []string{"count()"}}})
		if err != nil {
			return err
		}
		s.Tables = append(s.Tables, conns.Tables...)
		s.Tables = append(s.Tables, abn.Tables...)
		s.Text = append(s.Text, abn.Text...)
		s.Charts = conns.Charts
		b.add("servers", s)
	}
	if b.wants("setup") {
		s, err := b.setupSection()
		if err != nil {
			return err
		}
		b.add("setup", s)
	}
	if b.wants("reasons") {
		s, _, err := b.rankSection("Close reasons", "traced TCP connections", ranking{title: "Closes by reason", n: b.def.N,
			dims: []string{"Reason"}, metrics: []Column{{Name: "Closes", Kind: ColInt, Unit: UnitCount}},
			q: query.Query{Dataset: schema.TCPConns, GroupBy: []string{"reason"}, Metrics: []string{"count()"}}})
		if err != nil {
			return err
		}
		s.Text = append(s.Text, "Reasons: PN peer normal close, AN application normal close, RR received reset, SR sent reset, AA application abnormal close, KT keepalive timeout, PT persist timeout, RT retransmit timeout, BD backup drop.")
		b.add("reasons", s)
	}
	return nil
}

// setupFilter selects connections whose setup time is known: passively
// traced ones whose SYN and handshake were both seen.
const setupFilter = "setup_time > 0"

// setupMetrics are the setup-time figures, in µs as tcp_conns.setup_time
// stores them; the report prints seconds (usPerSecond).
var setupMetrics = []string{"p50(setup_time)", "p95(setup_time)"}

const usPerSecond = 1e6

// setupSection is connection setup time (tcp_conns.setup_time =
// connected_at - opened_at, SYN to the handshake's last ACK): its median
// and 95th percentile over all connections and per server, slowest
// median first, all computed by the engine.
func (b *builder) setupSection() (Section, error) {
	s := Section{Title: "Connection setup"}
	cur, prev, err := b.both(query.Query{Dataset: schema.TCPConns, Filter: setupFilter, Metrics: append([]string{"count()"}, setupMetrics...)})
	if err != nil {
		return s, err
	}
	if cur.num(0, 0) == 0 {
		s.Text = []string{noData("connections with a traced handshake (tcp_conns.setup_time: passive capture that saw the SYN)", b.cur)}
		return s, nil
	}
	s.Text = []string{"Setup time is from a connection's first SYN to the acknowledgement that completed its handshake, as the passive tracer saw them on the wire " +
		"(tcp_conns.setup_time = connected_at - opened_at); device traces do not print when a connection was opened and are not counted here."}
	s.Figures = []Figure{
		figure("Connections with a setup time", UnitCount, cur.num(0, 0), prev.num(0, 0)),
		figure("Median setup time", UnitSeconds, cur.numOrNaN(0, 1)/usPerSecond, prev.numOrNaN(0, 1)/usPerSecond),
		figure("95th percentile setup time", UnitSeconds, cur.numOrNaN(0, 2)/usPerSecond, prev.numOrNaN(0, 2)/usPerSecond),
	}
	r, _, err := b.rankSection("", "connections with a setup time", ranking{title: "Setup time by server", n: b.def.N,
		dims: []string{"Server", "Port"}, metrics: []Column{{Name: "Median setup", Kind: ColFloat, Unit: UnitSeconds},
			{Name: "95th percentile setup", Kind: ColFloat, Unit: UnitSeconds}, {Name: "Connections", Kind: ColInt, Unit: UnitCount}},
		q: query.Query{Dataset: schema.TCPConns, Filter: setupFilter, GroupBy: []string{"foreign_addr", "foreign_port"},
			Metrics: append(append([]string{}, setupMetrics...), "count()")}})
	if err != nil {
		return s, err
	}
	// The engine answers in µs; the table and chart print seconds. Both
	// setup columns and the previous median are scaled, nothing else.
	for _, t := range r.Tables {
		for c, col := range t.Columns {
			if col.Unit != UnitSeconds {
				continue
			}
			for _, row := range t.Rows {
				row[c].Num /= usPerSecond
			}
		}
	}
	for _, ch := range r.Charts {
		for i := range ch.Series {
			for j := range ch.Series[i].Values {
				ch.Series[i].Values[j] /= usPerSecond
			}
		}
	}
	s.Tables, s.Charts = r.Tables, r.Charts
	s.Text = append(s.Text, r.Text...)
	return s, nil
}
