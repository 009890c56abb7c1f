package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/meta"
)

// TestEdgeRemoteCommandsOverTunnel: `flowlake serve` runs the tunnel's
// core end; `flowlake edge` holds a tunnel to it and listens for NetFlow.
// POST /api/v1/edges/{serial}/commands runs restart-receiver (all
// listeners, then the netflow one by address, keeping its port) and
// flush-spool on the edge; a bad kind or an unknown argument is the
// edge's refusal (422); every command is audited as edge.command.
func TestEdgeRemoteCommandsOverTunnel(t *testing.T) {
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
	out, errOut, code := runCLI(t, nil, "edge", "admit", "SN-CMD", "--data", dir, "--json")
	var adm EdgeAdmitted
	if code != 0 || json.Unmarshal([]byte(out), &adm) != nil {
		t.Fatalf("edge admit: exit %d: %s %s", code, out, errOut)
	}
	auth := freePort(t, "tcp")
	srv := startServeAs(t, dir, token, []string{"FLOWLAKE_TUNNEL_CORE_CERT_FILE=" + certFile, "FLOWLAKE_TUNNEL_CORE_KEY_FILE=" + keyFile,
		fmt.Sprintf("FLOWLAKE_TUNNEL_CORE_AUTH_LISTEN=127.0.0.1:%d", auth), fmt.Sprintf("FLOWLAKE_TUNNEL_CORE_CONN_LISTEN=127.0.0.1:%d", freePort(t, "tcp"))},
		"--log-level", "warn")

	netflow := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	stopped := make(chan int, 1)
	t.Cleanup(func() { cancel(); <-stopped })
	env := []string{"FLOWLAKE_TUNNEL_EDGE_SERIAL=SN-CMD", "FLOWLAKE_TUNNEL_EDGE_ENROLL_FILE=" + write("enroll", []byte(adm.Enroll+"\n")),
		"FLOWLAKE_TUNNEL_EDGE_CA_FILE=" + write("ca.pem", certPEM), fmt.Sprintf("FLOWLAKE_TUNNEL_EDGE_PRIMARY=127.0.0.1:%d", auth),
		"FLOWLAKE_EDGE_STATUS_LISTEN="}
	go func() {
		stopped <- run(ctx, []string{"edge", "--core", "https://127.0.0.1:1", "--token-file", write("token", []byte("flk_x\n")), "--spool", filepath.Join(tmp, "spool"),
			"--netflow-listen", netflow, "--ipfix-listen", "", "--sflow-listen", "", "--log-level", "warn"}, &bytes.Buffer{}, &stderr, hooks{environ: env})
	}()

	command := func(body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.base+"/api/v1/edges/SN-CMD/commands", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+srv.token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	var st int
	var body string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) { // the edge is another component: poll
		if st, body = command(`{"command":"restart-receiver"}`); st == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the edge never answered restart-receiver: %d %s; edge log: %s", st, body, stderr.String())
		}
	}
	type restarted struct {
		Restarted []struct {
			Kind, Addr string
			Sockets    int
		}
	}
	var all restarted
	if err := json.Unmarshal([]byte(body), &all); err != nil {
		t.Fatal(err)
	}
	if len(all.Restarted) != 1 || all.Restarted[0].Kind != "netflow" || all.Restarted[0].Addr != netflow || all.Restarted[0].Sockets < 1 {
		t.Errorf("restart all: %s, want netflow %s", body, netflow)
	}
	st, body = command(`{"command":"restart-receiver","args":{"kind":"netflow","addr":"` + netflow + `"}}`)
	if st != http.StatusOK || !strings.Contains(body, `"addr":"`+netflow+`"`) {
		t.Errorf("restart netflow %s: %d %s", netflow, st, body)
	}
	st, body = command(`{"command":"flush-spool"}`)
	var flush struct {
		Shipping      bool
		SpoolSegments *int `json:"spool_segments"`
	}
	if st != http.StatusOK || json.Unmarshal([]byte(body), &flush) != nil || !flush.Shipping || flush.SpoolSegments == nil {
		t.Errorf("flush-spool: %d %s", st, body)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"command":"restart-receiver","args":{"kind":"bgp"}}`, `kind \"bgp\"`},
		{`{"command":"restart-receiver","args":{"kind":"ipfix"}}`, "no listener is ipfix"},
		{`{"command":"flush-spool","args":{"now":true}}`, "unknown field"},
	} {
		if st, body := command(tc.body); st != http.StatusUnprocessableEntity || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want 422 with %s", tc.body, st, body, tc.want)
		}
	}

	// The CLI: the fleet list and a remote command through the core.
	tokenFile := write("admin-token", []byte(srv.token+"\n"))
	out, errOut, code = runCLI(t, nil, "edge", "list", "--url", srv.base, "--token-file", tokenFile)
	if code != 0 || !strings.Contains(out, "SN-CMD") || !strings.Contains(out, "Established") {
		t.Errorf("edge list: exit %d: %s %s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, nil, "edge", "list", "--url", srv.base, "--token-file", tokenFile, "--json")
	var fleet struct {
		Edges []struct {
			Serial string
			State  struct {
				ConnState string `json:"conn_state"`
			}
			SpoolSegments *int `json:"spool_segments"`
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &fleet) != nil || len(fleet.Edges) != 1 || fleet.Edges[0].Serial != "SN-CMD" ||
		fleet.Edges[0].State.ConnState != "Established" || fleet.Edges[0].SpoolSegments == nil {
		t.Errorf("edge list --json: exit %d: %s %s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, nil, "edge", "command", "SN-CMD", "restart-receiver", "--args", `{"addr":"`+netflow+`"}`, "--url", srv.base, "--token-file", tokenFile)
	if code != 0 || !strings.Contains(out, `"addr": "`+netflow+`"`) {
		t.Errorf("edge command restart-receiver: exit %d: %s %s", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"command", "SN-CMD", "bogus"}, 1, `unknown command "bogus"`},
		{[]string{"command", "SN-NONE", "flush-spool"}, 1, "404"},
		{[]string{"command", "SN-CMD", "flush-spool", "--args", "[1]"}, 2, "want a JSON object"},
		{[]string{"list", "--token-file", ""}, 2, "--token-file: required"},
	} {
		args := append([]string{"edge"}, tc.args...)
		if !slices.Contains(args, "--token-file") {
			args = append(args, "--token-file", tokenFile)
		}
		args = append(args, "--url", srv.base)
		if _, errOut, code := runCLI(t, nil, args...); code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d: %s, want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}

	store := openTestMeta(t, dir)
	page, err := store.ListAudit(t.Context(), meta.AuditFilter{Action: "edge.command", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, a := range page.Entries {
		if a.Target == "SN-CMD" {
			outcomes[a.Outcome]++
		}
	}
	if outcomes[meta.OutcomeSuccess] < 4 || outcomes[meta.OutcomeFailure] < 3 { // the polls before the tunnel came up failed too
		t.Errorf("edge.command audit outcomes %v: want ≥4 successes and ≥3 failures", outcomes)
	}
}
