package lake

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/flowlake/flowlake/storage/schema"
)

// Compaction bookkeeping in the footers of compacted files: metaReplaces
// lists the input segments (comma-separated keys), metaCompaction names the
// run and its number of output files ("<ulid>:<n>"). A run replaces its
// inputs only once all n outputs are published, so a crash at any point
// either leaves the inputs in charge (and the next refresh deletes the
// partial outputs) or the outputs (and it deletes the inputs).
const (
	metaReplaces   = "flowlake.replaces"
	metaCompaction = "flowlake.compaction"
)

// ErrCorrupt marks a file that is not a readable Flowlake segment: truncated,
// damaged, foreign, of an unknown format version, or with columns that do
// not fit its dataset (ErrSchema).
var ErrCorrupt = errors.New("not a readable flowlake segment")

// fileInfo is what a segment's footer says about it.
type fileInfo struct {
	Dataset    string
	Source     string
	Rows       int64
	MinTime    int64
	MaxTime    int64
	Replaces   string
	Compaction string
	// Leaves maps each column of the dataset to the file's leaf column
	// holding it, -1 for an optional column the file predates
	// (mapColumns).
	Leaves []int
}

// openParquet opens a Parquet file, turning a decoder panic on hostile
// bytes into ErrCorrupt: bad input must never crash a reader.
func openParquet(r io.ReaderAt, size int64) (f *parquet.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, recovered(p)
		}
	}()
	footerStart, err := checkFooter(r, size)
	if err != nil {
		return nil, err
	}
	f, err = parquet.OpenFile(r, size, parquet.SkipBloomFilters(true), parquet.SkipPageIndex(true))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if err := checkLayout(f, footerStart); err != nil {
		return nil, err
	}
	return f, nil
}

// inspect checks that f is a segment of a known format version whose schema
// matches its dataset, and returns what its footer says.
func inspect(f *parquet.File) (fi fileInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = recovered(p)
		}
	}()
	version, ok := f.Lookup(schema.MetaFormatVersion)
	if !ok {
		return fi, fmt.Errorf("%w: foreign parquet file (no %s metadata)", ErrCorrupt, schema.MetaFormatVersion)
	}
	if version != schema.FormatVersion {
		return fi, fmt.Errorf("%w: format version %q, this build reads %q", ErrCorrupt, version, schema.FormatVersion)
	}
	fi.Dataset, _ = f.Lookup(schema.MetaDataset)
	d, lerr := schema.Lookup(fi.Dataset)
	if err = lerr; err != nil {
		return fi, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if fi.Leaves, err = mapColumns(d, f.Schema()); err != nil {
		return fi, fmt.Errorf("%s schema: %w", d.Name, err)
	}
	fi.Source, _ = f.Lookup(schema.MetaSource)
	fi.Rows = f.NumRows()
	if fi.MinTime, err = lookupInt(f, schema.MetaMinTime); err != nil {
		return fi, err
	}
	if fi.MaxTime, err = lookupInt(f, schema.MetaMaxTime); err != nil {
		return fi, err
	}
	fi.Replaces, _ = f.Lookup(metaReplaces)
	fi.Compaction, _ = f.Lookup(metaCompaction)
	return fi, nil
}

func lookupInt(f *parquet.File, key string) (int64, error) {
	s, _ := f.Lookup(key)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: metadata %s=%q is not an integer", ErrCorrupt, key, s)
	}
	return v, nil
}

// Info is what Validate learned about a segment.
type Info struct {
	Dataset string
	Source  string
	Rows    int64
	MinTime time.Time
	MaxTime time.Time
}

// Validate checks that the bytes in r are a complete Flowlake segment of a
// known dataset and format version, reading every row. It is the check the
// core runs on uploaded segments and `flowlake lake verify` runs on files.
func Validate(ctx context.Context, r io.ReaderAt, size int64) (Info, error) {
	return validate(ctx, r, size, nil)
}

