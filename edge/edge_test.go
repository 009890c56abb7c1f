package edge

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowlake/flowlake/ingest/flow"
	ft "github.com/flowlake/flowlake/ingest/flow/flowtest"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

func openLake(t testing.TB) *lake.Lake {
	t.Helper()
	cfg := lake.DefaultConfig()
	cfg.Root = t.TempDir()
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// testConfig listens on loopback ports chosen by the kernel.
func testConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.ID = "edge-test"
	cfg.NetFlowListen = []string{"127.0.0.1:0", "[::1]:0"}
	cfg.IPFIXListen = []string{"127.0.0.1:0"}
	cfg.SFlowListen = []string{"127.0.0.1:0"}
	cfg.Workers = 2
	cfg.BatchAge = time.Hour // only Stop (or BatchRows) flushes
	cfg.TemplateFile = filepath.Join(t.TempDir(), "templates.json")
	if _, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		cfg.NetFlowListen = cfg.NetFlowListen[:1] // no IPv6 loopback here
	}
	return cfg
}

func startEdge(t testing.TB, cfg Config, l *lake.Lake) *Edge {
	t.Helper()
	e, err := New(cfg, Deps{Lake: l, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	lastEdge = e.Stats()
	return e
}

// testLogger logs to the test's output with -v, or when
// FLOWLAKE_TEST_LOG=debug.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("FLOWLAKE_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
}

// send sends datagrams to addr and waits until the edge has read them all.
func send(t testing.TB, e *Edge, addr netip.AddrPort, dgs ...[]byte) {
	t.Helper()
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	before := e.Stats().Received.Load()
	for _, d := range dgs {
		if _, err := conn.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return e.Stats().Received.Load() >= before+uint64(len(dgs)) }, "datagrams received")
}

// lastEdge is the edge startEdge started last, whose counters waitFor
// prints when it times out.
var lastEdge *Stats

// waitFor polls cond until it holds or 10 s pass: the sockets are real, so
// there is no event to wait on.
func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (%+v)", what, lastEdge)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func readFlows(t testing.TB, l *lake.Lake) []schema.Flow {
	t.Helper()
	ctx := context.Background()
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	segs, err := l.Segments(ctx, schema.Flows, time.Unix(0, 0), time.Now().Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var rows []schema.Flow
	for _, s := range segs {
		r, err := lake.Read[schema.Flow](ctx, l, s)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r...)
	}
	return rows
}

var (
	exportSecs = uint32(time.Now().Add(-time.Minute).Unix())
	ipfixTmpl  = ft.Set(2, ft.TemplateRecord(256, ft.Field{ID: 8, Length: 4}, ft.Field{ID: 12, Length: 4}, ft.Field{ID: 1, Length: 4}, ft.Field{ID: 2, Length: 4}, ft.Field{ID: 4, Length: 1}, ft.Field{ID: 7, Length: 2}, ft.Field{ID: 11, Length: 2}))
)

func ipfixData(n int, seq uint32) []byte { return ipfixDataAt(n, seq, exportSecs) }

// ipfixDataAt is ipfixData exported at secs (the rows' time: the template
// has no time fields).
func ipfixDataAt(n int, seq, secs uint32) []byte {
	var recs [][]byte
	for i := range n {
		recs = append(recs, ft.BE16(ft.BE16(append(ft.BE32(ft.BE32([]byte{10, 0, 0, byte(i), 10, 1, 0, 1}, 1000), 2), 6), 40000), 443))
	}
	return ft.IPFIXMessage(secs, seq, 1, ft.Set(256, recs...))
}

