package query

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/lake/laketest"
	"github.com/flowlake/flowlake/storage/schema"
)

// evolutionQuery is one dataset's check: a segment written before the
// dataset gained the columns in drop (nil: every optional column), next to
// a current segment, and a filter on a dropped column.
type evolutionQuery struct {
	name string
	ds   string
	run  func(t *testing.T)
}

func evolveQuery[T schema.Row](name string, filter func(cur []T) string, drop ...string) evolutionQuery {
	return evolutionQuery{name: name, ds: schema.DatasetOf[T]().Name, run: func(t *testing.T) { checkEvolutionQueries(t, filter, drop) }}
}

// TestSchemaEvolutionQueries runs the engine (Engine.Run, as the REST and
// GraphQL APIs call it) over an hour holding a current segment and one
// written before its dataset gained optional columns, for every dataset
// with optional columns. The oracle is a second lake holding the same rows
// written by the current writer with those columns null: counts, a
// listing of every column, a filter on a missing column and its negation,
// and a group-by on it must answer the same, and the older file must not
// be skipped.
func TestSchemaEvolutionQueries(t *testing.T) {
	str := func(col string) func(any) string { return func(any) string { return col + ` "a"` } }
	cases := []evolutionQuery{
		evolveQuery("tcp_conns before opened_at and setup_time", func([]schema.TCPConn) string { return "setup_time > 1000" },
			schema.TCPOpenedAt, schema.TCPSetupTime),
		evolveQuery("tcp_conns without optional columns", func([]schema.TCPConn) string { return "opened_at > 1970-01-02T00:00:00Z or conn_state SF" }),
		evolveQuery("flows without optional columns", func(cur []schema.Flow) string { return "next_hop " + cur[0].NextHop.String() }),
		evolveQuery("tcp_packets without optional columns", func(c []schema.TCPPacket) string { return str("socket_state")(c) }),
		evolveQuery("dhcp_events before offer_servers and signals", func(c []schema.DHCPEvent) string { return str("signals")(c) },
			"offer_servers", "signals"),
		evolveQuery("dhcp_events without optional columns", func([]schema.DHCPEvent) string { return "lease_time > 1000" }),
		evolveQuery("dhcp_leases without optional columns", func([]schema.DHCPLease) string { return "lease_time > 1000" }),
		evolveQuery("cloud_conn without optional columns", func(c []schema.CloudConn) string { return str("failure_reason")(c) }),
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.ds] = true
		t.Run(c.name, c.run)
	}
	for _, d := range schema.All() {
		// A rollup cannot be uploaded (only the core writes it), which this
		// test's older segments are; its files take the same reading path.
		if len(laketest.OptionalColumns(d)) > 0 && !covered[d.Name] && d.DerivedFrom == "" {
			t.Errorf("dataset %s has optional columns but no schema evolution case", d.Name)
		}
	}
}

