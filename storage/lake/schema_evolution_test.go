package lake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/lake/laketest"
	"github.com/flowlake/flowlake/storage/schema"
)

// evolutionCase is a segment written before its dataset gained the
// columns in drop, next to a current one.
type evolutionCase struct {
	name string
	run  func(t *testing.T, drop []string)
	ds   string
	drop []string // nil: every optional column of the dataset
}

func evolve[T schema.Row](name string, drop ...string) evolutionCase {
	return evolutionCase{name: name, run: checkEvolution[T], ds: schema.DatasetOf[T]().Name, drop: drop}
}

// evolutionCases: the columns tcp_conns and dhcp_events gained after files
// were written without them, and, for every dataset with optional columns,
// a file that predates all of them.
func evolutionCases() []evolutionCase {
	return []evolutionCase{
		evolve[schema.TCPConn]("tcp_conns before opened_at and setup_time", schema.TCPOpenedAt, schema.TCPSetupTime),
		evolve[schema.DHCPEvent]("dhcp_events before offer_servers and signals", "offer_servers", "signals"),
		evolve[schema.Flow]("flows without optional columns"),
		evolve[schema.TCPConn]("tcp_conns without optional columns"),
		evolve[schema.TCPPacket]("tcp_packets without optional columns"),
		evolve[schema.DHCPEvent]("dhcp_events without optional columns"),
		evolve[schema.DHCPLease]("dhcp_leases without optional columns"),
		evolve[schema.CloudConn]("cloud_conn without optional columns"),
	}
}

// TestSchemaEvolution puts a segment written before its dataset gained
// optional columns next to a current one, for every dataset that has
// optional columns, and reads them through the lake's entry points:
// Publish accepts the older upload, Verify finds no problem, Read returns
// its rows with the missing columns null (zero), and compaction merges
// the hour into files of the current schema keeping every row.
func TestSchemaEvolution(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range evolutionCases() {
		covered[c.ds] = true
		t.Run(c.name, func(t *testing.T) { c.run(t, c.drop) })
	}
	for _, d := range schema.All() {
		// A rollup cannot be uploaded (only the core writes it), which this
		// test's older segments are; its files take the same reading path.
		if len(laketest.OptionalColumns(d)) > 0 && !covered[d.Name] && d.DerivedFrom == "" {
			t.Errorf("dataset %s has optional columns but no schema evolution case", d.Name)
		}
	}
}

