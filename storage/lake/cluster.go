package lake

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go/format"

	"github.com/flowlake/flowlake/storage/schema"
)

// clusterOrder is an order of flows rows within a compacted hour: the
// columns it sorts by (for the row groups' SortingColumns) and the
// comparison. Edge segments stay in time order; compaction rewrites an
// hour in this order, where rows of one address pair sit together, so the
// dictionary ids of each column repeat in long runs and
// the page index and bloom filters of address columns prune (the choice
// and its measurement: docs/decisions.md, "Clustered compaction").
type clusterOrder struct {
	name    string
	columns []string
	compare func(a, b *schema.Flow) int
}

// flowCluster is the order compaction writes flows hours in, chosen by
// measurement among clusterCandidates: (src_addr, dst_addr, dst_port,
// time) is within 10 % of the smallest order and keeps one host's rows in
// one or two pages, where orders led by device scatter them over a page
// per device (docs/decisions.md).
var flowCluster = clusterCandidates[3]

// clusterCandidates are the orders measured for compacted flows hours
// (TestClusterOrderSizes).
var clusterCandidates = []clusterOrder{
	{"time", []string{schema.ColTime}, func(a, b *schema.Flow) int { return cmp.Compare(a.Time, b.Time) }},
	{"device,src_addr,dst_addr,dst_port,time",
		[]string{schema.ColDevice, schema.FlowSrcAddr, schema.FlowDstAddr, schema.FlowDstPort, schema.ColTime},
		func(a, b *schema.Flow) int {
			return cmp.Or(strings.Compare(a.Device, b.Device), bytes.Compare(a.SrcAddr[:], b.SrcAddr[:]),
				bytes.Compare(a.DstAddr[:], b.DstAddr[:]), cmp.Compare(a.DstPort, b.DstPort), cmp.Compare(a.Time, b.Time))
		}},
	{"device,in_if,src_addr,dst_addr,dst_port,time",
		[]string{schema.ColDevice, schema.FlowInIf, schema.FlowSrcAddr, schema.FlowDstAddr, schema.FlowDstPort, schema.ColTime},
		func(a, b *schema.Flow) int {
			return cmp.Or(strings.Compare(a.Device, b.Device), cmp.Compare(a.InIf, b.InIf), bytes.Compare(a.SrcAddr[:], b.SrcAddr[:]),
				bytes.Compare(a.DstAddr[:], b.DstAddr[:]), cmp.Compare(a.DstPort, b.DstPort), cmp.Compare(a.Time, b.Time))
		}},
	{"src_addr,dst_addr,dst_port,time",
		[]string{schema.FlowSrcAddr, schema.FlowDstAddr, schema.FlowDstPort, schema.ColTime},
		func(a, b *schema.Flow) int {
			return cmp.Or(bytes.Compare(a.SrcAddr[:], b.SrcAddr[:]), bytes.Compare(a.DstAddr[:], b.DstAddr[:]),
				cmp.Compare(a.DstPort, b.DstPort), cmp.Compare(a.Time, b.Time))
		}},
	{"device,dst_addr,src_addr,dst_port,time",
		[]string{schema.ColDevice, schema.FlowDstAddr, schema.FlowSrcAddr, schema.FlowDstPort, schema.ColTime},
		func(a, b *schema.Flow) int {
			return cmp.Or(strings.Compare(a.Device, b.Device), bytes.Compare(a.DstAddr[:], b.DstAddr[:]),
				bytes.Compare(a.SrcAddr[:], b.SrcAddr[:]), cmp.Compare(a.DstPort, b.DstPort), cmp.Compare(a.Time, b.Time))
		}},
	{"device,app,src_addr,dst_addr,dst_port,time",
		[]string{schema.ColDevice, schema.FlowApp, schema.FlowSrcAddr, schema.FlowDstAddr, schema.FlowDstPort, schema.ColTime},
		func(a, b *schema.Flow) int {
			return cmp.Or(strings.Compare(a.Device, b.Device), strings.Compare(a.App, b.App), bytes.Compare(a.SrcAddr[:], b.SrcAddr[:]),
				bytes.Compare(a.DstAddr[:], b.DstAddr[:]), cmp.Compare(a.DstPort, b.DstPort), cmp.Compare(a.Time, b.Time))
		}},
}

// sortingColumns returns o as Parquet SortingColumns of the flows schema.
func (o clusterOrder) sortingColumns() []format.SortingColumn {
	cols := schema.DatasetOf[schema.Flow]().Columns
	out := make([]format.SortingColumn, 0, len(o.columns))
	for _, name := range o.columns {
		for i, c := range cols {
			if c.Name == name {
				out = append(out, format.SortingColumn{ColumnIdx: int32(i)})
			}
		}
	}
	return out
}

// clusterWriter is implemented by segment writers that can write a run of
// rows in a clustered order (flows through the column-at-a-time encoder).
type clusterWriter interface {
	writeClustered(rows []schema.Flow, o clusterOrder, perm []uint64) ([]uint64, error)
}

// writeClustered appends a run of one hour's flows in order o, as whole row
// groups of their own: the row group started by the run is ended with it,
// so every row group is sorted and its page index and bloom filters cover
// one range of keys. perm is scratch space for the order, returned for
// reuse. rows is left as it was.
func (sw *segmentWriter[T]) writeClustered(rows []schema.Flow, o clusterOrder, perm []uint64) ([]uint64, error) {
	if len(rows) == 0 {
		return perm, nil
	}
	if len(rows) > indexMask {
		if perm, err := sw.writeClustered(rows[:indexMask], o, perm); err != nil {
			return perm, err
		}
		return sw.writeClustered(rows[indexMask:], o, perm)
	}
	lo, hi := rows[0].Time, rows[0].Time
	for i := range rows {
		lo, hi = min(lo, rows[i].Time), max(hi, rows[i].Time)
	}
	if cap(perm) < len(rows) {
		perm = make([]uint64, len(rows))
	}
	p := perm[:len(rows)]
	for i := range p {
		p[i] = uint64(i)
	}
	slices.SortStableFunc(p, func(a, b uint64) int { return o.compare(&rows[a], &rows[b]) })
	sw.span(lo, hi, len(rows))
	sw.fw.p.sorting = o.sortingColumns()
	err := sw.fw.addOrdered(rows, permutation(p), 0, len(rows))
	if err == nil {
		err = sw.fw.endRowGroup()
	}
	if err != nil {
		return perm, fmt.Errorf("encode segment %s: %w", sw.seg.Key, err)
	}
	return perm, nil
}

// runRows is how many rows of T one sorted run of compaction may hold under
// cfg.CompactMemory: the run's rows plus its sort permutation.
func (c Config) runRows(rowSize uintptr) int {
	n := c.CompactMemory / int64(rowSize+8)
	return int(max(min(n, indexMask), 1))
}
