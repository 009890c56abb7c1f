package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
)

// lakeUploader is an Uploader publishing into a real lake, as the core's
// tunnel end does; it can fail (a lost tunnel), lose its answer after
// publishing (a core killed between publish and answer) or refuse
// everything as invalid.
type lakeUploader struct {
	lake       *lake.Lake
	down       atomic.Bool
	loseAnswer atomic.Int64 // answers still to lose
	invalid    atomic.Bool
	uploads    atomic.Int64
	created    atomic.Int64
}

func (u *lakeUploader) UploadSegment(ctx context.Context, id string, r io.ReaderAt, size int64) error {
	u.uploads.Add(1)
	switch {
	case u.down.Load():
		return errors.New("no tunnel established")
	case u.invalid.Load():
		return fmt.Errorf("%w: test says no", ErrRejected)
	}
	p, err := u.lake.Publish(ctx, id, r, size)
	if err != nil {
		return err
	}
	if p.Created {
		u.created.Add(1)
	}
	if u.loseAnswer.Add(-1) >= 0 {
		return errors.New("tunnel went down before the answer")
	}
	return nil
}

// tunnelConfig is remoteConfig shipping over an Uploader.
func tunnelConfig(t *testing.T) Config {
	cfg := testConfig(t)
	cfg.Workers = 1
	cfg.BatchRows = 1
	cfg.LossInterval = 0 // the tests count flows segments exactly
	cfg.Spool.Dir = filepath.Join(t.TempDir(), "spool")
	cfg.Ship = ShipConfig{Tunnel: true, Timeout: 5 * time.Second, Interval: 50 * time.Millisecond,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond}
	return cfg
}

func startTunnelEdge(t *testing.T, cfg Config, up Uploader) *Edge {
	t.Helper()
	e, err := New(cfg, Deps{Uploader: up, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	return e
}

// TestShipOverTunnel: with Ship.Tunnel the spool goes through the
// Uploader, not PUT (no URL, no token): while it fails everything waits
// in the spool; an answer lost after publishing makes the edge upload
// again, which publishes nothing twice; a segment leaves the spool only
// after an answer without error.
func TestShipOverTunnel(t *testing.T) {
	up := &lakeUploader{lake: openLake(t)}
	up.down.Store(true)
	cfg := tunnelConfig(t)
	e := startTunnelEdge(t, cfg, up)
	sendUnique(t, e, 10, 3)
	waitFor(t, func() bool { return e.Stats().RowsWritten.Load() == 30 && e.Stats().UploadFailures.Load() >= 2 }, "rows spooled, uploads failing")
	if st := e.Status(context.Background()); st.SpoolSegments != 10 || st.RowsShipped != 0 || st.Core != "tunnel" || st.Mode != "remote" {
		t.Fatalf("with the tunnel down: %+v", st)
	}
	up.loseAnswer.Store(4)
	up.down.Store(false)
	e.ShipNow() // the tunnel is back: no waiting out the backoff
	waitFor(t, func() bool { return e.Stats().RowsShipped.Load() == 30 }, "spool shipped over the tunnel")
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, up.lake, func(seq uint64) bool { return seq >= 1 && seq <= 30 }, 30)
	if st := e.Status(context.Background()); st.SpoolSegments != 0 || st.SegmentsShipped != 10 {
		t.Errorf("after shipping: %+v", st)
	}
	if up.created.Load() != 10 || up.uploads.Load() < 14 {
		t.Errorf("%d uploads created %d segments: want 10 created, and the 4 whose answers were lost uploaded again", up.uploads.Load(), up.created.Load())
	}
}

// TestShipOverTunnelRejected: an Uploader error wrapping ErrRejected sets
// the segment aside, counted, as a 400 of the PUT path does.
func TestShipOverTunnelRejected(t *testing.T) {
	up := &lakeUploader{lake: openLake(t)}
	up.invalid.Store(true)
	cfg := tunnelConfig(t)
	e := startTunnelEdge(t, cfg, up)
	sendUnique(t, e, 3, 2)
	waitFor(t, func() bool { return e.Stats().SegmentsRejected.Load() == 3 }, "segments rejected")
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadDir(filepath.Join(cfg.Spool.Dir, rejectedDir))
	if err != nil || len(got) != 3 {
		t.Errorf("_rejected holds %d files (%v), want 3", len(got), err)
	}
}

// TestShipTunnelConfig: over the tunnel no URL or token is needed, but an
// Uploader is.
func TestShipTunnelConfig(t *testing.T) {
	cfg := tunnelConfig(t)
	if err := cfg.Validate(); err != nil {
		t.Errorf("a tunnel edge without ship.url and token: %v", err)
	}
	if _, err := New(cfg, Deps{}); err == nil {
		t.Error("a tunnel edge without an Uploader was built")
	}
	cfg.Ship.Tunnel, cfg.Ship.URL = false, "https://core.example"
	if err := cfg.Validate(); err == nil {
		t.Error("a PUT edge without a token was accepted")
	}
}
