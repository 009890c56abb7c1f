package query

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// The engine reads the column chunks of the lake's own files itself: one
// read per run of needed pages, page headers parsed in place, values
// decompressed into a buffer the worker keeps (with the slack zstd's fast
// copy loops need, which parquet-go's exactly sized page buffers deny it)
// and decoded straight into the vectors. A chunk whose codec or encodings
// this reader does not know goes through parquet-go's page reader instead.

// maxPageBytes bounds a page's declared uncompressed size: a corrupt header
// must not make the reader allocate gigabytes.
const maxPageBytes = 256 << 20

// maxRowGroupRows bounds a row group's declared rows, for the same reason.
const maxRowGroupRows = 1 << 28

// zstdSlack is the room past a page's end that lets the zstd decoder use
// its fast, block-copying loops.
const zstdSlack = 64

// pageReader holds a worker's buffers for reading pages.
type pageReader struct {
	zd    *zstd.Decoder
	raw   []byte // the bytes of the pages being read, as stored
	vals  []byte // one page's values, decompressed
	defs  []byte // one page's definition levels, one byte per row
	lvls  []int32
	pad   []byte // a bit-packed run copied with the padding the unpacker reads
	ids   []int32
	ints  []int64
	hdr   format.PageHeader
	proto thrift.CompactProtocol
}

// plainDictionary is the deprecated name of dictionary encoding that
// Parquet 1.0 writers still put in files; readers must accept it.
//
//lint:ignore SA1019 reading files written with the old name
const plainDictionary = format.PlainDictionary

// errSlowPath says a chunk must be read through parquet-go.
var errSlowPath = errors.New("chunk needs the general page reader")

// fastChunk reports whether the engine's own reader handles a chunk.
func fastChunk(c *colDesc, md *format.ColumnMetaData) bool {
	if c.isBool {
		return false
	}
	switch md.Codec {
	case format.Uncompressed, format.Zstd:
	default:
		return false
	}
	switch md.Type {
	case format.Int32, format.Int64, format.ByteArray, format.FixedLenByteArray:
	default:
		return false
	}
	for _, e := range md.Encoding {
		switch e {
		case format.Plain, format.RLE, format.RLEDictionary, plainDictionary, format.DeltaBinaryPacked:
		default:
			return false
		}
	}
	return true
}

// ownCode is the prefix of the engine's functions in a stack trace.
const ownCode = "github.com/flowlake/flowlake/storage/query."

// panicInOwnCode reports whether the panic being recovered (called from
// the deferred function that recovered it) was raised in the engine's own
// code — an index out of range in decodeHybrid, say — rather than in a
// library it calls.
func panicInOwnCode() bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	inPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			inPanic = true
		case inPanic && !strings.HasPrefix(f.Function, "runtime."):
			return strings.HasPrefix(f.Function, ownCode)
		}
		if !more {
			return false
		}
	}
}

