package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEdgeDHCPBindingsOverTunnel: `flowlake serve` runs the tunnel's core
// end; `flowlake edge` replays a DORA (--dhcp-pcap) and holds a tunnel to
// it. The core's REST GET /api/v1/edges/{serial}/dhcp/bindings and
// GraphQL's edgeDhcpBindings answer the edge's binding table, asked over
// the tunnel (remote command dhcp-bindings); a bad argument is 400, an
// edge without a tunnel 404 (NOT_FOUND in GraphQL).
func TestEdgeDHCPBindingsOverTunnel(t *testing.T) {
	tmp := t.TempDir()
	srvTLS, _ := selfSigned(t, "127.0.0.1")
	cert := srvTLS.Certificates[0]
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	certFile, keyFile := write("core.pem", certPEM), write("core.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	dir := filepath.Join(tmp, "lake")
	token := addUserToken(t, dir)
	out, errOut, code := runCLI(t, nil, "edge", "admit", "SN-DHCP", "--data", dir, "--json")
	var adm EdgeAdmitted
	if code != 0 || json.Unmarshal([]byte(out), &adm) != nil {
		t.Fatalf("edge admit: exit %d: %s %s", code, out, errOut)
	}
	auth := freePort(t, "tcp")
	srv := startServeAs(t, dir, token, []string{"FLOWLAKE_TUNNEL_CORE_CERT_FILE=" + certFile, "FLOWLAKE_TUNNEL_CORE_KEY_FILE=" + keyFile,
		fmt.Sprintf("FLOWLAKE_TUNNEL_CORE_AUTH_LISTEN=127.0.0.1:%d", auth), fmt.Sprintf("FLOWLAKE_TUNNEL_CORE_CONN_LISTEN=127.0.0.1:%d", freePort(t, "tcp"))},
		"--log-level", "warn")

	mac := net.HardwareAddr{2, 0, 0, 0, 0, 0x42}
	pcap := dhcpCapture(t, mac, "10.0.0.42")
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	stopped := make(chan int, 1)
	t.Cleanup(func() { cancel(); <-stopped })
	env := []string{"FLOWLAKE_TUNNEL_EDGE_SERIAL=SN-DHCP", "FLOWLAKE_TUNNEL_EDGE_ENROLL_FILE=" + write("enroll", []byte(adm.Enroll+"\n")),
		"FLOWLAKE_TUNNEL_EDGE_CA_FILE=" + write("ca.pem", certPEM), fmt.Sprintf("FLOWLAKE_TUNNEL_EDGE_PRIMARY=127.0.0.1:%d", auth),
		"FLOWLAKE_EDGE_STATUS_LISTEN="}
	go func() {
		stopped <- run(ctx, []string{"edge", "--core", "https://127.0.0.1:1", "--token-file", write("token", []byte("flk_x\n")), "--spool", filepath.Join(tmp, "spool"),
			"--netflow-listen", "", "--ipfix-listen", "", "--sflow-listen", "", "--dhcp-pcap", pcap, "--log-level", "warn"}, &bytes.Buffer{}, &stderr, hooks{environ: env})
	}()

	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+srv.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	var body string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) { // the edge is another component: poll
		var st int
		if st, body = get("/api/v1/edges/SN-DHCP/dhcp/bindings"); st == http.StatusOK && strings.Contains(body, `"ip":"10.0.0.42"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the core never answered the edge's binding: %d %s; edge log: %s", st, body, stderr.String())
		}
	}
	var page struct {
		Bindings []struct {
			MAC, IP, Hostname, Server string
			LeaseTime                 int `json:"lease_time"`
		}
		Total int
		Next  string
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Bindings) != 1 || page.Total != 1 || page.Next != "" {
		t.Fatalf("bindings %s", body)
	}
	if b := page.Bindings[0]; b.MAC != mac.String() || b.Hostname != "laptop-42" || b.Server != "10.0.0.1" || b.LeaseTime != 600 {
		t.Errorf("binding %+v: want %s, laptop-42, server 10.0.0.1, lease 600", b, mac)
	}
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/api/v1/edges/SN-DHCP/dhcp/bindings?mac=02:00:00:00:00:42", http.StatusOK, `"total":1`},
		{"/api/v1/edges/SN-DHCP/dhcp/bindings?ip=10.0.0.43", http.StatusOK, `{"bindings":[],"total":0}`},
		{"/api/v1/edges/SN-DHCP/dhcp/bindings?ip=10.0.0", http.StatusBadRequest, `ip: \"10.0.0\" is not an address`},
		{"/api/v1/edges/SN-DHCP/dhcp/bindings?limit=5000", http.StatusBadRequest, "limit"},
		{"/api/v1/edges/SN-NONE/dhcp/bindings", http.StatusNotFound, "holds no tunnel"},
	} {
		if st, b := get(tc.path); st != tc.code || !strings.Contains(b, tc.want) {
			t.Errorf("GET %s: %d %s; want %d with %q", tc.path, st, b, tc.code, tc.want)
		}
	}

	gql := func(q string) string {
		t.Helper()
		raw, _ := json.Marshal(map[string]string{"query": q})
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.base+"/api/v1/graphql", bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+srv.token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	got := gql(`{ edgeDhcpBindings(serial: "SN-DHCP") { total next bindings { ip mac hostname server leaseTime relay vlan } } }`)
	if want := `{"data":{"edgeDhcpBindings":{"total":1,"next":null,"bindings":[{"ip":"10.0.0.42","mac":"02:00:00:00:00:42","hostname":"laptop-42","server":"10.0.0.1","leaseTime":600,"relay":null,"vlan":0}]}}}`; got != want {
		t.Errorf("GraphQL edgeDhcpBindings:\n got %s\nwant %s", got, want)
	}
	if got := gql(`{ edgeDhcpBindings(serial: "SN-NONE") { total } }`); !strings.Contains(got, `"code":"NOT_FOUND"`) {
		t.Errorf("GraphQL for an edge without a tunnel: %s", got)
	}
	// Each binding asked for counts in the operation's complexity: three
	// aliased pages of 2000 exceed it before the edge is asked.
	if got := gql(`{ a: edgeDhcpBindings(serial: "SN-DHCP", limit: 2000) { bindings { ip mac hostname server } } b: edgeDhcpBindings(serial: "SN-DHCP", limit: 2000, after: "10.0.0.1") { bindings { ip mac hostname server } } c: edgeDhcpBindings(serial: "SN-DHCP", limit: 2000, after: "10.0.0.2") { bindings { ip mac hostname server } } }`); !strings.Contains(got, "COMPLEXITY_LIMIT_EXCEEDED") {
		t.Errorf("three pages of 2000 bindings: %s", got)
	}
	if got := gql(`{ edgeDhcpBindings(serial: "SN-DHCP", mac: "zz") { total } }`); !strings.Contains(got, `"code":"INVALID"`) || !strings.Contains(got, "not a MAC address") {
		t.Errorf("GraphQL with a bad MAC: %s", got)
	}
}
