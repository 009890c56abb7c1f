package reports

import (
	"context"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestDHCPMsgTypeCounts checks the NAK and decline figures of the fault
// report and the summary, which come from one count by msg_type, against
// the filters "msgtype NAK" and "msgtype DECLINE" over a lake with every
// kind of message (DHCPv6 declines too) in the day and the day before.
func TestDHCPMsgTypeCounts(t *testing.T) {
	ctx := context.Background()
	lcfg := lake.DefaultConfig()
	lcfg.Root = t.TempDir()
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	var rows []schema.DHCPEvent
	add := func(at time.Time, typ string, v6 bool, n int) {
		for i := range n {
			rows = append(rows, schema.DHCPEvent{Time: schema.Micros(at.Add(time.Duration(i) * time.Minute)), Edge: "e1", Device: "d1",
				DHCPv6: v6, MsgType: typ, Op: 1, CHAddr: schema.MAC{0, 1, 2, 3, 4, byte(i)}})
		}
	}
	add(day.Add(2*time.Hour), schema.DHCPNak, false, 3)
	add(day.Add(5*time.Hour), schema.DHCPDecline, false, 2)
	add(day.Add(7*time.Hour), schema.DHCPDecline, true, 1)
	add(day.Add(9*time.Hour), schema.DHCPAck, false, 5)
	add(day.Add(9*time.Hour), "SOLICIT", true, 4)
	add(day.Add(-20*time.Hour), schema.DHCPNak, false, 1)
	add(day.Add(-3*time.Hour), schema.DHCPRequest, false, 2)
	if err := write(ctx, l, rows); err != nil {
		t.Fatal(err)
	}
	eng := query.New(l, query.Config{}, nil)
	p, err := ParsePeriod(Daily, "2026-03-10", "UTC", day)
	if err != nil {
		t.Fatal(err)
	}
	raw := func(filter string, p Period) float64 {
		r := &runner{eng: eng, zone: p.Zone, seen: map[string]bool{}}
		a, err := r.run(ctx, query.Query{Dataset: schema.DHCPEvents, Filter: filter, Metrics: []string{"count()"}}, p)
		if err != nil {
			t.Fatal(err)
		}
		return a.num(0, 0)
	}
	cases := []struct {
		typ, section, label, filter string
		want, wantPrev              float64
	}{
		{TypeFaults, "DHCP", "NAKs", "msgtype NAK", 3, 1},
		{TypeFaults, "DHCP", "Declines", "msgtype DECLINE", 3, 0},
		{TypeSummary, "Headline numbers", "DHCP NAKs", "msgtype NAK", 3, 1},
		{TypeSummary, "Headline numbers", "DHCP declines", "msgtype DECLINE", 3, 0},
	}
	for _, c := range cases {
		t.Run(c.typ+"/"+c.label, func(t *testing.T) {
			doc, err := Build(ctx, eng, Definition{Type: c.typ}, p)
			if err != nil {
				t.Fatal(err)
			}
			f := findFigure(t, findSection(t, doc, c.section), c.label)
			checkNum(t, c.label, f.Value, raw(c.filter, p))
			checkNum(t, c.label+" previous", f.Previous, raw(c.filter, p.Previous()))
			if f.Value != c.want || f.Previous != c.wantPrev {
				t.Errorf("%s: %v (previous %v), want %v (%v)", c.label, f.Value, f.Previous, c.want, c.wantPrev)
			}
		})
	}
	// The fault report's DHCP section exists only when the day has events:
	// the total is the sum of the counts by type.
	doc, err := Build(ctx, eng, Definition{Type: TypeFaults}, p.Previous())
	if err != nil {
		t.Fatal(err)
	}
	if s := findSection(t, doc, "DHCP"); len(s.Figures) == 0 {
		t.Errorf("the day before (3 events) has no DHCP figures: %q", s.Text)
	}
	empty, err := ParsePeriod(Daily, "2026-03-12", "UTC", day)
	if err != nil {
		t.Fatal(err)
	}
	if doc, err = Build(ctx, eng, Definition{Type: TypeFaults}, empty); err != nil {
		t.Fatal(err)
	}
	if s := findSection(t, doc, "DHCP"); len(s.Figures) != 0 || len(s.Text) == 0 {
		t.Errorf("a day without events: figures %v, text %q", s.Figures, s.Text)
	}
}
