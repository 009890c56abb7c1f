package lake

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
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
	// thrift struct, as estimated by thriftWalker.charge.
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

// thriftWalker checks one thrift compact-protocol struct without decoding
// it: every container's element count and every binary's length must fit in
// the bytes left (each element takes at least one byte), type ids must be
// known, nesting is capped at maxThriftDepth, field ids must increase within
// a struct, and the lists' estimated decoded size is capped at
// maxThriftDecode. visit, if set, sees every field of every struct with its
// path of field ids (list elements add nothing to the path): integers and
// bools with their value, containers with their element count.
type thriftWalker struct {
	b     []byte
	pos   int
	where string
	cost  int64
	path  []int16
	visit func(path []int16, typ byte, v int64) error
}

func (w *thriftWalker) fail(at int, format string, args ...any) error {
	return fmt.Errorf("%w: %s offset %d: %s", ErrCorrupt, w.where, at, fmt.Sprintf(format, args...))
}

func (w *thriftWalker) truncated(at int, what string) error {
	return fmt.Errorf("%w: %s offset %d: %w in %s", ErrCorrupt, w.where, at, errTruncated, what)
}

func (w *thriftWalker) left() int { return len(w.b) - w.pos }

// walk checks that w.b is exactly one struct.
func (w *thriftWalker) walk() error {
	if err := w.structure(0); err != nil {
		return err
	}
	if w.left() != 0 {
		return w.fail(w.pos, "%d trailing bytes after the struct", w.left())
	}
	return nil
}

func (w *thriftWalker) uvarint(what string) (uint64, error) {
	v, n := binary.Uvarint(w.b[w.pos:])
	if n == 0 {
		return 0, w.truncated(w.pos, what)
	}
	if n < 0 {
		return 0, w.fail(w.pos, "%s varint overflows 64 bits", what)
	}
	w.pos += n
	return v, nil
}

func (w *thriftWalker) varint(what string, lo, hi int64) (int64, error) {
	at := w.pos
	v, n := binary.Varint(w.b[w.pos:])
	if n == 0 {
		return 0, w.truncated(at, what)
	}
	if n < 0 || v < lo || v > hi {
		return 0, w.fail(at, "%s out of range", what)
	}
	w.pos += n
	return v, nil
}

func (w *thriftWalker) structure(depth int) error {
	if depth > maxThriftDepth {
		return w.fail(w.pos, "containers nested deeper than %d", maxThriftDepth)
	}
	var id int64
	for {
		at := w.pos
		if w.left() == 0 {
			return w.truncated(at, "a struct")
		}
		b := w.b[w.pos]
		w.pos++
		if b == ttStop {
			return nil
		}
		next := id + int64(b>>4)
		if b>>4 == 0 {
			v, err := w.varint("field id", math.MinInt16, math.MaxInt16)
			if err != nil {
				return err
			}
			next = v
		}
		if next <= id || next > math.MaxInt16 {
			return w.fail(at, "field id %d after %d: ids must increase", next, id)
		}
		id = next
		w.path = append(w.path, int16(id))
		err := w.value(at, b&0x0f, depth, true)
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
	}
}

