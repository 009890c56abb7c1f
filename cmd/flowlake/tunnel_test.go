package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/api/tunnelcore"
	edgetunnel "github.com/flowlake/flowlake/edge/tunnel"
	"github.com/flowlake/flowlake/storage/schema"
	wire "github.com/flowlake/flowlake/tunnel"
)

// TestTunnelAdmissionFailoverUnbind runs three cores (sharing one
// metadata store, as cores sharing a PostgreSQL do) and two edges over
// TLS on loopback sockets: an unknown serial is refused, then admitted;
// the edges fail over in the documented order when their core stops and
// do not switch back when it returns; an option-253 domain forces a
// reconnect; a segment uploads over the tunnel exactly once; unbinding
// with a wrong code is refused, with the right code done.
func TestTunnelAdmissionFailoverUnbind(t *testing.T) {
	ctx := t.Context()
	srvTLS, pool := selfSigned(t, "core-a.test", "core-b.test", "core-c.test")
	store := openScratchMeta(t)
	dataLake := scratchLake(t)
	deps := tunnelcore.Deps{Admissions: store, Publisher: dataLake, TLS: srvTLS}
	cores := map[string]*testCore{}
	for _, n := range []string{"a", "b", "c"} {
		cores[n] = startCore(t, "core-"+n, deps, tunnelcore.Config{})
	}
	// Primary b; backups c and a: the order is b, a, c.
	edgeCfg := func(serial, enroll string) edgetunnel.Config {
		cfg := edgetunnel.DefaultConfig()
		cfg.Serial, cfg.Enroll = serial, enroll
		cfg.Primary = wire.Server{Domain: "core-b.test", Ports: []uint16{uint16(cores["b"].auth)}}
		cfg.Backups = []wire.Server{{Domain: "core-c.test", Ports: []uint16{uint16(cores["c"].auth)}},
			{Domain: "core-a.test", Ports: []uint16{uint16(cores["a"].auth)}}}
		return cfg
	}

	// An unknown serial is refused at authentication, on every server.
	stranger := startEdge(t, edgeCfg("SN-UNKNOWN", meta_enrollLike), pool)
	for _, d := range []string{"core-b.test", "core-a.test", "core-c.test"} {
		stranger.rec.waitFor(t, "refused by "+d, func(r schema.CloudConn) bool {
			return r.ServerDomain == d && r.FailureReason == "Processing cloud auth response failed"
		})
	}
	stranger.stop()

	// Admitted, two edges bind and establish on the primary.
	edges := map[string]*testEdge{}
	for _, serial := range []string{"SN-0001", "SN-0002"} {
		enroll, err := store.AdmitEdge(ctx, serial, "admin")
		if err != nil {
			t.Fatal(err)
		}
		edges[serial] = startEdge(t, edgeCfg(serial, enroll), pool)
	}
	for serial, e := range edges {
		row := e.rec.waitFor(t, serial+" established on b", established("core-b.test"))
		if row.DeviceState != "Request_success" || row.ProcessState != "Message received" || row.ServerIndex != 0 || row.BackupServer ||
			row.AuthPort != uint16(cores["b"].auth) || row.ConnPort == 0 || row.ConnectedAt == 0 || row.ServerAddr.String() != "127.0.0.1" {
			t.Errorf("%s established row: %+v", serial, row)
		}
		if !strings.HasPrefix(e.client.Credential(), "flc_") {
			t.Errorf("%s holds no credential after binding", serial)
		}
	}

	// A segment of SN-0001's own source goes over the tunnel, once.
	scratch := scratchLake(t)
	id, data, err := uploadable(ctx, scratch, "SN-0001", []schema.Flow{{Time: schema.Micros(time.Now().Add(-time.Hour)), Device: "r1", Bytes: 100, Packets: 1, Proto: 6}})
	if err != nil {
		t.Fatal(err)
	}
	for i, wantCreated := range []bool{true, false} {
		ans, err := edges["SN-0001"].client.Upload(ctx, id, data)
		if err != nil || ans.Created != wantCreated || ans.Rows != 1 {
			t.Fatalf("upload %d: %+v, %v; want created=%v, 1 row", i+1, ans, err, wantCreated)
		}
	}
	if _, err := edges["SN-0002"].client.Upload(ctx, id, data); err == nil || !strings.Contains(err.Error(), "only its own segments") {
		t.Errorf("an edge uploaded another edge's segment: %v", err)
	}
	// The core pulls an edge's status over its tunnel.
	st, err := cores["b"].srv.Request(ctx, "SN-0002", wire.ServiceStatus, nil)
	var pulled map[string]any
	if ans, derr := wire.DecodeStatus(st); derr == nil {
		_ = json.Unmarshal(ans.State, &pulled)
	}
	if err != nil || pulled["conn_state"] != schema.CloudEstablished || pulled["server_addr"] != "127.0.0.1" {
		t.Errorf("status pull: %s, %v", st, err)
	}

	// A remote command the edge does not run is refused with its reason;
	// the tunnel stays up.
	if _, err := cores["b"].srv.Request(ctx, "SN-0002", wire.ServiceCommand, []byte(`{"command":"format-disk"}`)); !errors.Is(err, tunnelcore.ErrEdge) || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: %v", err)
	}
	if ans, err := cores["b"].srv.Request(ctx, "SN-0002", wire.ServiceCommand, []byte(`{"command":"state"}`)); err != nil || !strings.Contains(string(ans), `"conn_state":"Established"`) {
		t.Errorf("command state: %s %v", ans, err)
	}

	// b stops: both edges go to a (the next in order), with the down reason.
	cores["b"].stop(t)
	for serial, e := range edges {
		e.rec.waitFor(t, serial+" down from b", func(r schema.CloudConn) bool {
			return r.ConnState == schema.CloudUnconnected && r.LastDownAt != 0 && r.ServerDomain == "core-b.test" &&
				(r.LastDownReason == "Received websocket close packet from cloud" || r.LastDownReason == "Socket connection error")
		})
		row := e.rec.waitFor(t, serial+" established on a", established("core-a.test"))
		if row.ServerIndex != 1 || !row.BackupServer {
			t.Errorf("%s on a: index %d backup %v", serial, row.ServerIndex, row.BackupServer)
		}
	}
	// b returns: nobody switches back; a stops: the edges go to c, not b.
	cores["b"].start(t)
	cores["a"].stop(t)
	for serial, e := range edges {
		row := e.rec.waitFor(t, serial+" established after a stopped", func(r schema.CloudConn) bool { return r.ConnState == schema.CloudEstablished })
		if row.ServerDomain != "core-c.test" {
			t.Errorf("%s went to %s after a stopped; want core-c.test (next in order, no switch-back to b)", serial, row.ServerDomain)
		}
	}

	// Option 253 names another domain: the tunnel goes down for
	// "Configuration changed" and comes up on the new primary.
	e1 := edges["SN-0001"]
	if err := e1.client.SetDHCPDomain("core-c.test"); err != nil {
		t.Fatal(err)
	}
	if err := e1.client.SetDHCPDomain("core-b.test"); err != nil {
		t.Fatal(err)
	}
	e1.rec.waitFor(t, "down for the configuration change", func(r schema.CloudConn) bool { return r.LastDownReason == "Configuration changed" })
	e1.rec.waitFor(t, "established on the DHCP domain", established("core-b.test"))

	// Unbinding: a wrong code is refused; the right one unbinds, and the
	// edge is refused until admitted again.
	if err := e1.client.Unbind(ctx, "flu_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); err == nil || !strings.Contains(err.Error(), "wrong or expired code") {
		t.Fatalf("unbind with a wrong code: %v", err)
	}
	code, err := store.IssueUnbindCode(ctx, "SN-0001", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := e1.client.Unbind(ctx, code); err != nil {
		t.Fatalf("unbind with the right code: %v", err)
	}
	e1.rec.waitFor(t, "refused after unbinding", func(r schema.CloudConn) bool {
		return r.FailureReason == "Processing cloud auth response failed"
	})
	if list, _ := store.ListAdmissions(ctx); len(list) != 1 || list[0].Serial != "SN-0002" {
		t.Errorf("admissions after unbinding: %+v", list)
	}
	// The other edge kept its tunnel through all of it.
	if s := edges["SN-0002"].client.State(); s.ConnState != schema.CloudEstablished || s.ServerDomain != "core-c.test" {
		t.Errorf("SN-0002 state: %s on %s", s.ConnState, s.ServerDomain)
	}
}

