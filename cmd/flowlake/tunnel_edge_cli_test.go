package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/api/tunnelcore"
)

// TestEdgeCommandTunnel runs `flowlake edge` with tunnel.edge.* set
// against a core's tunnel end: the edge binds with the enrolment secret
// from its file, keeps the credential it got (mode 0600), keeps its state
// file, which `flowlake edge state` prints as the device would, and
// spools its cloud_conn rows when it stops.
func TestEdgeCommandTunnel(t *testing.T) {
	tmp := t.TempDir()
	srvTLS, _ := selfSigned(t, "127.0.0.1")
	store := openScratchMeta(t)
	core := startCore(t, "core", tunnelcore.Deps{Admissions: store, TLS: srvTLS}, tunnelcore.Config{})
	enroll, err := store.AdmitEdge(t.Context(), "SN-CLI", "test")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvTLS.Certificates[0].Certificate[0]})))
	spool := filepath.Join(tmp, "spool")
	env := []string{
		"FLOWLAKE_TUNNEL_EDGE_SERIAL=SN-CLI",
		"FLOWLAKE_TUNNEL_EDGE_ENROLL_FILE=" + write("enroll", enroll+"\n"),
		"FLOWLAKE_TUNNEL_EDGE_CA_FILE=" + caFile,
		fmt.Sprintf("FLOWLAKE_TUNNEL_EDGE_PRIMARY=127.0.0.1:%d", core.auth),
		"FLOWLAKE_EDGE_STATUS_LISTEN=",
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"edge", "--core", "https://127.0.0.1:1", "--token-file", write("token", "flk_x\n"), "--spool", spool,
			"--netflow-listen", "127.0.0.1:0", "--ipfix-listen", "", "--sflow-listen", "", "--log-level", "warn"}, &bytes.Buffer{}, &stderr, hooks{environ: env})
	}()
	stateFile := filepath.Join(spool, cloudStateFile)
	deadline := time.Now().Add(30 * time.Second)
	var state map[string]any
	for { // the edge is another component: poll its state file, with a deadline
		out, _, code := runCLI(t, nil, "edge", "state", "--file", stateFile, "--json")
		if code == 0 && json.Unmarshal([]byte(out), &state) == nil && state["conn_state"] == "Established" {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the edge's tunnel did not establish: state %v; edge log: %s", state, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, _, _ := runCLI(t, nil, "edge", "state", "--file", stateFile, "--tz", "UTC")
	for _, want := range []string{
		"Cloud connection state                      : Established",
		"Device state                                : Request_success",
		"Cloud server address                        : 127.0.0.1",
		fmt.Sprintf("Cloud server authentication port            : %d", core.auth),
		"Failure reason                              : N/A",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("edge state lacks %q:\n%s", want, out)
		}
	}
	cred, err := os.ReadFile(filepath.Join(spool, "_tunnel_credential"))
	if err != nil || !strings.HasPrefix(string(cred), "flc_") {
		t.Errorf("credential file: %q, %v", cred, err)
	} else if st, _ := os.Stat(filepath.Join(spool, "_tunnel_credential")); st.Mode().Perm() != 0o600 {
		t.Errorf("credential file mode %v, want 0600", st.Mode().Perm())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("edge exited %d: %s", code, stderr.String())
	}
	rows, qerr, code := runCLI(t, nil, "query", "cloud_conn", "--data", spool, "--format", "csv", "--columns", "device_state", "--order", "time")
	if code != 0 || !strings.Contains(rows, "Request_cloud_auth") || !strings.Contains(rows, "Request_success") || !strings.Contains(rows, "Idle") {
		t.Errorf("spooled cloud_conn rows (exit %d, %s):\n%s", code, qerr, rows)
	}
}
