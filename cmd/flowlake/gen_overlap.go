package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// overlap lists the segments of the datasets gen writes (every dataset
// that is not a rollup) with rows in [start, end).
func overlap(ctx context.Context, l *lake.Lake, start, end time.Time) ([]lake.Segment, error) {
	var segs []lake.Segment
	for _, name := range schema.Names() {
		d, err := schema.Lookup(name)
		if err != nil {
			return nil, err
		}
		if d.DerivedFrom != "" {
			continue // rollups follow their input: MaintainRollups rebuilds them
		}
		s, err := l.Segments(ctx, name, start, end)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", name, err)
		}
		segs = append(segs, s...)
	}
	return segs, nil
}

// describeSegments summarises segments for a message: rows per dataset
// and the time they cover.
func describeSegments(segs []lake.Segment) string {
	var (
		order []string
		rows  = map[string]int64{}
		first time.Time
		last  time.Time
	)
	for _, s := range segs {
		if _, ok := rows[s.Dataset]; !ok {
			order = append(order, s.Dataset)
		}
		rows[s.Dataset] += s.Rows
		if first.IsZero() || s.MinTime.Before(first) {
			first = s.MinTime
		}
		if s.MaxTime.After(last) {
			last = s.MaxTime
		}
	}
	parts := make([]string, len(order))
	for i, d := range order {
		parts[i] = fmt.Sprintf("%s %d", d, rows[d])
	}
	return fmt.Sprintf("%d segment%s (%s rows) from %s to %s", len(segs), plural(len(segs)), strings.Join(parts, ", "),
		first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339))
}

// checkOverlap decides what gen does with data already in [start, end):
// without replace, any is an error (generating again would store every
// row twice); with replace, the segments are returned to be removed once
// the new rows are written, unless one of them also holds rows outside the
// range, which removing it would lose.
func checkOverlap(ctx context.Context, l *lake.Lake, start, end time.Time, replace bool) ([]lake.Segment, error) {
	segs, err := overlap(ctx, l, start, end)
	if err != nil || len(segs) == 0 {
		return nil, err
	}
	if !replace {
		return nil, fmt.Errorf("the lake %s already holds data in [%s, %s): %s; generating again would store those hours twice: pass --replace to generate them anew, or choose another range",
			l.Config().Root, start.Format(time.RFC3339), end.Format(time.RFC3339), describeSegments(segs))
	}
	for _, s := range segs {
		if s.MinTime.Before(start) || !s.MaxTime.Before(end) {
			return nil, fmt.Errorf("--replace: segment %s holds rows from %s to %s, outside [%s, %s), which replacing it would delete: use whole hours for --from and --to (such as %s and %s)",
				s.Key, s.MinTime.UTC().Format(time.RFC3339), s.MaxTime.UTC().Format(time.RFC3339),
				start.Format(time.RFC3339), end.Format(time.RFC3339),
				start.Truncate(time.Hour).Format(time.RFC3339), ceilHour(end).Format(time.RFC3339))
		}
	}
	return segs, nil
}

// ceilHour rounds t up to a whole hour.
func ceilHour(t time.Time) time.Time {
	if h := t.Truncate(time.Hour); !h.Equal(t) {
		return h.Add(time.Hour)
	}
	return t
}
