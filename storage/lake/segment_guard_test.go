package lake

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/flowlake/flowlake/storage/schema"
)

// TestGuardRejects mutates valid segments into hostile ones and checks that
// Validate rejects each with ErrCorrupt and a message naming the problem,
// before parquet-go allocates by the hostile numbers.
func TestGuardRejects(t *testing.T) {
	seg := segmentBytes[schema.Flow](t, 20)
	optional := columnIndex(t, seg, schema.FlowNextHop) // optional, dictionary-encoded
	dict := columnIndex(t, seg, schema.ColEdge)         // required, dictionary-encoded
	timeCol := columnIndex(t, seg, schema.ColTime)      // required, delta-encoded

	rgMeta := func(fn func(md *format.FileMetaData, m *format.ColumnMetaData)) []byte {
		return editFooter(t, seg, func(md *format.FileMetaData) { fn(md, &md.RowGroups[0].Columns[1].MetaData) })
	}
	tests := []struct {
		name string
		seg  []byte
		want string
	}{
		// Framing and footer length.
		{"too short", []byte("PAR1PAR1"), "shorter than the 12 bytes"},
		{"bad header magic", append([]byte("PAR2"), seg[4:]...), `header magic "PAR2"`},
		{"bad footer magic", append(slices.Clone(seg[:len(seg)-1]), '2'), `footer magic "PAR2"`},
		{"footer longer than file", []byte("PAR1KKKKKKKKPAR1"), "footer length 1263225675 exceeds the 4 bytes"},
		{"truncated footer", withFooter(seg, footerBytes(seg)[:len(footerBytes(seg))-5]), "input ends"},
		{"trailing footer bytes", withFooter(seg, append(slices.Clone(footerBytes(seg)), 0)), "1 trailing bytes"},

		// The thrift walk of the footer.
		{"huge list length", withFooter(seg, thriftBytes(0x15, 0x02, 0x19, 0xfc, uvarint(4294967), 0, 0, 0)),
			"footer offset 2: list of 4294967 elements exceeds the 3 bytes left"},
		{"huge binary length", withFooter(seg, thriftBytes(0x15, 0x02, 0x68, uvarint(1<<30), "abc", 0)),
			"footer offset 2: binary of 1073741824 bytes exceeds the 4 bytes left"},
		{"huge map length", withFooter(seg, thriftBytes(0x1b, uvarint(1000), 0x88, "ab", 0)),
			"map of 1000 elements exceeds the 3 bytes left"},
		{"unknown type id", withFooter(seg, thriftBytes(0x1d, 0)), "unknown thrift type id 13"},
		{"deep nesting", withFooter(seg, thriftBytes(bytes.Repeat([]byte{0x1c}, 100), bytes.Repeat([]byte{0}, 101))),
			"nested deeper than 64"},
		{"field ids out of order", withFooter(seg, thriftBytes(0x25, 0x02, 0x05, 0x02, 0x02, 0)), "field id 1 after 2"},
		{"schema too long", withFooter(seg, thriftBytes(0x29, 0xfc, uvarint(2000), make([]byte, 2000), 0)),
			"schema of 2000 elements exceeds the limit of 1024"},
		{"more column chunks than schema", withFooter(seg, thriftBytes(0x29, 0x2c, 0, 0, 0x29, 0x1c, 0x19, 0x3c, 0, 0, 0, 0, 0)),
			"row group of 3 column chunks for a schema of 2 elements"},
		{"decoded size over budget", withFooter(seg, thriftBytes(0x59, 0xfc, uvarint(300000), make([]byte, 300000), 0)),
			"estimated decoded size"},
		{"schema times row groups", withFooter(seg, thriftBytes(0x29, 0xfc, uvarint(1000), make([]byte, 1000),
			0x29, 0xfc, uvarint(40000), make([]byte, 40000), 0)), "1000 schema elements times 40000 row groups"},

		// The layout decoded from the footer.
		{"chunk offset outside file", rgMeta(func(_ *format.FileMetaData, m *format.ColumnMetaData) {
			m.DataPageOffset, m.DictionaryPageOffset = 1<<40, 0
		}), "chunk offset 1099511627776 outside the data area"},
		{"chunk runs into footer", rgMeta(func(_ *format.FileMetaData, m *format.ColumnMetaData) {
			m.TotalCompressedSize = 1 << 20
		}), "chunk of 1048576 bytes"},
		{"negative chunk size", rgMeta(func(_ *format.FileMetaData, m *format.ColumnMetaData) {
			m.TotalCompressedSize = -1
		}), "total_compressed_size -1"},
		{"absurd uncompressed chunk size", rgMeta(func(_ *format.FileMetaData, m *format.ColumnMetaData) {
			m.TotalUncompressedSize = 1 << 40
		}), "total_uncompressed_size 1099511627776"},
		{"overlapping chunks", rgMeta(func(md *format.FileMetaData, m *format.ColumnMetaData) {
			m.DataPageOffset = md.RowGroups[0].Columns[0].MetaData.DataPageOffset + 1
		}), "overlaps"},
		{"absurd row count", editFooter(t, seg, func(md *format.FileMetaData) {
			md.NumRows, md.RowGroups[0].NumRows = 1<<40, 1<<40
		}), "row group 0 has 1099511627776 rows, limit 67108864"},
		{"row count mismatch", editFooter(t, seg, func(md *format.FileMetaData) { md.NumRows++ }),
			"row groups hold 20 rows, footer says 21"},
		{"foreign codec", editFooter(t, seg, func(md *format.FileMetaData) {
			for i := range md.RowGroups[0].Columns {
				md.RowGroups[0].Columns[i].MetaData.Codec = format.Gzip
			}
		}), "codec GZIP, segments use ZSTD"},
		{"external file", rgMeta(func(md *format.FileMetaData, _ *format.ColumnMetaData) {
			md.RowGroups[0].Columns[0].FilePath = "../x.parquet"
		}), "data in external file"},

		// Page headers.
		{"page size past chunk end", editRawPage(t, seg, timeCol, 0, func(h *format.PageHeader, body []byte) []byte {
			h.CompressedPageSize = 1 << 30
			return body
		}), "compressed_page_size 1073741824 exceeds the"},
		{"absurd uncompressed page size", editRawPage(t, seg, timeCol, 0, func(h *format.PageHeader, body []byte) []byte {
			h.UncompressedPageSize = 1 << 30
			return body
		}), "uncompressed_page_size 1073741824 outside"},
		{"num_values beyond rows", editRawPage(t, seg, timeCol, 0, func(h *format.PageHeader, body []byte) []byte {
			h.DataPageHeaderV2.V.NumValues = 1 << 30
			return body
		}), "num_values 1073741824 outside [0, 20]"},
		{"data pages short of rows", editRawPage(t, seg, dict, 1, func(h *format.PageHeader, body []byte) []byte {
			h.DataPageHeaderV2.V.NumValues--
			h.DataPageHeaderV2.V.NumRows--
			return body
		}), "data pages hold 19 values, chunk metadata says 20"},
		{"foreign page encoding", editRawPage(t, seg, timeCol, 0, func(h *format.PageHeader, body []byte) []byte {
			h.DataPageHeaderV2.V.Encoding = format.DeltaByteArray
			return body
		}), "encoding DELTA_BYTE_ARRAY, not one flowlake writes"},

		// Page contents.
		{"zstd content size bomb", editRawPage(t, seg, timeCol, 0, func(h *format.PageHeader, body []byte) []byte {
			v2 := h.DataPageHeaderV2.V
			levels := body[:v2.RepetitionLevelsByteLength+v2.DefinitionLevelsByteLength]
			frame := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
			frame = append(frame, 0xc0, 0x00) // 8-byte content size, 1 KiB window
			frame = binary.LittleEndian.AppendUint64(frame, 1<<32)
			return append(slices.Clone(levels), append(frame, 0x01, 0, 0)...) // last raw block, 0 bytes
		}), "zstd frames decode to up to 4294967296 bytes"},
		{"zstd rle block bomb", editRawPage(t, seg, timeCol, 0, func(h *format.PageHeader, body []byte) []byte {
			v2 := h.DataPageHeaderV2.V
			levels := body[:v2.RepetitionLevelsByteLength+v2.DefinitionLevelsByteLength]
			frame := append(binary.LittleEndian.AppendUint32(nil, 0xFD2FB528), 0x00, 0x70) // no content size
			block := uint32(zstdMaxBlock<<3 | 1<<1)                                        // RLE block of 128 KiB
			rle := append(binary.LittleEndian.AppendUint32(nil, block)[:3], 'x')
			frame = append(frame, bytes.Repeat(rle, 1000)...)
			frame[len(frame)-4] |= 1 // last block
			return append(slices.Clone(levels), frame...)
		}), "zstd frames decode to up to 131072000 bytes"},
		{"not zstd", editRawPage(t, seg, timeCol, 0, func(h *format.PageHeader, body []byte) []byte {
			return append(slices.Clone(body[:h.DataPageHeaderV2.V.DefinitionLevelsByteLength]), "garbage!"...)
		}), "not a zstd frame"},
		{"delta header bomb", editPage(t, seg, timeCol, 0, func(_ *format.PageHeader, levels, _ []byte) ([]byte, []byte) {
			return levels, slices.Concat(uvarint(128), uvarint(4), uvarint(1<<30), uvarint(0))
		}), "delta header says 1073741824 values for 20 values"},
		{"dictionary index run bomb", editPage(t, seg, dict, 1, func(_ *format.PageHeader, levels, _ []byte) ([]byte, []byte) {
			return levels, slices.Concat([]byte{1}, uvarint(1<<31), []byte{0})
		}), "dictionary index runs expand to more than 28 values for 20 values"},
		{"bit-packed index run bomb", editPage(t, seg, dict, 1, func(_ *format.PageHeader, levels, _ []byte) ([]byte, []byte) {
			return levels, slices.Concat([]byte{0}, uvarint(1<<28|1))
		}), "dictionary index runs expand"},
		{"definition level run bomb", editPage(t, seg, optional, 1, func(_ *format.PageHeader, _, values []byte) ([]byte, []byte) {
			return slices.Concat(uvarint(1<<31), []byte{1}), values
		}), "definition level runs expand to more than 28 values for 20 values"},
		{"dictionary page encoding", editRawPage(t, seg, dict, 0, func(h *format.PageHeader, body []byte) []byte {
			h.DictionaryPageHeader.V.Encoding = format.RLEDictionary
			return body
		}), "dictionary page encoding RLE_DICTIONARY, want PLAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Validate(context.Background(), bytes.NewReader(tt.seg), int64(len(tt.seg)))
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Validate = %v, want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestGuardFooterCap checks the footer length cap on a file too big to
// allocate in a test: sparse serves 100 MiB of zeros between magic numbers.
func TestGuardFooterCap(t *testing.T) {
	const size = 100 << 20
	tail := binary.LittleEndian.AppendUint32(nil, 80<<20)
	r := sparse{size: size, head: []byte("PAR1"), tail: append(tail, "PAR1"...)}
	_, err := Validate(context.Background(), r, size)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "footer length 83886080 exceeds the limit of 67108864") {
		t.Fatalf("Validate = %v, want the footer length cap", err)
	}
}

// TestGuardAcceptsSegments checks that valid segments of every dataset pass,
// with one or several pages and row groups.
func TestGuardAcceptsSegments(t *testing.T) {
	for _, tt := range []struct {
		name string
		rows int64
		seg  []byte
	}{
		{schema.Flows, 1, segmentBytes[schema.Flow](t, 1)},
		{schema.Flows, 5000, segmentBytes[schema.Flow](t, 5000)},
		{schema.TCPConns, 300, segmentBytes[schema.TCPConn](t, 300)},
		{schema.TCPPackets, 5000, segmentBytes[schema.TCPPacket](t, 5000)},
		{schema.DHCPEvents, 50, segmentBytes[schema.DHCPEvent](t, 50)},
		{schema.CloudConns, 7, segmentBytes[schema.CloudConn](t, 7)},
		{schema.FlowLosses, 40, segmentBytes[schema.FlowLoss](t, 40)},
	} {
		info, err := Validate(context.Background(), bytes.NewReader(tt.seg), int64(len(tt.seg)))
		if err != nil {
			t.Errorf("%s of %d rows: %v", tt.name, tt.rows, err)
		} else if info.Dataset != tt.name || info.Rows != tt.rows {
			t.Errorf("%s of %d rows: Validate says %s of %d rows", tt.name, tt.rows, info.Dataset, info.Rows)
		}
	}
}

func TestZstdBound(t *testing.T) {
	var z zstd.Codec
	data := bytes.Repeat([]byte("flowlake "), 50000)
	frame, err := z.Encode(nil, data)
	if err != nil {
		t.Fatal(err)
	}
	n, err := zstdBound(frame)
	if err != nil || n < int64(len(data)) || n > int64(len(data))+zstdMaxBlock {
		t.Fatalf("zstdBound = %d, %v for %d bytes", n, err, len(data))
	}
	if _, err := zstdBound(frame[:len(frame)-1]); err == nil {
		t.Fatal("zstdBound accepted a truncated frame")
	}
	if _, err := zstdBound(append(slices.Clone(frame), 0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0)); err == nil {
		t.Fatal("zstdBound accepted a skippable frame")
	}
}

func TestRLECount(t *testing.T) {
	for _, tt := range []struct {
		name     string
		runs     []byte
		bitWidth int
		want     int64 // or, if over 100, more than 100
	}{
		{"rle run", slices.Concat(uvarint(10<<1), []byte{1}), 1, 10},
		{"bit-packed groups", slices.Concat(uvarint(2<<1|1), []byte{0xff, 0xff}), 1, 16},
		{"zero runs take no value byte", slices.Concat(uvarint(0), uvarint(0), uvarint(3<<1), []byte{1}), 1, 3},
		{"width 0 takes no value byte", slices.Concat(uvarint(5<<1), uvarint(5<<1)), 0, 10},
		{"stops past the limit", slices.Concat(uvarint(1<<31), []byte{1}, uvarint(1<<31), []byte{1}), 1, 101},
	} {
		got := rleCount(tt.runs, tt.bitWidth, 100)
		if got != tt.want && (tt.want <= 100 || got <= 100) {
			t.Errorf("%s: rleCount = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// sparse is a ReaderAt of size bytes: head, zeros, tail.
type sparse struct {
	size       int64
	head, tail []byte
}

func (s sparse) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	n := 0
	for ; n < len(p) && off+int64(n) < s.size; n++ {
		i := off + int64(n)
		switch {
		case i < int64(len(s.head)):
			p[n] = s.head[i]
		case i >= s.size-int64(len(s.tail)):
			p[n] = s.tail[i-(s.size-int64(len(s.tail)))]
		default:
			p[n] = 0
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// uvarint encodes v as a thrift/parquet unsigned varint.
func uvarint(v uint64) []byte { return binary.AppendUvarint(nil, v) }

// thriftBytes concatenates bytes, byte slices and strings into raw thrift.
func thriftBytes(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			b = append(b, byte(p))
		case []byte:
			b = append(b, p...)
		case string:
			b = append(b, p...)
		}
	}
	return b
}

// footerBytes returns the thrift footer of seg.
func footerBytes(seg []byte) []byte {
	n := int(binary.LittleEndian.Uint32(seg[len(seg)-8:]))
	return seg[len(seg)-8-n : len(seg)-8]
}

// withFooter replaces the footer of seg by footer.
func withFooter(seg, footer []byte) []byte {
	return assemble(seg[:len(seg)-8-len(footerBytes(seg))], footer)
}

// assemble appends footer and its framing to data.
func assemble(data, footer []byte) []byte {
	out := slices.Concat(data, footer)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(footer)))
	return append(out, "PAR1"...)
}

// editFooter decodes the footer of seg, lets fn change it and re-encodes it.
func editFooter(t *testing.T, seg []byte, fn func(*format.FileMetaData)) []byte {
	t.Helper()
	var p thrift.CompactProtocol
	var md format.FileMetaData
	if err := thrift.Unmarshal(&p, footerBytes(seg), &md); err != nil {
		t.Fatal(err)
	}
	fn(&md)
	b, err := thrift.Marshal(&p, &md)
	if err != nil {
		t.Fatal(err)
	}
	return withFooter(seg, b)
}

// columnIndex returns the index of the column named name in seg.
func columnIndex(t *testing.T, seg []byte, name string) int {
	t.Helper()
	var md format.FileMetaData
	if err := thrift.Unmarshal(&thrift.CompactProtocol{}, footerBytes(seg), &md); err != nil {
		t.Fatal(err)
	}
	for i, c := range md.RowGroups[0].Columns {
		if strings.Join(c.MetaData.PathInSchema, ".") == name {
			return i
		}
	}
	t.Fatalf("no column %q", name)
	return 0
}

// editRawPage rewrites page n of column col's first chunk: fn may change the
// header and returns the new page body. Unless fn changed them, the page
// sizes follow the new body, and so does the checksum; the chunk size and
// later offsets are fixed up.
func editRawPage(t *testing.T, seg []byte, col, n int, fn func(h *format.PageHeader, body []byte) []byte) []byte {
	t.Helper()
	var p thrift.CompactProtocol
	var md format.FileMetaData
	if err := thrift.Unmarshal(&p, footerBytes(seg), &md); err != nil {
		t.Fatal(err)
	}
	m := &md.RowGroups[0].Columns[col].MetaData
	pos := m.DataPageOffset
	if m.DictionaryPageOffset != 0 {
		pos = m.DictionaryPageOffset
	}
	var h format.PageHeader
	var hlen int64
	for i := 0; ; i++ {
		r := p.NewReaderFromBytes(seg[pos:])
		h = format.PageHeader{}
		if err := thrift.NewDecoder(r).Decode(&h); err != nil {
			t.Fatal(err)
		}
		if hlen = int64(r.BytesRead()); i == n {
			break
		}
		pos += hlen + int64(h.CompressedPageSize)
	}
	end := pos + hlen + int64(h.CompressedPageSize)
	oldC, oldU := h.CompressedPageSize, h.UncompressedPageSize
	body := fn(&h, slices.Clone(seg[pos+hlen:end]))
	if h.CompressedPageSize == oldC {
		h.CompressedPageSize = int32(len(body))
	}
	if h.UncompressedPageSize == oldU {
		h.UncompressedPageSize = oldU + int32(len(body)) - oldC
	}
	if h.CRC != 0 { // an attacker writes a matching checksum
		h.CRC = int32(crc32.ChecksumIEEE(body))
	}
	hdr, err := thrift.Marshal(&p, &h)
	if err != nil {
		t.Fatal(err)
	}
	delta := int64(len(hdr)+len(body)) - (end - pos)
	m.TotalCompressedSize += delta
	m.TotalUncompressedSize += delta
	for i := range md.RowGroups {
		for j := range md.RowGroups[i].Columns {
			for _, off := range []*int64{&md.RowGroups[i].Columns[j].MetaData.DataPageOffset, &md.RowGroups[i].Columns[j].MetaData.DictionaryPageOffset} {
				if *off > pos {
					*off += delta
				}
			}
		}
	}
	footer, err := thrift.Marshal(&p, &md)
	if err != nil {
		t.Fatal(err)
	}
	data := slices.Concat(seg[:pos], hdr, body, seg[end:len(seg)-8-len(footerBytes(seg))])
	return assemble(data, footer)
}

// editPage is editRawPage on a zstd data page v2 or dictionary page in
// decoded form: fn gets the levels and the decompressed values and returns
// new ones, which are recompressed.
func editPage(t *testing.T, seg []byte, col, n int, fn func(h *format.PageHeader, levels, values []byte) ([]byte, []byte)) []byte {
	t.Helper()
	var z zstd.Codec
	return editRawPage(t, seg, col, n, func(h *format.PageHeader, body []byte) []byte {
		v2 := &h.DataPageHeaderV2.V
		split := v2.RepetitionLevelsByteLength + v2.DefinitionLevelsByteLength
		// A v2 page may be stored uncompressed (is_compressed=false).
		compressed := !h.DataPageHeaderV2.Valid || !v2.IsCompressed.Valid || v2.IsCompressed.V
		values := body[split:]
		if compressed {
			var err error
			if values, err = z.Decode(nil, values); err != nil {
				t.Fatal(err)
			}
		}
		levels, values := fn(h, slices.Clone(body[:split]), slices.Clone(values))
		if h.DataPageHeaderV2.Valid {
			v2.DefinitionLevelsByteLength = int32(len(levels)) - v2.RepetitionLevelsByteLength
		}
		packed := values
		if compressed {
			var err error
			if packed, err = z.Encode(nil, values); err != nil {
				t.Fatal(err)
			}
		}
		h.UncompressedPageSize = int32(len(levels) + len(values))
		return append(levels, packed...)
	})
}