func checkEvolutionQueries[T schema.Row](t *testing.T, filter func([]T) string, drop []string) {
	ctx := context.Background()
	d := schema.DatasetOf[T]()
	if drop == nil {
		drop = laketest.OptionalColumns(d)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	hour := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	cur := laketest.Rows[T](rng, 1500, hour)
	old := laketest.Rows[T](rng, 1100, hour)
	nulled := slices.Clone(old)
	for i := range nulled {
		v := reflect.ValueOf(&nulled[i]).Elem()
		for j, c := range d.Columns {
			if slices.Contains(drop, c.Name) {
				v.Field(j).SetZero()
			}
		}
	}
	open := func() *lake.Lake {
		cfg := lake.DefaultConfig()
		cfg.Root = t.TempDir()
		cfg.RowGroupRows = 1024 // several row groups a file
		l, err := lake.Open(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		if _, err := lake.Write(ctx, l, "edge-new", cur); err != nil {
			t.Fatal(err)
		}
		return l
	}
	evolved, oracle := open(), open()
	if _, err := laketest.PublishOlder(ctx, evolved, "edge-old", old, drop...); err != nil {
		t.Fatal(err)
	}
	if _, err := lake.Write(ctx, oracle, "edge-old", nulled); err != nil {
		t.Fatal(err)
	}
	// One worker: the same pooled vectors serve both files, the older
	// file's null-filled columns and the current file's decoded ones.
	engines := []*Engine{New(evolved, Config{Workers: 1}, nil), New(oracle, Config{Workers: 1}, nil)}
	for _, e := range engines {
		defer e.Close()
	}
	from, to := hour.Format(time.RFC3339), hour.Add(time.Hour).Format(time.RFC3339)
	f := filter(cur)
	queries := []Query{
		{Metrics: []string{"count()"}},
		{Columns: append([]string{schema.ColTime}, columnNames(d)...), Limit: MaxPageSize},
		{Filter: f, Metrics: []string{"count()"}},
		{Filter: "not (" + f + ")", Metrics: []string{"count()"}},
		{Filter: f, Columns: append([]string{schema.ColTime}, drop...), Limit: MaxPageSize},
		{GroupBy: drop[:1], Metrics: []string{"count()"}, Limit: MaxPageSize},
	}
	for round := range 2 { // the second round reuses the pooled buffers
		for _, q := range queries {
			q.Dataset, q.From, q.To = d.Name, from, to
			var answers [2][][]string
			for k, e := range engines {
				res, err := e.Run(ctx, q)
				if err != nil {
					t.Fatalf("round %d: %+v: %v", round, q, err)
				}
				if len(res.Warnings) > 0 {
					t.Fatalf("round %d: %+v: warnings %v", round, q, res.Warnings)
				}
				rows := res.Rows()
				res.Release()
				slices.SortFunc(rows[1:], func(a, b []string) int { return strings.Compare(strings.Join(a, "\x00"), strings.Join(b, "\x00")) })
				answers[k] = rows
			}
			if !slices.EqualFunc(answers[0], answers[1], slices.Equal) {
				diff := cmp.Diff(answers[1], answers[0])
				t.Fatalf("round %d: %+v: the lake with the older file answers otherwise than with its rows nulled (-oracle +evolved):\n%s", round, q, diff)
			}
			if len(q.Metrics) == 1 && q.Filter == "" && q.GroupBy == nil {
				if got, want := answers[0][1][0], fmt.Sprint(len(cur)+len(old)); got != want {
					t.Fatalf("round %d: count() = %s, want %s", round, got, want)
				}
			}
		}
	}
}

func columnNames(d *schema.Dataset) []string {
	var out []string
	for _, c := range d.Columns[1:] {
		out = append(out, c.Name)
	}
	return out
}

// TestPooledVectorNullFilledThenRequired is TestPooledVectorOptionalThenRequired
// with the optional column null-filled: tcp_conns' setup_time (column 11)
// from a segment written before the column existed next to a current one,
// then flow_loss's required lost_datagrams (also column 11) over more rows,
// in turns, so the pooled vector serves a null-filled, a decoded optional
// and a required column one after the other.
func TestPooledVectorNullFilledThenRequired(t *testing.T) {
	ctx := context.Background()
	tc, _ := schema.Lookup(schema.TCPConns)
	fl, _ := schema.Lookup(schema.FlowLosses)
	const idx = 11
	if a, b := tc.Arrow.Field(idx), fl.Arrow.Field(idx); a.Name != schema.TCPSetupTime || b.Name != "lost_datagrams" || b.Nullable {
		t.Fatalf("column %d: %s and %s: pick two columns at one index again", idx, a.Name, b.Name)
	}
	cfg := lake.DefaultConfig()
	cfg.Root = t.TempDir()
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	at := time.Date(2026, 1, 7, 12, 0, 0, 0, time.UTC)
	var conns, older []schema.TCPConn
	for i := range 10 {
		c := schema.TCPConn{Time: at.Add(time.Duration(i) * time.Second).UnixMicro(), Edge: "e", Device: "d", Reason: "PN", Source: "passive", TraceID: uint64(i + 1), SetupTime: int64(1000 + i)}
		conns = append(conns, c)
		c.Time += 500_000
		older = append(older, c) // its setup_time is not written
	}
	var loss []schema.FlowLoss
	var want int64
	for i := range 5000 {
		loss = append(loss, schema.FlowLoss{Time: at.Add(time.Duration(i) * 100 * time.Millisecond).UnixMicro(), DurationMS: 60000, Edge: "e", Cause: "sequence", Device: "x", Format: "netflow9", LostDatagrams: uint64(i % 3)})
		want += int64(i % 3)
	}
	if _, err := lake.Write(ctx, l, "t", conns); err != nil {
		t.Fatal(err)
	}
	if _, err := laketest.PublishOlder(ctx, l, "old", older, schema.TCPOpenedAt, schema.TCPSetupTime); err != nil {
		t.Fatal(err)
	}
	if _, err := lake.Write(ctx, l, "t", loss); err != nil {
		t.Fatal(err)
	}
	eng := New(l, Config{Workers: 1}, nil)
	defer eng.Close()
	from, to := at.Format(time.RFC3339), at.Add(time.Hour).Format(time.RFC3339)
	for round := range 3 {
		for _, q := range []struct {
			dataset, filter, metric string
			want                    string
		}{
			{schema.TCPConns, "", "sum(setup_time)", fmt.Sprint(10*1000 + 45)},
			{schema.TCPConns, "setup_time > 1004", "count()", "5"},
			{schema.TCPConns, "not setup_time > 1004", "count()", "15"}, // the older rows' nulls match no comparison
			{schema.FlowLosses, "", "sum(lost_datagrams)", fmt.Sprint(want)},
		} {
			res, err := eng.Run(ctx, Query{Dataset: q.dataset, From: from, To: to, Filter: q.filter, Metrics: []string{q.metric}})
			if err != nil {
				t.Fatalf("round %d: %s of %s where %q: %v", round, q.metric, q.dataset, q.filter, err)
			}
			rows := res.Rows()
			res.Release()
			if len(rows) != 2 || rows[1][0] != q.want {
				t.Errorf("round %d: %s of %s where %q = %v, want %s", round, q.metric, q.dataset, q.filter, rows, q.want)
			}
		}
	}
}
