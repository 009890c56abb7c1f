package lake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"

	"github.com/flowlake/flowlake/storage/schema"
)

// flowCases are the row sets the flows encoder tests write: random values
// of every column (nulls a third of the time), and edge cases of the page
// and row group layout.
func flowCases() []struct {
	name string
	rows []schema.Flow
} {
	rng := rand.New(rand.NewPCG(7, 8))
	start := time.Date(2026, 11, 20, 22, 0, 0, 0, time.UTC)
	random := randomRows[schema.Flow](rng, 3*flowPageRows+123, start, 50*time.Minute)
	// The first page of every optional column is null only, the second has
	// no null; one value in every other column.
	nulls := randomRows[schema.Flow](rng, 2*flowPageRows+1, start, 50*time.Minute)
	slices.SortStableFunc(nulls, byTime[schema.Flow])
	for i := range nulls {
		r := &nulls[i]
		if i < flowPageRows {
			r.NextHop, r.SrcMAC, r.DstMAC = schema.Addr{}, schema.MAC{}, schema.MAC{}
		} else {
			r.NextHop, r.SrcMAC, r.DstMAC = schema.MustParseAddr("10.9.9.9"), schema.MAC{1}, schema.MAC{2}
		}
		r.Edge, r.App, r.InIf, r.Bytes = "", "", 0, 0
	}
	// 70,000 distinct addresses: dictionaries past 2^16 entries.
	wide := randomRows[schema.Flow](rng, 70000, start, 50*time.Minute)
	for i := range wide {
		wide[i].SrcAddr = schema.MustParseAddr("2001:db8::")
		wide[i].SrcAddr[12], wide[i].SrcAddr[13], wide[i].SrcAddr[14] = byte(i>>16), byte(i>>8), byte(i)
		wide[i].DstPort = uint16(i)
		wide[i].SrcAS = uint32(i) << 12 // beyond the direct table
	}
	// Counters below 2^40: the counter dictionaries sort by radix, and
	// values below 2^16 go through their direct tables.
	counters := randomRows[schema.Flow](rng, flowPageRows+77, start, 50*time.Minute)
	for i := range counters {
		counters[i].Bytes = rng.Uint64N(1 << (8 + 4*(i%9)))
		counters[i].Packets = rng.Uint64N(1 << (1 + 2*(i%8)))
	}
	return []struct {
		name string
		rows []schema.Flow
	}{
		{"one row", random[:1]},
		{"counters", counters},
		{"random", random},
		{"null pages", nulls},
		{"wide dictionaries", wide},
	}
}

// TestFlowEncoder writes each case with the column-at-a-time encoder and
// with parquet-go's GenericWriter, in row groups of several pages, and
// checks that both read back as the rows written and, for the encoder, that
// every page's column index entry, every chunk's statistics and every bloom
// filter are exact for the rows they describe.
func TestFlowEncoder(t *testing.T) {
	for _, tc := range flowCases() {
		for _, enc := range []bool{true, false} {
			if !enc && tc.name != "random" {
				continue // GenericWriter is the reference on one case: it is slow
			}
			name := tc.name + "/columns"
			if !enc {
				name = tc.name + "/generic"
			}
			t.Run(name, func(t *testing.T) {
				defer UseFlowEncoder(enc)()
				l := testLake(t, func(c *Config) { c.RowGroupRows = 2*flowPageRows + 1000 })
				want := slices.Clone(tc.rows)
				segs, err := Write(context.Background(), l, "edge-1", tc.rows)
				if err != nil {
					t.Fatal(err)
				}
				slices.SortStableFunc(want, byTime[schema.Flow])
				var got []schema.Flow
				for _, s := range segs {
					part, err := Read[schema.Flow](context.Background(), l, s)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, part...)
					if enc {
						// Exact bounds: GenericWriter truncates long strings
						// (which the format allows) and miscounts next_hop
						// nulls in "wide dictionaries" (which it does not).
						checkFlowIndexes(t, l, s, part)
					}
				}
				if !reflect.DeepEqual(want, got) {
					t.Fatalf("rows differ after the round trip (-want +got):\n%s", cmp.Diff(want, got))
				}
			})
		}
	}
}