// readChunk decodes the rows of ranges of column c of row group rgi of f
// into v. It returns errSlowPath, before touching v, when the chunk is not
// one it reads.
func (dc *decoder) readChunk(f *parquet.File, rgi int, c *colDesc, n int64, ranges []rowRange, v *vector, coded bool) (read int64, pages int, err error) {
	defer func() {
		// parquet-go's level and index decoders panic on some damaged
		// input instead of returning an error. A panic in the engine's own
		// code is a bug: the fuzz target lets those through.
		if p := recover(); p != nil {
			if dc.ownPanics && panicInOwnCode() {
				panic(fmt.Sprintf("%v [recovered in readChunk]\n%s", p, debug.Stack()))
			}
			err = fmt.Errorf("column %s: damaged page: %v", c.name, p)
		}
	}()
	md := f.Metadata()
	if rgi >= len(md.RowGroups) || c.leaf < 0 || c.leaf >= len(md.RowGroups[rgi].Columns) {
		return 0, 0, errSlowPath
	}
	cm := &md.RowGroups[rgi].Columns[c.leaf].MetaData
	if !fastChunk(c, cm) {
		return 0, 0, errSlowPath
	}
	oi, err := f.RowGroups()[rgi].ColumnChunks()[c.leaf].OffsetIndex()
	if err != nil || oi.NumPages() == 0 {
		return 0, 0, errSlowPath
	}
	if n < 0 || n > maxRowGroupRows {
		return 0, 0, fmt.Errorf("column %s: row group of %d rows", c.name, n)
	}
	np := oi.NumPages()
	// The pages the ranges touch, in order.
	need := dc.pageSet(oi, n, ranges)
	if len(need) == 0 {
		return 0, 0, nil
	}
	if c.bytes {
		v.ids = grow(v.ids, n)
		v.dict = v.dict.reset(c.width)
	} else {
		v.coded = coded
		v.null = nil // a pooled vector may have served an optional column
		if coded {
			v.codes, v.dvals = grow(v.codes, n), v.dvals[:0]
		} else {
			v.ints = grow(v.ints, n)
			if c.optional {
				v.null = grow(v.spare, n)
				v.spare = v.null
			}
		}
	}
	pr := &dc.pr
	if pr.zd == nil && cm.Codec == format.Zstd {
		if pr.zd, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxPageBytes)); err != nil {
			return 0, 0, fmt.Errorf("column %s: zstd decoder: %w", c.name, err)
		}
	}
	// One read from the dictionary page (or the first needed page) to the
	// end of the last needed page.
	start := oi.Offset(need[0])
	dictPage := cm.DictionaryPageOffset > 0 && cm.DictionaryPageOffset < oi.Offset(0)
	if dictPage {
		start = cm.DictionaryPageOffset
	}
	last := need[len(need)-1]
	end := oi.Offset(last) + oi.CompressedPageSize(last)
	if start < 0 || end <= start || end > f.Size() || end-start > maxPageBytes*4 {
		return 0, 0, fmt.Errorf("column %s: pages span bytes [%d, %d) of a %d-byte file", c.name, start, end, f.Size())
	}
	pr.raw = slices.Grow(pr.raw[:0], int(end-start))[:end-start]
	if _, err := f.ReadAt(pr.raw, start); err != nil {
		return 0, 0, fmt.Errorf("column %s: read pages at %d: %w", c.name, start, err)
	}
	dints := dc.dints[:0]
	if dictPage {
		size := oi.Offset(0) - start
		if err := dc.readDictPage(c, cm, pr.raw[:size], v, &dints); err != nil {
			return 0, 0, err
		}
		read += size
		dc.dints = dints
		if v.coded {
			v.dvals = append(v.dvals, dints...)
		}
	}
	for _, p := range need {
		row := oi.FirstRowIndex(p)
		rows := n - row
		if p+1 < np {
			rows = oi.FirstRowIndex(p+1) - row
		}
		off := oi.Offset(p) - start
		size := oi.CompressedPageSize(p)
		if row < 0 || rows <= 0 || row+rows > n || off < 0 || size <= 0 || off+size > int64(len(pr.raw)) {
			return read, pages, fmt.Errorf("column %s: offset index page %d (rows %d+%d, bytes %d+%d) outside the chunk", c.name, p, row, rows, off+start, size)
		}
		if err := dc.readDataPage(c, cm, pr.raw[off:off+size], row, rows, v, dints); err != nil {
			return read, pages, err
		}
		read += size
		pages++
	}
	return read, pages, nil
}

// pageSet returns the pages (by offset-index position) that hold rows of
// ranges.
func (dc *decoder) pageSet(oi parquet.OffsetIndex, n int64, ranges []rowRange) []int {
	np := oi.NumPages()
	out := dc.need[:0]
	p := 0
	for _, r := range ranges {
		for p+1 < np && oi.FirstRowIndex(p+1) <= r.lo {
			p++
		}
		for q := p; q < np && oi.FirstRowIndex(q) < r.hi; q++ {
			if len(out) == 0 || out[len(out)-1] < q {
				out = append(out, q)
			}
		}
	}
	dc.need = out
	return out
}

