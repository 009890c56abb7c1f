package reports

import (
	"strconv"
	"time"

	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// abnormalFilter selects tcp_conns closes other than the two normal ones
// (peer and application normal close).
const abnormalFilter = "not reason in [PN AN]"

// rows counts a dataset's rows (matching filter) in the period and the
// previous one.
func (b *builder) rows(dataset, filter string) (cur, prev float64, err error) {
	c, p, err := b.both(query.Query{Dataset: dataset, Filter: filter, Metrics: []string{"count()"}})
	if err != nil {
		return 0, 0, err
	}
	return c.num(0, 0), p.num(0, 0), nil
}

// buildFaults is the fault statistics report: abnormal TCP closes by reason,
// cloud connection downs by reason, DHCP NAKs, declines and rogue servers,
// and flow loss (flowloss.go).
func (b *builder) buildFaults() error {
	if b.wants("tcp") {
		n, np, err := b.rows(schema.TCPConns, abnormalFilter)
		if err != nil {
			return err
		}
		all, _, err := b.rows(schema.TCPConns, "")
		if err != nil {
			return err
		}
		s := Section{Title: "Abnormal TCP closes", Figures: []Figure{figure("Abnormal closes", UnitCount, n, np)}}
		if all == 0 {
			s.Text = []string{noData("traced TCP connections (tcp_conns)", b.cur)}
		} else {
			rs, _, err := b.rankSection("", "abnormal TCP closes", ranking{title: "Abnormal closes by reason", n: b.def.N,
				dims: []string{"Reason"}, metrics: []Column{{Name: "Closes", Kind: ColInt, Unit: UnitCount}},
				q: query.Query{Dataset: schema.TCPConns, Filter: abnormalFilter, GroupBy: []string{"reason"}, Metrics: []string{"count()"}}})
			if err != nil {
				return err
			}
			s.Text, s.Tables, s.Charts = rs.Text, rs.Tables, rs.Charts
		}
		b.add("tcp", s)
	}
	if b.wants("cloud") {
		s, err := b.cloudDowns()
		if err != nil {
			return err
		}
		b.add("cloud", s)
	}
	if b.wants("dhcp") {
		s, err := b.dhcpFaults()
		if err != nil {
			return err
		}
		b.add("dhcp", s)
	}
	if b.wants("flowloss") {
		s, err := b.flowLoss()
		if err != nil {
			return err
		}
		b.add("flowloss", s)
	}
	return nil
}

// downFilter selects cloud_conn samples whose last down happened in p: a
// down is reported by every sample after it, so counting distinct down
// times within the period counts each down once.
func downFilter(p Period) string {
	return "last_down_at >= " + p.From.UTC().Format(time.RFC3339Nano) + " and last_down_at < " + p.To.UTC().Format(time.RFC3339Nano)
}

// cloudDowns is the cloud connection section: downs in the period by reason.
func (b *builder) cloudDowns() (Section, error) {
	s := Section{Title: "Cloud connection downs"}
	samples, _, err := b.rows(schema.CloudConns, "")
	if err != nil {
		return s, err
	}
	if samples == 0 {
		s.Text = []string{noData("cloud connection samples (cloud_conn)", b.cur)}
		return s, nil
	}
	q := query.Query{Dataset: schema.CloudConns, Metrics: []string{"count_distinct(last_down_at)"}}
	q.Filter = downFilter(b.cur)
	cur, err := b.r.run(b.ctx, q, b.cur)
	if err != nil {
		return s, err
	}
	q.Filter = downFilter(b.prev)
	prev, err := b.r.run(b.ctx, q, b.prev)
	if err != nil {
		return s, err
	}
	s.Figures = []Figure{figure("Downs", UnitCount, cur.num(0, 0), prev.num(0, 0))}
	q.Filter = downFilter(b.cur)
	q.GroupBy = []string{"device", "last_down_reason"}
	q.Metrics = []string{"count_distinct(last_down_at)", "max(last_down_at)"}
	q.OrderBy = []string{"-count_distinct(last_down_at)"}
	q.Limit = b.def.N
	t, err := b.r.run(b.ctx, q, b.cur)
	if err != nil {
		return s, err
	}
	if t.rows == 0 {
		s.Text = []string{"No cloud connection went down in " + b.cur.Label + "."}
		return s, nil
	}
	tab := Table{Title: "Downs by device and reason", Link: b.topnLink(q), Columns: []Column{{Name: "Device", Kind: ColText},
		{Name: "Reason", Kind: ColText}, {Name: "Downs", Kind: ColInt, Unit: UnitCount}, {Name: "Last down", Kind: ColTime}}}
	for i := range t.rows {
		reason := t.cell(i, 1)
		if reason.Null {
			reason = Cell{Text: "(none)"}
		}
		tab.Rows = append(tab.Rows, []Cell{t.cell(i, 0), reason, t.cell(i, 2), t.cell(i, 3)})
	}
	tab.Note = "Each down counted once per device (distinct down times); at most " + strconv.Itoa(b.def.N) + " rows."
	s.Tables = []Table{tab}
	return s, nil
}

// msgCounts is how many dhcp_events of each message type a period has.
type msgCounts struct {
	by  map[string]float64 // by msg_type as stored
	all float64            // every event
}

// of is the count of message type t (schema.DHCPNak): what the filter
// "msgtype t" counts.
func (m msgCounts) of(t string) float64 { return m.by[t] }

// msgTypes counts dhcp_events by message type in the period and the
// previous one. One pass over the dataset answers the total, the NAKs and
// the declines: each pass over a year of hourly dhcp_events segments opens
// every one of them again (about 7 s of the yearly summary per pass on
// the 2-core machine, docs/benchmarks.md). msg_type holds a handful of
// names (RFC 2132 and RFC 8415), so the groups are few.
func (b *builder) msgTypes() (cur, prev msgCounts, err error) {
	c, p, err := b.both(query.Query{Dataset: schema.DHCPEvents, GroupBy: []string{schema.DHCPMsgType}, Metrics: []string{"count()"}})
	if err != nil {
		return cur, prev, err
	}
	return c.msgCounts(), p.msgCounts(), nil
}

// msgCounts reads an answer of count() by msg_type.
func (a *answer) msgCounts() msgCounts {
	m := msgCounts{by: map[string]float64{}}
	for i := range a.rows {
		n := a.num(i, 1)
		m.all += n
		if !a.cols[0].nulls[i] {
			m.by[a.text(i, 0)] += n
		}
	}
	return m
}

// dhcpFaults is the DHCP section: NAKs, declines and rogue servers.
func (b *builder) dhcpFaults() (Section, error) {
	s := Section{Title: "DHCP"}
	cur, prev, err := b.msgTypes()
	if err != nil {
		return s, err
	}
	if cur.all == 0 {
		s.Text = []string{noData("DHCP events (dhcp_events)", b.cur)}
		return s, nil
	}
	nak, nakp := cur.of(schema.DHCPNak), prev.of(schema.DHCPNak)
	dec, decp := cur.of(schema.DHCPDecline), prev.of(schema.DHCPDecline)
	rq := query.Query{Dataset: schema.DHCPEvents, Filter: "rogue_server = true", Metrics: []string{"count_distinct(src_addr)"}}
	rc, rp, err := b.both(rq)
	if err != nil {
		return s, err
	}
	s.Figures = []Figure{figure("NAKs", UnitCount, nak, nakp), figure("Declines", UnitCount, dec, decp),
		figure("Rogue servers", UnitCount, rc.num(0, 0), rp.num(0, 0))}
	rs, _, err := b.rankSection("", "rogue DHCP servers", ranking{title: "Rogue DHCP servers", n: b.def.N,
		dims: []string{"Server", "Interface"}, metrics: []Column{{Name: "Messages", Kind: ColInt, Unit: UnitCount}},
		q: query.Query{Dataset: schema.DHCPEvents, Filter: "rogue_server = true", GroupBy: []string{"src_addr", "interface"}, Metrics: []string{"count()"}}})
	if err != nil {
		return s, err
	}
	if len(rs.Tables) > 0 {
		s.Tables = rs.Tables
	} else {
		s.Text = append(s.Text, "No rogue DHCP server answered in "+b.cur.Label+".")
	}
	return s, nil
}
