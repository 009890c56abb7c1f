package dhcp

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// TestDnsmasqRealLeaseFile runs Debian's dnsmasq and busybox's udhcpc in
// two network namespaces joined by a veth pair: the client takes a lease,
// then takes it again and releases it. Each state of dnsmasq's own lease
// file, imported as a snapshot, gives the history the client lived: one
// OPEN span with its MAC, host name and address, then the same span
// RELEASEd. Skips without root or the tools, fails under CI=true.
func TestDnsmasqRealLeaseFile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs dnsmasq and udhcpc")
	}
	if os.Geteuid() != 0 {
		mustGate(t, "network namespaces need root")
	}
	ipCmd, dnsmasq, udhcpc := needTool(t, "ip"), needTool(t, "dnsmasq"), needTool(t, "udhcpc")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const mac = "02:00:00:77:00:01"
	srvNS, cliNS, vs, vc := netPair(ctx, t, ipCmd, "d", mac, "10.77.0.1/24")

	leases := filepath.Join(dir, "dnsmasq.leases")
	var srvLog syncBuffer // written by exec's copying goroutine while the test reads it
	srv := exec.CommandContext(ctx, ipCmd, "netns", "exec", srvNS, dnsmasq, "--no-daemon", "--conf-file=/dev/null",
		"--port=0", "--interface="+vs, "--bind-interfaces", "--dhcp-range=10.77.0.50,10.77.0.60,10m",
		"--dhcp-authoritative", "--dhcp-leasefile="+leases, "--pid-file="+filepath.Join(dir, "pid"), "--log-dhcp")
	srv.Stdout, srv.Stderr = &srvLog, &srvLog
	if err := srv.Start(); err != nil {
		t.Fatalf("start dnsmasq: %v", err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
	})
	// The client configures the address it is bound to (in its own
	// namespace), so its RELEASE can go unicast to the server.
	script, bound := udhcpcScript(t, dir)
	client := func(extra ...string) {
		t.Helper()
		args := append([]string{"netns", "exec", cliNS, udhcpc, "-i", vc, "-n", "-q", "-f", "-t", "10", "-T", "1",
			"-x", "hostname:lease-test", "-s", script}, extra...)
		if out, err := exec.CommandContext(ctx, ipCmd, args...).CombinedOutput(); err != nil {
			t.Fatalf("udhcpc: %v: %s\ndnsmasq: %s", err, out, srvLog.String())
		}
	}
	snapshot := func() (*LeaseFile, int64, string) {
		t.Helper()
		b, err := os.ReadFile(leases)
		if err != nil {
			t.Fatalf("read dnsmasq's lease file: %v\ndnsmasq: %s", err, srvLog.String())
		}
		at := time.Now().UnixMicro()
		f, err := ParseDnsmasq(bytes.NewReader(b), leases, "dnsmasq", at)
		if err != nil {
			t.Fatal(err)
		}
		return f, at, string(b)
	}

	client()
	first, at1, text := snapshot()
	fields := strings.Fields(text)
	if len(fields) != 5 || fields[1] != mac || fields[3] != "lease-test" {
		t.Fatalf("dnsmasq's lease file: %q", text)
	}
	tr := NewLeaseTracker(schema.LeaseSourceDnsmasq, "import")
	for _, ev := range DnsmasqDiff(nil, first, at1) {
		tr.Observe(&ev, nil)
	}
	open := tr.Open()
	if len(open) != 1 || open[0].Address.String() != fields[2] || open[0].CHAddr.String() != mac ||
		open[0].Hostname != "lease-test" || open[0].EndReason != schema.LeaseOpen ||
		open[0].EndTime/1e6 != mustInt(t, fields[0]) {
		t.Fatalf("span after the first lease: %+v (file %q)", open, text)
	}

	// The client again, staying up (renewing) until SIGTERM, on which it
	// releases the lease (-R); `ip netns exec` execs it, so the signal
	// reaches udhcpc itself.
	bg := exec.CommandContext(ctx, ipCmd, "netns", "exec", cliNS, udhcpc, "-i", vc, "-f", "-R", "-t", "10", "-T", "1",
		"-x", "hostname:lease-test", "-s", script)
	var cliLog bytes.Buffer
	bg.Stdout, bg.Stderr = &cliLog, &cliLog
	if err := bg.Start(); err != nil {
		t.Fatalf("start udhcpc: %v", err)
	}
	for strings.Count(srvLog.String(), "DHCPACK") < 2 || bound() < 2 {
		if ctx.Err() != nil {
			t.Fatalf("no second ACK: %s", srvLog.String())
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	_ = bg.Process.Signal(syscall.SIGTERM)
	_ = bg.Wait()
	second, at2, text2 := snapshot()
	for strings.TrimSpace(text2) != "" && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
		second, at2, text2 = snapshot()
	}
	if strings.TrimSpace(text2) != "" {
		t.Fatalf("dnsmasq kept the released lease: %q\ndnsmasq: %s", text2, srvLog.String())
	}
	var ended []schema.DHCPLease
	tr2 := NewLeaseTracker(schema.LeaseSourceDnsmasq, "import")
	tr2.Resume(open)
	for _, ev := range DnsmasqDiff(open, second, at2) {
		ended = tr2.Observe(&ev, ended)
	}
	if len(ended) != 1 || ended[0].EndReason != schema.LeaseReleased || ended[0].Address != open[0].Address ||
		ended[0].Time != open[0].Time || tr2.Len() != 0 {
		t.Errorf("after the release: ended %+v, %d open", ended, tr2.Len())
	}
}

// netPair makes a server and a client network namespace joined by a veth
// pair (the server's end addressed srvAddr, the client's end with MAC mac)
// and returns their names; the test's cleanup deletes them.
func netPair(ctx context.Context, t *testing.T, ipCmd, tag, mac, srvAddr string) (srvNS, cliNS, vs, vc string) {
	t.Helper()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.CommandContext(ctx, ipCmd, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	suffix := fmt.Sprintf("%s%d", tag, os.Getpid()%100000)
	srvNS, cliNS, vs, vc = "flds"+suffix, "fldc"+suffix, "fls"+suffix, "flc"+suffix
	run("netns", "add", srvNS)
	t.Cleanup(func() { _ = exec.Command(ipCmd, "netns", "del", srvNS).Run() })
	run("netns", "add", cliNS)
	t.Cleanup(func() { _ = exec.Command(ipCmd, "netns", "del", cliNS).Run() })
	run("link", "add", vs, "netns", srvNS, "type", "veth", "peer", "name", vc, "netns", cliNS)
	run("-n", cliNS, "link", "set", vc, "address", mac)
	run("-n", srvNS, "addr", "add", srvAddr, "dev", vs)
	run("-n", srvNS, "link", "set", vs, "up")
	run("-n", cliNS, "link", "set", vc, "up")
	return srvNS, cliNS, vs, vc
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}
