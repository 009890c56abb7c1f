package lake

import (
	"context"
	"fmt"

	"github.com/parquet-go/parquet-go"
)

// SegmentFile is a published segment opened for a reader that plans its own
// reads — the query engine prunes row groups by statistics and bloom
// filters and pages by the page index, then decodes only what it needs.
// The footer and file layout are checked against hostile bytes on open;
// page contents are trusted, because every segment in the lake was written
// by Write or Compact, or checked row by row by Validate before it was
// published. Readers must still recover from decoder panics.
//
// A segment written before its dataset gained optional columns lacks them,
// and a file's columns need not be in the dataset's order: Column maps a
// dataset column to the file's own (docs/lake-format.md, "Schema
// evolution").
type SegmentFile struct {
	*parquet.File
	Segment Segment
	obj     Object
	leaves  []int
}

// Column returns the index of the file's leaf column (its column chunk in
// every row group) that holds column i of the dataset (schema.Dataset's
// Columns order), or -1 when the file was written before that optional
// column existed: every row reads it as null.
func (s *SegmentFile) Column(i int) int {
	if i < 0 || i >= len(s.leaves) {
		return -1
	}
	return s.leaves[i]
}

// OpenSegment opens seg for reading. Bloom filters, column and offset
// indexes are read lazily, when first asked for. Close it when done.
func (l *Lake) OpenSegment(ctx context.Context, seg Segment) (*SegmentFile, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	obj, err := l.backend.Open(ctx, seg.Key)
	if err != nil {
		return nil, fmt.Errorf("open segment %s: %w", seg.Key, err)
	}
	f, err := openParquet(obj, obj.Size())
	var fi fileInfo
	if err == nil {
		fi, err = inspect(f)
	}
	if err != nil {
		obj.Close()
		return nil, fmt.Errorf("open segment %s: %w", seg.Key, err)
	}
	return &SegmentFile{File: f, Segment: seg, obj: obj, leaves: fi.Leaves}, nil
}

// Close releases the segment's object.
func (s *SegmentFile) Close() error { return s.obj.Close() }

// Parker is implemented by objects that can give their operating-system
// resources back between reads (FS: the file descriptor).
type Parker interface {
	// Park releases what the object holds until its next read.
	Park()
}

// Park releases the segment's file descriptor until its next read, keeping
// its parsed footer: a reader that holds many segments at once (a query
// over a year of hourly files) parks each between uses instead of running
// out of descriptors. A no-op on storage without descriptors.
func (s *SegmentFile) Park() {
	if p, ok := s.obj.(Parker); ok {
		p.Park()
	}
}

// Remove deletes published segments: derived data (rollups) that a rebuild
// replaced. The lake's own data leaves only through compaction and
// retention, which log and count what they delete.
func (l *Lake) Remove(ctx context.Context, segs ...Segment) error {
	for _, s := range segs {
		if err := l.backend.Delete(ctx, s.Key); err != nil {
			return fmt.Errorf("remove segment %s: %w", s.Key, err)
		}
		l.catalog.remove(s.Key)
	}
	return nil
}
