package main

import (
	"errors"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/flowlake/flowlake/api/tunnelcore"
	edgetunnel "github.com/flowlake/flowlake/edge/tunnel"
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
