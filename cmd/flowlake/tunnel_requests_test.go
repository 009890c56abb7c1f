package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/api/tunnelcore"
	edgetunnel "github.com/flowlake/flowlake/edge/tunnel"
	"github.com/flowlake/flowlake/storage/schema"
	wire "github.com/flowlake/flowlake/tunnel"
)

// TestTunnelSlowRequestKeepsTunnel runs a core and an edge whose remote
// command "slow" blocks until the test releases it: while it blocks, the
// edge's keepalives (more than count intervals of them) still go out and
// are answered, a status pull on a second subconnection is answered, and
// the tunnel stays up; requests beyond edgetunnel.MaxRequests in flight
// are refused with the edge's reason; once released, every slow command
// is answered.
func TestTunnelSlowRequestKeepsTunnel(t *testing.T) {
	ctx := t.Context()
	srvTLS, pool := selfSigned(t, "core-s.test")
	store := openScratchMeta(t)
	core := startCore(t, "core-s", tunnelcore.Deps{Admissions: store, TLS: srvTLS}, tunnelcore.Config{})
	enroll, err := store.AdmitEdge(ctx, "SN-SLOW", "admin")
	if err != nil {
		t.Fatal(err)
	}
	ecfg := edgetunnel.DefaultConfig()
	ecfg.Serial, ecfg.Enroll = "SN-SLOW", enroll
	ecfg.Primary = wire.Server{Domain: "core-s.test", Ports: []uint16{uint16(core.auth)}}
	entered, release := make(chan struct{}, 2*edgetunnel.MaxRequests), make(chan struct{})
	e := startEdgeWith(t, ecfg, pool, func(d *edgetunnel.Deps) {
		d.Command = func(ctx context.Context, name string, _ json.RawMessage) ([]byte, error) {
			if name != "slow" {
				return nil, errors.New("unknown command " + name)
			}
			entered <- struct{}{}
			select {
			case <-release:
				return []byte(`{"slow":true}`), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	e.rec.waitFor(t, "established", established("core-s.test"))
	// The edge is established once its handshake is answered; the core
	// lists the tunnel just after.
	for deadline := time.Now().Add(30 * time.Second); len(core.srv.Edges()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the core never listed the edge's tunnel")
		}
	}

	type result struct {
		body []byte
		err  error
	}
	slow := make(chan result, 2*edgetunnel.MaxRequests)
	ask := func() {
		go func() {
			b, err := core.srv.Request(ctx, "SN-SLOW", wire.ServiceCommand, []byte(`{"command":"slow"}`))
			slow <- result{b, err}
		}()
	}
	waitEntered := func() {
		t.Helper()
		select {
		case <-entered:
		case r := <-slow:
			t.Fatalf("a slow command answered before its release: %s, %v", r.body, r.err)
		case <-time.After(30 * time.Second):
			t.Fatal("the slow command never started")
		}
	}
	ask()
	waitEntered()

	// More keepalive intervals than the count pass while the command
	// blocks: each keepalive goes out and is answered.
	for i := range ecfg.Timing.KeepaliveCount + 2 {
		select {
		case e.ka <- time.Now():
		case <-time.After(10 * time.Second):
			t.Fatalf("keepalive %d not sent within 10 s while a command is slow: the frame loop is blocked", i+1)
		}
		waitKeepaliveAnswered(t, e)
	}
	// A second subconnection is answered meanwhile.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ans, err := core.srv.Request(sctx, "SN-SLOW", wire.ServiceStatus, nil)
	if err != nil {
		t.Fatalf("status pull while a command is slow: %v", err)
	}
	var st wire.StatusAnswer
	if err := json.Unmarshal(ans, &st); err != nil || !strings.Contains(string(st.State), `"Established"`) {
		t.Errorf("status answer %s (%v): want the established state", ans, err)
	}

	// The bound: MaxRequests slow commands in flight, one more refused.
	for range edgetunnel.MaxRequests - 1 {
		ask()
		waitEntered()
	}
	_, err = core.srv.Request(sctx, "SN-SLOW", wire.ServiceCommand, []byte(`{"command":"slow"}`))
	if !errors.Is(err, tunnelcore.ErrEdge) || !strings.Contains(err.Error(), "edge busy") {
		t.Errorf("request beyond %d in flight: %v, want the edge's busy refusal", edgetunnel.MaxRequests, err)
	}
	if n := e.client.RequestsRefused(); n != 1 {
		t.Errorf("RequestsRefused %d, want 1", n)
	}

	close(release)
	for range edgetunnel.MaxRequests {
		select {
		case r := <-slow:
			if r.err != nil || string(r.body) != `{"slow":true}` {
				t.Errorf("slow command answered %s, %v", r.body, r.err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a slow command never answered after its release")
		}
	}
	e.ka <- time.Now()
	waitKeepaliveAnswered(t, e)
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	for _, r := range e.rec.rows {
		if r.LastDownReason != "" || r.ConnState == schema.CloudUnconnected && r.LastDownAt != 0 {
			t.Errorf("the tunnel went down: %+v", r)
		}
	}
}
