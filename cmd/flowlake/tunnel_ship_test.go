package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/flowlake/flowlake/api/tunnelcore"
	edgetunnel "github.com/flowlake/flowlake/edge/tunnel"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
	wire "github.com/flowlake/flowlake/tunnel"
)

// TestTunnelSegmentsIdempotent uploads segments over a real tunnel (TLS,
// loopback) to a core with the PUT path's content-hash ledger and time
// window, in order: a retried id publishes nothing; the same bytes under
// another id are answered as that id's duplicate and publish nothing; rows
// outside the window, corrupt bytes and another edge's segment are refused
// as invalid (the edge sets them aside); the lake holds the first
// segment's rows once.
func TestTunnelSegmentsIdempotent(t *testing.T) {
	ctx := t.Context()
	srvTLS, pool := selfSigned(t, "core.test")
	store := openScratchMeta(t)
	dataLake := scratchLake(t)
	cfg := tunnelcore.DefaultConfig()
	cfg.AuthListen, cfg.ConnListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.IngestMaxAge, cfg.IngestMaxFuture = 24*time.Hour, 10*time.Minute
	core := startCore(t, "core", tunnelcore.Deps{Admissions: store, Publisher: dataLake, Ledger: store, TLS: srvTLS}, cfg)
	enroll, err := store.AdmitEdge(ctx, "SN-ONCE", "admin")
	if err != nil {
		t.Fatal(err)
	}
	ecfg := edgetunnel.DefaultConfig()
	ecfg.Serial, ecfg.Enroll = "SN-ONCE", enroll
	ecfg.Primary = wire.Server{Domain: "core.test", Ports: []uint16{uint16(core.auth)}}
	e := startEdge(t, ecfg, pool)
	e.rec.waitFor(t, "established", established("core.test"))

	scratch := scratchLake(t)
	flows := func(at time.Time, n int) []schema.Flow {
		rows := make([]schema.Flow, n)
		for i := range rows {
			rows[i] = schema.Flow{Time: schema.Micros(at) + int64(i), Device: "r1", Bytes: uint64(100 + i), Packets: 1, Proto: 6}
		}
		return rows
	}
	recent := time.Now().Add(-time.Hour).Truncate(time.Hour).Add(time.Minute)
	id, data, err := uploadable(ctx, scratch, "SN-ONCE", flows(recent, 3))
	if err != nil {
		t.Fatal(err)
	}
	oldID, oldData, err := uploadable(ctx, scratch, "SN-ONCE", flows(time.Now().Add(-72*time.Hour), 2))
	if err != nil {
		t.Fatal(err)
	}
	otherID, otherData, err := uploadable(ctx, scratch, "SN-OTHER", flows(recent, 2))
	if err != nil {
		t.Fatal(err)
	}
	twin := "SN-ONCE-" + ulid.Make().String()
	steps := []struct {
		name        string
		id          string
		data        []byte
		created     bool
		duplicateOf string
		invalid     bool // refused as invalid (ErrInvalid)
	}{
		{name: "first upload", id: id, data: data, created: true},
		{name: "the same id again (a lost answer)", id: id, data: data},
		{name: "the same bytes under another id", id: twin, data: data, duplicateOf: id},
		{name: "rows older than the window", id: oldID, data: oldData, invalid: true},
		{name: "corrupt bytes", id: "SN-ONCE-" + ulid.Make().String(), data: data[:len(data)/2], invalid: true},
		{name: "another edge's segment", id: otherID, data: otherData, invalid: true},
	}
	for _, s := range steps {
		ans, err := e.client.Upload(ctx, s.id, s.data)
		if s.invalid {
			if !errors.Is(err, edgetunnel.ErrInvalid) {
				t.Errorf("%s: %+v, %v; want an error wrapping ErrInvalid", s.name, ans, err)
			}
			continue
		}
		if err != nil || ans.Created != s.created || ans.DuplicateOf != s.duplicateOf {
			t.Errorf("%s: %+v, %v; want created=%v duplicate_of=%q", s.name, ans, err, s.created, s.duplicateOf)
		}
	}
	segs, err := dataLake.Segments(ctx, schema.Flows, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 1 || segs[0].Rows != 3 {
		t.Errorf("the lake holds %d segments (%+v); want the first upload's once", len(segs), segs)
	}
	if st := e.client.State(); st.ConnState != schema.CloudEstablished {
		t.Errorf("refused uploads ended the tunnel: %+v", st)
	}
}

// gatedPublisher holds each Publish until the test lets it go.
type gatedPublisher struct {
	inner   tunnelcore.Publisher
	entered chan struct{}
	release chan struct{}
}

func (g gatedPublisher) Publish(ctx context.Context, id string, r io.ReaderAt, size int64) (lake.Published, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.inner.Publish(ctx, id, r, size)
}

// TestTunnelLateAnswerKeepsTunnel: an upload the edge gave up on (its
// shipper's timeout) is answered later; the late answer is dropped, the
// tunnel stays up, and the retry is answered "already in the lake".
func TestTunnelLateAnswerKeepsTunnel(t *testing.T) {
	ctx := t.Context()
	srvTLS, pool := selfSigned(t, "core.test")
	store := openScratchMeta(t)
	gate := gatedPublisher{inner: scratchLake(t), entered: make(chan struct{}, 1), release: make(chan struct{})}
	core := startCore(t, "core", tunnelcore.Deps{Admissions: store, Publisher: gate, Ledger: store, TLS: srvTLS}, tunnelcore.Config{})
	enroll, err := store.AdmitEdge(ctx, "SN-LATE", "admin")
	if err != nil {
		t.Fatal(err)
	}
	ecfg := edgetunnel.DefaultConfig()
	ecfg.Serial, ecfg.Enroll = "SN-LATE", enroll
	ecfg.Primary = wire.Server{Domain: "core.test", Ports: []uint16{uint16(core.auth)}}
	e := startEdge(t, ecfg, pool)
	e.rec.waitFor(t, "established", established("core.test"))
	id, data, err := uploadable(ctx, scratchLake(t), "SN-LATE", []schema.Flow{{Time: schema.Micros(time.Now().Add(-time.Hour)), Device: "r1", Bytes: 1, Packets: 1, Proto: 6}})
	if err != nil {
		t.Fatal(err)
	}
	upCtx, giveUp := context.WithCancel(ctx)
	go func() { <-gate.entered; giveUp() }() // the core is publishing: the edge gives up
	if _, err := e.client.Upload(upCtx, id, data); !errors.Is(err, context.Canceled) {
		t.Fatalf("upload given up: %v", err)
	}
	close(gate.release) // the core publishes and answers now, late
	go func() {
		for range gate.entered { // the retry's publish
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		segs, err := gate.inner.(*lake.Lake).Segments(ctx, schema.Flows, time.Time{}, time.Time{})
		if err == nil && len(segs) == 1 {
			break // published: the late answer is on its way
		}
		if time.Now().After(deadline) {
			t.Fatalf("the late upload was not published: %v", err)
		}
	}
	ans, err := e.client.Upload(ctx, id, data)
	if err != nil || ans.Created {
		t.Errorf("the retry: %+v, %v; want no error, created=false (the late upload published it)", ans, err)
	}
	if st := e.client.State(); st.ConnState != schema.CloudEstablished || st.LastDownAt != 0 {
		t.Errorf("the late answer ended the tunnel: %+v", st)
	}
}

// TestEdgeTunnelIDMismatch: over the tunnel the core takes only the
// serial's own segments, so `flowlake edge` with an edge.id other than
// tunnel.edge.serial refuses to start, saying why; no ship.url or token
// is asked for.
func TestEdgeTunnelIDMismatch(t *testing.T) {
	dir := t.TempDir()
	_, stderr, code := runCLI(t, []string{"FLOWLAKE_TUNNEL_EDGE_SERIAL=SN-1", "FLOWLAKE_TUNNEL_EDGE_PRIMARY=core.test", "FLOWLAKE_EDGE_ID=other"},
		"edge", "--spool", dir, "--netflow-listen", "127.0.0.1:0", "--ipfix-listen", "", "--sflow-listen", "", "--status-listen", "")
	if code != 2 || !strings.Contains(stderr, `edge.id "other" differs from tunnel.edge.serial "SN-1"`) {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

// cancelOnRead is a segment's bytes whose first read gives the upload
// up: the edge has sent the open and the id, not the data.
type cancelOnRead struct {
	data   []byte
	cancel context.CancelFunc
}

func (c cancelOnRead) ReadAt(p []byte, off int64) (int, error) {
	c.cancel()
	return copy(p, c.data[off:]), nil
}

// TestTunnelGivenUpUploadKeepsTunnel: an upload whose context has ended
// before it starts, and one given up after its open and id went out,
// leave the tunnel up (the library closes a connection whose write
// context ends; TestTunnelFleetView lost its tunnel to its shipper's 1 ms
// timeout that way); the half-sent one is discarded by the core, which
// says so, and the retry publishes the segment.
func TestTunnelGivenUpUploadKeepsTunnel(t *testing.T) {
	ctx := t.Context()
	srvTLS, pool := selfSigned(t, "core.test")
	store := openScratchMeta(t)
	lk := scratchLake(t)
	core := startCore(t, "core", tunnelcore.Deps{Admissions: store, Publisher: lk, Ledger: store, TLS: srvTLS}, tunnelcore.Config{})
	enroll, err := store.AdmitEdge(ctx, "SN-GIVEUP", "admin")
	if err != nil {
		t.Fatal(err)
	}
	ecfg := edgetunnel.DefaultConfig()
	ecfg.Serial, ecfg.Enroll = "SN-GIVEUP", enroll
	ecfg.Primary = wire.Server{Domain: "core.test", Ports: []uint16{uint16(core.auth)}}
	e := startEdge(t, ecfg, pool)
	e.rec.waitFor(t, "established", established("core.test"))
	id, data, err := uploadable(ctx, scratchLake(t), "SN-GIVEUP", []schema.Flow{{Time: schema.Micros(time.Now().Add(-time.Hour)), Device: "r1", Bytes: 1, Packets: 1, Proto: 6}})
	if err != nil {
		t.Fatal(err)
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.client.Upload(ended, id, data); !errors.Is(err, context.Canceled) {
		t.Fatalf("upload with an ended context: %v", err)
	}
	halfCtx, giveUp := context.WithCancel(ctx)
	if _, err := e.client.UploadFrom(halfCtx, id, cancelOnRead{data: data, cancel: giveUp}, int64(len(data))); !errors.Is(err, context.Canceled) {
		t.Fatalf("upload given up half-sent: %v", err)
	}
	ans, err := e.client.Upload(ctx, id, data)
	if err != nil || !ans.Created {
		t.Fatalf("the retry: %+v, %v; want the segment published now (nothing of the given-up uploads was)", ans, err)
	}
	if st := e.client.State(); st.ConnState != schema.CloudEstablished || st.LastDownAt != 0 {
		t.Errorf("a given-up upload ended the tunnel: %+v", st)
	}
}

// TestTunnelConfigPushAnsweredBeforeReconnect pushes a new server domain
// to an edge again and again: each push changes the domain in use, so the
// edge reconnects, and each is answered first ("applied"), never "tunnel
// closed" (the edge serves requests off its frame loop, and once asked
// for the reconnect before its answer was written: CI saw the 503).
func TestTunnelConfigPushAnsweredBeforeReconnect(t *testing.T) {
	ctx := t.Context()
	srvTLS, pool := selfSigned(t, "core.test", "core-b.test")
	store := openScratchMeta(t)
	core := startCore(t, "core", tunnelcore.Deps{Admissions: store, Publisher: scratchLake(t), Ledger: store, TLS: srvTLS}, tunnelcore.Config{})
	enroll, err := store.AdmitEdge(ctx, "SN-PUSH", "admin")
	if err != nil {
		t.Fatal(err)
	}
	ecfg := edgetunnel.DefaultConfig()
	ecfg.Serial, ecfg.Enroll = "SN-PUSH", enroll
	ecfg.Primary = wire.Server{Domain: "core.test", Ports: []uint16{uint16(core.auth)}}
	e := startEdge(t, ecfg, pool)
	e.rec.waitFor(t, "established", established("core.test"))
	for i := range 12 {
		domain := []string{"core-b.test", "core.test"}[i%2]
		body := []byte(`{"dhcp_domain":"` + domain + `"}`)
		var ans []byte
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			ans, err = core.srv.Request(rctx, "SN-PUSH", wire.ServiceConfig, body)
			cancel()
			if !errors.Is(err, tunnelcore.ErrNoTunnel) || time.Now().After(deadline) {
				break // the edge is back after the previous push's reconnect
			}
		}
		if err != nil || string(ans) != `{"applied":["dhcp_domain"]}` {
			t.Fatalf("push %d (%s): %s, %v; want it applied and answered before the reconnect", i, domain, ans, err)
		}
		e.rec.waitFor(t, "established on "+domain, established(domain))
	}
}
