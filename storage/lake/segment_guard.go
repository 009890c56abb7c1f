package lake

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// The segment guard checks hostile bytes before parquet-go sees them.
// parquet-go trusts the lengths and counts it reads: a thrift list or binary
// length, a page size or a value count is allocated as is, and an allocation
// of gigabytes kills the process with an out-of-memory error that recover
// cannot catch. The guard bounds every such number by the bytes really
// present and by the limits below, so that reading a segment of n bytes
// allocates O(n) memory plus at most about maxRowGroupDecode.
const (
	// maxFooterBytes caps the thrift footer; a default segment's is ~100 KiB.
	maxFooterBytes = 64 << 20
	// maxThriftDecode caps what parquet-go allocates for the lists of a
	// thrift struct, as estimated by the walker with decodedThriftBytes.
	maxThriftDecode = 256 << 20
	// maxThriftDepth caps the nesting of thrift containers: parquet-go
	// decodes and skips them recursively, and a deep enough nesting
	// overflows the goroutine stack.
	maxThriftDepth = 64
	// maxSchemaElements caps the schema: parquet-go's column loader
	// allocates a path slab quadratic in its depth. Datasets have ~40.
	maxSchemaElements = 1024
	// maxRowGroupRows caps the rows of a row group (default 256 Ki).
	maxRowGroupRows = 1 << 26
	// maxChunkBytes caps a column chunk's compressed and uncompressed size.
	maxChunkBytes = 1 << 30
	// maxPageBytes caps a page's uncompressed size (pages are ~256 KiB;
	// a dictionary page may be larger).
	maxPageBytes = 256 << 20
	// maxPageHeaderBytes caps a page header, statistics included.
	maxPageHeaderBytes = 1 << 20
	// maxRowGroupDecode caps the estimated memory parquet-go needs to decode
	// one row group: one dictionary and one data page per column at a time.
	maxRowGroupDecode = 1 << 30
	// decodeBytesPerValue is what parquet-go allocates per value of a page,
	// at most: levels, offsets, and values of up to 16 bytes.
	decodeBytesPerValue = 32
	// zstdMaxBlock is the largest block a zstd frame may hold.
	zstdMaxBlock = 128 << 10
)

// Thrift compact protocol type ids.
const (
	ttStop   = 0
	ttTrue   = 1
	ttFalse  = 2
	ttByte   = 3
	ttI16    = 4
	ttI32    = 5
	ttI64    = 6
	ttDouble = 7
	ttBinary = 8
	ttList   = 9
	ttSet    = 10
	ttMap    = 11
	ttStruct = 12
)

// errTruncated marks a thrift struct that runs past the bytes given to the
// walker, so a caller that gave it a prefix of the input can retry longer.
var errTruncated = errors.New("input ends")