// validate is Validate, handing a hash of every row to hash when not nil.
func validate(ctx context.Context, r io.ReaderAt, size int64, hash *rowHasher) (Info, error) {
	f, err := openParquet(r, size)
	if err != nil {
		return Info{}, err
	}
	fi, err := inspect(f)
	if err != nil {
		return Info{}, err
	}
	info := Info{Dataset: fi.Dataset, Source: fi.Source, Rows: fi.Rows,
		MinTime: schema.FromMicros(fi.MinTime), MaxTime: schema.FromMicros(fi.MaxTime)}
	o, err := opsFor(fi.Dataset)
	if err == nil {
		err = o.check(ctx, f, fi, hash)
	}
	return info, err
}

// checkRows decodes every row and checks count and time bounds against the
// footer.
func checkRows[T schema.Row](ctx context.Context, f *parquet.File, fi fileInfo, hash *rowHasher) error {
	var n int64
	err := scanFile(ctx, f, func(rows []T) error {
		for i := range rows {
			if hash != nil {
				hash.fn(maphash.Comparable(hash.seed, rows[i]))
			}
			t := schema.EventTime(&rows[i])
			if t < fi.MinTime || t > fi.MaxTime {
				return fmt.Errorf("%w: row %d time %d outside footer range [%d, %d]", ErrCorrupt, n+int64(i), t, fi.MinTime, fi.MaxTime)
			}
		}
		n += int64(len(rows))
		return nil
	})
	if err != nil {
		return err
	}
	if n != fi.Rows {
		return fmt.Errorf("%w: decoded %d rows, footer says %d", ErrCorrupt, n, fi.Rows)
	}
	return nil
}

const scanChunk = 4096

// scanFile decodes f's rows in chunks and hands each chunk to fn; the chunk
// is reused after fn returns.
func scanFile[T schema.Row](ctx context.Context, f *parquet.File, fn func([]T) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = recovered(p)
		}
	}()
	if err := checkPages(f); err != nil {
		return err
	}
	r := parquet.NewGenericReader[T](f)
	defer r.Close()
	// parquet-go sizes its per-read buffers by len(buf): a 4096-row chunk
	// costs ~100 ms on a 30-row segment (edge segments are often that
	// small), so small files get a buffer of their size.
	buf := make([]T, int(min(scanChunk, max(f.NumRows(), 1))))
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := r.Read(buf)
		if n > 0 {
			if ferr := fn(buf[:n]); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
}

// Read returns every row of a published segment.
func Read[T schema.Row](ctx context.Context, l *Lake, seg Segment) ([]T, error) {
	var out []T
	err := l.scanSegment(ctx, seg.Key, func(f *parquet.File) error {
		out = make([]T, 0, f.NumRows())
		return scanFile(ctx, f, func(rows []T) error {
			out = append(out, rows...)
			return nil
		})
	})
	return out, err
}

// scanSegment opens a segment's object and checks it before handing it to fn.
func (l *Lake) scanSegment(ctx context.Context, key string, fn func(*parquet.File) error) error {
	obj, err := l.backend.Open(ctx, key)
	if err != nil {
		return fmt.Errorf("open segment %s: %w", key, err)
	}
	defer obj.Close()
	f, err := openParquet(obj, obj.Size())
	if err == nil {
		_, err = inspect(f)
	}
	if err == nil {
		err = fn(f)
	}
	if err != nil {
		return fmt.Errorf("read segment %s: %w", key, err)
	}
	return nil
}

// OpenFile opens the segment r holds with the checks OpenSegment makes (a
// footer that fits the file, a known format version, the dataset's
// schema) and returns it with its dataset. Anything else is ErrCorrupt.
// Readers that fuzz or inspect bytes outside a lake use it.
func OpenFile(r io.ReaderAt, size int64) (*parquet.File, string, error) {
	f, err := openParquet(r, size)
	if err != nil {
		return nil, "", err
	}
	fi, err := inspect(f)
	if err != nil {
		return nil, "", err
	}
	return f, fi.Dataset, nil
}

// FileColumns returns, for each column of dataset d, the index of the leaf
// column of f that holds it, or -1 for an optional column f predates; it
// refuses the columns of a file that do not fit d, as OpenFile does
// (ErrSchema). Readers of files opened with OpenFile use it as the engine
// uses SegmentFile.Column.
func FileColumns(d *schema.Dataset, f *parquet.File) ([]int, error) {
	return mapColumns(d, f.Schema())
}
