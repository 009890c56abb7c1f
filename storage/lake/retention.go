package lake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Retain deletes whole hour partitions: first those of each dataset older
// than its maximum age (a partition goes once its last hour is older than
// now - max age), then, while the lake holds more than p.MaxBytes, the
// oldest partitions of any dataset. Every deletion is logged and counted.
// Each partition is deleted under its lock, replaced files first, so a
// crash part way never brings back rows a compaction merged.
func (l *Lake) Retain(ctx context.Context, p RetentionPolicy, now time.Time) (RetentionResult, error) {
	var res RetentionResult
	if err := l.catalog.refresh(ctx); err != nil {
		return res, err
	}
	snap, err := l.catalog.snapshot(ctx)
	if err != nil {
		return res, err
	}
	entries := snap.entries()
	type partition struct {
		key     string
		dataset string
		hour    time.Time
		files   []entry
		bytes   int64
	}
	byKey := map[string]*partition{}
	var parts []*partition
	var total int64
	for _, e := range entries {
		total += e.Size // unreadable files use disk too
		if e.Dataset == "" {
			continue // a file outside the layout: reported by verify, never deleted here
		}
		k := partitionKey(e.Dataset, e.Hour)
		pt := byKey[k]
		if pt == nil {
			pt = &partition{key: k, dataset: e.Dataset, hour: e.Hour}
			byKey[k] = pt
			parts = append(parts, pt)
		}
		pt.files = append(pt.files, e)
		pt.bytes += e.Size
	}
	// Oldest first; ties broken by key so runs are deterministic.
	slices.SortFunc(parts, func(a, b *partition) int {
		if c := a.hour.Compare(b.hour); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	remove := func(pt *partition, why string) error {
		rows, files, err := l.dropPartition(ctx, pt.dataset, pt.hour)
		if err != nil {
			return fmt.Errorf("retention: %w", err)
		}
		pt.files = files
		total -= pt.bytes
		res.Partitions++
		res.Files += len(pt.files)
		res.Rows += rows
		res.Bytes += pt.bytes
		res.Deleted = append(res.Deleted, pt.key)
		l.metrics.retainedFiles.WithLabelValues(pt.dataset).Add(float64(len(pt.files)))
		l.metrics.retainedRows.WithLabelValues(pt.dataset).Add(float64(rows))
		l.metrics.retainedBytes.WithLabelValues(pt.dataset).Add(float64(pt.bytes))
		l.log.Info("retention deleted partition", "partition", pt.key, "reason", why,
			"files", len(pt.files), "rows", rows, "bytes", pt.bytes)
		return nil
	}
	kept := parts[:0]
	for _, pt := range parts {
		age, ok := p.MaxAge[pt.dataset]
		if ok && age > 0 && !pt.hour.Add(time.Hour).After(now.Add(-age)) {
			if err := remove(pt, "max age "+age.String()); err != nil {
				return res, err
			}
			continue
		}
		kept = append(kept, pt)
	}
	for _, pt := range kept {
		if p.MaxBytes <= 0 || total <= p.MaxBytes {
			break
		}
		if err := remove(pt, fmt.Sprintf("lake holds %d bytes, above the %d-byte threshold", total, p.MaxBytes)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// dropPartition deletes every file of one hour partition under its lock:
// files compaction replaced first, then outputs of incomplete runs, then
// the live files. It returns the rows and files of the live ones.
func (l *Lake) dropPartition(ctx context.Context, dataset string, hour time.Time) (int64, []entry, error) {
	unlock, err := l.lockPartition(ctx, dataset, hour)
	if err != nil {
		return 0, nil, err
	}
	defer unlock()
	files, err := l.catalog.partition(ctx, dataset, hour)
	if err != nil {
		return 0, nil, err
	}
	replaced, partial := resolveCompactions(files)
	rank := func(k string) int {
		switch {
		case replaced[k]:
			return 0
		case partial[k]:
			return 1
		}
		return 2
	}
	keys := slices.Collect(maps.Keys(files))
	slices.SortFunc(keys, func(a, b string) int {
		if c := rank(a) - rank(b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var rows int64
	var gone []entry
	for _, k := range keys {
		if err := l.backend.Delete(ctx, k); err != nil {
			return rows, gone, err
		}
		l.catalog.remove(k)
		if rank(k) == 2 {
			rows += files[k].Rows
			gone = append(gone, files[k])
		}
	}
	return rows, gone, nil
}
