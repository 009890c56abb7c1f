package edge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ft "github.com/flowlake/flowlake/ingest/flow/flowtest"
	"github.com/flowlake/flowlake/storage/lake"
)

// testCore is a real HTTP server publishing uploads into a real lake with
// lake.Publish, as the core's ingest endpoint does; it can be switched
// down (503) or to refusing everything (400).
type testCore struct {
	lake         *lake.Lake
	srv          *httptest.Server
	down         atomic.Bool
	reject       atomic.Bool
	uploads      atomic.Int64
	token        string
	badToken     atomic.Int64
	publishNanos atomic.Int64
}

func newTestCore(t *testing.T) *testCore {
	c := &testCore{lake: openLake(t), token: "flk_test"}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.uploads.Add(1)
		id, ok := strings.CutPrefix(r.URL.Path, IngestPath)
		switch {
		case r.Method != http.MethodPut || !ok:
			http.Error(w, "not found", http.StatusNotFound)
			return
		case r.Header.Get("Authorization") != "Bearer "+c.token:
			c.badToken.Add(1)
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		case c.down.Load():
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		case c.reject.Load():
			http.Error(w, `{"code":"invalid","detail":"test says no"}`, http.StatusBadRequest)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		t0 := time.Now()
		p, err := c.lake.Publish(r.Context(), id, bytes.NewReader(b), int64(len(b)))
		c.publishNanos.Add(int64(time.Since(t0)))
		switch {
		case errors.Is(err, lake.ErrCorrupt), errors.Is(err, lake.ErrSegmentID):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case p.Created:
			w.WriteHeader(http.StatusCreated)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// remoteConfig is a remote edge shipping to core, rotating a segment per
// datagram (BatchRows) and backing off briefly.
func remoteConfig(t *testing.T, core *testCore) Config {
	cfg := testConfig(t)
	cfg.Workers = 1
	cfg.BatchRows = 1
	cfg.Spool.Dir = filepath.Join(t.TempDir(), "spool")
	// These tests count the spool's flows segments exactly: no flow_loss
	// segments among them (TestFlowLossShipsToCore ships those).
	cfg.LossInterval = 0
	cfg.Ship = ShipConfig{URL: core.srv.URL, Token: core.token, Timeout: 5 * time.Second, Interval: 50 * time.Millisecond,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond}
	return cfg
}

// uniqueData returns an IPFIX data message of n records whose bytes
// carry the sequence numbers first, first+1, …
func uniqueData(n int, first uint32) []byte {
	var recs [][]byte
	for i := range n {
		seq := first + uint32(i)
		recs = append(recs, ft.BE16(ft.BE16(append(ft.BE32(ft.BE32([]byte{10, 0, 0, 1, 10, 1, 0, 1}, seq), 1), 6), 40000), 443))
	}
	return ft.IPFIXMessage(exportSecs, first-1, 1, ft.Set(256, recs...)) // IPFIX counts records sent before
}

// checkExactlyOnce reads the core's flows and checks that each sequence
// number in want appears once and nothing else does.
func checkExactlyOnce(t *testing.T, l *lake.Lake, want func(seq uint64) bool, n int) {
	t.Helper()
	seen := map[uint64]int{}
	for _, r := range readFlows(t, l) {
		seen[r.Bytes]++
	}
	for seq, c := range seen {
		if c != 1 || !want(seq) {
			t.Errorf("row %d is in the core's lake %d times (wanted: %v)", seq, c, want(seq))
		}
	}
	if len(seen) != n {
		t.Errorf("core holds %d distinct rows, want %d", len(seen), n)
	}
}

func sendUnique(t *testing.T, e *Edge, datagrams, per int) {
	addr := e.Addrs()["netflow"][0]
	send(t, e, addr, ft.IPFIXMessage(exportSecs, 0, 1, ipfixTmpl))
	for i := range datagrams {
		send(t, e, addr, uniqueData(per, uint32(1+i*per)))
	}
}

func TestShipToCore(t *testing.T) {
	core := newTestCore(t)
	cfg := remoteConfig(t, core)
	e := startEdge(t, cfg, nil)
	sendUnique(t, e, 20, 5)
	waitFor(t, func() bool { return e.Stats().RowsShipped.Load() == 100 }, "100 rows shipped")
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, core.lake, func(seq uint64) bool { return seq >= 1 && seq <= 100 }, 100)
	st := e.Status(context.Background())
	if st.Mode != "remote" || st.SpoolSegments != 0 || st.SegmentsShipped != 20 || st.RowsAcknowledged != 100 || st.UploadFailures != 0 {
		t.Errorf("status %+v", st)
	}
}

// TestCoreDownSpoolsThenShips: while the core answers 503 the edge spools
// and counts failed uploads; when it returns, everything ships once. A
// restart in between (the spool survives) ships what the first run left.
func TestCoreDownSpoolsThenShips(t *testing.T) {
	core := newTestCore(t)
	core.down.Store(true)
	cfg := remoteConfig(t, core)
	e := startEdge(t, cfg, nil)
	sendUnique(t, e, 10, 3)
	waitFor(t, func() bool { return e.Stats().RowsWritten.Load() == 30 && e.Stats().UploadFailures.Load() >= 2 }, "rows spooled, uploads failing")
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if st := e.Status(context.Background()); st.SpoolSegments != 10 || st.RowsShipped != 0 || st.LastUploadError == "" {
		t.Fatalf("after a run with the core down: %+v", st)
	}

	e2 := startEdge(t, cfg, nil)
	core.down.Store(false)
	waitFor(t, func() bool { return e2.Stats().RowsShipped.Load() == 30 }, "spool shipped after the core came back")
	if err := e2.Stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, core.lake, func(seq uint64) bool { return seq >= 1 && seq <= 30 }, 30)
}

// TestSpoolFullDropsOldest: a spool over its quota drops the oldest
// segments and counts them; the rest ships.
func TestSpoolFullDropsOldest(t *testing.T) {
	core := newTestCore(t)
	core.down.Store(true)
	cfg := remoteConfig(t, core)
	cfg.Spool.MaxBytes = 1 << 20
	e := startEdge(t, cfg, nil)
	const datagrams, per = 300, 30
	sendUnique(t, e, datagrams, per)
	waitFor(t, func() bool {
		_, b, _ := e.spool.usage(context.Background())
		return e.Stats().RowsWritten.Load() == datagrams*per && b <= cfg.Spool.MaxBytes
	}, "rows spooled within the quota")
	s := e.Stats().Snapshot()
	st := e.Status(context.Background())
	if s.SpoolDroppedSegments == 0 || st.SpoolBytes > cfg.Spool.MaxBytes || st.Drops["spool_full"] != s.SpoolDroppedRows {
		t.Fatalf("spool %d bytes (max %d), dropped %d segments %d rows", st.SpoolBytes, cfg.Spool.MaxBytes, s.SpoolDroppedSegments, s.SpoolDroppedRows)
	}
	core.down.Store(false)
	e.shipper.wake()
	waitFor(t, func() bool {
		s := e.Stats().Snapshot()
		return s.RowsShipped+s.SpoolDroppedRows == datagrams*per
	}, "spool shipped")
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	s = e.Stats().Snapshot()
	// What shipped is in the core once each; the oldest went (all but the
	// one being retried while the quota dropped, which is never dropped
	// under the shipper).
	checkExactlyOnce(t, core.lake, func(seq uint64) bool { return seq >= 1 && seq <= datagrams*per }, int(s.RowsShipped))
	old := 0
	for _, r := range readFlows(t, core.lake) {
		if r.Bytes <= s.SpoolDroppedRows {
			old++
		}
	}
	if old > per {
		t.Errorf("%d rows older than the dropped ones shipped; only the segment in flight (%d rows) may", old, per)
	}
	t.Logf("core: %d uploads, %s publishing", core.uploads.Load(), time.Duration(core.publishNanos.Load()))
	t.Logf("quota %d bytes: dropped %d segments (%d rows), shipped %d segments (%d rows)",
		cfg.Spool.MaxBytes, s.SpoolDroppedSegments, s.SpoolDroppedRows, s.SegmentsShipped, s.RowsShipped)
}

// TestRejectedSegmentSetAside: a segment the core refuses as invalid is
// moved to _rejected and counted, and does not block the others.
func TestRejectedSegmentSetAside(t *testing.T) {
	core := newTestCore(t)
	core.reject.Store(true)
	cfg := remoteConfig(t, core)
	e := startEdge(t, cfg, nil)
	sendUnique(t, e, 3, 2)
	waitFor(t, func() bool { return e.Stats().SegmentsRejected.Load() == 3 }, "segments rejected")
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadDir(filepath.Join(cfg.Spool.Dir, rejectedDir))
	if err != nil || len(got) != 3 {
		t.Errorf("_rejected holds %d files (%v), want 3", len(got), err)
	}
	if st := e.Status(context.Background()); st.Drops["rejected"] != 6 || st.SpoolSegments != 0 {
		t.Errorf("status %+v", st)
	}
}

func TestBadTokenRetries(t *testing.T) {
	core := newTestCore(t)
	cfg := remoteConfig(t, core)
	cfg.Ship.Token = "flk_wrong"
	e := startEdge(t, cfg, nil)
	sendUnique(t, e, 1, 1)
	waitFor(t, func() bool { return core.badToken.Load() >= 2 && e.Stats().UploadFailures.Load() >= 2 }, "retried uploads")
	if s := e.Stats().Snapshot(); s.SegmentsRejected != 0 || s.UploadFailures < 2 {
		t.Errorf("a 401 must be retried, not rejected: %+v", s)
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	for _, tc := range []struct {
		n        int
		min, max time.Duration
	}{
		{1, lo, lo},
		{2, lo, 200 * time.Millisecond},
		{4, lo, 800 * time.Millisecond},
		{10, lo, hi},
		{100, lo, hi},
	} {
		for range 100 {
			if d := backoff(lo, hi, tc.n); d < tc.min || d > tc.max {
				t.Fatalf("backoff after %d failures = %s, want [%s, %s]", tc.n, d, tc.min, tc.max)
			}
		}
	}
}