func TestEdgeReceivesDecodesAndWrites(t *testing.T) {
	l := openLake(t)
	cfg := testConfig(t)
	cfg.Enrich = flow.EnrichConfig{Exporters: []flow.Exporter{{Address: netip.MustParseAddr("127.0.0.1"), Name: "lo-exporter"}}}
	e := startEdge(t, cfg, l)
	addrs := e.Addrs()
	if len(addrs["netflow"]) != len(cfg.NetFlowListen) || len(addrs["ipfix"]) != 1 || len(addrs["sflow"]) != 1 {
		t.Fatalf("bound %v", addrs)
	}
	if got := len(e.conns); got != (len(cfg.NetFlowListen)+2)*cfg.SocketsPerAddress {
		t.Errorf("%d sockets, want %d", got, (len(cfg.NetFlowListen)+2)*cfg.SocketsPerAddress)
	}
	nf := addrs["netflow"][0]

	var v5recs []ft.V5Record
	for i := range 30 {
		v5recs = append(v5recs, ft.V5Record{Src: [4]byte{192, 168, 0, byte(i)}, Dst: [4]byte{8, 8, 8, 8}, Packets: 1, Octets: 100, First: 1000, Last: 2000, SrcPort: 5353, DstPort: 53, Proto: 17})
	}
	v9tmpl := ft.Set(0, ft.TemplateRecord(300, ft.Field{ID: 8, Length: 4}, ft.Field{ID: 12, Length: 4}, ft.Field{ID: 1, Length: 4}, ft.Field{ID: 2, Length: 4}))
	v9data := ft.Set(300, ft.BE32(ft.BE32([]byte{172, 16, 0, 1, 172, 16, 0, 2}, 5000), 5), ft.BE32(ft.BE32([]byte{172, 16, 0, 2, 172, 16, 0, 1}, 7000), 7))
	send(t, e, nf,
		ft.V5Packet(5000, exportSecs, 0, 0, 0, v5recs...),
		ft.V9Packet(5000, exportSecs, 0, 9, v9tmpl),
		ft.V9Packet(5000, exportSecs, 1, 9, v9data),
		ft.IPFIXMessage(exportSecs, 0, 1, ipfixTmpl),
		ipfixData(20, 0),
		[]byte("not a flow datagram"),
	)
	hdr := ft.EthIPv4TCP([4]byte{10, 9, 0, 1}, [4]byte{10, 9, 0, 2}, 40000, 22, 0x18, 0, 0)
	var samples [][]byte
	for i := range 4 {
		samples = append(samples, ft.SFlowFlowSample(uint32(i), 256, 1, 2, ft.SFlowRawHeader(1000, hdr)))
	}
	send(t, e, addrs["sflow"][0], ft.SFlowDatagram(netip.MustParseAddr("203.0.113.5"), 0, 1, samples...))
	if len(addrs["netflow"]) > 1 {
		send(t, e, addrs["netflow"][1], ipfixData(3, 0)) // from ::1: another exporter, template unknown
	}

	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	rows := readFlows(t, l)
	var v5, v9, ipfix, sflow int
	var bytes uint64
	for _, r := range rows {
		if r.Edge != "edge-test" {
			t.Fatalf("row edge %q", r.Edge)
		}
		bytes += r.Bytes
		switch {
		case r.Device == "203.0.113.5":
			sflow++
		case r.Device != "lo-exporter":
			t.Errorf("row from device %q, want the configured name", r.Device)
		case r.DstPort == 53:
			v5++
		case r.DstPort == 443:
			ipfix++
		default:
			v9++
		}
	}
	if v5 != 30 || v9 != 2 || ipfix != 20 || sflow != 4 {
		t.Errorf("rows per format v5 %d v9 %d ipfix %d sflow %d; want 30 2 20 4", v5, v9, ipfix, sflow)
	}
	if want := uint64(30*100 + 5000 + 7000 + 20*1000 + 4*1000*256); bytes != want {
		t.Errorf("bytes %d, want %d", bytes, want)
	}
	s := e.Stats().Snapshot()
	c := e.Decoder().Counters().Snapshot()
	if s.RowsWritten != uint64(len(rows)) || s.QueueDrops != 0 || s.RowsLost != 0 {
		t.Errorf("stats %+v, rows %d", s, len(rows))
	}
	if c.Errors["unknown_version"] != 1 {
		t.Errorf("decode errors %v, want one unknown_version", c.Errors)
	}
	if len(addrs["netflow"]) > 1 && c.TemplateMisses != 1 {
		t.Errorf("template misses %d, want 1 (IPFIX data from ::1 without template)", c.TemplateMisses)
	}
	if _, err := os.Stat(cfg.TemplateFile); err != nil {
		t.Errorf("templates not saved: %v", err)
	}

	// A restarted edge restores the templates: data without a template in
	// this run still decodes.
	l2 := openLake(t)
	e2 := startEdge(t, cfg, l2)
	send(t, e2, e2.Addrs()["netflow"][0], ipfixData(5, 20))
	if err := e2.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := readFlows(t, l2); len(got) != 5 {
		t.Errorf("after restart: %d rows, want 5 (template misses %d)", len(got), e2.Decoder().Counters().Snapshot().TemplateMisses)
	}
}

func TestBatchRotationByRows(t *testing.T) {
	l := openLake(t)
	cfg := testConfig(t)
	cfg.Workers = 1
	cfg.BatchRows = 10
	e := startEdge(t, cfg, l)
	nf := e.Addrs()["netflow"][0]
	send(t, e, nf, ft.IPFIXMessage(exportSecs, 0, 1, ipfixTmpl))
	for i := range 5 {
		send(t, e, nf, ipfixData(6, uint32(6*i)))
	}
	// 30 rows in batches of ≥10: three rotations happen before Stop.
	waitFor(t, func() bool { return e.Stats().RowsWritten.Load() >= 24 }, "rotated batches written")
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats().Snapshot(); s.RowsWritten != 30 || s.Segments < 3 {
		t.Errorf("rows %d in %d segments; want 30 in ≥3", s.RowsWritten, s.Segments)
	}
}