// value walks one value of type typ starting at w.pos; at is where its field
// header or container element starts, for messages.
func (w *thriftWalker) value(at int, typ byte, depth int, field bool) error {
	var v int64
	var err error
	switch typ {
	case ttTrue, ttFalse:
		if field { // a bool field's value is its type
			v = int64(2 - typ)
			break
		}
		if w.left() < 1 {
			return w.truncated(at, "a bool")
		}
		w.pos++
	case ttByte:
		if w.left() < 1 {
			return w.truncated(at, "a byte")
		}
		v = int64(int8(w.b[w.pos]))
		w.pos++
	case ttI16:
		v, err = w.varint("i16", math.MinInt16, math.MaxInt16)
	case ttI32:
		v, err = w.varint("i32", math.MinInt32, math.MaxInt32)
	case ttI64:
		v, err = w.varint("i64", math.MinInt64, math.MaxInt64)
	case ttDouble:
		if w.left() < 8 {
			return w.truncated(at, "a double")
		}
		w.pos += 8
	case ttBinary:
		var n uint64
		if n, err = w.uvarint("binary length"); err == nil {
			if n > uint64(w.left()) {
				return w.fail(at, "binary of %d bytes exceeds the %d bytes left", n, w.left())
			}
			w.pos += int(n)
			v = int64(n)
		}
	case ttList, ttSet, ttMap, ttStruct:
		if depth >= maxThriftDepth {
			return w.fail(at, "containers nested deeper than %d", maxThriftDepth)
		}
		if typ == ttStruct {
			if field && w.visit != nil {
				if err := w.visit(w.path, typ, 0); err != nil {
					return w.fail(at, "%v", err)
				}
			}
			return w.structure(depth + 1)
		}
		return w.container(at, typ, depth+1, field)
	default:
		return w.fail(at, "unknown thrift type id %d", typ)
	}
	if err != nil {
		return err
	}
	if field && w.visit != nil {
		if err := w.visit(w.path, typ, v); err != nil {
			return w.fail(at, "%v", err)
		}
	}
	return nil
}

// container walks a list, set or map whose header starts at w.pos.
func (w *thriftWalker) container(at int, typ byte, depth int, field bool) error {
	var n uint64
	var kt, vt byte // element types; kt is unused by lists and sets
	if typ == ttMap {
		var err error
		if n, err = w.uvarint("map size"); err != nil {
			return err
		}
		if n > 0 {
			if w.left() < 1 {
				return w.truncated(at, "a map header")
			}
			kt, vt = w.b[w.pos]>>4, w.b[w.pos]&0x0f
			w.pos++
		}
	} else {
		if w.left() < 1 {
			return w.truncated(at, "a list header")
		}
		h := w.b[w.pos]
		w.pos++
		n, vt = uint64(h>>4), h&0x0f
		if n == 15 {
			var err error
			if n, err = w.uvarint("list size"); err != nil {
				return err
			}
		}
	}
	kind := "list"
	switch typ {
	case ttSet:
		kind = "set"
	case ttMap:
		kind = "map"
	}
	if n > 0 {
		if typ == ttMap && (kt < ttTrue || kt > ttStruct) {
			return w.fail(at, "%s of unknown key type id %d", kind, kt)
		}
		if vt < ttTrue || vt > ttStruct {
			return w.fail(at, "%s of unknown element type id %d", kind, vt)
		}
	}
	per := minThriftBytes(vt)
	if typ == ttMap {
		per += minThriftBytes(kt)
	}
	if n > uint64(w.left()/per) {
		return w.fail(at, "%s of %d elements exceeds the %d bytes left", kind, n, w.left())
	}
	w.cost += int64(n) * decodedThriftBytes(vt)
	if typ == ttMap {
		w.cost += int64(n) * decodedThriftBytes(kt)
	}
	if w.cost > maxThriftDecode {
		return w.fail(at, "%s of %d elements brings the estimated decoded size to %d bytes, over the limit of %d",
			kind, n, w.cost, maxThriftDecode)
	}
	if field && w.visit != nil {
		if err := w.visit(w.path, typ, int64(n)); err != nil {
			return w.fail(at, "%v", err)
		}
	}
	for range n {
		if typ == ttMap {
			if err := w.value(w.pos, kt, depth, false); err != nil {
				return err
			}
		}
		if err := w.value(w.pos, vt, depth, false); err != nil {
			return err
		}
	}
	return nil
}

// minThriftBytes is the fewest bytes a container element of type t takes.
func minThriftBytes(t byte) int {
	if t == ttDouble {
		return 8
	}
	return 1
}