// checkFlowIndexes checks a segment's statistics, column and offset indexes
// and bloom filters against its rows.
func checkFlowIndexes(t *testing.T, l *Lake, seg Segment, rows []schema.Flow) {
	t.Helper()
	obj, err := l.Backend().Open(context.Background(), seg.Key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	f, err := parquet.OpenFile(obj, obj.Size())
	if err != nil {
		t.Fatal(err)
	}
	sch := schema.DatasetOf[schema.Flow]().Parquet // the file's schema, as the record type maps to it
	cols := sch.Columns()
	md := f.Metadata()
	base := 0
	for i, rg := range f.RowGroups() {
		n := int(rg.NumRows())
		values := make([][]parquet.Value, len(cols)) // by column, the row group's values
		for _, r := range rows[base : base+n] {
			for _, v := range sch.Deconstruct(nil, &r) {
				values[v.Column()] = append(values[v.Column()], v)
			}
		}
		for j, cc := range rg.ColumnChunks() {
			name := cols[j][0]
			typ := sch.Fields()[j].Type()
			ci, err := cc.ColumnIndex()
			if err != nil {
				t.Fatalf("row group %d %s: column index: %v", i, name, err)
			}
			oi, err := cc.OffsetIndex()
			if err != nil {
				t.Fatalf("row group %d %s: offset index: %v", i, name, err)
			}
			if ci.NumPages() != oi.NumPages() || oi.NumPages() == 0 {
				t.Fatalf("row group %d %s: %d column index pages, %d offset index pages", i, name, ci.NumPages(), oi.NumPages())
			}
			check := func(where string, vals []parquet.Value, minV, maxV parquet.Value, nulls int64, nullOnly bool) {
				var lo, hi parquet.Value
				var nn int64
				for _, v := range vals {
					if v.IsNull() {
						nn++
						continue
					}
					if lo.IsNull() || typ.Compare(v, lo) < 0 {
						lo = v
					}
					if hi.IsNull() || typ.Compare(v, hi) > 0 {
						hi = v
					}
				}
				if nn != nulls || nullOnly != lo.IsNull() {
					t.Errorf("row group %d %s %s: %d nulls (null only %v), index says %d (%v)", i, name, where, nn, lo.IsNull(), nulls, nullOnly)
				}
				if !lo.IsNull() && (typ.Compare(lo, minV) != 0 || typ.Compare(hi, maxV) != 0) {
					t.Errorf("row group %d %s %s: values in [%v, %v], index says [%v, %v]", i, name, where, lo, hi, minV, maxV)
				}
			}
			for p := range oi.NumPages() {
				first, end := oi.FirstRowIndex(p), int64(n)
				if p+1 < oi.NumPages() {
					end = oi.FirstRowIndex(p + 1)
				}
				check(fmt.Sprintf("page %d", p), values[j][first:end], ci.MinValue(p), ci.MaxValue(p), ci.NullCount(p), ci.NullPage(p))
			}
			st := md.RowGroups[i].Columns[j].MetaData.Statistics
			if st.NullCount < int64(n) {
				check("chunk", values[j], plainValue(t, typ, st.MinValue), plainValue(t, typ, st.MaxValue), st.NullCount, false)
			}
			if bf := cc.BloomFilter(); bf != nil {
				for _, v := range values[j] {
					if ok, err := bf.Check(v); !v.IsNull() && (!ok || err != nil) {
						t.Fatalf("row group %d %s: bloom filter misses %v (%v)", i, name, v, err)
					}
				}
			} else if reflect.TypeFor[schema.Flow]().Field(j).Type == reflect.TypeFor[schema.Addr]() {
				t.Errorf("row group %d %s: no bloom filter on an address column", i, name)
			}
		}
		base += n
	}
}

// plainValue decodes a PLAIN statistics value of typ.
func plainValue(t *testing.T, typ parquet.Type, b []byte) parquet.Value {
	t.Helper()
	switch typ.Kind() {
	case parquet.ByteArray:
		return parquet.ByteArrayValue(b)
	case parquet.FixedLenByteArray:
		return parquet.FixedLenByteArrayValue(b)
	case parquet.Int32:
		return parquet.Int32Value(int32(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24))
	case parquet.Int64:
		var v int64
		for k := 7; k >= 0; k-- {
			v = v<<8 | int64(b[k])
		}
		return parquet.Int64Value(v)
	}
	t.Fatalf("no plain decoding of %v", typ)
	return parquet.Value{}
}

// TestFlowEncoderArrow reads a segment of the column-at-a-time encoder with
// arrow-go's Parquet reader (the query engine's): every column, the same
// row count, sums and null counts as the rows written.
func TestFlowEncoderArrow(t *testing.T) {
	for _, tc := range flowCases()[1:3] { // random, null pages
		t.Run(tc.name, func(t *testing.T) { arrowRead(t, tc.rows) })
	}
}

func arrowRead(t *testing.T, rows []schema.Flow) {
	l := testLake(t, func(c *Config) { c.RowGroupRows = 2*flowPageRows + 1000 })
	segs, err := Write(context.Background(), l, "edge-1", rows)
	if err != nil {
		t.Fatal(err)
	}
	var wantRows, gotRows, wantNull, gotNull int64
	var wantBytes, gotBytes uint64
	for _, r := range rows {
		wantRows++
		wantBytes += r.Bytes
		if r.NextHop.IsZero() {
			wantNull++
		}
	}
	for _, s := range segs {
		obj, err := l.Backend().Open(context.Background(), s.Key)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(io.NewSectionReader(obj, 0, obj.Size())); err != nil {
			t.Fatal(err)
		}
		obj.Close()
		pf, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 10000}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := fr.ReadTable(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		gotRows += tbl.NumRows()
		sch := tbl.Schema()
		for k := range sch.NumFields() {
			col := tbl.Column(k)
			for _, c := range col.Data().Chunks() {
				switch sch.Field(k).Name {
				case schema.FlowBytes:
					for _, v := range c.(*array.Uint64).Uint64Values() {
						gotBytes += v
					}
				case schema.FlowNextHop:
					gotNull += int64(c.NullN())
				}
			}
		}
		tbl.Release()
		_ = pf.Close()
	}
	if gotRows != wantRows || gotBytes != wantBytes || gotNull != wantNull {
		t.Fatalf("arrow read %d rows, %d bytes, %d null next hops; wrote %d, %d, %d", gotRows, gotBytes, gotNull, wantRows, wantBytes, wantNull)
	}
}

// TestFlowEncoderReusedStrings writes two batches into one segment whose
// strings share memory that the caller rewrites between the calls, as
// compaction's rows from parquet-go's reused buffers do: the string
// dictionaries' address cache must not return the first batch's values.
func TestFlowEncoderReusedStrings(t *testing.T) {
	l := testLake(t)
	start := time.Date(2026, 11, 20, 22, 0, 0, 0, time.UTC)
	buf := []byte("app-one")
	batch := func(from int) []schema.Flow {
		rows := randomRows[schema.Flow](rand.New(rand.NewPCG(uint64(from), 1)), 100, start, time.Minute)
		for i := range rows {
			rows[i].Time = schema.Micros(start) + int64(from+i)
			rows[i].App = unsafe.String(&buf[0], len(buf))
		}
		return rows
	}
	sw, err := newSegmentWriter[schema.Flow](context.Background(), l, "edge-1", start)
	if err != nil {
		t.Fatal(err)
	}
	defer sw.abort()
	first := batch(0)
	if err := sw.write(first); err != nil {
		t.Fatal(err)
	}
	copy(buf, "app-two")
	second := batch(100)
	if err := sw.write(second); err != nil {
		t.Fatal(err)
	}
	seg, err := sw.commit(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read[schema.Flow](context.Background(), l, seg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 200 {
		t.Fatalf("read %d rows, want 200", len(got))
	}
	for i, r := range got {
		want := "app-one"
		if i >= 100 {
			want = "app-two"
		}
		if r.App != want {
			t.Fatalf("row %d: app %q, want %q", i, r.App, want)
		}
	}
}
