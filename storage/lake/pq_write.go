package lake

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/flowlake/flowlake/storage/schema"
)

// pqWriter assembles a Parquet file from column chunks that a
// column-at-a-time encoder (flows: flow_columns.go) has already encoded: it
// compresses pages with zstd, writes page headers, and keeps the metadata
// (column statistics, column and offset indexes, bloom filter locations)
// for the footer. It writes what parquet-go's GenericWriter writes for the
// same options: data pages v2, PLAIN dictionary pages, RLE_DICTIONARY or
// PLAIN or DELTA_BINARY_PACKED values, a page index on every column.
type pqWriter struct {
	w         io.Writer
	off       int64
	err       error
	zstd      *compressor
	hdr       bytes.Buffer
	tenc      *thrift.Encoder
	rowGroups []format.RowGroup
	colIdx    [][]format.ColumnIndex
	offIdx    [][]format.OffsetIndex

	// The row group being written.
	rgStart  int64
	rgRows   int64
	chunks   []format.ColumnChunk
	cis      []format.ColumnIndex
	ois      []format.OffsetIndex
	blooms   [][]byte // per column of the row group; nil when none
	chunk    *format.ColumnChunk
	chunkPos int64 // offset of the current chunk's first page

	// sorting is the order of every row group's rows (nil: by time, the
	// first column).
	sorting []format.SortingColumn
}

// zstdEncoders are shared by pqWriters. Pages are compressed one at a
// time, and matches far back in a column's values are rare: a 128 KiB
// window compresses the lake's pages to the same size as the default 8
// MiB one did, and an encoder holds 256 KiB of history instead of 16 MiB
// (cheap to keep, and to allocate when the pool is empty).
var zstdEncoders = newFreeList[*compressor](4, nil)

// compressor is a zstd encoder and its output buffer, kept together so
// that the buffer, grown to the largest page, is reused by the next file.
type compressor struct {
	enc *zstd.Encoder
	buf []byte
}

// zstdWindow is the encoders' window size.
const zstdWindow = 128 << 10

func getZstdEncoder() *compressor {
	if c, ok := zstdEncoders.get(); ok {
		return c
	}
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false),
		zstd.WithWindowSize(zstdWindow), zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic(err) // unreachable: constant, valid options
	}
	return &compressor{enc: e}
}

func newPQWriter(w io.Writer) *pqWriter {
	p := &pqWriter{w: w, zstd: getZstdEncoder()}
	p.tenc = thrift.NewEncoder(new(thrift.CompactProtocol).NewWriter(&p.hdr))
	p.write([]byte("PAR1"))
	return p
}

// release returns the writer's shared resources; it must not be used after.
func (p *pqWriter) release() {
	if p.zstd != nil {
		zstdEncoders.put(p.zstd)
		p.zstd = nil
	}
}

func (p *pqWriter) write(b []byte) {
	if p.err != nil {
		return
	}
	n, err := p.w.Write(b)
	p.off += int64(n)
	p.err = err
}

// thrift encodes v into p.hdr, replacing its content.
func (p *pqWriter) thrift(v any) []byte {
	p.hdr.Reset()
	if err := p.tenc.Encode(v); err != nil && p.err == nil {
		p.err = err
	}
	return p.hdr.Bytes()
}

// beginRowGroup starts a row group of rows rows and ncols columns.
func (p *pqWriter) beginRowGroup(rows int64, ncols int) {
	p.rgStart, p.rgRows = p.off, rows
	p.chunks = make([]format.ColumnChunk, 0, ncols)
	p.cis = make([]format.ColumnIndex, 0, ncols)
	p.ois = make([]format.OffsetIndex, 0, ncols)
	p.blooms = make([][]byte, 0, ncols)
}

// beginChunk starts the chunk of the next column.
func (p *pqWriter) beginChunk(name string, typ format.Type) {
	p.chunks = append(p.chunks, format.ColumnChunk{MetaData: format.ColumnMetaData{
		Type: typ, PathInSchema: []string{name}, Codec: format.Zstd,
	}})
	p.cis = append(p.cis, format.ColumnIndex{})
	p.ois = append(p.ois, format.OffsetIndex{})
	p.blooms = append(p.blooms, nil)
	p.chunk = &p.chunks[len(p.chunks)-1]
	p.chunkPos = p.off
}

// compress returns b compressed with zstd, in a buffer reused by the next call.
func (p *pqWriter) compress(b []byte) []byte {
	c := p.zstd
	c.buf = c.enc.EncodeAll(b, c.buf[:0])
	return c.buf
}

