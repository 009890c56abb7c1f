package duckdb_test

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// truth is what the Go side knows about the rows it wrote.
type truth struct {
	rows        int64
	bytes       uint64
	minT, maxT  int64
	days        map[string]bool
	hours       map[string]bool
	nullNextHop int64
	probe       schema.Addr // an IPv4 source address
	probeRows   int64       // rows with src_addr = probe
}

// flowRows makes deterministic flows over three UTC days, IPv4 and IPv6,
// some without a next hop.
func flowRows(start time.Time, n int, seed uint64) []schema.Flow {
	r := rand.New(rand.NewPCG(seed, 1))
	span := int64(3 * 24 * time.Hour / time.Microsecond)
	rows := make([]schema.Flow, n)
	for i := range rows {
		t := schema.Micros(start) + r.Int64N(span)
		src := schema.AddrFrom(netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(4)), byte(r.IntN(8))}))
		dst := schema.AddrFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(r.IntN(256))}))
		if i%5 == 0 {
			src = schema.MustParseAddr("2001:db8::" + strconv.Itoa(1+r.IntN(50)))
			dst = schema.MustParseAddr("2001:db8:1::" + strconv.Itoa(1+r.IntN(50)))
		}
		var nextHop schema.Addr
		if i%3 != 0 {
			nextHop = schema.MustParseAddr("10.255.0.1")
		}
		rows[i] = schema.Flow{
			Time: t, DurationMS: uint32(r.IntN(60_000)), Edge: "edge-1", Device: "rtr-1",
			SrcAddr: src, DstAddr: dst, SrcPort: uint16(1024 + r.IntN(60000)), DstPort: 443, Proto: 6,
			NextHop: nextHop, Bytes: uint64(40 + r.IntN(1_500_000)), Packets: uint64(1 + r.IntN(1000)),
			SamplingRate: 1, App: "https",
		}
	}
	return rows
}

// TestDuckDBReadsLakeInPlace writes a lake with storage/lake, in several
// batches from two sources so partitions hold several files, then reads it
// with DuckDB's read_parquet and hive partitioning, and compares with the
// rows written.
func TestDuckDBReadsLakeInPlace(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	cfg := lake.DefaultConfig()
	cfg.Root = root
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	want := truth{minT: 1<<63 - 1, maxT: -1 << 63, days: map[string]bool{}, hours: map[string]bool{},
		probe: schema.MustParseAddr("10.0.1.2")}
	for batch, source := range []string{"edge-1", "edge-2", "edge-1"} {
		rows := flowRows(start, 4000, uint64(batch))
		for _, f := range rows {
			want.rows++
			want.bytes += f.Bytes
			want.minT, want.maxT = min(want.minT, f.Time), max(want.maxT, f.Time)
			tt := schema.FromMicros(f.Time)
			want.days[tt.Format(time.DateOnly)] = true
			want.hours[tt.Format("2006-01-02T15")] = true
			if f.NextHop.IsZero() {
				want.nullNextHop++
			}
			if f.SrcAddr == want.probe {
				want.probeRows++
			}
		}
		if _, err := lake.Write(ctx, l, source, rows); err != nil {
			t.Fatalf("write batch %d: %v", batch, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, schema.Flows, "dt=*", "hr=*", "*.parquet"))
	if err != nil || len(files) <= len(want.hours) {
		t.Fatalf("want several segments per hour partition in the Hive layout, found %d files for %d hours (%v)", len(files), len(want.hours), err)
	}

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	from := "read_parquet('" + filepath.ToSlash(filepath.Join(root, schema.Flows)) + "/**/*.parquet', hive_partitioning = true)"

	t.Run("aggregates", func(t *testing.T) {
		var (
			count, days, hours int64
			sum                string
			minT, maxT         time.Time
		)
		q := "SELECT count(*), sum(bytes)::VARCHAR, min(time), max(time), count(DISTINCT dt), count(DISTINCT (dt, hr)) FROM " + from
		if err := db.QueryRowContext(ctx, q).Scan(&count, &sum, &minT, &maxT, &days, &hours); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if count != want.rows {
			t.Errorf("count(*) = %d, wrote %d rows", count, want.rows)
		}
		if sum != strconv.FormatUint(want.bytes, 10) {
			t.Errorf("sum(bytes) = %s, wrote %d", sum, want.bytes)
		}
		if !minT.Equal(schema.FromMicros(want.minT)) || !maxT.Equal(schema.FromMicros(want.maxT)) {
			t.Errorf("time range = [%s, %s], wrote [%s, %s]", minT, maxT, schema.FromMicros(want.minT), schema.FromMicros(want.maxT))
		}
		if days != int64(len(want.days)) || hours != int64(len(want.hours)) {
			t.Errorf("distinct dt = %d, (dt, hr) = %d; wrote %d days, %d hours", days, hours, len(want.days), len(want.hours))
		}
	})

	t.Run("types", func(t *testing.T) {
		wantTypes := map[string][]string{
			schema.ColTime:     {"TIMESTAMP WITH TIME ZONE", "TIMESTAMP"},
			"duration_ms":      {"UINTEGER"},
			schema.FlowSrcAddr: {"BLOB"},
			schema.FlowNextHop: {"BLOB"},
			schema.FlowBytes:   {"UBIGINT"},
			schema.FlowSrcPort: {"USMALLINT"},
			schema.FlowProto:   {"UTINYINT"},
			schema.ColEdge:     {"VARCHAR"},
		}
		rows, err := db.QueryContext(ctx, "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "+from+")")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		seen := map[string]bool{}
		for rows.Next() {
			var name, typ string
			if err := rows.Scan(&name, &typ); err != nil {
				t.Fatal(err)
			}
			seen[name] = true
			ok, listed := oneOf(typ, wantTypes[name])
			if listed {
				t.Logf("%s: %s", name, typ)
			}
			if listed && !ok {
				t.Errorf("column %s has DuckDB type %s, want one of %v", name, typ, wantTypes[name])
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		for _, c := range schema.DatasetOf[schema.Flow]().Columns {
			if !seen[c.Name] {
				t.Errorf("DuckDB does not see column %s", c.Name)
			}
		}
		if !seen["dt"] || !seen["hr"] {
			t.Errorf("DuckDB does not derive the dt and hr partition columns")
		}
	})

	t.Run("addresses", func(t *testing.T) {
		var minLen, maxLen, nullNextHop, probeRows int64
		q := "SELECT min(octet_length(src_addr)), max(octet_length(dst_addr)), count(*) - count(next_hop), " +
			"count(*) FILTER (WHERE src_addr = ?) FROM " + from
		probe := append([]byte(nil), want.probe[:]...) // cgo may not see Go pointers beside the bytes
		if err := db.QueryRowContext(ctx, q, probe).Scan(&minLen, &maxLen, &nullNextHop, &probeRows); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if minLen != 16 || maxLen != 16 {
			t.Errorf("address lengths in [%d, %d], want 16 bytes", minLen, maxLen)
		}
		if nullNextHop != want.nullNextHop {
			t.Errorf("null next_hop = %d, wrote %d", nullNextHop, want.nullNextHop)
		}
		if probeRows == 0 || probeRows != want.probeRows {
			t.Errorf("rows with src_addr = %s: %d, wrote %d", want.probe, probeRows, want.probeRows)
		}
	})
}

func oneOf(s string, list []string) (found, listed bool) {
	for _, v := range list {
		if s == v {
			return true, true
		}
	}
	return false, len(list) > 0
}
