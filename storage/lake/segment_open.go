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
type SegmentFile struct {
	*parquet.File
	Segment Segment
	obj     Object
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
	if err == nil {
		_, err = inspect(f)
	}
	if err != nil {
		obj.Close()
		return nil, fmt.Errorf("open segment %s: %w", seg.Key, err)
	}
	return &SegmentFile{File: f, Segment: seg, obj: obj}, nil
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
