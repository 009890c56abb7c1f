package flow

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	ft "github.com/flowlake/flowlake/ingest/flow/flowtest"
)

// TestDomainLoss: each exporter domain keeps its own datagrams, flows,
// gaps and losses, and they add up to the decoder-wide counters.
func TestDomainLoss(t *testing.T) {
	rec := ipfixRec([4]byte{1, 1, 1, 1}, [4]byte{2, 2, 2, 2}, 1, 2, 6, 10, 1, startMs, 0, 0)
	ipfix := func(seq, domain uint32, n int) []byte {
		recs := make([][]byte, n)
		for i := range recs {
			recs[i] = rec
		}
		return ft.IPFIXMessage(exportT, seq, domain, ft.Set(2, ipfixTmpl), ft.Set(256, recs...))
	}
	v9 := func(seq uint32) []byte {
		return ft.V9Packet(100, exportT, seq, 5, ft.Set(0, ft.TemplateRecord(300, ft.Field{ID: 8, Length: 4})))
	}
	d := mustDecoder(t, DefaultConfig())
	en, err := NewEnricher(EnrichConfig{Exporters: []Exporter{{Address: exporterB.Addr(), Name: "rtr-b"}}})
	if err != nil {
		t.Fatal(err)
	}
	d.SetEnricher(en)
	// exporterA, IPFIX domain 1: 3+5 records, then 4 lost, then 2 records.
	// exporterA, IPFIX domain 2: clean. exporterB, v9 source 5: 2
	// datagrams lost, then a restart; a data set without its template.
	if _, err := decodeAll(t, d, exporterA, ipfix(0, 1, 3), ipfix(3, 1, 5), ipfix(12, 1, 2), ipfix(0, 2, 1), ipfix(1, 2, 1)); err != nil {
		t.Fatal(err)
	}
	miss := ft.V9Packet(100, exportT, 12, 5, ft.Set(301, []byte{1, 2, 3, 4}))
	if _, err := decodeAll(t, d, exporterB, v9(7), v9(8), v9(11), miss, v9(3)); err != nil {
		t.Fatal(err)
	}
	got := d.DomainLoss()
	a, b := exporterA.Addr(), exporterB.Addr()
	want := []DomainLoss{
		{Exporter: a, Device: a.String(), Format: FormatIPFIX, Domain: 1, Datagrams: 3, Flows: 10, SequenceGaps: 1, LostFlows: 4},
		{Exporter: a, Device: a.String(), Format: FormatIPFIX, Domain: 2, Datagrams: 2, Flows: 2},
		{Exporter: b, Device: "rtr-b", Format: FormatNetFlowV9, Domain: 5, Datagrams: 5, SequenceGaps: 1, LostDatagrams: 2, SequenceResets: 1, TemplateMisses: 1},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
		t.Errorf("DomainLoss (-want +got):\n%s", diff)
	}
	checkDomainLossAddsUp(t, d)
}

// checkDomainLossAddsUp: the domains' totals add up to the decoder-wide
// counters (flows: decoded ones, quarantined included).
func checkDomainLossAddsUp(t *testing.T, d *Decoder) {
	t.Helper()
	c := d.Counters().Snapshot()
	var sum DomainLoss
	for _, l := range d.DomainLoss() {
		sum.Flows += l.Flows
		sum.SequenceGaps += l.SequenceGaps
		sum.LostFlows += l.LostFlows
		sum.LostDatagrams += l.LostDatagrams
		sum.SequenceResets += l.SequenceResets
		sum.TemplateMisses += l.TemplateMisses
	}
	want := DomainLoss{Flows: c.TotalFlows() + c.TimeQuarantined, SequenceGaps: c.SequenceGaps, LostFlows: c.LostFlows,
		LostDatagrams: c.LostDatagrams, SequenceResets: c.SequenceResets, TemplateMisses: c.TemplateMisses}
	if sum != want {
		t.Errorf("exporter domains add up to %+v; the decoder counted %+v", sum, want)
	}
}
