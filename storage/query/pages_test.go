package query

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestPageReader checks the engine's own page reader against parquet-go's
// on every column of every dataset: files written by parquet-go with small
// pages (several per chunk), data pages v1 and v2, zstd and uncompressed,
// and the lake's own segments. Each is read whole and in row ranges that
// start and end inside pages.
func TestPageReader(t *testing.T) {
	ctx := context.Background()
	cfg := gen.DefaultConfig()
	cfg.Start, cfg.End = fixtureStart, fixtureStart.Add(30*time.Minute)
	cfg.FlowsPerSecond, cfg.Sites = 3, 2
	c, err := gen.Collect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		name string
		opts []parquet.WriterOption
	}{
		{"v2-zstd", []parquet.WriterOption{parquet.PageBufferSize(512), parquet.Compression(&zstd.Codec{})}},
		{"v1-zstd", []parquet.WriterOption{parquet.PageBufferSize(512), parquet.Compression(&zstd.Codec{}), parquet.DataPageVersion(1)}},
		{"v2-uncompressed", []parquet.WriterOption{parquet.PageBufferSize(512), parquet.Compression(&parquet.Uncompressed)}},
		{"v1-uncompressed", []parquet.WriterOption{parquet.PageBufferSize(512), parquet.Compression(&parquet.Uncompressed), parquet.DataPageVersion(1)}},
	} {
		t.Run(v.name, func(t *testing.T) {
			opts := append(v.opts, parquet.MaxRowsPerRowGroup(2000))
			for ds, f := range map[string]*parquet.File{
				"flows":       writeFile(t, c.FlowRows, opts),
				"tcp_conns":   writeFile(t, c.TCPConnRows, opts),
				"tcp_packets": writeFile(t, c.TCPPacketRows, opts),
				"dhcp_events": writeFile(t, c.DHCPRows, opts),
				"cloud_conn":  writeFile(t, c.CloudRows, opts),
			} {
				if !comparePages(t, ds, f) && ds != "cloud_conn" && ds != "tcp_conns" {
					t.Errorf("%s: no chunk of several pages: the ranges test nothing", ds) // cloud_conn and tcp_conns have a few rows an hour
				}
			}
		})
	}
	t.Run("lake", func(t *testing.T) {
		l := testLake(t)
		for _, ds := range []string{"flows", "tcp_conns", "tcp_packets", "dhcp_events", "cloud_conn", "flows_1m", "flows_hosts_1h"} {
			segs, err := l.Segments(ctx, ds, time.Time{}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if len(segs) == 0 {
				t.Fatalf("%s: no segments in the test lake", ds)
			}
			f, err := l.OpenSegment(ctx, segs[0])
			if err != nil {
				t.Fatal(err)
			}
			comparePages(t, ds, f.File)
			f.Close()
		}
	})
}

func writeFile[T any](t *testing.T, rows []T, opts []parquet.WriterOption) *parquet.File {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// comparePages reads every column of every row group of f with both
// readers and compares the values. It reports whether a chunk had several
// pages.
func comparePages(t *testing.T, dataset string, f *parquet.File) (multi bool) {
	t.Helper()
	d, err := schema.Lookup(dataset)
	if err != nil {
		t.Fatal(err)
	}
	cols := describeColumns(d)
	var fast, slow decoder
	for rgi, rg := range f.RowGroups() {
		n := rg.NumRows()
		for _, ranges := range [][]rowRange{
			{{0, n}},
			{{n / 5, n/3 + 1}, {n / 2, n/2 + 7}, {max(n-3, n/2+8), n}},
		} {
			for i := range cols {
				c := &cols[i]
				if oi, err := rg.ColumnChunks()[c.idx].OffsetIndex(); err == nil && oi.NumPages() > 1 {
					multi = true
				}
				var vf, vs vector
				_, fp, err := fast.readChunk(f, rgi, c, n, ranges, &vf, false)
				if errors.Is(err, errSlowPath) {
					if !c.isBool {
						t.Fatalf("%s.%s: the engine's reader refused the chunk", dataset, c.name)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s.%s row group %d: %v", dataset, c.name, rgi, err)
				}
				_, sp, err := slow.readPages(rg, c, n, ranges, &vs)
				if err != nil {
					t.Fatalf("%s.%s row group %d (parquet-go): %v", dataset, c.name, rgi, err)
				}
				if len(ranges) == 1 && fp != sp { // parquet-go rereads a page per range
					t.Errorf("%s.%s row group %d ranges %v: %d pages read, parquet-go %d", dataset, c.name, rgi, ranges, fp, sp)
				}
				// Integer columns decoded as dictionary codes, as for a
				// column only the filter reads.
				var vc vector
				if _, _, err := fast.readChunk(f, rgi, c, n, ranges, &vc, true); err != nil {
					t.Fatalf("%s.%s row group %d, coded: %v", dataset, c.name, rgi, err)
				}
				for _, r := range ranges {
					for row := r.lo; row < r.hi; row++ {
						if a, b := cellText(c, &vf, row), cellText(c, &vs, row); a != b {
							t.Fatalf("%s.%s row group %d row %d: %s, parquet-go %s", dataset, c.name, rgi, row, a, b)
						}
						if a, b := cellText(c, &vc, row), cellText(c, &vs, row); a != b {
							t.Fatalf("%s.%s row group %d row %d, coded: %s, parquet-go %s", dataset, c.name, rgi, row, a, b)
						}
					}
				}
			}
		}
	}
	return multi
}

// cellText renders a decoded value for comparison.
func cellText(c *colDesc, v *vector, row int64) string {
	if c.bytes {
		id := v.ids[row]
		if id < 0 {
			return "null"
		}
		return fmt.Sprintf("%q", v.dict.at(id))
	}
	if v.coded {
		if v.codes[row] < 0 {
			return "null"
		}
		return fmt.Sprint(v.dvals[v.codes[row]])
	}
	if v.null != nil && v.null[row] {
		return "null"
	}
	return fmt.Sprint(v.ints[row])
}
