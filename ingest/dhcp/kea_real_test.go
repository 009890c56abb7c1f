package dhcp

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// TestKeaRealLeaseFile runs Debian's kea-dhcp4 with a memfile lease
// database and busybox's udhcpc in two network namespaces: the client takes
// a lease, renews it, and releases it on exit. Kea's own kea-leases4.csv
// then imports to one span with the client's MAC, client id and host name,
// its renewal merged, ended by the release. Skips without root or the
// tools, fails under CI=true.
func TestKeaRealLeaseFile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs kea-dhcp4 and udhcpc")
	}
	if os.Geteuid() != 0 {
		mustGate(t, "network namespaces need root")
	}
	ipCmd, kea, udhcpc := needTool(t, "ip"), needTool(t, "kea-dhcp4"), needTool(t, "udhcpc")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const mac = "02:00:00:78:00:01"
	srvNS, cliNS, vs, vc := netPair(ctx, t, ipCmd, "k", mac, "10.78.0.1/24")

	leases := filepath.Join(dir, "kea-leases4.csv")
	conf := filepath.Join(dir, "kea-dhcp4.conf")
	cfg := fmt.Sprintf(`{"Dhcp4": {
  "interfaces-config": {"interfaces": [%q], "dhcp-socket-type": "raw"},
  "lease-database": {"type": "memfile", "persist": true, "name": %q, "lfc-interval": 0},
  "valid-lifetime": 600, "renew-timer": 300, "rebind-timer": 525,
  "subnet4": [{"id": 1, "subnet": "10.78.0.0/24", "pools": [{"pool": "10.78.0.50 - 10.78.0.60"}]}],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "stdout"}], "severity": "INFO"}]
}}`, vs, leases)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var srvLog syncBuffer
	srv := exec.CommandContext(ctx, ipCmd, "netns", "exec", srvNS, kea, "-c", conf)
	srv.Env = append(os.Environ(), "KEA_PIDFILE_DIR="+dir, "KEA_LOCKFILE_DIR=none")
	srv.Stdout, srv.Stderr = &srvLog, &srvLog
	if err := srv.Start(); err != nil {
		t.Fatalf("start kea-dhcp4: %v", err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
	})
	script, boundTimes := udhcpcScript(t, dir)
	// Take a lease (quit); take it again (a renewal of the same binding)
	// and stay up until SIGTERM, on which the client releases it (-R).
	client := func(extra ...string) *exec.Cmd {
		args := append([]string{"netns", "exec", cliNS, udhcpc, "-i", vc, "-f", "-t", "10", "-T", "1",
			"-x", "hostname:kea-test", "-s", script}, extra...)
		return exec.CommandContext(ctx, ipCmd, args...)
	}
	if out, err := client("-n", "-q").CombinedOutput(); err != nil {
		t.Fatalf("udhcpc: %v: %s\nkea: %s", err, out, srvLog.String())
	}
	bg := client("-R")
	if err := bg.Start(); err != nil {
		t.Fatalf("start udhcpc: %v", err)
	}
	for (strings.Count(srvLog.String(), "DHCP4_LEASE_ALLOC") < 2 || boundTimes() < 2) && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	_ = bg.Process.Signal(syscall.SIGTERM)
	_ = bg.Wait()
	var f *LeaseFile
	var text string
	for ctx.Err() == nil { // Kea appends the release's row (valid_lifetime 0) when the RELEASE arrives: wait for it
		b, err := os.ReadFile(leases)
		if err == nil {
			text = string(b)
			if strings.Count(text, "\n") >= 4 {
				if f, err = ParseKeaCSV(bytes.NewReader(b), leases, "kea"); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	if f == nil {
		t.Fatalf("kea's lease file %q\nkea: %s", text, srvLog.String())
	}
	tr := NewLeaseTracker(schema.LeaseSourceKeaCSV, "import")
	var spans []schema.DHCPLease
	for i := range f.Events {
		spans = tr.Observe(&f.Events[i], spans)
	}
	if len(spans) != 1 || tr.Len() != 0 {
		t.Fatalf("spans %+v, %d open; want one, released\nfile:\n%s", spans, tr.Len(), text)
	}
	s := spans[0]
	if s.CHAddr.String() != mac || s.Hostname != "kea-test" || s.EndReason != schema.LeaseReleased ||
		s.Renewals != 1 || s.LeaseTime != 600 || !strings.HasPrefix(s.Address.String(), "10.78.0.") || s.ClientID == "" {
		t.Errorf("span %+v\nfile:\n%s", s, text)
	}
}