// decodedThriftBytes bounds what parquet-go allocates per container element
// of type t: a struct element is a Go struct of up to 560 bytes
// (format.ColumnChunk), plus what OpenFile builds per column chunk.
func decodedThriftBytes(t byte) int64 {
	switch t {
	case ttStruct:
		return 1 << 10
	case ttBinary, ttList, ttSet, ttMap:
		return 24
	}
	return 8
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

// checkPages walks every page of f before its rows are decoded, checking
// what parquet-go sizes its buffers by: page sizes and value counts, the
// content size of zstd frames, and the run lengths and value counts inside
// the decompressed pages. It caps the estimated memory to decode a row group
// at maxRowGroupDecode. f must have passed checkLayout and inspect: its
// columns are flat.
func checkPages(f *parquet.File) error {
	md := f.Metadata()
	cols := f.Root().Columns()
	g := pageGuard{r: f, zstd: parquet.LookupCompressionCodec(format.Zstd)}
	for i := range md.RowGroups {
		rg := &md.RowGroups[i]
		if len(rg.Columns) != len(cols) {
			return fmt.Errorf("%w: row group %d has %d column chunks for %d columns", ErrCorrupt, i, len(rg.Columns), len(cols))
		}
		var mem int64
		for j := range rg.Columns {
			m := &rg.Columns[j].MetaData
			c := cols[j]
			if !c.Leaf() || c.MaxRepetitionLevel() != 0 || c.MaxDefinitionLevel() > 1 {
				return fmt.Errorf("%w: column %q is not a flat column", ErrCorrupt, c.Name())
			}
			n, err := g.chunk(chunkName(i, j, m), m, rg.NumRows, c.MaxDefinitionLevel())
			if err != nil {
				return err
			}
			mem += n
		}
		if mem > maxRowGroupDecode {
			return fmt.Errorf("%w: row group %d needs an estimated %d bytes to decode, limit %d", ErrCorrupt, i, mem, maxRowGroupDecode)
		}
	}
	return nil
}

// pageGuard checks the pages of a file; its buffers are reused from page to
// page.
type pageGuard struct {
	r    io.ReaderAt
	zstd compress.Codec
	hdr  []byte
	raw  []byte
	data []byte
}

// pageHeader holds the page header fields the guard checks. The
// type-specific headers are indexed by their field id: 5 data page,
// 7 dictionary page, 8 data page v2.
type pageHeader struct {
	typ, uncompressed, compressed int64
	has                           [9]bool
	numValues, encoding           [9]int64
	defEncoding                   int64
	numNulls, numRows             int64
	defLen, repLen                int64
	v2Compressed                  bool
}

func (h *pageHeader) visit(path []int16, typ byte, v int64) error {
	want := byte(ttI32)
	var dst *int64
	switch {
	case len(path) == 1 && path[0] >= 1 && path[0] <= 3:
		dst = []*int64{&h.typ, &h.uncompressed, &h.compressed}[path[0]-1]
	case len(path) == 1 && (path[0] == 5 || path[0] == 7 || path[0] == 8):
		want = ttStruct
		h.has[path[0]] = true
	case len(path) != 2:
	case path[1] == 1 && (path[0] == 5 || path[0] == 7 || path[0] == 8):
		dst = &h.numValues[path[0]]
	case path[1] == 2 && (path[0] == 5 || path[0] == 7), path[0] == 8 && path[1] == 4:
		dst = &h.encoding[path[0]]
	case path[0] == 5 && path[1] == 3:
		dst = &h.defEncoding
	case path[0] == 8 && path[1] == 2:
		dst = &h.numNulls
	case path[0] == 8 && path[1] == 3:
		dst = &h.numRows
	case path[0] == 8 && path[1] == 5:
		dst = &h.defLen
	case path[0] == 8 && path[1] == 6:
		dst = &h.repLen
	case path[0] == 8 && path[1] == 7:
		if typ != ttTrue && typ != ttFalse {
			return fmt.Errorf("is_compressed has type id %d, want a bool", typ)
		}
		h.v2Compressed = v != 0
	}
	if dst == nil && want != ttStruct {
		return nil
	}
	if typ != want {
		return fmt.Errorf("page header field %v has type id %d, want %d", path, typ, want)
	}
	if dst != nil {
		*dst = v
	}
	return nil
}

// chunk walks the pages of one column chunk holding rows rows and returns
// the memory parquet-go needs to decode it: its dictionary page and its
// largest data page.
func (g *pageGuard) chunk(where string, m *format.ColumnMetaData, rows int64, maxDef int) (int64, error) {
	start := m.DataPageOffset
	if m.DictionaryPageOffset != 0 {
		start = m.DictionaryPageOffset
	}
	end := start + m.TotalCompressedSize
	var values, dictMem, dataMem int64
	for page, pos := 0, start; pos < end; page++ {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%w: %s page %d at %d: %s", ErrCorrupt, where, page, pos, fmt.Sprintf(format, args...))
		}
		h, n, err := g.header(where, page, pos, end)
		if err != nil {
			return 0, err
		}
		body := pos + n
		if h.compressed < 0 || h.compressed > end-body {
			return 0, fail("compressed_page_size %d exceeds the %d bytes left in the chunk", h.compressed, end-body)
		}
		if h.uncompressed < 0 || h.uncompressed > maxPageBytes {
			return 0, fail("uncompressed_page_size %d outside [0, %d]", h.uncompressed, maxPageBytes)
		}
		var sub int
		switch format.PageType(h.typ) {
		case format.DictionaryPage:
			sub = 7
			if page != 0 {
				return 0, fail("dictionary page after the first page")
			}
		case format.DataPage:
			sub = 5
		case format.DataPageV2:
			sub = 8
		default:
			return 0, fail("page type %d, want a data or dictionary page", h.typ)
		}
		if !h.has[sub] {
			return 0, fail("%s without its type-specific header", format.PageType(h.typ))
		}
		nv := h.numValues[sub]
		if nv < 0 || nv > rows {
			return 0, fail("num_values %d outside [0, %d], the row group's rows", nv, rows)
		}
		if sub != 7 {
			if values += nv; values > m.NumValues {
				return 0, fail("data pages hold more than the chunk's %d values", m.NumValues)
			}
		}
		if err := g.content(fail, &h, sub, body, m.Codec, maxDef, nv); err != nil {
			return 0, err
		}
		mem := h.compressed + 2*h.uncompressed + decodeBytesPerValue*nv
		if sub == 7 {
			dictMem = mem
		} else {
			dataMem = max(dataMem, mem)
		}
		pos = body + h.compressed
	}
	if values != m.NumValues {
		return 0, fmt.Errorf("%w: %s: data pages hold %d values, chunk metadata says %d", ErrCorrupt, where, values, m.NumValues)
	}
	if values != rows {
		return 0, fmt.Errorf("%w: %s: %d values for %d rows", ErrCorrupt, where, values, rows)
	}
	return dictMem + dataMem, nil
}

