package edge

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/flowlake/flowlake/ingest/cloudconn"
	"github.com/flowlake/flowlake/ingest/tcptrace"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// Sample device outputs of the device documents (ingest's testdata).
const (
	tcptraceSamples = "../ingest/tcptrace/testdata/samples"
	cloudSamples    = "../ingest/cloudconn/testdata/samples"
)

// readAll reads every row of dataset ds in l.
func readAll[T schema.Row](t *testing.T, l *lake.Lake, ds string) []T {
	t.Helper()
	ctx := context.Background()
	segs, err := l.Segments(ctx, ds, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	for _, s := range segs {
		rows, err := lake.Read[T](ctx, l, s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rows...)
	}
	return out
}

// dirNames lists dir's file names, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}

// TestDropFolder runs an edge whose only source is a drop folder and
// drops the device documents' samples into it: the tcp trace verbose
// output (IPv4, IPv6) and a cloud-management display become rows in the
// lake under the edge and go to done/; a malformed trace, a file of
// neither kind and an oversized file go to failed/ each with an .error
// file naming why (line and column for the malformed one); a file still
// named *.tmp is left alone until renamed. Every file is counted on the
// status and /metrics.
func TestDropFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drop")
	cfg := DefaultConfig()
	cfg.ID = "edge-drop"
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = nil, nil, nil
	cfg.Drop = DropConfig{Dir: dir, Interval: 20 * time.Millisecond, MaxBytes: 64 << 10, TZ: "UTC"}
	cfg.QuarantineFile = filepath.Join(t.TempDir(), "q.jsonl")
	lk := openLake(t)
	e, err := New(cfg, Deps{Lake: lk, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = e.Stop()
		}
	}()
	copyIn := func(src, name string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyIn(filepath.Join(tcptraceSamples, "cache-packet-ip.txt"), "sw1-trace.txt")
	copyIn(filepath.Join(tcptraceSamples, "cache-packet-ipv6.txt"), "sw1-trace6.log")
	copyIn(filepath.Join(cloudSamples, "reference-zh-doc.txt"), "cloud.txt")
	bad := "<sw1> display tcp trace cache-packet ip verbose\n MDC ID: 1, Sep 18 15:38:58:503 2019, VPN name: N/A\n" +
		" iss 10, irs 20, in 1 (drop 0), out 1, retrans 0\n (1) Sep 18 15:33:08:367 2019 RS\n Reason: sudden death\n"
	for name, body := range map[string]string{
		"bad-trace.txt": bad,
		"notes.txt":     "shopping list\nmilk\n",
		"huge.txt":      "<sw1> display tcp trace cache-connection ip\n" + strings.Repeat("x", 70<<10),
		"partial.tmp":   "<sw1> display tcp trace cache-connection ip\n",
		".hidden":       "<sw1> display tcp trace cache-connection ip\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not reached; status %+v", what, e.Status(context.Background()).Drop)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("six files taken", func() bool {
		st := e.Status(context.Background()).Drop
		return st.Done+st.Failed == 6
	})
	if diff := cmp.Diff([]string{"cloud.txt", "sw1-trace.txt", "sw1-trace6.log"}, dirNames(t, filepath.Join(dir, "done"))); diff != "" {
		t.Errorf("done/ (-want +got):\n%s", diff)
	}
	wantFailed := []string{"bad-trace.txt", "bad-trace.txt.error", "huge.txt", "huge.txt.error", "notes.txt", "notes.txt.error"}
	if diff := cmp.Diff(wantFailed, dirNames(t, filepath.Join(dir, "failed"))); diff != "" {
		t.Errorf("failed/ (-want +got):\n%s", diff)
	}
	for name, want := range map[string]string{
		"bad-trace.txt": `bad-trace.txt:5:10: unknown reason "sudden death"`,
		"notes.txt":     "notes.txt:1:1: neither 'display tcp trace' nor 'display cloud-management state' output",
		"huge.txt":      "huge.txt: 71724 bytes exceed drop.max_bytes 65536; not read",
	} {
		b, err := os.ReadFile(filepath.Join(dir, "failed", name+".error"))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s.error: %q %v; want it to say %q", name, b, err, want)
		}
	}
	if diff := cmp.Diff([]string{".hidden", "partial.tmp"}, dirNames(t, dir)); diff != "" {
		t.Errorf("left in the folder (-want +got):\n%s", diff)
	}
	// The writer renames its *.tmp when complete: then it is taken.
	copyIn(filepath.Join(tcptraceSamples, "cache-connection-ip.txt"), "table.tmp")
	if err := os.Rename(filepath.Join(dir, "table.tmp"), filepath.Join(dir, "table.txt")); err != nil {
		t.Fatal(err)
	}
	waitFor("the renamed file taken", func() bool { return e.Status(context.Background()).Drop.Done == 4 })

	reg := prometheus.NewRegistry()
	reg.MustRegister(e.Collectors()...)
	st := e.Status(context.Background()).Drop
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true

	conns := readAll[schema.TCPConn](t, lk, schema.TCPConns)
	pkts := readAll[schema.TCPPacket](t, lk, schema.TCPPackets)
	cloud := readAll[schema.CloudConn](t, lk, schema.CloudConns)
	var got []string
	for _, c := range conns {
		got = append(got, c.Edge+" "+c.Device+" "+c.Reason+" "+c.LocalAddr.String())
	}
	slices.Sort(got)
	tableRows := len(conns) - 2
	if tableRows < 1 || !slices.Contains(got, "edge-drop DeviceA RT 1.1.1.1") || !slices.Contains(got, "edge-drop DeviceA RT 1::1") {
		t.Errorf("tcp_conns %q: want the IPv4 and IPv6 verbose connections and the table's rows, under edge-drop", got)
	}
	if len(pkts) != 6 {
		t.Errorf("%d tcp_packets rows, want the 3 + 3 of the two verbose samples", len(pkts))
	}
	if len(cloud) != 1 || cloud[0].Edge != "edge-drop" || cloud[0].Device != "Sysname" || cloud[0].ConnState != "Established" {
		t.Errorf("cloud_conn %+v: want the reference display's row under edge-drop", cloud)
	}
	wantStatus := &DropStatus{Dir: dir, Done: 4, Failed: 3,
		FailedBy:  map[string]uint64{"oversize": 1, "unknown_kind": 1, "parse": 1, "write": 0, "read": 0},
		Rows:      map[string]uint64{"tcp_conns": uint64(len(conns)), "tcp_packets": 6, "cloud_conn": 1},
		LastError: st.LastError, LinesUnknown: st.LinesUnknown}
	if diff := cmp.Diff(wantStatus, st); diff != "" {
		t.Errorf("drop status (-want +got):\n%s", diff)
	}
	want := `
# HELP flowlake_edge_drop_files_total Files taken from the drop folder, by result (done, failed).
# TYPE flowlake_edge_drop_files_total counter
flowlake_edge_drop_files_total{result="done"} 4
flowlake_edge_drop_files_total{result="failed"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "flowlake_edge_drop_files_total"); err != nil {
		t.Error(err)
	}
}

// TestDropTakesOnlyCompleteFiles drives the watcher's listing by hand: a
// file is taken only by the listing after one that saw the same size and
// modification time, so a file still growing is left alone.
func TestDropTakesOnlyCompleteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drop")
	cfg := DefaultConfig()
	cfg.ID = "edge-drop"
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = nil, nil, nil
	cfg.Drop = DropConfig{Dir: dir, Interval: time.Hour, MaxBytes: 1 << 20, TZ: "UTC"}
	cfg.QuarantineFile = filepath.Join(t.TempDir(), "q.jsonl")
	e, err := New(cfg, Deps{Lake: openLake(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil { // an hour's interval: only the scans below run
		t.Fatal(err)
	}
	defer e.Stop()
	sample, err := os.ReadFile(filepath.Join(cloudSamples, "reference-zh-doc.txt"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cloud.txt")
	half := len(sample) / 2
	if err := os.WriteFile(path, sample[:half], 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e.drop.scan(ctx) // first sight
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(sample[half:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	e.drop.scan(ctx) // grew: not taken
	if st := e.Status(ctx).Drop; st.Done+st.Failed != 0 {
		t.Fatalf("a file that grew between listings was taken: %+v", st)
	}
	e.drop.scan(ctx) // unchanged: taken whole
	if st := e.Status(ctx).Drop; st.Done != 1 || st.Failed != 0 || st.Rows["cloud_conn"] != 1 {
		t.Fatalf("the complete file: %+v; want it done with its row", st)
	}
}

// TestDropConfigValidate: bad drop folder settings are refused by name.
func TestDropConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*DropConfig)
		want string
	}{
		{"off is valid whatever the rest", func(c *DropConfig) { c.Dir, c.Interval = "", 0 }, ""},
		{"defaults", func(c *DropConfig) {}, ""},
		{"interval too short", func(c *DropConfig) { c.Interval = time.Millisecond }, "interval 1ms is outside 10ms..1h"},
		{"no size", func(c *DropConfig) { c.MaxBytes = 0 }, "max_bytes 0 is outside 1..1073741824"},
		{"bad zone", func(c *DropConfig) { c.TZ = "Mars/Olympus" }, `tz "Mars/Olympus"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultDropConfig()
			c.Dir = "drop"
			tc.mod(&c)
			err := c.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzSniffDrop: any bytes are sniffed without a panic, and a file the
// sniffer calls a trace or a display goes through that parser without one.
func FuzzSniffDrop(f *testing.F) {
	for _, p := range []string{filepath.Join(tcptraceSamples, "cache-packet-ip.txt"), filepath.Join(cloudSamples, "labels-zh.txt")} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		switch sniffDrop(b) {
		case dropTCPTrace:
			_, _ = tcptrace.Parse(bytes.NewReader(b), tcptrace.Options{File: "f"})
		case dropCloud:
			_, _ = cloudconn.Parse(bytes.NewReader(b), cloudconn.Options{File: "f"})
		}
	})
}

