package main

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowlake/flowlake/edge"
	"github.com/flowlake/flowlake/ingest/flow"
	ft "github.com/flowlake/flowlake/ingest/flow/flowtest"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestEnrichmentFollowsTheStore: applications and IP groups defined in the
// metadata store classify the flows the embedded edge decodes after they
// are applied; a change applies to later flows only.
func TestEnrichmentFollowsTheStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lcfg := lake.DefaultConfig()
	lcfg.Root = dir
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st := openTestMeta(t, dir)
	app, err := st.CreateApplication(ctx, meta.ApplicationInput{Name: "erp", Protocol: "tcp", Addresses: []string{"10.1.0.1"}, Ports: []string{"443"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateIPGroup(ctx, meta.IPGroupInput{Name: "branch", Members: []string{"10.0.0.0/24"}}); err != nil {
		t.Fatal(err)
	}
	ecfg := edge.DefaultConfig()
	ecfg.ID = "e1"
	ecfg.NetFlowListen, ecfg.IPFIXListen, ecfg.SFlowListen = nil, []string{"127.0.0.1:0"}, nil
	ecfg.BatchAge = time.Hour
	ecfg.TemplateFile = filepath.Join(t.TempDir(), "templates.json")
	e, err := edge.New(ecfg, edge.Deps{Lake: l, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	base := flow.EnrichConfig{NoDefaultServices: true}
	applied, err := applyEnrichment(ctx, st, e, base, "")
	if err != nil || applied == "" {
		t.Fatalf("first apply: %q, %v", applied, err)
	}
	if again, err := applyEnrichment(ctx, st, e, base, applied); err != nil || again != applied {
		t.Fatalf("unchanged store: %v, fingerprint changed %v", err, again != applied)
	}
	addr := e.Addrs()["ipfix"][0]
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	secs := uint32(time.Now().Add(-time.Minute).Unix())
	tmpl := ft.Set(2, ft.TemplateRecord(256, ft.Field{ID: 8, Length: 4}, ft.Field{ID: 12, Length: 4}, ft.Field{ID: 1, Length: 4}, ft.Field{ID: 2, Length: 4}, ft.Field{ID: 4, Length: 1}, ft.Field{ID: 7, Length: 2}, ft.Field{ID: 11, Length: 2}))
	flowTo := func(seq uint32) []byte { // 10.0.0.7:40000 → 10.1.0.1:443/tcp
		rec := ft.BE16(ft.BE16(append(ft.BE32(ft.BE32([]byte{10, 0, 0, 7, 10, 1, 0, 1}, 1000), 2), 6), 40000), 443)
		return ft.IPFIXMessage(secs, seq, 1, tmpl, ft.Set(256, rec))
	}
	sent := func(n uint64) { // decoded, so classified, before going on
		deadline := time.Now().Add(10 * time.Second)
		for e.Decoder().Counters().Snapshot().TotalFlows() < n {
			if time.Now().After(deadline) {
				t.Fatal("the edge did not decode the datagram")
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	conn.Write(flowTo(0))
	sent(1)
	if _, err := st.UpdateApplication(ctx, app.ID, meta.ApplicationInput{Name: "erp-v2", Protocol: "tcp", Addresses: []string{"10.1.0.1"}, Ports: []string{"443"}}); err != nil {
		t.Fatal(err)
	}
	if _, err = applyEnrichment(ctx, st, e, base, applied); err != nil {
		t.Fatal(err)
	}
	conn.Write(flowTo(1))
	sent(2)
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	segs, err := l.Segments(ctx, schema.Flows, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var apps []string
	for _, s := range segs {
		rows, err := lake.Read[schema.Flow](ctx, l, s)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.SrcGroup != "branch" {
				t.Errorf("src_group %q, want branch", r.SrcGroup)
			}
			apps = append(apps, r.App)
		}
	}
	if len(apps) != 2 || !(apps[0] == "erp" && apps[1] == "erp-v2" || apps[0] == "erp-v2" && apps[1] == "erp") {
		t.Fatalf("apps %v, want erp then erp-v2", apps)
	}
}