// checkFooter checks the Parquet framing and walks the thrift footer before
// parquet-go decodes it. It returns the offset the footer starts at: column
// data must lie in [4, that offset).
func checkFooter(r io.ReaderAt, size int64) (int64, error) {
	if size < 12 {
		return 0, fmt.Errorf("%w: file of %d bytes is shorter than the 12 bytes of parquet framing", ErrCorrupt, size)
	}
	var head [4]byte
	var tail [8]byte
	if err := readFullAt(r, head[:], 0); err != nil {
		return 0, fmt.Errorf("%w: reading header magic: %v", ErrCorrupt, err)
	}
	if err := readFullAt(r, tail[:], size-8); err != nil {
		return 0, fmt.Errorf("%w: reading footer length: %v", ErrCorrupt, err)
	}
	if string(head[:]) != "PAR1" {
		return 0, fmt.Errorf("%w: header magic %q, want \"PAR1\"", ErrCorrupt, head[:])
	}
	if string(tail[4:]) != "PAR1" {
		return 0, fmt.Errorf("%w: footer magic %q, want \"PAR1\"", ErrCorrupt, tail[4:])
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 {
		return 0, fmt.Errorf("%w: footer length %d exceeds the %d bytes between the magic numbers", ErrCorrupt, n, size-12)
	}
	if n > maxFooterBytes {
		return 0, fmt.Errorf("%w: footer length %d exceeds the limit of %d", ErrCorrupt, n, maxFooterBytes)
	}
	start := size - 8 - n
	footer := make([]byte, n)
	if err := readFullAt(r, footer, start); err != nil {
		return 0, fmt.Errorf("%w: reading footer: %v", ErrCorrupt, err)
	}
	var shape footerShape
	w := thriftWalker{b: footer, where: "footer", visit: shape.visit}
	if err := w.walk(); err != nil {
		return 0, err
	}
	// parquet-go's column loader reserves a pointer per leaf and row group.
	if shape.schema*shape.rowGroups > maxThriftDecode/8 {
		return 0, fmt.Errorf("%w: footer: %d schema elements times %d row groups exceeds the limit of %d",
			ErrCorrupt, shape.schema, shape.rowGroups, maxThriftDecode/8)
	}
	return start, nil
}

// footerShape checks the list lengths of a FileMetaData that parquet-go
// multiplies together.
type footerShape struct {
	schema, rowGroups int64
}

func (s *footerShape) visit(path []int16, typ byte, v int64) error {
	if typ != ttList {
		return nil
	}
	switch {
	case len(path) == 1 && path[0] == 2: // FileMetaData.schema
		if v > maxSchemaElements {
			return fmt.Errorf("schema of %d elements exceeds the limit of %d", v, maxSchemaElements)
		}
		s.schema = v
	case len(path) == 1 && path[0] == 4: // FileMetaData.row_groups
		s.rowGroups = v
	case len(path) == 2 && path[0] == 4 && path[1] == 1: // RowGroup.columns
		if v > s.schema {
			return fmt.Errorf("row group of %d column chunks for a schema of %d elements", v, s.schema)
		}
	}
	return nil
}

// checkLayout checks the metadata parquet-go decoded from a footer that
// starts at footerStart: row counts and column chunks' codecs, sizes and
// offsets, which must lie in the data area and not overlap.
func checkLayout(f *parquet.File, footerStart int64) error {
	md := f.Metadata()
	leaves := len(f.Schema().Columns())
	type span struct {
		start, end int64
		where      string
	}
	var spans []span
	var rows int64
	for i := range md.RowGroups {
		rg := &md.RowGroups[i]
		if rg.NumRows < 0 || rg.NumRows > maxRowGroupRows {
			return fmt.Errorf("%w: row group %d has %d rows, limit %d", ErrCorrupt, i, rg.NumRows, maxRowGroupRows)
		}
		rows += rg.NumRows
		if len(rg.Columns) != leaves {
			return fmt.Errorf("%w: row group %d has %d column chunks for %d columns", ErrCorrupt, i, len(rg.Columns), leaves)
		}
		for j := range rg.Columns {
			cc := &rg.Columns[j]
			m := &cc.MetaData
			where := chunkName(i, j, m)
			if cc.FilePath != "" {
				return fmt.Errorf("%w: %s: data in external file %q", ErrCorrupt, where, cc.FilePath)
			}
			// parquet-go decompresses every chunk of a column with the
			// codec of its first chunk.
			if c0 := md.RowGroups[0].Columns[j].MetaData.Codec; m.Codec != c0 {
				return fmt.Errorf("%w: %s: codec %s, the column's first chunk has %s", ErrCorrupt, where, m.Codec, c0)
			}
			if m.Codec != format.Zstd && m.Codec != format.Uncompressed {
				return fmt.Errorf("%w: %s: codec %s, segments use ZSTD", ErrCorrupt, where, m.Codec)
			}
			if m.NumValues < 0 || m.NumValues > maxRowGroupRows {
				return fmt.Errorf("%w: %s: %d values, limit %d", ErrCorrupt, where, m.NumValues, maxRowGroupRows)
			}
			if m.TotalCompressedSize <= 0 || m.TotalCompressedSize > maxChunkBytes {
				return fmt.Errorf("%w: %s: total_compressed_size %d outside [1, %d]", ErrCorrupt, where, m.TotalCompressedSize, maxChunkBytes)
			}
			if m.TotalUncompressedSize < 0 || m.TotalUncompressedSize > maxChunkBytes {
				return fmt.Errorf("%w: %s: total_uncompressed_size %d outside [0, %d]", ErrCorrupt, where, m.TotalUncompressedSize, maxChunkBytes)
			}
			start := m.DataPageOffset
			if m.DictionaryPageOffset != 0 {
				if m.DictionaryPageOffset >= m.DataPageOffset {
					return fmt.Errorf("%w: %s: dictionary page offset %d not before data page offset %d",
						ErrCorrupt, where, m.DictionaryPageOffset, m.DataPageOffset)
				}
				start = m.DictionaryPageOffset
			}
			if start < 4 || start >= footerStart {
				return fmt.Errorf("%w: %s: chunk offset %d outside the data area [4, %d)", ErrCorrupt, where, start, footerStart)
			}
			if m.TotalCompressedSize > footerStart-start {
				return fmt.Errorf("%w: %s: chunk of %d bytes at %d runs into the footer at %d",
					ErrCorrupt, where, m.TotalCompressedSize, start, footerStart)
			}
			end := start + m.TotalCompressedSize
			if m.DataPageOffset >= end {
				return fmt.Errorf("%w: %s: data page offset %d past the chunk end %d", ErrCorrupt, where, m.DataPageOffset, end)
			}
			spans = append(spans, span{start, end, where})
		}
	}
	if rows != md.NumRows {
		return fmt.Errorf("%w: row groups hold %d rows, footer says %d", ErrCorrupt, rows, md.NumRows)
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	for k := 1; k < len(spans); k++ {
		if a, b := spans[k-1], spans[k]; b.start < a.end {
			return fmt.Errorf("%w: %s at [%d, %d) overlaps %s at [%d, %d)", ErrCorrupt, b.where, b.start, b.end, a.where, a.start, a.end)
		}
	}
	return nil
}

func chunkName(rowGroup, column int, m *format.ColumnMetaData) string {
	return fmt.Sprintf("row group %d column %d (%q)", rowGroup, column, strings.Join(m.PathInSchema, "."))
}

// readFullAt reads len(p) bytes at off, or fails.
func readFullAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
