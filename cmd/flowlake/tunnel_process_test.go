package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	edgetunnel "github.com/flowlake/flowlake/edge/tunnel"
	"github.com/flowlake/flowlake/storage/schema"
	wire "github.com/flowlake/flowlake/tunnel"
)

// coreProcess is `flowlake serve` with its tunnel end, in a process of
// its own (the test binary as TestEdgeHelperProcess), killable with
// SIGKILL and restartable on the same ports.
type coreProcess struct {
	name       string
	auth, conn int
	http       int // the API's port
	env        []string
	args       []string
	cmd        *exec.Cmd
	log        bytes.Buffer
}

func (c *coreProcess) start(t *testing.T) {
	t.Helper()
	c.log.Reset()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEdgeHelperProcess$")
	cmd.Env = append(append(os.Environ(), c.env...), edgeHelperEnv+"="+strings.Join(c.args, "\x1f"))
	cmd.Stdout, cmd.Stderr = &c.log, &c.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.cmd = cmd
	// Ready when the authentication port accepts connections (a wait
	// with a deadline for a broken start, not a timing assertion).
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", c.auth))
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			c.kill()
			t.Fatalf("%s did not listen on %d: %s", c.name, c.auth, c.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and reaps the process.
func (c *coreProcess) kill() {
	if c.cmd != nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
		c.cmd = nil
	}
}

// TestTunnelCoreProcessesKilled runs three cores as real `flowlake serve`
// processes sharing one metadata store, each with its tunnel end on TLS
// ports, and two edges' tunnel clients: the edges establish on the
// primary; when its process is killed (SIGKILL) they fail over in the
// documented order, do not switch back when it is restarted, and move on
// to the next core, not back, when the second one is killed. Admission
// and unbinding codes go through `flowlake edge admit|unbind-code`.
func TestTunnelCoreProcessesKilled(t *testing.T) {
	tmp := t.TempDir()
	srvTLS, pool := selfSigned(t, "core-a.test", "core-b.test", "core-c.test")
	cert := srvTLS.Certificates[0]
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(tmp, "core.pem"), filepath.Join(tmp, "core.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	metaEnv := "FLOWLAKE_META_DSN=" + filepath.Join(tmp, "meta.db")
	admit := func(serial string) string {
		out, stderr, code := runCLI(t, []string{metaEnv}, "edge", "admit", serial, "--data", filepath.Join(tmp, "admin"), "--json")
		var adm EdgeAdmitted
		if code != 0 || json.Unmarshal([]byte(out), &adm) != nil {
			t.Fatalf("edge admit %s: exit %d: %s %s", serial, code, out, stderr)
		}
		return adm.Enroll
	}
	enrolls := map[string]string{"SN-P1": admit("SN-P1"), "SN-P2": admit("SN-P2")}
	out, stderr, code := runCLI(t, []string{metaEnv}, "user", "add", "--name", "admin", "--role", "admin", "--token", "--json", "--data", filepath.Join(tmp, "admin"))
	var admin UserAdded
	if code != 0 || json.Unmarshal([]byte(out), &admin) != nil {
		t.Fatalf("user add: exit %d: %s %s", code, out, stderr)
	}

	cores := map[string]*coreProcess{}
	for _, n := range []string{"a", "b", "c"} {
		c := &coreProcess{name: "core-" + n, auth: freePort(t, "tcp"), conn: freePort(t, "tcp"), http: freePort(t, "tcp")}
		c.env = []string{metaEnv, "FLOWLAKE_TUNNEL_CORE_CERT_FILE=" + certFile, "FLOWLAKE_TUNNEL_CORE_KEY_FILE=" + keyFile,
			fmt.Sprintf("FLOWLAKE_TUNNEL_CORE_AUTH_LISTEN=127.0.0.1:%d", c.auth), fmt.Sprintf("FLOWLAKE_TUNNEL_CORE_CONN_LISTEN=127.0.0.1:%d", c.conn)}
		c.args = []string{"serve", "--data", filepath.Join(tmp, "lake-"+n), "--listen", fmt.Sprintf("127.0.0.1:%d", c.http), "--log-level", "warn"}
		c.start(t)
		t.Cleanup(c.kill)
		cores[n] = c
	}
	edges := map[string]*testEdge{}
	for serial, enroll := range enrolls {
		cfg := edgetunnel.DefaultConfig()
		cfg.Serial, cfg.Enroll = serial, enroll
		cfg.Primary = wire.Server{Domain: "core-b.test", Ports: []uint16{uint16(cores["b"].auth)}}
		cfg.Backups = []wire.Server{{Domain: "core-c.test", Ports: []uint16{uint16(cores["c"].auth)}},
			{Domain: "core-a.test", Ports: []uint16{uint16(cores["a"].auth)}}}
		edges[serial] = startEdge(t, cfg, pool)
	}
	for serial, e := range edges {
		e.rec.waitFor(t, serial+" established on b", established("core-b.test"))
	}
	cores["b"].kill()
	for serial, e := range edges {
		down := e.rec.waitFor(t, serial+" down", func(r schema.CloudConn) bool { return r.LastDownAt != 0 })
		if down.LastDownReason != "Socket connection error" {
			t.Errorf("%s down reason after SIGKILL: %q (%s)", serial, down.LastDownReason, down.LastDownDetail)
		}
		e.rec.waitFor(t, serial+" established on a", established("core-a.test"))
	}
	cores["b"].start(t)
	cores["a"].kill()
	for serial, e := range edges {
		row := e.rec.waitFor(t, serial+" established after a was killed", func(r schema.CloudConn) bool { return r.ConnState == schema.CloudEstablished })
		if row.ServerDomain != "core-c.test" || row.ServerIndex != 2 {
			t.Errorf("%s went to %s (index %d); want core-c.test, index 2: no switch-back to the restarted b", serial, row.ServerDomain, row.ServerIndex)
		}
	}
	// Unbinding through the CLI's code, presented over the tunnel's
	// authentication port of core c (a process).
	out, stderr, code = runCLI(t, []string{metaEnv}, "edge", "unbind-code", "SN-P1", "--data", filepath.Join(tmp, "admin"), "--json")
	var uc EdgeUnbindCode
	if code != 0 || json.Unmarshal([]byte(out), &uc) != nil {
		t.Fatalf("unbind-code: exit %d: %s %s", code, out, stderr)
	}
	e1 := edges["SN-P1"]
	if err := e1.client.Unbind(t.Context(), "flu_"+strings.Repeat("B", 43)); err == nil {
		t.Error("a wrong unbinding code was accepted")
	}
	if err := e1.client.Unbind(t.Context(), uc.Code); err != nil {
		t.Fatalf("the right unbinding code: %v", err)
	}
	e1.rec.waitFor(t, "refused once unbound", func(r schema.CloudConn) bool { return r.FailureReason == "Processing cloud auth response failed" })
	if s := edges["SN-P2"].client.State(); s.ConnState != schema.CloudEstablished {
		t.Errorf("SN-P2 lost its tunnel: %+v", s)
	}
	// Core c's API lists the edge holding a tunnel to it, with the state
	// it pulled over the tunnel.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/api/v1/edges", cores["c"].http), nil)
	req.Header.Set("Authorization", "Bearer "+admin.Secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var fleet struct {
		Edges []struct {
			Serial string         `json:"serial"`
			State  map[string]any `json:"state"`
		} `json:"edges"`
	}
	if err := json.NewDecoder(res.Body).Decode(&fleet); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/edges: %d %v", res.StatusCode, err)
	}
	if len(fleet.Edges) != 1 || fleet.Edges[0].Serial != "SN-P2" || fleet.Edges[0].State["conn_state"] != "Established" || fleet.Edges[0].State["server_domain"] != "core-c.test" {
		t.Errorf("GET /api/v1/edges on core c: %+v", fleet)
	}

	// Configuration pushed over the tunnel through core c's API, applied
	// without a restart: option 253's domain replaces the primary's and
	// makes SN-P2 reconnect to it; the same domain again keeps the tunnel.
	// Option 253 carries a domain only: the primary's ports stay, and on
	// this loopback test bed (every domain 127.0.0.1, one port set per
	// core) "core-a.test" with the primary's port is core b's process.
	call := func(core, path, body string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d%s", cores[core].http, path), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin.Secret)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if st, body := call("c", "/api/v1/edges/SN-P2/commands", `{"command":"state"}`); st != http.StatusOK || !strings.Contains(body, `"conn_state":"Established"`) {
		t.Errorf("command state: %d %s", st, body)
	}
	if st, body := call("c", "/api/v1/edges/SN-P2/commands", `{"command":"format-disk"}`); st != http.StatusUnprocessableEntity || !strings.Contains(body, "unknown command") {
		t.Errorf("unknown command: %d %s", st, body)
	}
	if st, body := call("c", "/api/v1/edges/SN-P1/config", `{"dhcp_domain":"core-b.test"}`); st != http.StatusNotFound {
		t.Errorf("config for an edge without a tunnel here: %d %s", st, body)
	}
	if st, body := call("c", "/api/v1/edges/SN-P2/config", `{"dhcp_domain":"core-a.test"}`); st != http.StatusOK || !strings.Contains(body, `"applied":["dhcp_domain"]`) {
		t.Fatalf("config push: %d %s", st, body)
	}
	e2 := edges["SN-P2"]
	e2.rec.waitFor(t, "down for the pushed configuration", func(r schema.CloudConn) bool { return r.LastDownReason == "Configuration changed" })
	if row := e2.rec.waitFor(t, "established again", func(r schema.CloudConn) bool { return r.ConnState == schema.CloudEstablished }); row.ServerDomain != "core-a.test" || row.ServerIndex != 0 {
		t.Errorf("after the push: on %s, index %d; want core-a.test, the new primary", row.ServerDomain, row.ServerIndex)
	}
	// The edge records Established when its handshake returns, an instant
	// before the core lists the tunnel: wait for the list of the process
	// at the primary's ports (b).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/api/v1/edges", cores["b"].http), nil)
		req.Header.Set("Authorization", "Bearer "+admin.Secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(b), `"serial":"SN-P2"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("core b never listed SN-P2: %s; edge state %+v", b, e2.client.State())
		}
	}
	if st, body := call("b", "/api/v1/edges/SN-P2/config", `{"dhcp_domain":"core-a.test"}`); st != http.StatusOK {
		t.Fatalf("same config again: %d %s", st, body)
	}
	if st, body := call("b", "/api/v1/edges/SN-P2/config", `{"dhcp_domain":"bad..domain"}`); st != http.StatusUnprocessableEntity || !strings.Contains(body, "option 253") {
		t.Errorf("bad domain pushed: %d %s", st, body)
	}
	if s := e2.client.State(); s.ConnState != schema.CloudEstablished || s.ServerDomain != "core-a.test" || s.AuthPort != uint16(cores["b"].auth) {
		t.Errorf("the same domain pushed again moved the tunnel: %s on %s", s.ConnState, s.ServerDomain)
	}
}
