package query

import (
	"fmt"
	"strings"
	"time"
)

// String renders the plan as EXPLAIN prints it: what will be read and how,
// then what pruning kept, and after a run what the scan cost.
func (p Plan) String() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("%s of %s", p.Shape, p.Dataset)
	w("  time     [%s, %s)", p.From.Format(time.RFC3339), p.To.Format(time.RFC3339))
	w("  filter   %s", p.Filter)
	w("  route    %s", p.Route)
	w("  columns  %s", strings.Join(p.Columns, ", "))
	if p.Shape == "aggregate" {
		w("  group by %s", orNone(p.GroupBy))
		w("  metrics  %s", strings.Join(p.Metrics, ", "))
	}
	w("  order    %s", strings.Join(p.Order, ", "))
	if p.Limit > 0 {
		w("  limit    %d", p.Limit)
	}
	if j := p.Join; j != nil {
		w("  join     dhcp_leases on %s at each row's time (spans since %s)", strings.Join(j.Sides, ", "), j.LeasesFrom.Format(time.RFC3339))
	}
	s := p.Stats
	w("pruning (catalog, statistics, bloom filters, page index):")
	w("  partitions  %d hour partitions in range", s.Partitions)
	w("  files       %d in range, %d unreadable and skipped", s.Files, s.FilesSkipped)
	w("  row groups  %d: %d pruned by statistics, %d by bloom filters, %d to scan", s.RowGroups, s.RowGroupsPruned, s.RowGroupsBloom,
		s.RowGroups-s.RowGroupsPruned-s.RowGroupsBloom)
	w("  pages       %d of the filter's columns pruned by the page index", s.PagesPruned)
	if p.Ran {
		w("scan (%d workers):", p.Workers)
		w("  row groups  %d scanned, %d skipped (listing page already full)", s.RowGroupsScanned, s.RowGroupsSkipped)
		w("  pages       %d decoded, %s", s.PagesRead, byteCount(s.BytesRead))
		w("  rows        %d scanned, %d matched", s.RowsScanned, s.RowsMatched)
		if p.Shape == "aggregate" {
			w("  groups      %d", s.Groups)
		}
		if j := p.Join; j != nil {
			var miss []string
			for _, side := range j.Sides {
				n := j.RowsWithoutSrcLease
				if side == "dst_addr" {
					n = j.RowsWithoutDstLease
				}
				miss = append(miss, fmt.Sprintf("%d by %s", n, side))
			}
			w("  leases      %d spans of %d addresses indexed (%s); matched rows without a lease: %s",
				j.Leases, j.Addresses, byteCount(j.IndexBytes), strings.Join(miss, ", "))
		}
		w("  memory      %s at peak", byteCount(s.PeakMemory))
		w("  time        %s", s.Elapsed.Round(time.Microsecond))
	}
	return b.String()
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(none: one row)"
	}
	return strings.Join(s, ", ")
}

func byteCount(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
