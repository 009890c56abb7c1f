package edge

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// rejectedDir is where the spool sets aside segments the core refused as
// invalid: hidden from the spool's listing (leading "_"), kept for an
// operator to look at.
const rejectedDir = "_rejected"

// spool is a remote edge's disk buffer: a lake (same layout, same writer,
// same atomic publish) in Spool.Dir whose segments wait there until the
// core acknowledges them.
type spool struct {
	lake  *lake.Lake
	dir   string
	max   int64
	stats *Stats
	log   *slog.Logger

	mu       sync.Mutex
	inflight map[string]bool // keys being uploaded: never dropped under the shipper
}

func openSpool(cfg SpoolConfig, stats *Stats, log *slog.Logger) (*spool, error) {
	lc := lake.DefaultConfig()
	lc.Root = cfg.Dir
	l, err := lake.Open(lc, log.With("component", "spool"))
	if err != nil {
		return nil, fmt.Errorf("edge: open spool: %w", err)
	}
	s := &spool{lake: l, dir: cfg.Dir, max: cfg.MaxBytes, stats: stats, log: log, inflight: map[string]bool{}}
	if segs, err := s.pending(context.Background()); err == nil && len(segs) > 0 {
		var bytes int64
		for _, seg := range segs {
			bytes += seg.Bytes
		}
		log.Info("spool holds segments from before the start; shipping them", "dir", cfg.Dir, "segments", len(segs), "bytes", bytes)
	}
	return s, nil
}

// pending returns the spooled segments, oldest first (by first row, then
// id, which is time-ordered).
func (s *spool) pending(ctx context.Context) ([]lake.Segment, error) {
	var out []lake.Segment
	for _, name := range schema.Names() {
		if d, err := schema.Lookup(name); err != nil || d.DerivedFrom != "" {
			continue
		}
		segs, err := s.lake.Segments(ctx, name, time.Time{}, time.Time{})
		if err != nil {
			return nil, fmt.Errorf("list spool: %w", err)
		}
		out = append(out, segs...)
	}
	slices.SortFunc(out, func(a, b lake.Segment) int {
		if c := a.MinTime.Compare(b.MinTime); c != 0 {
			return c
		}
		return cmp.Compare(lake.SegmentID(a), lake.SegmentID(b))
	})
	return out, nil
}

// usage returns the spool's segments and bytes.
func (s *spool) usage(ctx context.Context) (segments int, bytes int64, err error) {
	segs, err := s.pending(ctx)
	for _, seg := range segs {
		bytes += seg.Bytes
	}
	return len(segs), bytes, err
}

// enforce drops the oldest segments while the spool is over its quota,
// counting each (never one being uploaded).
func (s *spool) enforce(ctx context.Context) {
	segs, err := s.pending(ctx)
	if err != nil {
		s.log.Error("spool quota", "err", err)
		return
	}
	var total int64
	for _, seg := range segs {
		total += seg.Bytes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seg := range segs {
		if total <= s.max {
			return
		}
		if s.inflight[seg.Key] {
			continue
		}
		if err := s.lake.Remove(ctx, seg); err != nil {
			s.log.Error("spool full: dropping the oldest segment failed", "key", seg.Key, "err", err)
			return
		}
		total -= seg.Bytes
		s.stats.SpoolDroppedSegments.Add(1)
		s.stats.SpoolDroppedRows.Add(uint64(seg.Rows))
		s.log.Warn("spool full: dropped the oldest segment", "key", seg.Key, "rows", seg.Rows, "bytes", seg.Bytes, "max_bytes", s.max)
	}
}

// claim marks seg as being uploaded; it reports false when the segment
// was dropped meanwhile.
func (s *spool) claim(seg lake.Segment) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(s.path(seg.Key)); err != nil {
		return false
	}
	s.inflight[seg.Key] = true
	return true
}

// release ends an upload: the core acknowledged it (remove it) or not.
func (s *spool) release(ctx context.Context, seg lake.Segment, acked bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, seg.Key)
	if !acked {
		return nil
	}
	return s.lake.Remove(ctx, seg)
}

// reject sets a segment the core refused aside in _rejected/.
func (s *spool) reject(ctx context.Context, seg lake.Segment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, seg.Key)
	dst := filepath.Join(s.dir, rejectedDir, strings.ReplaceAll(seg.Key, "/", "_"))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Rename(s.path(seg.Key), dst); err != nil {
		return err
	}
	return s.lake.Remove(ctx, seg) // forgets it; the file is gone already
}

func (s *spool) path(key string) string { return filepath.Join(s.dir, filepath.FromSlash(key)) }

// open opens a spooled segment for upload.
func (s *spool) open(ctx context.Context, seg lake.Segment) (lake.Object, error) {
	return s.lake.Backend().Open(ctx, seg.Key)
}

func (s *spool) close() error {
	if err := s.lake.Close(); err != nil {
		return fmt.Errorf("close spool: %w", err)
	}
	return nil
}