// meta_enrollLike is a well-formed enrolment secret no core issued.
var meta_enrollLike = "fle_" + strings.Repeat("A", 43)

// TestTunnelKeepaliveExpiry puts a pausing TCP proxy between an edge and
// a core's connection port: once it stops forwarding, the edge's
// keepalives go unanswered, and after count intervals the edge records
// "Keepalive expired" and registers again.
func TestTunnelKeepaliveExpiry(t *testing.T) {
	ctx := t.Context()
	srvTLS, pool := selfSigned(t, "core-k.test")
	store := openScratchMeta(t)
	cfg := tunnelcore.DefaultConfig()
	cfg.AuthListen, cfg.ConnListen = "127.0.0.1:0", "127.0.0.1:0"
	core := startCore(t, "core-k", tunnelcore.Deps{Admissions: store, TLS: srvTLS}, cfg)
	proxy := newPausingProxy(t, core.srv.ConnAddr().String())
	// The core's registration answers the proxy's port as the tunnel's.
	core.stop(t)
	core.cfg.PublicPort = proxy.port()
	core.cfg.ConnListen = proxy.target
	core.start(t)

	enroll, err := store.AdmitEdge(ctx, "SN-KA", "admin")
	if err != nil {
		t.Fatal(err)
	}
	ecfg := edgetunnel.DefaultConfig()
	ecfg.Serial, ecfg.Enroll = "SN-KA", enroll
	ecfg.Primary = wire.Server{Domain: "core-k.test", Ports: []uint16{uint16(core.auth)}}
	e := startEdge(t, ecfg, pool)
	row := e.rec.waitFor(t, "established through the proxy", established("core-k.test"))
	if row.ConnPort != uint16(proxy.port()) {
		t.Fatalf("connection port %d, want the proxy's %d", row.ConnPort, proxy.port())
	}
	// Answered keepalives keep the tunnel: more ticks than the count.
	for range ecfg.Timing.KeepaliveCount + 2 {
		e.ka <- time.Now()
		waitKeepaliveAnswered(t, e)
	}
	proxy.pause()
	for range ecfg.Timing.KeepaliveCount + 1 {
		e.ka <- time.Now()
	}
	down := e.rec.waitFor(t, "down for keepalive", func(r schema.CloudConn) bool { return r.LastDownReason != "" })
	if down.LastDownReason != "Keepalive expired" || down.LastDownDetail != fmt.Sprintf("no answer to %d keepalives", ecfg.Timing.KeepaliveCount) {
		t.Errorf("down row: %q (%q)", down.LastDownReason, down.LastDownDetail)
	}
	e.rec.waitFor(t, "registering again", func(r schema.CloudConn) bool { return r.DeviceState == "Register" })
	e.rec.waitFor(t, "established again", established("core-k.test"))
}

// waitKeepaliveAnswered waits for the core's answer to the keepalive
// just sent; the edge's state must stay established.
func waitKeepaliveAnswered(t *testing.T, e *testEdge) {
	t.Helper()
	select {
	case <-e.acked:
	case <-time.After(30 * time.Second):
		t.Fatal("keepalive not answered within 30 s")
	}
	if s := e.client.State(); s.ConnState != schema.CloudEstablished {
		t.Fatalf("tunnel down while keepalives are answered: %+v", s)
	}
}
