package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowlake/flowlake/edge"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/schema"
)

// edgeHelperEnv carries the arguments of `flowlake` for the helper
// process, separated by \x1f.
const edgeHelperEnv = "FLOWLAKE_EDGE_HELPER"

// TestEdgeHelperProcess is not a test: TestEdgeCrashExactlyOnce runs this
// test binary with FLOWLAKE_EDGE_HELPER set, making it `flowlake edge` in
// a process of its own that it can SIGKILL.
func TestEdgeHelperProcess(t *testing.T) {
	args := os.Getenv(edgeHelperEnv)
	if args == "" {
		t.Skip("helper process of TestEdgeCrashExactlyOnce")
	}
	os.Exit(Main(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writerTo writes datagrams to one address from an unconnected socket.
type writerTo struct {
	pc  net.PacketConn
	dst net.Addr
}

func (w writerTo) Write(b []byte) (int, error) { return w.pc.WriteTo(b, w.dst) }

// ipfix builds IPFIX messages whose records carry a sequence number in
// octetDeltaCount, so every row in the lake says which record it was.
type ipfix struct{ records uint32 }

func (x *ipfix) template() []byte {
	fields := [][2]uint16{{8, 4}, {12, 4}, {1, 8}, {2, 8}, {4, 1}, {152, 8}}
	rec := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 256), uint16(len(fields)))
	for _, f := range fields {
		rec = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(rec, f[0]), f[1])
	}
	return x.message(2, rec)
}

func (x *ipfix) data(first uint64, n int) []byte {
	var recs []byte
	now := uint64(time.Now().UnixMilli())
	for i := range n {
		recs = append(recs, 10, 0, 0, 1, 10, 0, 0, 2)
		recs = binary.BigEndian.AppendUint64(recs, first+uint64(i))
		recs = binary.BigEndian.AppendUint64(recs, 1)
		recs = append(recs, 17)
		recs = binary.BigEndian.AppendUint64(recs, now)
	}
	m := x.message(256, recs)
	x.records += uint32(n)
	return m
}

func (x *ipfix) message(set uint16, body []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, 10)
	b = binary.BigEndian.AppendUint16(b, uint16(16+4+len(body)))
	b = binary.BigEndian.AppendUint32(b, uint32(time.Now().Unix()))
	b = binary.BigEndian.AppendUint32(b, x.records)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint16(b, set)
	b = binary.BigEndian.AppendUint16(b, uint16(4+len(body)))
	return append(b, body...)
}

