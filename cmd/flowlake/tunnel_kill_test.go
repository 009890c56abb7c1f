package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowlake/flowlake/edge"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// tunnelKillTrialsEnv sets the number of kill trials of
// TestTunnelKillExactlyOnce (default 20; the benchmark run of
// docs/benchmarks.md uses 100); tunnelKillSeedEnv replays a run's kills.
const (
	tunnelKillTrialsEnv = "FLOWLAKE_TUNNEL_KILL_TRIALS"
	tunnelKillSeedEnv   = "FLOWLAKE_TUNNEL_KILL_SEED"
)

// writeTunnelCert writes a self-signed server certificate for names, its
// key and the CA file an edge trusts it with.
func writeTunnelCert(t *testing.T, dir string, names ...string) (certFile, keyFile string) {
	t.Helper()
	srvTLS, _ := selfSigned(t, names...)
	cert := srvTLS.Certificates[0]
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "core.pem"), filepath.Join(dir, "core.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// edgeRun is one life of the edge process: rows base… were sent to it,
// up to last; the first acked of them were acknowledged (durable in its
// spool) by a status it served, so they must be in the lake once.
type edgeRun struct{ base, last, acked uint64 }

// TestTunnelKillExactlyOnce is issue 15's exactly-once acceptance over
// the tunnel: `flowlake serve` (the core, with its tunnel end) and
// `flowlake edge` (shipping its spool over the tunnel) run as processes;
// IPFIX records numbered in octetDeltaCount flow into the edge without a
// pause, and in each trial the edge, the core or both are killed with
// SIGKILL at a random point during an upload (while a segment is being
// received or published: the core's temporary file of the segments
// service exists, plus a random 0–5 ms), then restarted. At the end every
// row an edge's status acknowledged before its kill is in the core's lake
// exactly once, and no row is there twice. 20 trials; 100 with
// FLOWLAKE_TUNNEL_KILL_TRIALS=100 (docs/benchmarks.md).
func TestTunnelKillExactlyOnce(t *testing.T) {
	skipShort(t, "runs core and edge processes for tens of seconds")
	trials := 20
	if v := os.Getenv(tunnelKillTrialsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", tunnelKillTrialsEnv, v)
		}
		trials = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(tunnelKillSeedEnv); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want a number", tunnelKillSeedEnv, v)
		}
		seed = n
	}
	t.Logf("%d trials, seed %d (%s=%d replays the choices)", trials, seed, tunnelKillSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, 15))
	began := time.Now()

	tmp := t.TempDir()
	certFile, keyFile := writeTunnelCert(t, tmp, "127.0.0.1")
	metaEnv := "FLOWLAKE_META_DSN=" + filepath.Join(tmp, "meta.db")
	const serial = "SN-KILL"
	out, stderr, code := runCLI(t, []string{metaEnv}, "edge", "admit", serial, "--data", filepath.Join(tmp, "admin"), "--json")
	var adm EdgeAdmitted
	if code != 0 || json.Unmarshal([]byte(out), &adm) != nil {
		t.Fatalf("edge admit: exit %d: %s %s", code, out, stderr)
	}
	enrollFile := filepath.Join(tmp, "enroll")
	if err := os.WriteFile(enrollFile, []byte(adm.Enroll+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// The core. Each life gets a TMPDIR of its own: its segments service
	// spools an upload there while receiving and publishing it, which is
	// how the test sees an upload in progress (a killed core leaves its
	// files behind).
	data := filepath.Join(tmp, "lake")
	core := &coreProcess{name: "core", auth: freePort(t, "tcp"), conn: freePort(t, "tcp"), http: freePort(t, "tcp")}
	core.args = []string{"serve", "--data", data, "--listen", fmt.Sprintf("127.0.0.1:%d", core.http), "--log-level", "info",
		"--netflow-listen=", "--ipfix-listen=", "--sflow-listen="}
	coreLife, retries, duplicates := 0, 0, 0
	coreTmp := func() string { return filepath.Join(tmp, fmt.Sprintf("core-tmp-%d", coreLife)) }
	startCoreLife := func() {
		coreLife++
		if err := os.Mkdir(coreTmp(), 0o755); err != nil {
			t.Fatal(err)
		}
		core.env = []string{metaEnv, "TMPDIR=" + coreTmp(), "FLOWLAKE_TUNNEL_CORE_CERT_FILE=" + certFile, "FLOWLAKE_TUNNEL_CORE_KEY_FILE=" + keyFile,
			fmt.Sprintf("FLOWLAKE_TUNNEL_CORE_AUTH_LISTEN=127.0.0.1:%d", core.auth), fmt.Sprintf("FLOWLAKE_TUNNEL_CORE_CONN_LISTEN=127.0.0.1:%d", core.conn)}
		core.start(t)
	}
	killCore := func() {
		core.kill()
		// Uploads the core answered "already in the lake": retries after
		// a kill that hit between publishing and the edge's deletion.
		retries += strings.Count(core.log.String(), "already in the lake (a retry)")
		duplicates += strings.Count(core.log.String(), "under another id")
	}
	startCoreLife()
	t.Cleanup(core.kill)

	// The edge: batches of up to 1000 rows or 100 ms, shipped over the
	// tunnel as soon as they are spooled.
	udpPort, statusPort := freePort(t, "udp"), freePort(t, "tcp")
	spool := filepath.Join(tmp, "spool")
	cfgFile := filepath.Join(tmp, "edge.yaml")
	cfgYAML := fmt.Sprintf(`edge:
  netflow_listen: ["127.0.0.1:%d"]
  ipfix_listen: []
  sflow_listen: []
  workers: 1
  sockets_per_address: 1
  batch_rows: 1000
  batch_age: 100ms
  status_listen: 127.0.0.1:%d
  spool: {dir: %q}
  ship: {interval: 100ms, backoff_min: 20ms, backoff_max: 200ms, timeout: 10s}
tunnel:
  edge:
    serial: %s
    enroll_file: %q
    ca_file: %q
    primary: "127.0.0.1:%d"
`, udpPort, statusPort, spool, serial, enrollFile, certFile, core.auth)
	if err := os.WriteFile(cfgFile, []byte(cfgYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	statusURL := fmt.Sprintf("http://127.0.0.1:%d", statusPort)
	var edgeCmd *exec.Cmd
	var edgeLog *bytes.Buffer
	startEdgeLife := func() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEdgeHelperProcess$")
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		cmd.Env = append(os.Environ(), edgeHelperEnv+"="+strings.Join([]string{"edge", "--config", cfgFile, "--log-level", "warn"}, "\x1f"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := edge.FetchStatus(t.Context(), statusURL); err == nil {
				break
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("edge did not come up: %s", log.String())
			}
		}
		edgeCmd, edgeLog = cmd, &log
	}
	killEdge := func() {
		if err := edgeCmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = edgeCmd.Wait()
	}
	t.Cleanup(func() {
		if edgeCmd != nil && edgeCmd.ProcessState == nil {
			_ = edgeCmd.Process.Kill()
			_ = edgeCmd.Wait()
		}
	})
	status := func() (edge.Status, error) {
		st, err := edge.FetchStatus(t.Context(), statusURL)
		if err == nil && (st.Drops["queue"] != 0 || st.Drops["spool_full"] != 0 || st.Drops["write"] != 0 || st.Drops["rejected"] != 0) {
			killEdge() // its log is read once it is gone
			t.Fatalf("the edge dropped or had refused rows (the acknowledged rows would not be a prefix, or were lost): %v\n%s", st.Drops, edgeLog)
		}
		return st, err
	}

	// The exporter: an unconnected socket (a connected one would stop at
	// the port-unreachable of a killed edge), ten numbered records a
	// datagram, templates every 20 datagrams and first after an edge start.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	exporter := writerTo{pc, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: udpPort}}
	const per = 10
	next := uint64(1)
	var x ipfix
	sending := func() (stop func() (last uint64)) {
		quit, done := make(chan struct{}), make(chan uint64)
		go func() {
			for n := 0; ; n++ {
				select {
				case <-quit:
					done <- next - 1
					return
				default:
				}
				if n%20 == 0 {
					_, _ = exporter.Write(x.template())
				}
				_, _ = exporter.Write(x.data(next, per))
				next += per
				time.Sleep(time.Millisecond)
			}
		}()
		return func() uint64 { close(quit); return <-done }
	}

	var runs []edgeRun
	startEdgeLife()
	x = ipfix{}
	runs = append(runs, edgeRun{base: next})
	stopSending := sending()

	// uploadInProgress polls the edge's status (keeping the run's
	// acknowledged rows) until the core holds an upload's temporary file.
	uploadInProgress := func(trial int) {
		t.Helper()
		cur := &runs[len(runs)-1]
		var polled time.Time
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Microsecond) {
			if time.Since(polled) > 20*time.Millisecond {
				if st, err := status(); err == nil {
					cur.acked = max(cur.acked, st.RowsAcknowledged)
				}
				polled = time.Now()
			}
			if ents, _ := os.ReadDir(coreTmp()); len(ents) > 0 && slicesAny(ents, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), "flowlake-tunnel-") }) {
				return
			}
			if time.Now().After(deadline) {
				st, _ := status()
				core.kill() // its log is read once it is gone
				t.Fatalf("trial %d: no upload reached the core in a minute: edge %+v\ncore log:\n%s", trial, st, core.log.String())
			}
		}
	}

	kills := map[string]int{}
	for trial := 1; trial <= trials; trial++ {
		victim := []string{"edge", "core", "both"}[rng.IntN(3)]
		uploadInProgress(trial)
		time.Sleep(time.Duration(rng.IntN(5000)) * time.Microsecond)
		kills[victim]++
		switch victim {
		case "edge":
			killEdge()
		case "core":
			killCore()
		case "both":
			if rng.IntN(2) == 0 {
				killEdge()
				killCore()
			} else {
				killCore()
				killEdge()
			}
		}
		if victim != "core" { // the edge's run ends; rows sent to a dead edge are lost upstream
			runs[len(runs)-1].last = stopSending()
		}
		if victim != "edge" {
			startCoreLife()
		}
		if victim != "core" {
			startEdgeLife()
			x = ipfix{}
			runs = append(runs, edgeRun{base: next})
			stopSending = sending()
		}
	}

	// The last run: everything sent is acknowledged and shipped.
	cur := &runs[len(runs)-1]
	cur.last = stopSending()
	var st edge.Status
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, err = status()
		if err == nil && st.RowsAcknowledged == cur.last-cur.base+1 && st.SpoolSegments == 0 {
			break
		}
		if time.Now().After(deadline) {
			killEdge() // its log is read once it is gone
			t.Fatalf("the last run did not ship everything: %+v (sent %d rows)\nedge log: %s", st, cur.last-cur.base+1, edgeLog)
		}
	}
	cur.acked = st.RowsAcknowledged
	if err := edgeCmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := edgeCmd.Wait(); err != nil {
		t.Errorf("edge exited: %v\n%s", err, edgeLog)
	}
	killCore()

	// The lake: every acknowledged row once, no row twice, nothing unsent.
	cfg := lake.DefaultConfig()
	cfg.Root = data
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	segs, err := l.Segments(t.Context(), schema.Flows, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]int{}
	for _, s := range segs {
		rows, err := lake.Read[schema.Flow](t.Context(), l, s)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			seen[r.Bytes]++
		}
	}
	var acked, sent, twice, missing, unknown uint64
	for _, r := range runs {
		acked += r.acked
		sent += r.last - r.base + 1
		for seq := r.base; seq < r.base+r.acked; seq++ {
			if seen[seq] == 0 {
				missing++
			}
		}
	}
	for seq, n := range seen {
		if n > 1 {
			twice++
		}
		if !slicesAny(runs, func(r edgeRun) bool { return seq >= r.base && seq <= r.last }) {
			unknown++
		}
	}
	t.Logf("%d trials in %s (kills: %d edge, %d core, %d both; %d edge lives, %d core lives): %d rows sent, %d acknowledged, %d in the lake in %d segments; %d uploads answered as retries, %d as duplicates of another id",
		trials, time.Since(began).Round(time.Millisecond), kills["edge"], kills["core"], kills["both"], len(runs), coreLife, sent, acked, len(seen), len(segs), retries, duplicates)
	if twice != 0 || missing != 0 || unknown != 0 {
		t.Errorf("%d rows in the lake twice, %d acknowledged rows missing, %d rows never sent", twice, missing, unknown)
	}
}

// slicesAny reports whether f holds for an element of s.
func slicesAny[E any](s []E, f func(E) bool) bool {
	for _, e := range s {
		if f(e) {
			return true
		}
	}
	return false
}