func TestQueueFullDropsAreCounted(t *testing.T) {
	cfg := testConfig(t)
	cfg.Workers = 1
	cfg.QueueDatagrams = 3
	e, err := New(cfg, Deps{Lake: openLake(t)})
	if err != nil {
		t.Fatal(err)
	}
	// No worker runs: the queue fills after 3 datagrams.
	for range 10 {
		p := e.packets.Get().(*packet)
		p.from = netip.MustParseAddrPort("192.0.2.1:1000")
		e.dispatch(p)
	}
	if got := e.Stats().QueueDrops.Load(); got != 7 {
		t.Errorf("queue drops %d, want 7", got)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := func(f func(*Config)) Config { c := DefaultConfig(); f(&c); return c }
	tests := map[string]Config{
		"id with slash":    bad(func(c *Config) { c.ID = "a/b" }),
		"no listeners":     bad(func(c *Config) { c.NetFlowListen, c.IPFIXListen, c.SFlowListen = nil, nil, nil }),
		"negative workers": bad(func(c *Config) { c.Workers = -1 }),
		"remote no token":  bad(func(c *Config) { c.Ship.URL = "http://core:8080" }),
		"remote bad url":   bad(func(c *Config) { c.Ship.URL, c.Ship.Token = "core:8080", "t" }),
		"tiny spool":       bad(func(c *Config) { c.Ship.URL, c.Ship.Token, c.Spool.MaxBytes = "http://core", "t", 10 }),
		"zero batch bytes": bad(func(c *Config) { c.BatchBytes = 0 }),
		"zero queue":       bad(func(c *Config) { c.QueueDatagrams = 0 }),
		"zero batch age":   bad(func(c *Config) { c.BatchAge = 0 }),
		"bad flow config":  bad(func(c *Config) { c.Flow.MaxDomains = 0 }),
		"sockets too many": bad(func(c *Config) { c.SocketsPerAddress = 1000 }),
		"tiny memory cap":  bad(func(c *Config) { c.MemoryLimit = 1 << 20 }),
		"negative memcap":  bad(func(c *Config) { c.MemoryLimit = -1 }),
		"tiny quarantine":  bad(func(c *Config) { c.QuarantineMaxBytes = 10 }),
		"no past window":   bad(func(c *Config) { c.Flow.MaxPast = 0 }),
		"negative future":  bad(func(c *Config) { c.Flow.MaxFuture = -time.Minute }),
	}
	for name, c := range tests {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if _, err := New(DefaultConfig(), Deps{}); err == nil {
		t.Error("New without a lake in embedded mode succeeded")
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig(t)
	cfg.NetFlowListen = []string{busy.LocalAddr().String()}
	e, err := New(cfg, Deps{Lake: openLake(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("Start on a busy port: %v, want address in use", err)
	}
}

// TestBatchRotationByAge runs a worker and the writer in a synctest bubble:
// a batch younger than BatchAge stays, an older one is written.
func TestBatchRotationByAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Workers = 1
		cfg.BatchAge = 5 * time.Second
		e, err := New(cfg, Deps{Lake: openLake(t)})
		if err != nil {
			t.Fatal(err)
		}
		w := e.workers[0]
		done := make(chan struct{})
		go func() { e.work(w); close(done) }()
		// The batches are counted, not written: the lake's Parquet encoder
		// keeps zstd encoders in a process-wide pool, and one created in
		// this bubble would crash the next test that writes outside it.
		go func() {
			for b := range e.writes {
				e.stats.RowsWritten.Add(uint64(b.Len()))
			}
		}()
		// Exported now in the bubble's clock, or the rows would be outside
		// the decoder's time window.
		bubbleSecs := uint32(time.Now().Unix())
		for i, d := range [][]byte{ft.IPFIXMessage(bubbleSecs, 0, 1, ipfixTmpl), ipfixDataAt(5, 0, bubbleSecs)} {
			p := e.packets.Get().(*packet)
			p.buf, p.from, p.at = d, netip.MustParseAddrPort("192.0.2.1:1000"), time.Now().Add(time.Duration(i)*time.Second)
			w.queue <- p
		}
		synctest.Wait()
		if got := e.Stats().RowsWritten.Load(); got != 0 {
			t.Fatalf("%d rows written before the batch aged", got)
		}
		time.Sleep(cfg.BatchAge + cfg.BatchAge/4)
		synctest.Wait()
		if got := e.Stats().RowsWritten.Load(); got != 5 {
			t.Errorf("%d rows written after BatchAge, want 5", got)
		}
		close(w.queue)
		<-done
		close(e.writes)
	})
}

// TestCollectors scrapes the metrics through a registry: every counter is
// exported once, with its labels.
func TestCollectors(t *testing.T) {
	e, err := New(testConfig(t), Deps{Lake: openLake(t)})
	if err != nil {
		t.Fatal(err)
	}
	e.stats.QueueDrops.Add(3)
	var b flow.Batch
	_ = e.dec.Decode(netip.MustParseAddrPort("192.0.2.1:9"), []byte{0, 7}, time.Now(), &b)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(e.Collectors()[0]); err != nil {
		t.Fatal(err)
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
			got[name] = m.GetCounter().GetValue()
		}
	}
	if got["flowlake_edge_queue_drops_total"] != 3 || got["flowlake_edge_decode_errors_total/unknown_version"] != 1 {
		t.Errorf("metrics %v", got)
	}
	if _, ok := got["flowlake_edge_decoder_events_total/template_misses"]; !ok {
		t.Errorf("decoder events missing: %v", got)
	}
}
