package main

import (
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// TestProdBins checks how a production spec cuts its flows into 5-minute
// nfcapd files: whole intervals at the rate or a little more.
func TestProdBins(t *testing.T) {
	for _, tc := range []struct {
		flows int64
		rate  float64
		bins  int
		name  string
	}{
		{12_600_000, 21_000, 2, "flows-12600000-r21000-s1"},
		{50_000_000, 20_000, 8, "flows-50000000-r20000-s1"}, // 20,833 flows/s in 8 files
		{1000, 20_000, 1, "flows-1000-r20000-s1"},           // fewer flows than one file: one file
	} {
		s := lakeSpec{Flows: tc.flows, Seed: 1, Rate: tc.rate}
		if got := s.prodBins(); got != tc.bins {
			t.Errorf("%d flows at %g/s: %d files, want %d", tc.flows, tc.rate, got, tc.bins)
		}
		if got := s.end().Sub(s.start()); got != time.Duration(tc.bins)*binLen {
			t.Errorf("%d flows at %g/s: span %s", tc.flows, tc.rate, got)
		}
		if s.name() != tc.name {
			t.Errorf("name %q, want %q", s.name(), tc.name)
		}
	}
	if (lakeSpec{Flows: 1000, Days: 30}).production() {
		t.Error("a spec without a rate is the production layout")
	}
}

// TestSqueeze checks the mapping of a generator hour into one interval:
// the hour's first and last microseconds land on the interval's edges, and
// a flow outside the hour is refused, not moved.
func TestSqueeze(t *testing.T) {
	var got []schema.Flow
	sink := &captureSink{flows: &got}
	h := time.Date(2026, 3, 2, 5, 0, 0, 0, time.UTC)
	to := prodStart.Add(10 * time.Minute)
	m := &squeeze{Sink: sink, from: schema.Micros(h), to: schema.Micros(to), div: 12}
	rows := []schema.Flow{{Time: schema.Micros(h)}, {Time: schema.Micros(h.Add(30 * time.Minute))}, {Time: schema.Micros(h.Add(time.Hour)) - 1}}
	if err := m.Flows("e", rows); err != nil {
		t.Fatal(err)
	}
	want := []time.Time{to, to.Add(150 * time.Second), to.Add(5*time.Minute - time.Microsecond)}
	for i, w := range want {
		if g := time.UnixMicro(got[i].Time).UTC(); !g.Equal(w) {
			t.Errorf("row %d at %s, want %s", i, g, w)
		}
	}
	if err := m.Flows("e", []schema.Flow{{Time: schema.Micros(h.Add(time.Hour))}}); err == nil {
		t.Error("a flow after the generator hour was accepted")
	}
}

// captureSink keeps the flows it is given.
type captureSink struct {
	spool // the other datasets: dropped
	flows *[]schema.Flow
}

func (c *captureSink) Flows(_ string, rows []schema.Flow) error {
	*c.flows = append(*c.flows, rows...)
	return nil
}
