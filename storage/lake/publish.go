package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/flowlake/flowlake/storage/schema"
)

// ErrSegmentID marks a segment id that is not "<source>-<ulid>", or that
// does not match the source written in the file.
var ErrSegmentID = errors.New("bad segment id")

// Published is what Publish did with an uploaded segment.
type Published struct {
	Segment
	// Created is false when the segment was already in the lake (a
	// retried upload): nothing was written.
	Created bool
}

// SegmentID returns the id of a segment: its file name without the
// extension, "<source>-<ulid>". Edges upload spooled segments under it.
func SegmentID(seg Segment) string {
	base := seg.Key[strings.LastIndexByte(seg.Key, '/')+1:]
	return strings.TrimSuffix(base, segmentExt)
}

// ParseSegmentID splits a segment id into its source and ULID.
func ParseSegmentID(id string) (source string, u ulid.ULID, err error) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 {
		return "", u, fmt.Errorf("%w %q: want <source>-<ulid>", ErrSegmentID, id)
	}
	if err := validSource(id[:i]); err != nil {
		return "", u, fmt.Errorf("%w %q: %v", ErrSegmentID, id, err)
	}
	if u, err = ulid.ParseStrict(id[i+1:]); err != nil {
		return "", u, fmt.Errorf("%w %q: ulid: %v", ErrSegmentID, id, err)
	}
	return id[:i], u, nil
}

// Publish validates the segment in r (framing, footer, format version,
// schema, every row, time bounds within one hour) and publishes it into
// the lake under its own id: <dataset>/dt=…/hr=…/<id>.parquet. It is
// idempotent by id: when that key is already in the lake, or was merged
// away by a compaction the lake still records, nothing is written and
// Published.Created is false. Publishing is atomic like Write's.
// Validation failures wrap ErrCorrupt or ErrSegmentID.
func (l *Lake) Publish(ctx context.Context, id string, r io.ReaderAt, size int64) (Published, error) {
	source, u, err := ParseSegmentID(id)
	if err != nil {
		return Published{}, err
	}
	info, err := Validate(ctx, r, size)
	if err != nil {
		return Published{}, fmt.Errorf("segment %s: %w", id, err)
	}
	if info.Source != source {
		return Published{}, fmt.Errorf("%w %q: the file says source %q", ErrSegmentID, id, info.Source)
	}
	if derived(info.Dataset) {
		return Published{}, fmt.Errorf("%w: segment %s: %s is derived by the core and cannot be uploaded", ErrCorrupt, id, info.Dataset)
	}
	if err := checkHour(info.MinTime); err != nil {
		return Published{}, fmt.Errorf("%w: segment %s: %w", ErrCorrupt, id, err)
	}
	if err := checkHour(info.MaxTime); err != nil {
		return Published{}, fmt.Errorf("%w: segment %s: %w", ErrCorrupt, id, err)
	}
	hour := hourOf(schema.Micros(info.MinTime))
	if info.Rows == 0 || hourOf(schema.Micros(info.MaxTime)) != hour {
		return Published{}, fmt.Errorf("%w: segment %s: rows from %s to %s are not inside one hour partition", ErrCorrupt, id,
			info.MinTime.Format(time.RFC3339), info.MaxTime.Format(time.RFC3339))
	}
	key := segmentKey(info.Dataset, hour, source, u)
	seg := Segment{Dataset: info.Dataset, Key: key, Source: source, Hour: hour, Rows: info.Rows, Bytes: size,
		MinTime: info.MinTime, MaxTime: info.MaxTime}

	// The partition's lock orders this upload with a compaction that could
	// merge a first copy of it away, in this process or another.
	unlock, err := l.lockPartition(ctx, info.Dataset, hour)
	if err != nil {
		return Published{}, fmt.Errorf("publish segment %s: %w", id, err)
	}
	defer unlock()
	if done, err := l.published(ctx, info.Dataset, hour, key); err != nil || done {
		return Published{Segment: seg}, err
	}
	up, err := l.backend.Create(ctx, key)
	if err != nil {
		return Published{}, fmt.Errorf("publish segment %s: %w", id, err)
	}
	defer up.Abort()
	if _, err := io.Copy(up, io.NewSectionReader(r, 0, size)); err != nil {
		return Published{}, fmt.Errorf("publish segment %s: %w", id, err)
	}
	if err := up.Commit(); err != nil {
		return Published{}, fmt.Errorf("publish segment %s: %w", id, err)
	}
	now := time.Now()
	l.catalog.add(entry{Segment: seg, Size: size, ModTime: now, addedAt: now})
	m := l.metrics
	m.segmentsWritten.WithLabelValues(seg.Dataset).Inc()
	m.rowsWritten.WithLabelValues(seg.Dataset).Add(float64(seg.Rows))
	m.bytesWritten.WithLabelValues(seg.Dataset).Add(float64(seg.Bytes))
	return Published{Segment: seg, Created: true}, nil
}

// published reports whether key is in the lake, or was replaced by a
// compaction whose output is still in its partition. The caller holds the
// partition's lock, and the partition is listed afresh: another process
// may have compacted it.
func (l *Lake) published(ctx context.Context, dataset string, hour time.Time, key string) (bool, error) {
	files, err := l.catalog.partition(ctx, dataset, hour)
	if err != nil {
		return false, fmt.Errorf("publish %s: %w", key, err)
	}
	if _, ok := files[key]; ok {
		return true, nil
	}
	replaced, _ := resolveCompactions(files)
	return replaced[key], nil
}
