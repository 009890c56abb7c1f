package edge

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowlake/flowlake/ingest/flow"
	ft "github.com/flowlake/flowlake/ingest/flow/flowtest"
)

// gatherMetrics scrapes the edge's collectors through a registry into
// name[/label…] → value.
func gatherMetrics(t *testing.T, e *Edge) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range e.Collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetValue()
			}
			if c := m.GetCounter(); c != nil {
				got[name] = c.GetValue()
			} else {
				got[name] = m.GetGauge().GetValue()
			}
		}
	}
	return got
}

// TestTimeWindowQuarantinesOverUDP sends IPFIX records dated from a minute
// ago to year 111613 (flowStartMilliseconds 3.46e15, as a broken exporter
// did) to the edge's socket: rows inside the window around receipt reach
// the lake, the others are counted (status, metrics) and kept in the
// quarantine file with their original time, and no partition outside the
// window is created.
func TestTimeWindowQuarantinesOverUDP(t *testing.T) {
	l := openLake(t)
	cfg := testConfig(t)
	e := startEdge(t, cfg, l)
	now := time.Now()
	tmpl := ft.Set(2, ft.TemplateRecord(400, ft.Field{ID: 8, Length: 4}, ft.Field{ID: 12, Length: 4}, ft.Field{ID: 1, Length: 4}, ft.Field{ID: 2, Length: 4}, ft.Field{ID: 152, Length: 8}))
	rec := func(host byte, startMs uint64) []byte {
		return ft.BE64(ft.BE32(ft.BE32([]byte{10, 7, 0, host, 10, 8, 0, 1}, 100), 1), startMs)
	}
	ms := func(d time.Duration) uint64 { return uint64(now.Add(d).UnixMilli()) }
	tests := []struct {
		name    string
		startMs uint64
		kept    bool
	}{
		{"a minute ago", ms(-time.Minute), true},
		{"six days ago", ms(-6 * 24 * time.Hour), true},
		{"five minutes ahead (clock skew)", ms(5 * time.Minute), true},
		{"year 111613", 3.46e15, false},
		{"eight days ago", ms(-8 * 24 * time.Hour), false},
		{"an hour ahead", ms(time.Hour), false},
		{"1970", 0, false},
		{"beyond int64 µs", math.MaxUint64, false},
	}
	var recs [][]byte
	for i, tc := range tests {
		recs = append(recs, rec(byte(i), tc.startMs))
	}
	send(t, e, e.Addrs()["ipfix"][0], ft.IPFIXMessage(uint32(now.Unix()), 0, 1, tmpl, ft.Set(400, recs...)))
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}

	rows := readFlows(t, l)
	kept := map[byte]bool{}
	for _, r := range rows {
		kept[r.SrcAddr[15]] = true
	}
	wantQuarantined := 0
	for i, tc := range tests {
		if kept[byte(i)] != tc.kept {
			t.Errorf("%s: in the lake %v, want %v", tc.name, kept[byte(i)], tc.kept)
		}
		if !tc.kept {
			wantQuarantined++
		}
	}
	if len(rows) != len(tests)-wantQuarantined {
		t.Errorf("%d rows in the lake, want %d", len(rows), len(tests)-wantQuarantined)
	}
	partitions := 0
	err := filepath.WalkDir(l.Config().Root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		day, ok := strings.CutPrefix(d.Name(), "dt=")
		if !d.IsDir() || !ok {
			return nil
		}
		partitions++
		if at, err := time.Parse("2006-01-02", day); err != nil || at.Before(now.AddDate(0, 0, -8)) || at.After(now.AddDate(0, 0, 1)) {
			t.Errorf("partition %s outside the window", path)
		}
		return nil
	})
	if partitions == 0 {
		t.Error("no partition found under the lake's root: the walk checks nothing")
	}
	if err != nil {
		t.Fatal(err)
	}

	st := e.Status(t.Context())
	if st.TimeQuarantined != uint64(wantQuarantined) || st.QuarantineLost != 0 {
		t.Errorf("status time_quarantined %d quarantine_lost %d, want %d and 0", st.TimeQuarantined, st.QuarantineLost, wantQuarantined)
	}
	if st.Flows["ipfix"] != uint64(len(rows)) {
		t.Errorf("status flows %v, want ipfix %d (quarantined rows are not flows)", st.Flows, len(rows))
	}
	m := gatherMetrics(t, e)
	if m["flowlake_edge_decoder_events_total/time_quarantined"] != float64(wantQuarantined) || m["flowlake_edge_quarantine_rows_total/written"] != float64(wantQuarantined) {
		t.Errorf("metrics time_quarantined %v, quarantine written %v; want %d", m["flowlake_edge_decoder_events_total/time_quarantined"], m["flowlake_edge_quarantine_rows_total/written"], wantQuarantined)
	}

	wantFile := filepath.Join(filepath.Dir(cfg.TemplateFile), "quarantine.jsonl")
	if st.QuarantineFile != wantFile {
		t.Errorf("status quarantine_file %q, want %q", st.QuarantineFile, wantFile)
	}
	f, err := os.Open(wantFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []quarantineLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ql quarantineLine
		if err := json.Unmarshal(sc.Bytes(), &ql); err != nil {
			t.Fatalf("quarantine line %q: %v", sc.Text(), err)
		}
		lines = append(lines, ql)
	}
	if len(lines) != wantQuarantined {
		t.Fatalf("%d quarantine lines, want %d", len(lines), wantQuarantined)
	}
	first := lines[0] // records keep their order
	if first.TimeUs != 3.46e18 || !strings.HasPrefix(first.Time, "111613-") || !strings.HasPrefix(first.Exporter, "127.0.0.1:") ||
		first.RowSrcAddr != "10.7.0.3" || first.Row.Bytes != 100 || !strings.Contains(first.Reason, "after the window") {
		t.Errorf("quarantine line %+v", first)
	}
}

