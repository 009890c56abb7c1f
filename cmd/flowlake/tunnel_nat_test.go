package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowlake/flowlake/api/tunnelcore"
)

// requireTools skips the test when a tool or root is missing, unless
// CI=true, where it fails: CI installs every tool of .ci/run.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root"
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			why = "needs " + tool
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// natLab is an edge network behind a masquerading NAT router, each in
// its own network namespace, the router's conntrack forgetting idle TCP
// connections after a short timeout and dropping the packets of
// connections it forgot (as home and carrier NATs do). The core side of
// the router is a veth in the test's own namespace, so the core runs in
// the test process.
type natLab struct {
	edgeNS, routerNS string
	coreAddr         string // the core's address, on the test's side
}

// run runs a command, failing the test with its output.
func run1(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

func newNATLab(t *testing.T, conntrackTimeout time.Duration) *natLab {
	t.Helper()
	id := os.Getpid() % 10000
	n := os.Getpid()%200 + 20
	lab := &natLab{edgeNS: fmt.Sprintf("fltn%d-e", id), routerNS: fmt.Sprintf("fltn%d-r", id), coreAddr: fmt.Sprintf("10.232.%d.2", n)}
	veth := func(s string) string { return fmt.Sprintf("fltn%d%s", id, s) }
	t.Cleanup(func() {
		for _, ns := range []string{lab.edgeNS, lab.routerNS} { // the router's end of the core link goes with it
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
		_ = exec.Command("ip", "link", "del", veth("c")).Run()
	})
	run1(t, "ip", "netns", "add", lab.edgeNS)
	run1(t, "ip", "netns", "add", lab.routerNS)
	run1(t, "ip", "link", "add", veth("e"), "type", "veth", "peer", "name", veth("r0"))
	run1(t, "ip", "link", "set", veth("e"), "netns", lab.edgeNS)
	run1(t, "ip", "link", "set", veth("r0"), "netns", lab.routerNS)
	run1(t, "ip", "link", "add", veth("c"), "type", "veth", "peer", "name", veth("r1"))
	run1(t, "ip", "link", "set", veth("r1"), "netns", lab.routerNS)
	for _, c := range [][]string{
		{"-n", lab.edgeNS, "link", "set", "lo", "up"},
		{"-n", lab.edgeNS, "addr", "add", fmt.Sprintf("10.231.%d.2/24", n), "dev", veth("e")},
		{"-n", lab.edgeNS, "link", "set", veth("e"), "up"},
		{"-n", lab.edgeNS, "route", "add", "default", "via", fmt.Sprintf("10.231.%d.1", n)},
		{"-n", lab.routerNS, "link", "set", "lo", "up"},
		{"-n", lab.routerNS, "addr", "add", fmt.Sprintf("10.231.%d.1/24", n), "dev", veth("r0")},
		{"-n", lab.routerNS, "addr", "add", fmt.Sprintf("10.232.%d.1/24", n), "dev", veth("r1")},
		{"-n", lab.routerNS, "link", "set", veth("r0"), "up"},
		{"-n", lab.routerNS, "link", "set", veth("r1"), "up"},
		{"addr", "add", lab.coreAddr + "/24", "dev", veth("c")},
		{"link", "set", veth("c"), "up"},
	} {
		run1(t, "ip", c...)
	}
	// Masquerade towards the core; drop what conntrack does not know
	// (tcp_loose 0: a mid-stream packet of a forgotten connection is
	// invalid, not a new connection); forget idle connections quickly.
	rules := fmt.Sprintf(`table ip fltn {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "%s" masquerade
	}
	chain forgotten {
		type filter hook forward priority filter; policy accept;
		ct state invalid counter drop
	}
}
`, veth("r1"))
	cmd := exec.Command("ip", "netns", "exec", lab.routerNS, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	secs := fmt.Sprint(int(conntrackTimeout / time.Second))
	run1(t, "ip", "netns", "exec", lab.routerNS, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
		"net.netfilter.nf_conntrack_tcp_loose=0",
		"net.netfilter.nf_conntrack_tcp_timeout_established="+secs,
		"net.netfilter.nf_conntrack_udp_timeout="+secs,
		"net.netfilter.nf_conntrack_udp_timeout_stream="+secs)
	return lab
}

// invalidDropped is the count of packets the router dropped as invalid.
func (l *natLab) invalidDropped(t *testing.T) string {
	out, _ := exec.Command("ip", "netns", "exec", l.routerNS, "nft", "list", "chain", "ip", "fltn", "forgotten").CombinedOutput()
	if i := strings.Index(string(out), "counter packets "); i >= 0 {
		return strings.Fields(string(out)[i+len("counter packets "):])[0]
	}
	return "?"
}

// TestTunnelPingThroughNAT: two `flowlake edge` processes in a network
// namespace behind a masquerading NAT router (nftables, conntrack TCP
// timeout 15 s, forgotten connections' packets dropped) hold tunnels to a
// core. Both send keepalives every 30 s, longer than the NAT remembers an
// idle connection. The edge pinging every 10 s keeps its tunnel through
// the idle periods: one tunnel all along, no down reason. The edge that
// does not ping (600 s) loses its NAT entry: its next keepalive is
// dropped at the router and it records "Keepalive expired", then
// registers again.
func TestTunnelPingThroughNAT(t *testing.T) {
	requireTools(t, "ip", "nft", "sysctl")
	skipShort(t, "waits through NAT timeouts for about a minute")
	const conntrackTimeout = 15 * time.Second
	lab := newNATLab(t, conntrackTimeout)
	tmp := t.TempDir()
	srvTLS, _ := selfSigned(t, lab.coreAddr)
	store := openScratchMeta(t)
	cfg := tunnelcore.DefaultConfig()
	cfg.AuthListen, cfg.ConnListen = lab.coreAddr+":0", lab.coreAddr+":0"
	core := startCore(t, "core", tunnelcore.Deps{Admissions: store, TLS: srvTLS}, cfg)
	events := core.srv.Watch(t.Context())
	caFile := filepath.Join(tmp, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvTLS.Certificates[0].Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}

	type natEdge struct {
		serial, spool string
		cmd           *exec.Cmd
		log           *bytes.Buffer
	}
	start := func(serial string, ping time.Duration) *natEdge {
		enroll, err := store.AdmitEdge(t.Context(), serial, "test")
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(tmp, serial)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		write := func(name, text string) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		e := &natEdge{serial: serial, spool: filepath.Join(dir, "spool"), log: &bytes.Buffer{}}
		cfgFile := write("edge.yaml", fmt.Sprintf(`edge:
  id: %s
  netflow_listen: ["127.0.0.1:0"]
  ipfix_listen: []
  sflow_listen: []
  status_listen: ""
  spool: {dir: %q}
  ship: {url: "http://127.0.0.1:1", token_file: %q}
tunnel:
  edge:
    serial: %s
    enroll_file: %q
    ca_file: %q
    primary: "%s:%d"
    keepalive_interval: 30s
    keepalive_count: 1
    ping_interval: %s
`, serial, e.spool, write("token", "flk_unused\n"), serial, write("enroll", enroll+"\n"), caFile, lab.coreAddr, core.auth, ping))
		e.cmd = exec.Command("ip", "netns", "exec", lab.edgeNS, os.Args[0], "-test.run=^TestEdgeHelperProcess$")
		e.cmd.Stdout, e.cmd.Stderr = e.log, e.log
		e.cmd.Env = append(os.Environ(), edgeHelperEnv+"="+strings.Join([]string{"edge", "--config", cfgFile, "--log-level", "warn"}, "\x1f"))
		if err := e.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if e.cmd.ProcessState == nil {
				_ = e.cmd.Process.Kill()
				_ = e.cmd.Wait()
			}
		})
		return e
	}
	pinging := start("SN-PING", 10*time.Second)
	silent := start("SN-SILENT", 600*time.Second)

	// The core's events say when each tunnel comes up; the one that does
	// not ping comes up a second time after its keepalive expired. The
	// deadline is for a broken test: the expiry comes after about 60 s.
	ups := map[string]int{}
	downs := map[string][]string{}
	deadline := time.After(150 * time.Second)
	for ups["SN-SILENT"] < 2 {
		select {
		case ev := <-events:
			if ev.ConnState == "Established" {
				ups[ev.Serial]++
			} else {
				downs[ev.Serial] = append(downs[ev.Serial], ev.Detail)
			}
		case <-deadline:
			t.Fatalf("the silent edge's tunnel never came back: ups %v, downs %v, router dropped %s invalid packets; logs:\n%s\n%s",
				ups, downs, lab.invalidDropped(t), pinging.log, silent.log)
		}
	}
	if ups["SN-PING"] != 1 {
		t.Errorf("the pinging edge's tunnel came up %d times; want once: pings keep its NAT entry (downs at the core: %v)", ups["SN-PING"], downs["SN-PING"])
	}
	if held := core.srv.Edges(); len(held) != 2 {
		t.Errorf("the core holds %d tunnels, want both edges': %+v", len(held), held)
	}
	if n := lab.invalidDropped(t); n == "0" || n == "?" {
		t.Errorf("the router dropped %s packets of forgotten connections; the silent edge's keepalive should be one", n)
	}

	// Each edge's own record: stop them (SIGTERM spools their cloud_conn
	// rows) and read the rows back.
	for _, e := range []*natEdge{pinging, silent} {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		if err := e.cmd.Wait(); err != nil {
			t.Errorf("%s exited: %v: %s", e.serial, err, e.log)
		}
	}
	reasons := func(e *natEdge) []string {
		out, stderr, code := runCLI(t, nil, "query", "cloud_conn", "--data", e.spool, "--format", "json", "--columns", "last_down_reason,conn_state", "--order", "time")
		if code != 0 {
			t.Fatalf("query %s's rows: %s", e.serial, stderr)
		}
		var rows []map[string]any // JSON lines
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var r map[string]any
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("rows of %s: %v: %s", e.serial, err, out)
			}
			rows = append(rows, r)
		}
		var rs []string
		last := ""
		for _, r := range rows {
			if s, _ := r["last_down_reason"].(string); s != "" && s != last {
				rs = append(rs, s)
				last = s
			}
		}
		return rs
	}
	if got := reasons(pinging); len(got) != 1 || got[0] != "Device or process rebooted" {
		t.Errorf("the pinging edge's down reasons: %q; want only its stop", got)
	}
	if got := reasons(silent); len(got) < 1 || got[0] != "Keepalive expired" {
		t.Errorf("the silent edge's down reasons: %q; want Keepalive expired first", got)
	}
}
