package main

import (
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/flowlake/flowlake/api/tunnelcore"
	edgetunnel "github.com/flowlake/flowlake/edge/tunnel"
	"github.com/flowlake/flowlake/storage/schema"
	wire "github.com/flowlake/flowlake/tunnel"
)

// brokenCore is a core that breaks the protocol at one step, the way a
// broken or hostile server (or a middlebox) does: it closes the
// connection instead of answering authentication ("auth"), answers
// authentication but closes on registration ("register"), registers but
// closes the WebSocket upgrade ("upgrade"), establishes the tunnel and
// then sends a malformed frame ("frame"), or establishes it and resets
// its TCP connection ("reset").
func brokenCore(t *testing.T, breakAt string, srvTLS *tls.Config) int {
	t.Helper()
	var port atomic.Int32
	hangUp := func(w http.ResponseWriter) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wire.PathAuth, func(w http.ResponseWriter, r *http.Request) {
		if breakAt == "auth" {
			hangUp(w)
			return
		}
		_ = json.NewEncoder(w).Encode(wire.AuthResponse{Ticket: "t", Bound: true})
	})
	mux.HandleFunc("POST "+wire.PathRegister, func(w http.ResponseWriter, r *http.Request) {
		if breakAt == "register" {
			hangUp(w)
			return
		}
		_ = json.NewEncoder(w).Encode(wire.RegisterResponse{URL: "wss://broken.test:" + strconv.Itoa(int(port.Load())) + wire.PathTunnel})
	})
	mux.HandleFunc("GET "+wire.PathTunnel, func(w http.ResponseWriter, r *http.Request) {
		if breakAt == "upgrade" {
			hangUp(w)
			return
		}
		if breakAt == "reset" {
			// The upgrade answered by hand, then an RST: the connection is
			// held by this handler, not by a WebSocket library.
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
			_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
				base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n")
			_ = rw.Flush()
			time.Sleep(100 * time.Millisecond)
			if tc, ok := conn.(*tls.Conn); ok {
				if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
					_ = tcp.SetLinger(0)
					_ = tcp.Close()
					return
				}
			}
			_ = conn.Close()
			return
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		_ = conn.Write(r.Context(), websocket.MessageBinary, []byte{9, 2, 0, 0, 0, 1}) // version 9
		_, _, _ = conn.Read(r.Context())
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = srvTLS
	srv.StartTLS()
	t.Cleanup(srv.Close)
	port.Store(int32(srv.Listener.Addr().(*net.TCPAddr).Port))
	return int(port.Load())
}

// TestTunnelFailureReasons causes each failure reason and down reason of
// the command reference that Flowlake's tunnel can meet, and checks the
// edge's cloud_conn row names it: the first failure of an attempt is the
// documented one, with the process state of the step it failed at.
func TestTunnelFailureReasons(t *testing.T) {
	ctx := t.Context()
	srvTLS, pool := selfSigned(t, "core.test", "broken.test")
	strangerTLS, _ := selfSigned(t, "core.test") // a certificate the edges do not trust
	store := openScratchMeta(t)
	good := startCore(t, "good", tunnelcore.Deps{Admissions: store, TLS: srvTLS}, tunnelcore.Config{})
	untrusted := startCore(t, "untrusted", tunnelcore.Deps{Admissions: store, TLS: strangerTLS}, tunnelcore.Config{})
	// Registration tickets expire between authentication and registration
	// on a core whose clock moves a minute at every look.
	var tick atomic.Int64
	base := time.Now()
	late := startCore(t, "late", tunnelcore.Deps{Admissions: store, TLS: srvTLS,
		Now: func() time.Time { return base.Add(time.Duration(tick.Add(1)) * 2 * time.Minute) }}, tunnelcore.Config{})
	// A core full with one tunnel refuses the next handshake.
	fullCfg := tunnelcore.DefaultConfig()
	fullCfg.AuthListen, fullCfg.ConnListen, fullCfg.MaxEdges = "127.0.0.1:0", "127.0.0.1:0", 1
	full := startCore(t, "full", tunnelcore.Deps{Admissions: store, TLS: srvTLS}, fullCfg)
	// Cores whose registration answers a tunnel URL with a closed port,
	// or a host name their certificate does not carry: the connection
	// port's socket and TLS failures.
	closedCfg := tunnelcore.DefaultConfig()
	closedCfg.AuthListen, closedCfg.ConnListen, closedCfg.PublicPort = "127.0.0.1:0", "127.0.0.1:0", freePort(t, "tcp")
	closedConn := startCore(t, "closed-conn", tunnelcore.Deps{Admissions: store, TLS: srvTLS}, closedCfg)
	misnamedCfg := tunnelcore.DefaultConfig()
	misnamedCfg.AuthListen, misnamedCfg.ConnListen, misnamedCfg.PublicHost = "127.0.0.1:0", "127.0.0.1:0", "other.test"
	misnamed := startCore(t, "misnamed", tunnelcore.Deps{Admissions: store, TLS: srvTLS}, misnamedCfg)

	admit := func(serial string) string {
		enroll, err := store.AdmitEdge(ctx, serial, "test")
		if err != nil {
			t.Fatal(err)
		}
		return enroll
	}
	edgeOn := func(serial, domain string, port int, p *x509.CertPool) *testEdge {
		cfg := edgetunnel.DefaultConfig()
		cfg.Serial, cfg.Enroll = serial, admit(serial)
		cfg.Primary = wire.Server{Domain: domain, Ports: []uint16{uint16(port)}}
		return startEdge(t, cfg, p)
	}
	firstFailure := func(t *testing.T, e *testEdge) schema.CloudConn {
		return e.rec.waitFor(t, "a failure", func(r schema.CloudConn) bool { return r.FailureReason != "" })
	}
	// The edge holding the full core's one tunnel.
	occupant := edgeOn("SN-OCCUPANT", "core.test", full.auth, pool)
	occupant.rec.waitFor(t, "established on the full core", established("core.test"))

	for _, tc := range []struct {
		name, reason, device, process string
		edge                          func(serial string) *testEdge
	}{
		{"dns", "DNS parse failed", "Connecting", "DNS not parsed",
			func(s string) *testEdge { return edgeOn(s, "nowhere.invalid", good.auth, pool) }},
		{"refused socket", "Socket connection failed", "Request_cloud_auth", "Message sent",
			func(s string) *testEdge { return edgeOn(s, "core.test", freePort(t, "tcp"), pool) }},
		{"tls", "SSL creation failed", "Request_cloud_auth", "Message sent",
			func(s string) *testEdge { return edgeOn(s, "core.test", untrusted.auth, pool) }},
		{"auth hang-up", "Sending cloud auth failed", "Request_cloud_auth", "Message sent",
			func(s string) *testEdge { return edgeOn(s, "broken.test", brokenCore(t, "auth", srvTLS), pool) }},
		{"auth refused", "Processing cloud auth response failed", "Request_cloud_auth", "Message sent",
			func(s string) *testEdge {
				cfg := edgetunnel.DefaultConfig()
				cfg.Serial, cfg.Enroll = s, meta_enrollLike // never admitted
				cfg.Primary = wire.Server{Domain: "core.test", Ports: []uint16{uint16(good.auth)}}
				return startEdge(t, cfg, pool)
			}},
		{"register hang-up", "Sending register failed", "Register", "Message sent",
			func(s string) *testEdge { return edgeOn(s, "broken.test", brokenCore(t, "register", srvTLS), pool) }},
		{"registration refused", "Processing register response failed", "Register", "Message sent",
			func(s string) *testEdge { return edgeOn(s, "core.test", late.auth, pool) }},
		{"refused connection port", "Socket connection failed", "Request", "Message sent",
			func(s string) *testEdge { return edgeOn(s, "core.test", closedConn.auth, pool) }},
		{"tls on the connection port", "SSL creation failed", "Request", "Message sent",
			func(s string) *testEdge { return edgeOn(s, "core.test", misnamed.auth, pool) }},
		{"handshake hang-up", "Sending handshake request failed", "Request", "Message sent",
			func(s string) *testEdge { return edgeOn(s, "broken.test", brokenCore(t, "upgrade", srvTLS), pool) }},
		{"handshake refused", "Processing handshake failed", "Request", "Message sent",
			func(s string) *testEdge { return edgeOn(s, "core.test", full.auth, pool) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.edge("SN-" + strings.ReplaceAll(tc.name, " ", "-"))
			defer e.stop()
			row := firstFailure(t, e)
			if row.FailureReason != tc.reason || row.DeviceState != tc.device || row.ProcessState != tc.process || row.ConnState != schema.CloudUnconnected {
				t.Errorf("first failure: %q at %s, %s (%s); want %q at %s, %s", row.FailureReason, row.DeviceState, row.ProcessState, row.ConnState,
					tc.reason, tc.device, tc.process)
			}
		})
	}

	// Down reasons: the core closes the tunnel (unbinding), a hostile
	// core sends a malformed frame, the edge stops.
	closed := edgeOn("SN-CLOSED", "core.test", good.auth, pool)
	closed.rec.waitFor(t, "established", established("core.test"))
	code, err := store.IssueUnbindCode(ctx, "SN-CLOSED", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.client.Unbind(ctx, code); err != nil {
		t.Fatal(err)
	}
	if row := closed.rec.waitFor(t, "down", func(r schema.CloudConn) bool { return r.LastDownAt != 0 }); row.LastDownReason != "Received websocket close packet from cloud" || row.LastDownDetail != "1001 unbound" {
		t.Errorf("closed by the core: %q (%s)", row.LastDownReason, row.LastDownDetail)
	}

	hostile := edgeOn("SN-HOSTILE", "broken.test", brokenCore(t, "frame", srvTLS), pool)
	if row := hostile.rec.waitFor(t, "down", func(r schema.CloudConn) bool { return r.LastDownAt != 0 }); row.LastDownReason != "Packet processing failed" || row.LastDownDetail == "" {
		t.Errorf("malformed frame: %q (%s)", row.LastDownReason, row.LastDownDetail)
	}

	reset := edgeOn("SN-RESET", "broken.test", brokenCore(t, "reset", srvTLS), pool)
	if row := reset.rec.waitFor(t, "down", func(r schema.CloudConn) bool { return r.LastDownAt != 0 }); row.LastDownReason != "Cloud reset connection" || row.LastDownDetail == "" {
		t.Errorf("connection reset by the core: %q (%s)", row.LastDownReason, row.LastDownDetail)
	}

	// The edge's memory over its threshold drops the tunnel; it comes
	// back once the memory is below again, not before.
	var used atomic.Uint64
	used.Store(1 << 20)
	mcfg := edgetunnel.DefaultConfig()
	mcfg.Serial, mcfg.Enroll = "SN-MEMORY", admit("SN-MEMORY")
	mcfg.Primary = wire.Server{Domain: "core.test", Ports: []uint16{uint16(good.auth)}}
	mcfg.MemoryThreshold = 2 << 20
	mem := startEdgeWith(t, mcfg, pool, func(d *edgetunnel.Deps) {
		d.MemoryUsed, d.MemoryEvery = used.Load, 20*time.Millisecond
	})
	mem.rec.waitFor(t, "established under the threshold", established("core.test"))
	used.Store(3 << 20)
	row := mem.rec.waitFor(t, "down", func(r schema.CloudConn) bool { return r.LastDownAt != 0 })
	if row.LastDownReason != "Memory reached threshold" || !strings.Contains(row.LastDownDetail, "3145728 bytes in use") {
		t.Errorf("memory over the threshold: %q (%s)", row.LastDownReason, row.LastDownDetail)
	}
	// Ten checks over the threshold: no new attempt, so no row.
	for wait := time.After(200 * time.Millisecond); ; {
		select {
		case r := <-mem.rec.ch:
			t.Errorf("an attempt over the memory threshold: %s, %s, %s", r.ConnState, r.DeviceState, r.ProcessState)
			continue
		case <-wait:
		}
		break
	}
	used.Store(1 << 20)
	mem.rec.waitFor(t, "established again below the threshold", func(r schema.CloudConn) bool {
		return r.ConnState == schema.CloudEstablished && r.LastDownReason == "Memory reached threshold"
	})

	occupant.stop()
	rows := occupant.rec.rows
	if last := rows[len(rows)-1]; last.LastDownReason != "Device or process rebooted" || last.ConnState != schema.CloudUnconnected || last.DeviceState != "Idle" {
		t.Errorf("edge stopped: last row %q, %s, %s", last.LastDownReason, last.ConnState, last.DeviceState)
	}
}
