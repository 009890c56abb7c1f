package gen

import (
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// TestFlowLossRows: every exporter minute with flows has one sequence row
// whose flows are exactly the generated flows of that exporter in
// [time, time+duration); intervals cut by Start and End are shortened;
// most rows carry no loss, a few carry gaps in the unit their format
// counts; edge-wide rows are queue drops in datagrams.
func TestFlowLossRows(t *testing.T) {
	cfg := testConfig(24, 5)
	cfg.Start = cfg.Start.Add(90 * time.Second) // a cut first minute
	c := collect(t, cfg)
	type key struct {
		edge, device string
		minute       int64
	}
	want := map[key]uint64{}
	for _, f := range c.FlowRows {
		want[key{f.Edge, f.Device, f.Time / lossInterval}]++
	}
	got := map[key]uint64{}
	var rows, gaps, drops int
	for _, r := range c.LossRows {
		switch r.Cause {
		case schema.LossSequence:
			rows++
			k := key{r.Edge, r.Device, r.Time / lossInterval}
			if _, dup := got[k]; dup {
				t.Errorf("two rows for %+v", k)
			}
			got[k] = r.Flows
			end := r.Time + int64(r.DurationMS)*1000
			if r.Time < schema.Micros(cfg.Start) || end > schema.Micros(cfg.End) || (r.Time%lossInterval != 0 && r.Time != schema.Micros(cfg.Start)) {
				t.Errorf("row %+v: interval outside the run or off the minute", r)
			}
			if r.Datagrams == 0 || r.Datagrams > r.Flows || r.Dropped != 0 || r.DroppedUnit != "" {
				t.Errorf("row %+v: datagrams or drop columns wrong", r)
			}
			if r.SequenceGaps > 0 {
				gaps++
				records := r.Format == "ipfix" || r.Format == "netflow5"
				if records != (r.LostFlows > 0) || records == (r.LostDatagrams > 0) {
					t.Errorf("row %+v: loss in the wrong unit for %s", r, r.Format)
				}
			} else if r.LostFlows+r.LostDatagrams > 0 {
				t.Errorf("row %+v: loss without a gap", r)
			}
		case schema.LossQueueFull:
			drops++
			if r.Dropped == 0 || r.DroppedUnit != schema.LossUnitDatagrams || r.Device != "" || r.Datagrams != 0 {
				t.Errorf("queue drop row %+v", r)
			}
		default:
			t.Errorf("row of cause %q", r.Cause)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d exporter minutes with loss rows, %d with flows", len(got), len(want))
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%+v: loss row says %d flows, the generator made %d", k, got[k], n)
		}
	}
	if gaps == 0 || gaps*20 > rows {
		t.Errorf("%d of %d rows with gaps: want a few, not none and not many", gaps, rows)
	}
	t.Logf("%d sequence rows, %d with gaps, %d queue drop rows", rows, gaps, drops)
}