// header walks the page header at pos, reading as much of the chunk as it
// needs, and returns it with its length.
func (g *pageGuard) header(where string, page int, pos, end int64) (pageHeader, int64, error) {
	limit := min(end-pos, maxPageHeaderBytes)
	for n := min(limit, 256); ; n = min(limit, 16*n) {
		g.hdr = resizeBuf(g.hdr, n)
		if err := readFullAt(g.r, g.hdr, pos); err != nil {
			return pageHeader{}, 0, fmt.Errorf("%w: %s page %d at %d: reading page header: %v", ErrCorrupt, where, page, pos, err)
		}
		h := pageHeader{v2Compressed: true}
		w := thriftWalker{b: g.hdr, where: fmt.Sprintf("%s page %d header at %d", where, page, pos), visit: h.visit}
		err := w.structure(0)
		if err == nil {
			return h, int64(w.pos), nil
		}
		if !errors.Is(err, errTruncated) || n == limit {
			return h, 0, err
		}
	}
}

// content reads and decompresses a page as parquet-go does and checks the
// counts in it that parquet-go allocates by, which the page's nv values
// bound: definition level runs, dictionary index runs, delta headers.
func (g *pageGuard) content(fail func(string, ...any) error, h *pageHeader, sub int, body int64, codec format.CompressionCodec, maxDef int, nv int64) error {
	g.raw = resizeBuf(g.raw, h.compressed)
	if err := readFullAt(g.r, g.raw, body); err != nil {
		return fail("reading page: %v", err)
	}
	data, defs := g.raw, []byte(nil)
	compressed := codec == format.Zstd
	if sub == 8 {
		if h.defLen < 0 || h.repLen < 0 || h.defLen+h.repLen > int64(len(data)) {
			return fail("level lengths %d+%d exceed the %d bytes of the page", h.repLen, h.defLen, len(data))
		}
		if h.numNulls < 0 || h.numNulls > nv || h.numRows < 0 || h.numRows > nv {
			return fail("%d nulls and %d rows for %d values", h.numNulls, h.numRows, nv)
		}
		defs, data = data[h.repLen:h.repLen+h.defLen], data[h.repLen+h.defLen:]
		compressed = compressed && h.v2Compressed
	}
	if compressed {
		want := h.uncompressed - int64(len(g.raw)-len(data))
		bound, err := zstdBound(data)
		if err != nil {
			return fail("%v", err)
		}
		if bound > want+zstdMaxBlock {
			return fail("zstd frames decode to up to %d bytes, uncompressed_page_size leaves %d", bound, want)
		}
		g.data, err = g.zstd.Decode(resizeBuf(g.data, want)[:0], data)
		if err != nil {
			return fail("zstd: %v", err)
		}
		if int64(len(g.data)) != want {
			return fail("decompresses to %d bytes, uncompressed_page_size leaves %d", len(g.data), want)
		}
		data = g.data
	}
	if sub == 7 {
		if e := format.Encoding(h.encoding[7]); e != format.Plain && e != format.PlainDictionary {
			return fail("dictionary page encoding %s, want PLAIN", e)
		}
		return nil
	}
	if maxDef > 0 {
		if sub == 5 {
			if e := format.Encoding(h.defEncoding); e != format.RLE {
				return fail("definition level encoding %s, want RLE", e)
			}
			if len(data) < 4 || int64(binary.LittleEndian.Uint32(data)) > int64(len(data)-4) {
				return fail("definition levels overrun the page")
			}
			defs, data = data[4:4+binary.LittleEndian.Uint32(data)], data[4+binary.LittleEndian.Uint32(data):]
		}
		if n := rleCount(defs, 1, nv+8); n > nv+8 {
			return fail("definition level runs expand to more than %d values for %d values", nv+8, nv)
		}
	}
	switch e := format.Encoding(h.encoding[sub]); e {
	case format.Plain:
	case format.PlainDictionary, format.RLEDictionary:
		if len(data) > 0 {
			if data[0] > 32 {
				return fail("dictionary index bit width %d", data[0])
			}
			if n := rleCount(data[1:], int(data[0]), nv+8); n > nv+8 {
				return fail("dictionary index runs expand to more than %d values for %d values", nv+8, nv)
			}
		}
	case format.DeltaBinaryPacked:
		var u [3]uint64
		rest := data
		for k := range u {
			var n int
			if u[k], n = binary.Uvarint(rest); n <= 0 {
				return fail("delta header truncated")
			}
			rest = rest[n:]
		}
		if u[2] > uint64(nv) {
			return fail("delta header says %d values for %d values", u[2], nv)
		}
	default:
		return fail("data page encoding %s, not one flowlake writes", e)
	}
	return nil
}