// header parses the page header at the start of b and returns the bytes
// after it.
func (pr *pageReader) header(c *colDesc, b []byte) ([]byte, error) {
	pr.hdr = format.PageHeader{}
	r := pr.proto.NewReaderFromBytes(b)
	if err := thrift.NewDecoder(r).Decode(&pr.hdr); err != nil {
		return nil, fmt.Errorf("column %s: page header: %w", c.name, err)
	}
	rest := b[r.BytesRead():]
	h := &pr.hdr
	if h.CompressedPageSize < 0 || int(h.CompressedPageSize) > len(rest) || h.UncompressedPageSize < 0 || h.UncompressedPageSize > maxPageBytes {
		return nil, fmt.Errorf("column %s: page header sizes %d compressed, %d uncompressed, with %d bytes left", c.name, h.CompressedPageSize, h.UncompressedPageSize, len(rest))
	}
	return rest[:h.CompressedPageSize], nil
}

// decompress returns the size bytes that b holds under the chunk's codec.
func (pr *pageReader) decompress(c *colDesc, codec format.CompressionCodec, b []byte, size int) ([]byte, error) {
	if codec == format.Uncompressed {
		if len(b) != size {
			return nil, fmt.Errorf("column %s: uncompressed page has %d bytes, header says %d", c.name, len(b), size)
		}
		return b, nil
	}
	pr.vals = slices.Grow(pr.vals[:0], size+zstdSlack)
	out, err := pr.zd.DecodeAll(b, pr.vals[:0])
	if err != nil {
		return nil, fmt.Errorf("column %s: zstd: %w", c.name, err)
	}
	if len(out) != size {
		return nil, fmt.Errorf("column %s: page decompressed to %d bytes, header says %d", c.name, len(out), size)
	}
	return out, nil
}

// readDictPage loads a chunk's dictionary: into v.dict for byte columns,
// into dints for integer ones.
func (dc *decoder) readDictPage(c *colDesc, cm *format.ColumnMetaData, b []byte, v *vector, dints *[]int64) error {
	pr := &dc.pr
	body, err := pr.header(c, b)
	if err != nil {
		return err
	}
	h := &pr.hdr
	if h.Type != format.DictionaryPage || !h.DictionaryPageHeader.Valid {
		return fmt.Errorf("column %s: page before the data pages is a %v, not a dictionary", c.name, h.Type)
	}
	dh := &h.DictionaryPageHeader.V
	if e := dh.Encoding; e != format.Plain && e != plainDictionary {
		return fmt.Errorf("column %s: dictionary page encoded %v", c.name, e)
	}
	count := int(dh.NumValues)
	data, err := pr.decompress(c, cm.Codec, body, int(h.UncompressedPageSize))
	if err != nil {
		return err
	}
	if count < 0 {
		return fmt.Errorf("column %s: dictionary of %d values", c.name, count)
	}
	switch cm.Type {
	case format.FixedLenByteArray:
		if c.width == 0 || len(data) != count*c.width {
			return fmt.Errorf("column %s: dictionary of %d values has %d bytes", c.name, count, len(data))
		}
		v.dict.fixed = append(v.dict.fixed[:0], data...)
	case format.ByteArray:
		v.dict.strs = v.dict.strs[:0]
		for i := 0; i < count; i++ {
			s, rest, err := plainString(data)
			if err != nil {
				return fmt.Errorf("column %s: dictionary value %d: %w", c.name, i, err)
			}
			v.dict.strs, data = append(v.dict.strs, string(s)), rest
		}
	case format.Int32:
		if len(data) != count*4 {
			return fmt.Errorf("column %s: dictionary of %d values has %d bytes", c.name, count, len(data))
		}
		out := (*dints)[:0]
		for i := range count {
			out = append(out, widen32(int32(le32(data[4*i:])), c.unsigned))
		}
		*dints = out
	case format.Int64:
		if len(data) != count*8 {
			return fmt.Errorf("column %s: dictionary of %d values has %d bytes", c.name, count, len(data))
		}
		out := (*dints)[:0]
		for i := range count {
			out = append(out, int64(le64(data[8*i:])))
		}
		*dints = out
	}
	if c.bytes != (cm.Type == format.FixedLenByteArray || cm.Type == format.ByteArray) {
		return fmt.Errorf("column %s: stored as %v", c.name, cm.Type)
	}
	return nil
}

