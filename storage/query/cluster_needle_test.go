package query

import (
	"bytes"
	"cmp"
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestNeedleAfterClusteredCompaction: an hour of the generator's default
// profile, uploaded as an edge does (a segment every five minutes), then
// compacted into one file clustered by (src_addr, dst_addr, …): a needle
// query on one source address plans fewer rows after compaction than
// before — the page index of src_addr prunes what time order could not —
// and answers the same.
func TestNeedleAfterClusteredCompaction(t *testing.T) {
	ctx := context.Background()
	gcfg := gen.DefaultConfig()
	gcfg.Start = gcfg.Start.Add(14 * time.Hour)
	gcfg.End = gcfg.Start.Add(time.Hour)
	c, err := gen.Collect(ctx, gcfg)
	if err != nil {
		t.Fatal(err)
	}
	rows := c.FlowRows
	slices.SortStableFunc(rows, func(a, b schema.Flow) int { return cmp.Compare(a.Time, b.Time) })
	lcfg := lake.DefaultConfig()
	lcfg.Root = t.TempDir()
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for lo := 0; lo < len(rows); {
		end := schema.Micros(schema.FromMicros(rows[lo].Time).Truncate(5 * time.Minute).Add(5 * time.Minute))
		hi, _ := slices.BinarySearchFunc(rows, end, func(r schema.Flow, t int64) int { return cmp.Compare(r.Time, t) })
		if _, err := lake.Write(ctx, l, "edge", rows[lo:hi]); err != nil {
			t.Fatal(err)
		}
		lo = hi
	}
	// The needle: the lowest source address of 20 to 100 flows, a host
	// active through the hour.
	counts := map[schema.Addr]int64{}
	for i := range rows {
		counts[rows[i].SrcAddr]++
	}
	var needle schema.Addr
	found := false
	for a, n := range counts {
		if n >= 20 && n <= 100 && (!found || bytes.Compare(a[:], needle[:]) < 0) {
			needle, found = a, true
		}
	}
	if !found {
		t.Fatal("no source address has 20 to 100 flows")
	}
	ip := netip.AddrFrom16(needle).Unmap()
	q := Query{Dataset: schema.Flows, From: gcfg.Start.Format(time.RFC3339), To: gcfg.End.Format(time.RFC3339),
		Filter: "src ip " + ip.String(), Metrics: []string{"count()"}}
	run := func() (int64, Stats) {
		t.Helper()
		e := New(l, Config{}, nil)
		defer e.Close()
		res, err := e.Run(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Release()
		return res.Records[0].Column(0).(*array.Int64).Value(0), res.Plan.Stats
	}
	nBefore, before := run()
	if nBefore != counts[needle] {
		t.Fatalf("count() before compaction = %d, want %d", nBefore, counts[needle])
	}
	if res, err := l.Compact(ctx, gcfg.End); err != nil || res.FilesAfter != 1 {
		t.Fatalf("compact: %+v, %v", res, err)
	}
	nAfter, after := run()
	if nAfter != nBefore {
		t.Errorf("count() after compaction = %d, before %d", nAfter, nBefore)
	}
	t.Logf("%d rows; needle %s in %d flows: before %d rows planned (%d row groups kept of %d), after %d rows planned, %d pages pruned",
		len(rows), ip, nBefore, before.RowsPlanned, before.RowGroups-before.RowGroupsPruned-before.RowGroupsBloom, before.RowGroups, after.RowsPlanned, after.PagesPruned)
	if after.RowsPlanned >= before.RowsPlanned {
		t.Errorf("needle plans %d rows after clustered compaction, %d before: want fewer", after.RowsPlanned, before.RowsPlanned)
	}
}
