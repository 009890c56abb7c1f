package lake

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/format"
)

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
	case len(path) == 1 && path[0] == 1:
		dst = &h.typ
	case len(path) == 1 && path[0] == 2:
		dst = &h.uncompressed
	case len(path) == 1 && path[0] == 3:
		dst = &h.compressed
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
		// bound is exact for frames with a content size and overestimates
		// the last compressed block of others by less than a block.
		if bound < want || bound > want+zstdMaxBlock {
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
		if e := format.Encoding(h.encoding[7]); e != format.Plain {
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
	case format.RLEDictionary:
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