// dictPage writes the chunk's dictionary page: n values, PLAIN encoded.
func (p *pqWriter) dictPage(n int, plain []byte) {
	body := p.compress(plain)
	h := format.PageHeader{Type: format.DictionaryPage, UncompressedPageSize: int32(len(plain)), CompressedPageSize: int32(len(body))}
	h.DictionaryPageHeader = thrift.New(format.DictionaryPageHeader{NumValues: int32(n), Encoding: format.Plain})
	m := &p.chunk.MetaData
	m.DictionaryPageOffset = p.off
	hdr := p.thrift(&h)
	m.TotalUncompressedSize += int64(len(hdr) + len(plain))
	m.TotalCompressedSize += int64(len(hdr) + len(body))
	p.write(hdr)
	p.write(body)
	m.EncodingStats = append(m.EncodingStats, format.PageEncodingStats{PageType: format.DictionaryPage, Encoding: format.Plain, Count: 1})
}

// pageStats is what a data page adds to the column index.
type pageStats struct {
	nulls    int64
	min, max []byte // nil on a page of nulls only
	// unencoded is the bytes of BYTE_ARRAY values (for the size statistics).
	unencoded int64
}

// dataPage writes a data page (v2) of rows rows: the RLE-encoded definition
// levels (nil for a required column) and the values, encoded with enc.
func (p *pqWriter) dataPage(rows int64, enc format.Encoding, levels, values []byte, st pageStats) {
	p.dataPageBody(rows, enc, levels, values, p.compress(values), st)
}

// dataPageBody is dataPage with the values already compressed into body,
// or stored as they are when body is nil (is_compressed=false: zstd cannot
// shrink bit-packed dictionary indices of near-uniform columns, so trying
// costs time for nothing).
func (p *pqWriter) dataPageBody(rows int64, enc format.Encoding, levels, values, body []byte, st pageStats) {
	compressed := body != nil
	if !compressed {
		body = values
	}
	h := format.PageHeader{
		Type:                 format.DataPageV2,
		UncompressedPageSize: int32(len(levels) + len(values)),
		CompressedPageSize:   int32(len(levels) + len(body)),
	}
	h.DataPageHeaderV2 = thrift.New(format.DataPageHeaderV2{
		NumValues: int32(rows), NumNulls: int32(st.nulls), NumRows: int32(rows), Encoding: enc,
		DefinitionLevelsByteLength: int32(len(levels)), IsCompressed: thrift.New(compressed),
	})
	m := &p.chunk.MetaData
	ci, oi := &p.cis[len(p.cis)-1], &p.ois[len(p.ois)-1]
	if m.NumValues == 0 {
		m.DataPageOffset = p.off
	}
	hdr := p.thrift(&h)
	oi.PageLocations = append(oi.PageLocations, format.PageLocation{
		Offset: p.off, CompressedPageSize: int32(len(hdr)) + h.CompressedPageSize, FirstRowIndex: m.NumValues,
	})
	m.TotalUncompressedSize += int64(len(hdr)) + int64(h.UncompressedPageSize)
	m.TotalCompressedSize += int64(len(hdr)) + int64(h.CompressedPageSize)
	m.NumValues += rows
	p.write(hdr)
	p.write(levels)
	p.write(body)
	if n := len(m.EncodingStats); n > 0 && m.EncodingStats[n-1].PageType == format.DataPageV2 {
		m.EncodingStats[n-1].Count++
	} else {
		m.EncodingStats = append(m.EncodingStats, format.PageEncodingStats{PageType: format.DataPageV2, Encoding: enc, Count: 1})
	}
	ci.NullPages = append(ci.NullPages, st.min == nil)
	ci.MinValues = append(ci.MinValues, st.min)
	ci.MaxValues = append(ci.MaxValues, st.max)
	ci.NullCounts = append(ci.NullCounts, st.nulls)
	m.Statistics.NullCount += st.nulls
	if levels != nil {
		ci.DefinitionLevelHistogram = append(ci.DefinitionLevelHistogram, st.nulls, rows-st.nulls)
	}
	if m.Type == format.ByteArray {
		oi.UnencodedByteArrayDataBytes = append(oi.UnencodedByteArrayDataBytes, st.unencoded)
		m.SizeStatistics.UnencodedByteArrayDataBytes += st.unencoded
	}
}

// endChunk finishes the current chunk: its encodings, statistics (min/max
// chosen by less over the pages' bounds), boundary order and bloom filter
// (nil for none).
func (p *pqWriter) endChunk(optional bool, less func(a, b []byte) bool, bloom []byte) {
	m := &p.chunk.MetaData
	ci := &p.cis[len(p.cis)-1]
	for _, s := range m.EncodingStats {
		m.Encoding = append(m.Encoding, s.Encoding)
	}
	if optional {
		m.Encoding = append(m.Encoding, format.RLE)
		m.SizeStatistics.DefinitionLevelHistogram = []int64{m.Statistics.NullCount, m.NumValues - m.Statistics.NullCount}
	}
	slices.Sort(m.Encoding)
	m.Encoding = slices.Compact(m.Encoding)
	asc, desc := true, true
	var lo, hi []byte
	for i, null := range ci.NullPages {
		if null {
			continue
		}
		mn, mx := ci.MinValues[i], ci.MaxValues[i]
		if lo != nil {
			asc = asc && !less(mn, lo) && !less(mx, hi)
			desc = desc && !less(lo, mn) && !less(hi, mx)
		}
		if lo == nil || less(mn, m.Statistics.MinValue) {
			m.Statistics.MinValue = mn
		}
		if lo == nil || less(m.Statistics.MaxValue, mx) {
			m.Statistics.MaxValue = mx
		}
		lo, hi = mn, mx
	}
	for i := range ci.MinValues {
		if ci.MinValues[i] == nil {
			ci.MinValues[i], ci.MaxValues[i] = []byte{}, []byte{}
		}
	}
	switch {
	case asc:
		ci.BoundaryOrder = format.Ascending
	case desc:
		ci.BoundaryOrder = format.Descending
	}
	p.blooms[len(p.blooms)-1] = bloom
	p.chunk = nil
}