// TestQuarantineWithoutFileCounts: with no quarantine file (and no template
// file to put it next to), rows outside the window are counted as lost
// quarantine, never silently dropped.
func TestQuarantineWithoutFileCounts(t *testing.T) {
	l := openLake(t)
	cfg := testConfig(t)
	cfg.TemplateFile = ""
	e := startEdge(t, cfg, l)
	tmpl := ft.Set(2, ft.TemplateRecord(400, ft.Field{ID: 8, Length: 4}, ft.Field{ID: 152, Length: 8}))
	send(t, e, e.Addrs()["ipfix"][0], ft.IPFIXMessage(uint32(time.Now().Unix()), 0, 1, tmpl, ft.Set(400, ft.BE64([]byte{10, 0, 0, 1}, 3.46e15))))
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if st := e.Status(t.Context()); st.TimeQuarantined != 1 || st.QuarantineLost != 1 || st.QuarantineFile != "" {
		t.Errorf("status time_quarantined %d quarantine_lost %d file %q, want 1, 1, none", st.TimeQuarantined, st.QuarantineLost, st.QuarantineFile)
	}
	if m := gatherMetrics(t, e); m["flowlake_edge_quarantine_rows_total/lost"] != 1 {
		t.Errorf("metric quarantine lost %v, want 1", m["flowlake_edge_quarantine_rows_total/lost"])
	}
}

// TestQuarantineRotates: the quarantine file is bounded: at max bytes it
// moves to <file>.1 (replacing the previous one) and a new file starts.
func TestQuarantineRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q", "quarantine.jsonl")
	var stats Stats
	q := newQuarantine(path, 1<<10, flow.DefaultConfig(), &stats, testLogger(t))
	row := flow.QuarantinedRow{Exporter: netip.MustParseAddrPort("192.0.2.1:9"), Received: time.Now()}
	row.Row.Time = 3.46e18
	for range 20 {
		q.write([]flow.QuarantinedRow{row})
	}
	if err := q.close(); err != nil {
		t.Fatal(err)
	}
	cur, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.Stat(path + ".1")
	if err != nil {
		t.Fatal(err)
	}
	s := stats.Snapshot()
	if s.QuarantineRows != 20 || s.QuarantineLost != 0 || s.QuarantineRotations == 0 || cur.Size() > 1<<10 || old.Size() > 1<<10 {
		t.Errorf("rows %d lost %d rotations %d, sizes %d and %d (max 1024)", s.QuarantineRows, s.QuarantineLost, s.QuarantineRotations, cur.Size(), old.Size())
	}
}

// TestQuarantineWriteErrorCounts: rows the quarantine file cannot take
// (its directory is a file) are counted as lost, not dropped silently.
func TestQuarantineWriteErrorCounts(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var stats Stats
	q := newQuarantine(filepath.Join(blocker, "quarantine.jsonl"), 1<<20, flow.DefaultConfig(), &stats, testLogger(t))
	q.write(make([]flow.QuarantinedRow, 3))
	if s := stats.Snapshot(); s.QuarantineLost != 3 || s.QuarantineRows != 0 {
		t.Errorf("lost %d written %d, want 3 and 0", s.QuarantineLost, s.QuarantineRows)
	}
}