// rleCount returns how many values the RLE/bit-packed hybrid runs in b
// expand to, or a number over limit once they exceed it. parquet-go
// allocates for every run, whatever the page's value count.
func rleCount(b []byte, bitWidth int, limit int64) int64 {
	var n int64
	for i := 0; i < len(b) && n <= limit; {
		u, k := binary.Uvarint(b[i:])
		if k <= 0 {
			break // parquet-go fails here, before allocating
		}
		i += k
		count := int64(min(u>>1, math.MaxInt32+1))
		switch {
		case count == 0:
		case u&1 != 0: // bit-packed groups of 8 values
			n += 8 * count
			i += int(count) * bitWidth
		default:
			n += count
			i += (bitWidth + 7) / 8
		}
	}
	return n
}

// zstdBound walks the zstd frames in b and returns how many bytes they may
// decode to: a frame's content size if its header has one (the decoder
// allocates that up front and fails past it), else the sum of its blocks'
// sizes, counting a compressed block as the 128 KiB it may expand to.
func zstdBound(b []byte) (int64, error) {
	var total int64
	for i := 0; i < len(b) && total <= maxPageBytes; {
		if len(b)-i < 5 {
			return 0, errors.New("zstd frame header truncated")
		}
		if magic := binary.LittleEndian.Uint32(b[i:]); magic != 0xFD2FB528 {
			return 0, fmt.Errorf("not a zstd frame (magic %#08x)", magic)
		}
		fhd := b[i+4]
		if fhd&0x08 != 0 {
			return 0, errors.New("zstd frame header has its reserved bit set")
		}
		single := fhd&0x20 != 0
		fcsLen := [4]int{0, 2, 4, 8}[fhd>>6]
		if fcsLen == 0 && single {
			fcsLen = 1
		}
		hl := 5 + [4]int{0, 1, 2, 4}[fhd&3] + fcsLen
		if !single {
			hl++ // window descriptor
		}
		if len(b)-i < hl {
			return 0, errors.New("zstd frame header truncated")
		}
		fcs := int64(-1)
		switch p := b[i+hl-fcsLen : i+hl]; fcsLen {
		case 1:
			fcs = int64(p[0])
		case 2:
			fcs = int64(binary.LittleEndian.Uint16(p)) + 256
		case 4:
			fcs = int64(binary.LittleEndian.Uint32(p))
		case 8:
			fcs = int64(min(binary.LittleEndian.Uint64(p), math.MaxInt64))
		}
		i += hl
		var blocks int64
		for last := false; !last; {
			if len(b)-i < 3 {
				return 0, errors.New("zstd block header truncated")
			}
			h := int(b[i]) | int(b[i+1])<<8 | int(b[i+2])<<16
			i += 3
			last = h&1 != 0
			size, skip := h>>3, h>>3
			if size > zstdMaxBlock {
				return 0, fmt.Errorf("zstd block of %d bytes exceeds %d", size, zstdMaxBlock)
			}
			switch h >> 1 & 3 {
			case 1: // RLE: one byte repeated size times
				skip = 1
			case 2: // compressed
				size = zstdMaxBlock
			case 3:
				return 0, errors.New("zstd block of reserved type")
			}
			if skip > len(b)-i {
				return 0, fmt.Errorf("zstd block of %d bytes exceeds the %d bytes left", skip, len(b)-i)
			}
			i += skip
			blocks += int64(size)
		}
		if fhd&0x04 != 0 { // content checksum
			if len(b)-i < 4 {
				return 0, errors.New("zstd checksum truncated")
			}
			i += 4
		}
		if fcs < 0 {
			fcs = blocks
		}
		total += fcs
	}
	return total, nil
}

// resizeBuf returns b with length n, reallocated if too small.
func resizeBuf(b []byte, n int64) []byte {
	if int64(cap(b)) < n {
		return make([]byte, n)
	}
	return b[:n]
}