func checkEvolution[T schema.Row](t *testing.T, drop []string) {
	ctx := context.Background()
	d := schema.DatasetOf[T]()
	if drop == nil {
		drop = laketest.OptionalColumns(d)
	}
	cfg := lake.DefaultConfig()
	cfg.Root = t.TempDir()
	cfg.RowGroupRows = 1024
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	hour := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	cur := laketest.Rows[T](rng, 150, hour)
	old := laketest.Rows[T](rng, 100, hour)
	if _, err := lake.Write(ctx, l, "edge-new", cur); err != nil {
		t.Fatal(err)
	}
	pub, err := laketest.PublishOlder(ctx, l, "edge-old", old, drop...)
	if err != nil {
		t.Fatalf("publish a segment without %v: %v", drop, err)
	}
	// What a reader must see of the older rows: the dropped columns null.
	wantOld := slices.Clone(old)
	for i := range wantOld {
		v := reflect.ValueOf(&wantOld[i]).Elem()
		for j, c := range d.Columns {
			if slices.Contains(drop, c.Name) {
				v.Field(j).SetZero()
			}
		}
	}

	problems, err := l.Verify(ctx)
	if err != nil || len(problems) > 0 {
		t.Fatalf("verify: %v, problems %v", err, problems)
	}
	segs, err := l.Segments(ctx, d.Name, hour, hour.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 {
		t.Fatalf("%d segments, want 2 (current and older): %v", len(segs), segs)
	}
	for _, seg := range segs {
		got, err := lake.Read[T](ctx, l, seg)
		if err != nil {
			t.Fatalf("read %s: %v", seg.Key, err)
		}
		want := cur
		if seg.Key == pub.Key {
			want = wantOld
		}
		sameRows(t, seg.Key, got, want)
		f, err := l.OpenSegment(ctx, seg)
		if err != nil {
			t.Fatalf("open %s: %v", seg.Key, err)
		}
		for i, c := range d.Columns {
			if missing := f.Column(i) < 0; missing != (seg.Key == pub.Key && slices.Contains(drop, c.Name)) {
				t.Errorf("%s: column %s maps to leaf %d", seg.Key, c.Name, f.Column(i))
			}
		}
		f.Close()
	}

	res, err := l.Compact(ctx, hour.Add(2*time.Hour))
	if err != nil {
		t.Fatalf("compact: %v", err)
	}
	if res.FilesBefore != 2 || res.Rows != int64(len(cur)+len(old)) {
		t.Fatalf("compaction %+v, want 2 files and %d rows merged", res, len(cur)+len(old))
	}
	segs, err = l.Segments(ctx, d.Name, hour, hour.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var got []T
	for _, seg := range segs {
		rows, err := lake.Read[T](ctx, l, seg)
		if err != nil {
			t.Fatalf("read %s: %v", seg.Key, err)
		}
		got = append(got, rows...)
		f, err := l.OpenSegment(ctx, seg)
		if err != nil {
			t.Fatalf("open %s: %v", seg.Key, err)
		}
		if !sameNames(f, d) {
			t.Errorf("compacted %s has columns %v, want the current schema's", seg.Key, f.Schema())
		}
		for i := range d.Columns {
			if f.Column(i) != i {
				t.Errorf("compacted %s: column %s at leaf %d, want %d", seg.Key, d.Columns[i].Name, f.Column(i), i)
			}
		}
		f.Close()
	}
	sameRows(t, "compacted hour", got, append(slices.Clone(cur), wantOld...))
	if problems, err := l.Verify(ctx); err != nil || len(problems) > 0 {
		t.Fatalf("verify after compaction: %v, problems %v", err, problems)
	}
}

// sameNames reports whether f's columns are d's, by name and in order.
func sameNames(f *lake.SegmentFile, d *schema.Dataset) bool {
	fields := f.Schema().Fields()
	if len(fields) != len(d.Columns) {
		return false
	}
	for i, c := range d.Columns {
		if fields[i].Name() != c.Name {
			return false
		}
	}
	return true
}

// sameRows compares two multisets of rows.
func sameRows[T schema.Row](t *testing.T, what string, got, want []T) {
	t.Helper()
	count := map[any]int{}
	for _, r := range want {
		count[r]++
	}
	for i, r := range got {
		if count[r] == 0 {
			t.Errorf("%s: row %d not expected: %+v", what, i, r)
			return
		}
		count[r]--
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
	}
}

// TestSchemaEvolutionRefused: what changed other than optional columns
// missing is refused with the column and why, on upload (Publish), by
// verify, and by readers (the file is skipped as unreadable).
func TestSchemaEvolutionRefused(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	hour := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	rows := laketest.Rows[schema.TCPConn](rng, 20, hour)
	reshape := func(drop []string, retype map[string]reflect.StructField, extra ...reflect.StructField) any {
		out, err := laketest.Reshape(rows, drop, retype, extra...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		rows any
		want string
	}{
		{"missing required column", reshape([]string{schema.TCPReason, schema.TCPOpenedAt}, nil),
			`required column "reason" is missing`},
		{"column of another type", reshape(nil, map[string]reflect.StructField{"iss": {
			Name: "ISS", Type: reflect.TypeFor[uint64](), Tag: `parquet:"iss"`}}),
			`column "iss" has type required INT(64,false), want required INT(32,false)`},
		{"optional column made required", reshape(nil, map[string]reflect.StructField{schema.TCPSetupTime: {
			Name: "SetupTime", Type: reflect.TypeFor[int64](), Tag: `parquet:"setup_time"`}}),
			`column "setup_time" has type required INT(64,true), want optional INT(64,true)`},
		{"unknown column", reshape(nil, nil, reflect.StructField{
			Name: "Extra", Type: reflect.TypeFor[string](), Tag: `parquet:"rtt_hint,optional"`}),
			`column "rtt_hint" is not a tcp_conns column`},
		{"every problem named", reshape([]string{schema.TCPReason}, nil, reflect.StructField{
			Name: "Extra", Type: reflect.TypeFor[string](), Tag: `parquet:"rtt_hint,optional"`}),
			`column "rtt_hint" is not a tcp_conns column (a file of a newer writer? this build reads only the dataset's columns); required column "reason" is missing`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := lake.DefaultConfig()
			cfg.Root = t.TempDir()
			l, err := lake.Open(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			b, err := laketest.Encode(schema.TCPConns, "edge-old", tc.rows)
			if err != nil {
				t.Fatal(err)
			}
			id := "edge-old-" + ulid.Make().String()
			_, err = l.Publish(ctx, id, bytes.NewReader(b), int64(len(b)))
			if !errors.Is(err, lake.ErrSchema) || !errors.Is(err, lake.ErrCorrupt) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), id) {
				t.Fatalf("publish: %v, want ErrSchema naming %s and %q", err, id, tc.want)
			}
			// The same bytes found in the lake (an older build let them in,
			// or they were copied there): verify names them, readers skip.
			key := "tcp_conns/dt=2026-11-02/hr=10/" + id + ".parquet"
			up, err := l.Backend().Create(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := up.Write(b); err != nil {
				t.Fatal(err)
			}
			if err := up.Commit(); err != nil {
				t.Fatal(err)
			}
			problems, err := l.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != 1 || problems[0].Key != key || !strings.Contains(problems[0].Err, tc.want) {
				t.Fatalf("verify problems %v, want %s: %q", problems, key, tc.want)
			}
			if err := l.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			segs, err := l.Segments(ctx, schema.TCPConns, hour, hour.Add(time.Hour))
			if err != nil || len(segs) != 0 {
				t.Fatalf("segments %v, %v: want the refused file skipped", segs, err)
			}
		})
	}
}

// TestSchemaEvolutionCachedProblem: a lake whose catalog cache was written
// by a build that could not read older segments (it recorded them as
// unreadable) answers over them once a build that can opens it.
func TestSchemaEvolutionCachedProblem(t *testing.T) {
	ctx := context.Background()
	cfg := lake.DefaultConfig()
	cfg.Root = t.TempDir()
	hour := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	rows := laketest.Rows[schema.TCPConn](rand.New(rand.NewPCG(5, 6)), 30, hour)
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := laketest.PublishOlder(ctx, l, "edge-old", rows, schema.TCPOpenedAt, schema.TCPSetupTime)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil { // saves the catalog cache
		t.Fatal(err)
	}
	// What the previous build wrote into the day's cache file.
	day := filepath.Join(cfg.Root, "_catalog", "tcp_conns", "dt=2026-11-02.json")
	b, err := os.ReadFile(day)
	if err != nil {
		t.Fatal(err)
	}
	var df map[string]any
	if err := json.Unmarshal(b, &df); err != nil {
		t.Fatal(err)
	}
	marked := 0
	for _, folder := range df["folders"].([]any) {
		for _, e := range folder.(map[string]any)["files"].([]any) {
			if e := e.(map[string]any); e["key"] == pub.Key {
				e["problem"] = "not a readable flowlake segment: tcp_conns schema: 32 columns, want 34"
				marked++
			}
		}
	}
	if marked != 1 {
		t.Fatalf("cache %s: %d entries of %s", day, marked, pub.Key)
	}
	if b, err = json.Marshal(df); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(day, b, 0o644); err != nil {
		t.Fatal(err)
	}

	l, err = lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	segs, err := l.Segments(ctx, schema.TCPConns, hour, hour.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 1 || segs[0].Key != pub.Key || segs[0].Rows != int64(len(rows)) {
		t.Fatalf("segments %+v, want %s with %d rows", segs, pub.Key, len(rows))
	}
}

// BenchmarkReadOlder reads 100 000 tcp_conns rows with lake.Read (as
// export and the tcptrace commands do) from a current segment and from
// one written before opened_at and setup_time, which parquet-go converts
// to the current record type.
func BenchmarkReadOlder(b *testing.B) {
	ctx := context.Background()
	cfg := lake.DefaultConfig()
	cfg.Root = b.TempDir()
	l, err := lake.Open(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	hour := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	const n = 100_000
	rows := laketest.Rows[schema.TCPConn](rand.New(rand.NewPCG(9, 10)), n, hour)
	segs, err := lake.Write(ctx, l, "edge-new", rows)
	if err != nil || len(segs) != 1 {
		b.Fatalf("write: %v, %d segments", err, len(segs))
	}
	old, err := laketest.PublishOlder(ctx, l, "edge-old", rows, schema.TCPOpenedAt, schema.TCPSetupTime)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		seg  lake.Segment
	}{{"current", segs[0]}, {"older", old.Segment}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				got, err := lake.Read[schema.TCPConn](ctx, l, bc.seg)
				if err != nil || len(got) != n {
					b.Fatalf("read: %d rows, %v", len(got), err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