// TestDropFolderShipsToCore: on a remote edge, a dropped trace and a
// dropped display are written into the spool like every other segment
// and shipped to the core, whose lake then holds their rows under the
// edge.
func TestDropFolderShipsToCore(t *testing.T) {
	core := newTestCore(t)
	cfg := remoteConfig(t, core)
	dir := filepath.Join(t.TempDir(), "drop")
	cfg.Drop = DropConfig{Dir: dir, Interval: 20 * time.Millisecond, MaxBytes: 1 << 20, TZ: "UTC"}
	e := startEdge(t, cfg, nil)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for src, name := range map[string]string{
		filepath.Join(tcptraceSamples, "cache-packet-ip.txt"): "trace.txt",
		filepath.Join(cloudSamples, "labels-zh.txt"):          "cloud.txt",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// 1 tcp_conns + 3 tcp_packets + 1 cloud_conn row.
	waitFor(t, func() bool { return e.Stats().RowsShipped.Load() == 5 }, "the dropped files' 5 rows shipped")
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	conns := readAll[schema.TCPConn](t, core.lake, schema.TCPConns)
	pkts := readAll[schema.TCPPacket](t, core.lake, schema.TCPPackets)
	cloud := readAll[schema.CloudConn](t, core.lake, schema.CloudConns)
	if len(conns) != 1 || conns[0].Edge != cfg.ID || conns[0].Reason != "RT" || len(pkts) != 3 {
		t.Errorf("core's tcp_conns %+v and %d tcp_packets: want the sample's RT connection and its 3 packets under %s", conns, len(pkts), cfg.ID)
	}
	if len(cloud) != 1 || cloud[0].Edge != cfg.ID || cloud[0].Device != "AP-3F-01" {
		t.Errorf("core's cloud_conn %+v: want the Chinese display's row under %s", cloud, cfg.ID)
	}
}

// TestDropStuckFileTakenOnce: a file whose rows were written but that
// cannot be moved out of the folder (done/ and failed/ are gone) is
// counted as failed once and not taken again while it is unchanged, so
// its rows are not written twice.
func TestDropStuckFileTakenOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drop")
	cfg := DefaultConfig()
	cfg.ID = "edge-drop"
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = nil, nil, nil
	cfg.Drop = DropConfig{Dir: dir, Interval: time.Hour, MaxBytes: 1 << 20, TZ: "UTC"}
	cfg.QuarantineFile = filepath.Join(t.TempDir(), "q.jsonl")
	e, err := New(cfg, Deps{Lake: openLake(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	for _, sub := range []string{"done", "failed"} { // a file where each folder was: nothing moves into it
		p := filepath.Join(dir, sub)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p+".blocker", nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p+".blocker", p); err != nil {
			t.Fatal(err)
		}
	}
	sample, err := os.ReadFile(filepath.Join(cloudSamples, "reference-zh-doc.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cloud.txt"), sample, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 5 {
		e.drop.scan(ctx)
	}
	st := e.Status(ctx).Drop
	if st.Done != 0 || st.Failed != 1 || st.FailedBy["read"] != 1 || st.Rows["cloud_conn"] != 1 || !strings.Contains(st.LastError, "move") {
		t.Errorf("status %+v: want the file failed once (cannot move), its one row written once", st)
	}
}