// endRowGroup writes the bloom filters of the row group's columns and
// records the row group for the footer.
func (p *pqWriter) endRowGroup() {
	for i, b := range p.blooms {
		if b == nil {
			continue
		}
		h := format.BloomFilterHeader{NumBytes: int32(len(b))}
		h.Algorithm.Value = &format.SplitBlockAlgorithm{}
		h.Hash.Value = &format.XxHash{}
		h.Compression.Value = &format.BloomFilterUncompressed{}
		m := &p.chunks[i].MetaData
		m.BloomFilterOffset = p.off
		hdr := p.thrift(&h)
		p.write(hdr)
		p.write(b)
		m.BloomFilterLength = int32(p.off - m.BloomFilterOffset)
	}
	rg := format.RowGroup{
		Columns:        p.chunks,
		NumRows:        p.rgRows,
		SortingColumns: p.sortingColumns(),
		FileOffset:     p.rgStart,
		Ordinal:        int16(len(p.rowGroups)),
	}
	for i := range p.chunks {
		rg.TotalByteSize += p.chunks[i].MetaData.TotalUncompressedSize
		rg.TotalCompressedSize += p.chunks[i].MetaData.TotalCompressedSize
	}
	p.rowGroups = append(p.rowGroups, rg)
	p.colIdx = append(p.colIdx, p.cis)
	p.offIdx = append(p.offIdx, p.ois)
	p.chunks, p.cis, p.ois, p.blooms = nil, nil, nil, nil
}

// sortingColumns returns the SortingColumns of a row group.
func (p *pqWriter) sortingColumns() []format.SortingColumn {
	if p.sorting != nil {
		return p.sorting
	}
	return []format.SortingColumn{{ColumnIdx: 0}}
}

// close writes the page index and the footer with the template's schema and
// the key-value metadata kv (sorted by key, as parquet-go writes it).
func (p *pqWriter) close(tpl *pqTemplate, kv map[string]string) error {
	for i := range p.rowGroups {
		for j := range p.colIdx[i] {
			c := &p.rowGroups[i].Columns[j]
			c.ColumnIndexOffset = p.off
			p.write(p.thrift(&p.colIdx[i][j]))
			c.ColumnIndexLength = int32(p.off - c.ColumnIndexOffset)
		}
	}
	for i := range p.rowGroups {
		for j := range p.offIdx[i] {
			c := &p.rowGroups[i].Columns[j]
			c.OffsetIndexOffset = p.off
			p.write(p.thrift(&p.offIdx[i][j]))
			c.OffsetIndexLength = int32(p.off - c.OffsetIndexOffset)
		}
	}
	var rows int64
	for i := range p.rowGroups {
		rows += p.rowGroups[i].NumRows
	}
	md := format.FileMetaData{
		Version:      2,
		Schema:       tpl.schema,
		NumRows:      rows,
		RowGroups:    p.rowGroups,
		CreatedBy:    tpl.createdBy,
		ColumnOrders: tpl.columnOrders,
	}
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		md.KeyValueMetadata = append(md.KeyValueMetadata, format.KeyValue{Key: k, Value: kv[k]})
	}
	footer := p.thrift(&md)
	n := len(footer)
	p.write(footer)
	var tail [8]byte
	binary.LittleEndian.PutUint32(tail[:4], uint32(n))
	copy(tail[4:], "PAR1")
	p.write(tail[:])
	return p.err
}

// pqTemplate is the footer content every file of a dataset shares: the
// schema elements and column orders parquet-go derives from the record
// type, taken from a file it wrote, so both writers agree exactly.
type pqTemplate struct {
	schema       []format.SchemaElement
	columnOrders []format.ColumnOrder
	createdBy    string
}

var flowTemplate = sync.OnceValues(func() (*pqTemplate, error) { return templateOf[schema.Flow]() })

func templateOf[T schema.Row]() (*pqTemplate, error) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, parquet.CreatedBy("flowlake", schema.FormatVersion, ""))
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("parquet template: %w", err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		return nil, fmt.Errorf("parquet template: %w", err)
	}
	md := f.Metadata()
	return &pqTemplate{schema: md.Schema, columnOrders: md.ColumnOrders, createdBy: md.CreatedBy}, nil
}