// readDataPage decodes one data page holding rows [row, row+rows).
func (dc *decoder) readDataPage(c *colDesc, cm *format.ColumnMetaData, b []byte, row, rows int64, v *vector, dints []int64) error {
	pr := &dc.pr
	body, err := pr.header(c, b)
	if err != nil {
		return err
	}
	h := &pr.hdr
	var (
		enc     format.Encoding
		defs    []byte
		data    []byte
		numVals int64
	)
	switch {
	case h.Type == format.DataPageV2 && h.DataPageHeaderV2.Valid:
		h2 := &h.DataPageHeaderV2.V
		enc, numVals = h2.Encoding, int64(h2.NumValues)
		dl, rl := int(h2.DefinitionLevelsByteLength), int(h2.RepetitionLevelsByteLength)
		if dl < 0 || rl != 0 || dl > len(body) {
			return fmt.Errorf("column %s: page at row %d: level lengths %d/%d in a %d-byte page", c.name, row, dl, rl, len(body))
		}
		if int64(h2.NumRows) != rows {
			return fmt.Errorf("column %s: page at row %d has %d rows, offset index says %d", c.name, row, h2.NumRows, rows)
		}
		if c.optional {
			if defs, err = pr.levels(body[:dl], rows); err != nil {
				return fmt.Errorf("column %s: page at row %d: definition levels: %w", c.name, row, err)
			}
		} else if dl != 0 {
			return fmt.Errorf("column %s: page at row %d: definition levels on a required column", c.name, row)
		}
		data = body[dl:]
		if cm.Codec != format.Uncompressed && (!h2.IsCompressed.Valid || h2.IsCompressed.V) {
			if data, err = pr.decompress(c, cm.Codec, data, int(h.UncompressedPageSize)-dl); err != nil {
				return err
			}
		}
	case h.Type == format.DataPage && h.DataPageHeader.Valid:
		enc, numVals = h.DataPageHeader.V.Encoding, int64(h.DataPageHeader.V.NumValues)
		if numVals != rows {
			return fmt.Errorf("column %s: page at row %d has %d values, offset index says %d rows", c.name, row, numVals, rows)
		}
		if data, err = pr.decompress(c, cm.Codec, body, int(h.UncompressedPageSize)); err != nil {
			return err
		}
		if c.optional {
			if len(data) < 4 {
				return fmt.Errorf("column %s: page at row %d: no definition levels", c.name, row)
			}
			dl := int(le32(data))
			if dl < 0 || 4+dl > len(data) {
				return fmt.Errorf("column %s: page at row %d: %d bytes of definition levels in a %d-byte page", c.name, row, dl, len(data))
			}
			if defs, err = pr.levels(data[4:4+dl], rows); err != nil {
				return fmt.Errorf("column %s: page at row %d: definition levels: %w", c.name, row, err)
			}
			data = data[4+dl:]
		}
	default:
		return fmt.Errorf("column %s: page at row %d is a %v page", c.name, row, h.Type)
	}
	if numVals != rows {
		return fmt.Errorf("column %s: page at row %d has %d values for %d rows", c.name, row, numVals, rows)
	}
	nonNull := rows
	if defs != nil {
		nonNull = 0
		for _, d := range defs {
			nonNull += int64(d)
		}
	}
	indexed := enc == format.RLEDictionary || enc == plainDictionary
	if c.bytes {
		var src []int32
		switch {
		case indexed:
			if src, err = pr.indexes(data, nonNull, v.dict.len()); err != nil {
				return fmt.Errorf("column %s: page at row %d: %w", c.name, row, err)
			}
		case enc != format.Plain:
			return fmt.Errorf("column %s: page at row %d encoded %v", c.name, row, enc)
		case cm.Type == format.FixedLenByteArray:
			if c.width == 0 || int64(len(data)) != nonNull*int64(c.width) {
				return fmt.Errorf("column %s: page at row %d has %d bytes for %d values", c.name, row, len(data), nonNull)
			}
			src = dc.internFixed(v.dict, data, c.width)
		default:
			if src, err = dc.internPlain(v.dict, data, nonNull); err != nil {
				return fmt.Errorf("column %s: page at row %d: %w", c.name, row, err)
			}
		}
		spreadInt32(v.ids[row:row+rows], src, defs)
		return nil
	}
	if v.coded && indexed {
		idx, err := pr.indexes(data, nonNull, len(dints))
		if err != nil {
			return fmt.Errorf("column %s: page at row %d: %w", c.name, row, err)
		}
		spreadInt32(v.codes[row:row+rows], idx, defs)
		return nil
	}
	var vals []int64
	switch {
	case indexed:
		idx, err := pr.indexes(data, nonNull, len(dints))
		if err != nil {
			return fmt.Errorf("column %s: page at row %d: %w", c.name, row, err)
		}
		vals = slices.Grow(pr.ints[:0], len(idx))[:len(idx)]
		for i, id := range idx {
			vals[i] = dints[id]
		}
		pr.ints = vals[:0]
	case enc == format.Plain && cm.Type == format.Int64:
		if int64(len(data)) != nonNull*8 {
			return fmt.Errorf("column %s: page at row %d has %d bytes for %d values", c.name, row, len(data), nonNull)
		}
		vals = pr.int64s(data)
	case enc == format.Plain && cm.Type == format.Int32:
		if int64(len(data)) != nonNull*4 {
			return fmt.Errorf("column %s: page at row %d has %d bytes for %d values", c.name, row, len(data), nonNull)
		}
		vals = slices.Grow(pr.ints[:0], int(nonNull))[:nonNull]
		for i := range vals {
			vals[i] = widen32(int32(le32(data[4*i:])), c.unsigned)
		}
		pr.ints = vals[:0]
	case enc == format.DeltaBinaryPacked && cm.Type == format.Int64:
		if err := checkDelta(data, nonNull); err != nil {
			return fmt.Errorf("column %s: page at row %d: %w", c.name, row, err)
		}
		if vals, err = (&delta.BinaryPackedEncoding{}).DecodeInt64(pr.ints[:0], data); err != nil {
			return fmt.Errorf("column %s: page at row %d: %w", c.name, row, err)
		}
		pr.ints = vals[:0]
	case enc == format.DeltaBinaryPacked && cm.Type == format.Int32:
		if err := checkDelta(data, nonNull); err != nil {
			return fmt.Errorf("column %s: page at row %d: %w", c.name, row, err)
		}
		i32, err := (&delta.BinaryPackedEncoding{}).DecodeInt32(pr.ids[:0], data)
		if err != nil {
			return fmt.Errorf("column %s: page at row %d: %w", c.name, row, err)
		}
		pr.ids = i32
		vals = slices.Grow(pr.ints[:0], len(i32))[:len(i32)]
		for i, x := range i32 {
			vals[i] = widen32(x, c.unsigned)
		}
		pr.ints = vals[:0]
	default:
		return fmt.Errorf("column %s: page at row %d: %v values encoded %v", c.name, row, cm.Type, enc)
	}
	if int64(len(vals)) != nonNull {
		return fmt.Errorf("column %s: page at row %d has %d values for %d non-null rows", c.name, row, len(vals), nonNull)
	}
	if v.coded {
		// Values stored plainly join the codes' dictionary as they come.
		codes := dc.tmpIDs(len(vals))
		for j := range codes {
			codes[j] = int32(len(v.dvals) + j)
		}
		v.dvals = append(v.dvals, vals...)
		spreadInt32(v.codes[row:row+rows], codes, defs)
		return nil
	}
	placeInts(v, row, vals, defs)
	return nil
}