// TestEdgeCrashExactlyOnce runs `flowlake edge` as a subprocess shipping to
// a real `flowlake serve`, and checks the acceptance criteria of remote
// ingestion:
//   - core down for a while: the edge spools (upload failures counted) and
//     ships everything when the core returns;
//   - SIGKILL mid-stream and restart: every row acknowledged before the
//     kill (rows_acknowledged: its segment durable in the spool) is in the
//     lake exactly once, and no row is there twice.
func TestEdgeCrashExactlyOnce(t *testing.T) {
	skipShort(t, "runs subprocesses for several seconds")
	dir := t.TempDir()
	data := filepath.Join(dir, "core")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	// The edge's token: a user whose role holds only ingest.write, named
	// like the edge (an unbound token uploads for that edge only).
	if _, err := openTestMeta(t, data).CreateRole(t.Context(), meta.Role{Name: "edge", Permissions: []meta.Permission{meta.PermIngestWrite}}); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, nil, "user", "add", "--name", "crash-edge", "--role", "edge", "--token", "--json", "--data", data, "--log-level", "warn")
	var added UserAdded
	if code != 0 || json.Unmarshal([]byte(out), &added) != nil {
		t.Fatalf("user add: %d %s %s", code, out, errOut)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(added.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// The core: `flowlake serve` without an embedded edge, on a fixed port
	// so it can come back where the edge expects it.
	corePort := freePort(t, "tcp")
	startCore := func() (stop func()) {
		ctx, cancel := context.WithCancel(t.Context())
		up := make(chan net.Addr, 1)
		done := make(chan int, 1)
		var stderr bytes.Buffer
		go func() {
			done <- run(ctx, []string{"serve", "--data", data, "--listen", fmt.Sprintf("127.0.0.1:%d", corePort), "--log-level", "warn",
				"--netflow-listen=", "--ipfix-listen=", "--sflow-listen="}, &bytes.Buffer{}, &stderr, hooks{onListen: func(a net.Addr) { up <- a }})
		}()
		select {
		case <-up:
		case c := <-done:
			t.Fatalf("serve exited %d: %s", c, stderr.String())
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not listen")
		}
		return func() {
			cancel()
			if c := <-done; c != 0 {
				t.Errorf("serve exited %d: %s", c, stderr.String())
			}
		}
	}

	udpPort, statusPort := freePort(t, "udp"), freePort(t, "tcp")
	spool := filepath.Join(dir, "spool")
	cfgFile := filepath.Join(dir, "edge.yaml")
	cfgYAML := fmt.Sprintf(`edge:
  id: crash-edge
  netflow_listen: ["127.0.0.1:%d"]
  ipfix_listen: []
  sflow_listen: []
  workers: 1
  sockets_per_address: 1
  batch_rows: 500
  batch_age: 100ms
  status_listen: 127.0.0.1:%d
  spool: {dir: %q}
  ship: {url: "http://127.0.0.1:%d", token_file: %q, interval: 100ms, backoff_min: 50ms, backoff_max: 300ms, timeout: 10s}
`, udpPort, statusPort, spool, corePort, tokenFile)
	if err := os.WriteFile(cfgFile, []byte(cfgYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	statusURL := fmt.Sprintf("http://127.0.0.1:%d", statusPort)
	startEdge := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEdgeHelperProcess$")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		cmd.Env = append(os.Environ(), edgeHelperEnv+"="+strings.Join([]string{"edge", "--config", cfgFile, "--log-level", "warn"}, "\x1f"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := fetchEdgeStatus(t.Context(), statusURL); err == nil {
				return cmd, &stderr
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				t.Fatalf("edge did not come up: %s", stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	status := func() edge.Status {
		st, err := fetchEdgeStatus(t.Context(), statusURL)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	waitStatus := func(what string, cond func(edge.Status) bool) edge.Status {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			st := status()
			if cond(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: %+v", what, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Unconnected, like an exporter: a connected socket would report the
	// ICMP port-unreachable of a killed edge on its next write and drop it.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: udpPort}
	conn := writerTo{pc, dst}
	const per = 10
	var x ipfix
	next := uint64(1) // the next sequence number to send
	sendN := func(n int) {
		for range n {
			if x.records%(50*per) == 0 {
				_, _ = conn.Write(x.template())
			}
			_, _ = conn.Write(x.data(next, per))
			next += per
			time.Sleep(500 * time.Microsecond)
		}
	}

	stopCore := startCore()
	edge1, log1 := startEdge()
	sendN(300)
	waitStatus("the first rows shipped", func(s edge.Status) bool { return s.RowsShipped > 0 })

	// The core goes down; the edge keeps receiving and spools.
	stopCore()
	sendN(300)
	waitStatus("uploads failing while the core is down", func(s edge.Status) bool { return s.UploadFailures > 0 })

	// killMidStream SIGKILLs the edge while datagrams keep coming, and
	// returns how many rows of this run it had acknowledged and the last
	// sequence number sent.
	killMidStream := func(cmd *exec.Cmd, ready func(edge.Status) bool) (acked, last uint64, st edge.Status) {
		t.Helper()
		stopSending := make(chan struct{})
		sent := make(chan uint64)
		go func() {
			defer func() { sent <- next - 1 }()
			for {
				select {
				case <-stopSending:
					return
				default:
					sendN(1)
				}
			}
		}()
		st = waitStatus("the moment to kill", ready)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		close(stopSending)
		last = <-sent
		if st.Drops["queue"] != 0 || st.Drops["spool_full"] != 0 || st.Drops["write"] != 0 {
			t.Fatalf("drops before the kill: %v (the acknowledged rows would not be a prefix)", st.Drops)
		}
		return st.RowsAcknowledged, last, st
	}

	// Kill 1, core down: what waits in the spool ships after the restart.
	acked1, last1, st := killMidStream(edge1, func(s edge.Status) bool { return s.RowsAcknowledged >= 7000 })
	t.Logf("kill 1 (core down): %d rows sent, %d acknowledged, %d shipped, %d segments spooled, %d upload failures",
		last1, acked1, st.RowsShipped, st.SpoolSegments, st.UploadFailures)
	if acked1 <= st.RowsShipped {
		t.Errorf("nothing waited in the spool at the kill: acknowledged %d, shipped %d", acked1, st.RowsShipped)
	}

	// Restart the edge, then the core; kill 2 while the edge ships (an
	// upload the core published but the edge never saw acknowledged is
	// sent again and must not count twice).
	edge2, _ := startEdge()
	stopCore = startCore()
	const base2, base3 = 10_000_001, 20_000_001
	next, x = base2, ipfix{} // the exporter restarts too: templates first
	acked2, last2, st := killMidStream(edge2, func(s edge.Status) bool {
		return s.RowsShipped > uint64(acked1-st.RowsShipped) && s.RowsAcknowledged >= 2000
	})
	t.Logf("kill 2 (core up): %d rows of this run sent, %d acknowledged; %d rows shipped, %d segments spooled",
		last2-base2+1, acked2, st.RowsShipped, st.SpoolSegments)

	edge3, log3 := startEdge()
	next, x = base3, ipfix{}
	sendN(50)
	st = waitStatus("the spool shipped", func(s edge.Status) bool {
		return s.SpoolSegments == 0 && s.RowsAcknowledged == 50*per && s.RowsShipped >= 50*per
	})
	if err := edge3.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := edge3.Wait(); err != nil {
		t.Errorf("edge exited: %v\n%s", err, log3)
	}
	stopCore()
	t.Logf("run 3: %d rows shipped in %d segments", st.RowsShipped, st.SegmentsShipped)

	// The lake: each row at most once, every acknowledged row present.
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
	dups, missing := 0, 0
	sentRange := func(seq uint64) bool {
		return seq >= 1 && seq <= last1 || seq >= base2 && seq <= last2 || seq >= base3 && seq < base3+50*per
	}
	for seq, n := range seen {
		if n > 1 {
			dups++
		}
		if !sentRange(seq) {
			t.Errorf("row %d in the lake was never sent", seq)
		}
	}
	for _, r := range [][2]uint64{{1, acked1}, {base2, base2 + acked2 - 1}, {base3, base3 + 50*per - 1}} {
		for seq := r[0]; seq <= r[1]; seq++ {
			if seen[seq] == 0 {
				missing++
			}
		}
	}
	if dups != 0 || missing != 0 {
		t.Errorf("%d rows duplicated, %d acknowledged rows missing\nedge log:\n%s", dups, missing, log1)
	}
	var lost uint64
	for seq := uint64(1); seq <= last1; seq++ {
		if seen[seq] == 0 {
			lost++
		}
	}
	for seq := uint64(base2); seq <= last2; seq++ {
		if seen[seq] == 0 {
			lost++
		}
	}
	t.Logf("%d rows in the lake, none twice; %d rows sent but never acknowledged (in memory or socket buffers at a kill) are missing", len(seen), lost)
}

// TestEdgeMemoryLimit runs `flowlake edge` in a process of its own and
// reads the Go runtime's memory limit from its /metrics: edge.memory_limit
// sets it, and a GOMEMLIMIT environment variable wins over the setting.
// It also checks that the profiler is served there only when
// edge.status_pprof asks for it.
func TestEdgeMemoryLimit(t *testing.T) {
	skipShort(t, "runs subprocesses")
	tests := []struct {
		name    string
		setting string // edge.memory_limit in the configuration file ("" for the default)
		env     string // GOMEMLIMIT
		pprof   bool   // edge.status_pprof
		want    int64
	}{
		{name: "default", want: edge.DefaultConfig().MemoryLimit},
		{name: "pprof", pprof: true, want: edge.DefaultConfig().MemoryLimit},
		{name: "setting", setting: "67108864", want: 64 << 20},
		{name: "GOMEMLIMIT wins", setting: "67108864", env: "80MiB", want: 80 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			statusPort := freePort(t, "tcp")
			tokenFile := filepath.Join(dir, "token")
			if err := os.WriteFile(tokenFile, []byte("flk_unused\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := fmt.Sprintf(`edge:
  netflow_listen: ["127.0.0.1:0"]
  ipfix_listen: []
  sflow_listen: []
  status_listen: 127.0.0.1:%d
  spool: {dir: %q}
  ship: {url: "http://127.0.0.1:1", token_file: %q}
`, statusPort, filepath.Join(dir, "spool"), tokenFile)
			if tc.setting != "" {
				cfg += "  memory_limit: " + tc.setting + "\n"
			}
			if tc.pprof {
				cfg += "  status_pprof: true\n"
			}
			cfgFile := filepath.Join(dir, "edge.yaml")
			if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestEdgeHelperProcess$")
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stderr, &stderr
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, "FLOWLAKE_") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, edgeHelperEnv+"="+strings.Join([]string{"edge", "--config", cfgFile, "--log-level", "warn"}, "\x1f"))
			if tc.env != "" {
				cmd.Env = append(cmd.Env, "GOMEMLIMIT="+tc.env)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				if err := cmd.Wait(); err != nil {
					t.Errorf("edge exited: %v\n%s", err, stderr.String())
				}
			}()
			url := fmt.Sprintf("http://127.0.0.1:%d%s", statusPort, edgeMetricsPath)
			var metrics string
			deadline := time.Now().Add(20 * time.Second)
			for {
				if resp, err := http.Get(url); err == nil {
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode == http.StatusOK {
						metrics = string(b)
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("edge did not serve %s:\n%s", url, stderr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			m := regexp.MustCompile(`(?m)^go_gc_gomemlimit_bytes (\S+)$`).FindStringSubmatch(metrics)
			if m == nil {
				t.Fatalf("no go_gc_gomemlimit_bytes in /metrics:\n%s", metrics)
			}
			got, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			if int64(got) != tc.want {
				t.Errorf("memory limit %d, want %d", int64(got), tc.want)
			}
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?debug=1", statusPort))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[tc.pprof]; resp.StatusCode != want {
				t.Errorf("GET /debug/pprof/heap: %s, want %d", resp.Status, want)
			}
		})
	}
}
