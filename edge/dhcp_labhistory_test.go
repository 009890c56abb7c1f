package edge

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// labHistory reads the lake's lease history of mac: every dhcp_leases
// row of the lab, each binding once (the row that saw it last, as the
// lease questions of storage/query merge them: ended over OPEN, then the
// later last ACK; edge tests may not import the engine), by start.
func labHistory(t *testing.T, lk *lake.Lake, mac string) ([]schema.DHCPLease, error) {
	t.Helper()
	ctx := context.Background()
	if err := lk.Refresh(ctx); err != nil {
		return nil, err
	}
	m, err := schema.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	segs, err := lk.Segments(ctx, schema.DHCPLeases, time.Unix(0, 0), time.Now().Add(48*time.Hour))
	if err != nil {
		return nil, err
	}
	type key struct {
		client, kind string
		addr         schema.Addr
		start        int64
	}
	latest := map[key]schema.DHCPLease{}
	for _, sg := range segs {
		rows, err := lake.Read[schema.DHCPLease](ctx, lk, sg)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if r.CHAddr != m {
				continue
			}
			k := key{r.Client, r.Kind, r.Address, r.Time}
			old, seen := latest[k]
			if !seen || old.EndReason == schema.LeaseOpen && r.EndReason != schema.LeaseOpen ||
				(old.EndReason == schema.LeaseOpen) == (r.EndReason == schema.LeaseOpen) && (r.LastAck > old.LastAck || r.LastAck == old.LastAck && r.EndTime > old.EndTime) {
				latest[k] = r
			}
		}
	}
	out := slices.Collect(maps.Values(latest))
	slices.SortFunc(out, func(a, b schema.DHCPLease) int { return cmp.Compare(a.Time, b.Time) })
	return out, nil
}

// historyAgrees checks the lease history of mac in the lake against
// dnsmasq's lease file and the client's own address: the binding still
// held (OPEN, its promised end in the future) is dnsmasq's lease of mac
// (address, expiry within 2 s, host name) and the client's address, or
// there is none on either side; the ended spans' reasons end with
// endedTail. It returns the history for further checks.
func historyAgrees(lk *lake.Lake, t *testing.T, leases map[string]dnsmasqLease, mac, clientIP string, endedTail ...string) ([]schema.DHCPLease, error) {
	t.Helper()
	hist, err := labHistory(t, lk, mac)
	if err != nil {
		return nil, err
	}
	now := time.Now().UnixMicro()
	var open []schema.DHCPLease
	var ended []string
	for _, s := range hist {
		if s.Kind != schema.LeaseKindLease {
			continue
		}
		if s.EndReason == schema.LeaseOpen && s.EndTime > now {
			open = append(open, s)
		} else {
			ended = append(ended, s.EndReason)
		}
	}
	ls, leased := leases[mac]
	switch {
	case clientIP != "" && !leased:
		return hist, fmt.Errorf("the client holds %s, dnsmasq's lease file has no lease of %s (yet)", clientIP, mac)
	case len(open) > 1:
		return hist, fmt.Errorf("%d bindings held at once: %s", len(open), spansString(open))
	case leased != (len(open) == 1):
		return hist, fmt.Errorf("dnsmasq lease %v (%+v), lake holds %s", leased, ls, spansString(open))
	case leased && open[0].Address.Netip() != ls.ip:
		return hist, fmt.Errorf("lake has %s, dnsmasq %s", open[0].Address, ls.ip)
	case leased && clientIP != "" && open[0].Address.String() != clientIP:
		return hist, fmt.Errorf("lake has %s, the client %s", open[0].Address, clientIP)
	case leased && time.UnixMicro(open[0].EndTime).Sub(ls.expires).Abs() > 2*time.Second:
		return hist, fmt.Errorf("lake expiry %s, dnsmasq %s", time.UnixMicro(open[0].EndTime), ls.expires)
	case leased && ls.hostname != "*" && open[0].Hostname != ls.hostname:
		return hist, fmt.Errorf("lake hostname %q, dnsmasq %q", open[0].Hostname, ls.hostname)
	case len(ended) < len(endedTail) || strings.Join(ended[len(ended)-len(endedTail):], ",") != strings.Join(endedTail, ","):
		return hist, fmt.Errorf("ended spans %v, want them to end with %v", ended, endedTail)
	}
	return hist, nil
}

// eventuallyHistory waits (the edge writes dhcp_leases every batch_age)
// until historyAgrees holds for mac, or fails the test naming the step.
func eventuallyHistory(t *testing.T, lk *lake.Lake, leaseFile, mac, clientIP, step string, endedTail ...string) []schema.DHCPLease {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		hist, err := historyAgrees(lk, t, readLeases(t, leaseFile), mac, clientIP, endedTail...)
		if err == nil {
			return hist
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the lake's lease history of %s disagrees with dnsmasq and the client: %v\nhistory: %s", step, mac, err, spansString(hist))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func spansString(spans []schema.DHCPLease) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "\n  %s %s %s..%s %s renewals=%d host=%q giaddr=%s circuit=%q", s.Client, s.Address,
			time.UnixMicro(s.Time).Format("15:04:05.000"), time.UnixMicro(s.EndTime).Format("15:04:05.000"), s.EndReason, s.Renewals, s.Hostname, s.GIAddr, s.CircuitID)
	}
	return b.String()
}

// dhclientLease is the last lease of an ISC dhclient lease file: the
// client's own lease state.
type dhclientLease struct {
	addr                  string
	renew, rebind, expire time.Time
}

// readDhclientLease reads the last lease block of dhclient's lease file
// (times are UTC, "expire 1 2026/12/07 20:52:33;").
func readDhclientLease(path string) (dhclientLease, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return dhclientLease{}, false
	}
	i := strings.LastIndex(string(b), "lease {")
	if i < 0 {
		return dhclientLease{}, false
	}
	var l dhclientLease
	for line := range strings.SplitSeq(string(b[i:]), "\n") {
		f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), ";"))
		if len(f) == 2 && f[0] == "fixed-address" {
			l.addr = f[1]
		}
		if len(f) == 4 && (f[0] == "renew" || f[0] == "rebind" || f[0] == "expire") {
			at, err := time.Parse("2006/01/02 15:04:05", f[2]+" "+f[3])
			if err != nil {
				continue
			}
			switch f[0] {
			case "renew":
				l.renew = at
			case "rebind":
				l.rebind = at
			case "expire":
				l.expire = at
			}
		}
	}
	return l, l.addr != "" && !l.expire.IsZero()
}

// TestDHCPLabTimers: the lease timers with real programs. dnsmasq grants
// 2-minute leases (its shortest) with T1 10 s and T2 20 s; ISC dhclient
// renews at T1 (unicast), then, with nft dropping unicast DHCP to the
// server, retries until T2 and rebinds (broadcast); busybox udhcpc on a
// second host takes a lease and is killed, so its lease expires; dhclient
// restarts believing it holds another network's address and is NAKed
// while holding its lease. At each step the lake's lease history equals
// dnsmasq's lease file and the client's own lease state (dhclient's lease
// file): one span, renewals and the rebind merged into it, ended NAK, then
// a new span; the stopped client's span EXPIRED at its expiry. About 2.5 minutes: skipped under -short outside CI.
func TestDHCPLabTimers(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("-short: the lease timers take 2.5 minutes of real time")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		mustGate(t, "the DHCP timers lab needs nft: %v", err)
	}
	lb := newLabBase(t, "sw", "srv", "cli", "cl2")
	lb.ip("-n", lb.ns("sw"), "link", "add", "br0", "type", "bridge")
	lb.ip("-n", lb.ns("sw"), "link", "set", "br0", "up")
	for _, n := range []string{"srv", "cli", "cl2"} {
		lb.ip("-n", lb.ns("sw"), "link", "add", "p-"+n, "type", "veth", "peer", "name", "eth0", "netns", lb.ns(n))
		lb.ip("-n", lb.ns("sw"), "link", "set", "p-"+n, "master", "br0", "up")
		lb.ip("-n", lb.ns(n), "link", "set", "lo", "up")
	}
	const macR, macE = "02:00:00:00:01:a1", "02:00:00:00:01:e1"
	lb.ip("-n", lb.ns("cli"), "link", "set", "eth0", "address", macR)
	lb.ip("-n", lb.ns("cl2"), "link", "set", "eth0", "address", macE)
	for _, n := range []string{"srv", "cli", "cl2"} {
		lb.ip("-n", lb.ns(n), "link", "set", "eth0", "up")
	}
	lb.ip("-n", lb.ns("srv"), "addr", "add", "10.79.0.1/24", "dev", "eth0")
	udhcpcScript, dhclientScript := lb.clientScript()
	leases := lb.dnsmasq("srv", "srv", "10.79.0.100,10.79.0.110,255.255.255.0,2m", "--dhcp-option=option:T1,10", "--dhcp-option=option:T2,20")

	lk := openLake(t)
	cfg := DefaultConfig()
	cfg.ID = "edge-timers"
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = nil, nil, nil
	cfg.DHCP.Interfaces = []string{"p-srv", "p-cli", "p-cl2"}
	cfg.DHCP.Netns = lb.netnsPath("sw")
	cfg.DHCP.Trusted = []string{"p-srv"}
	cfg.DHCP.AllowedServers = []string{"10.79.0.1"}
	cfg.DHCP.BindingsFile = filepath.Join(lb.dir, "bindings.json")
	cfg.DHCP.BatchAge = 200 * time.Millisecond
	e, err := New(cfg, Deps{Lake: lk, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()

	// The client that will expire: a lease, then killed (no RELEASE).
	exp := lb.start("udhcpc", "cl2", "busybox", "udhcpc", "-f", "-i", "eth0", "-s", udhcpcScript, "-t", "5", "-T", "1", "-A", "1", "-x", "hostname:flexp")
	eventually(t, "udhcpc bound", func() bool { n, _ := lb.countEvents("bound"); return n == 1 })
	_, ipE := lb.countEvents("bound")
	histE := eventuallyHistory(t, lk, leases, macE, ipE, "the expiring client's DORA")
	lb.stop(exp, syscall.SIGKILL)

	// dhclient: DORA, then a renewal at T1.
	conf := filepath.Join(lb.dir, "dhclient.conf")
	if err := os.WriteFile(conf, []byte("initial-interval 1;\nbackoff-cutoff 2;\nsend host-name \"flreb\";\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dl := filepath.Join(lb.dir, "dhclient.leases")
	dhclient := func(name string) *exec.Cmd {
		return lb.start(name, "cli", "dhclient", "-d", "-v", "-cf", conf, "-lf", dl, "-pf", filepath.Join(lb.dir, "dhclient.pid"), "-sf", dhclientScript, "eth0")
	}
	dh := dhclient("dhclient")
	eventually(t, "dhclient bound", func() bool { n, _ := lb.countEvents("dhclient-BOUND"); return n == 1 })
	_, ipR := lb.countEvents("dhclient-BOUND")
	// clientAgrees: the lake's last span of macR is open and is the lease
	// dhclient holds (its lease file's last lease: address and expiry).
	clientAgrees := func(step string) {
		t.Helper()
		var cl dhclientLease
		var hist []schema.DHCPLease
		deadline := time.Now().Add(15 * time.Second)
		for {
			var ok bool
			cl, ok = readDhclientLease(dl)
			hist, _ = labHistory(t, lk, macR)
			if n := len(hist); ok && n > 0 && hist[n-1].EndReason == schema.LeaseOpen && cl.addr == hist[n-1].Address.String() &&
				time.UnixMicro(hist[n-1].EndTime).Sub(cl.expire).Abs() <= 2*time.Second {
				return
			}
			if time.Now().After(deadline) {
				lf, _ := os.ReadFile(dl)
				t.Fatalf("%s: dhclient holds %s until %s, the lake %s\n%s", step, cl.addr, cl.expire, spansString(hist), lf)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	eventuallyHistory(t, lk, leases, macR, ipR, "DORA")
	clientAgrees("DORA")
	eventually(t, "dhclient renewed at T1", func() bool { n, _ := lb.countEvents("dhclient-RENEW"); return n >= 1 })
	eventually(t, "the renewal in the lake", func() bool {
		h, _ := labHistory(t, lk, macR)
		return len(h) == 1 && h[0].Renewals >= 1
	})
	hist := eventuallyHistory(t, lk, leases, macR, ipR, "renew at T1")
	clientAgrees("renew at T1")

	// Rebind: the server no longer hears unicast DHCP; the next renewal
	// fails until T2, when dhclient broadcasts (REBINDING).
	nft := func(rules string) {
		t.Helper()
		cmd := exec.Command("ip", "netns", "exec", lb.ns("srv"), "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft: %v\n%s", err, out)
		}
	}
	nft("table inet fllab {\n chain in {\n  type filter hook input priority 0;\n  ip daddr 10.79.0.1 udp dport 67 drop\n }\n}\n")
	renewals := hist[0].Renewals
	// dhclient names a rebind RENEW to its script (its state stays
	// RENEWING while it broadcasts): the rebind is the broadcast REQUEST
	// with ciaddr set, in the edge's rows, and the ACK of it.
	rebound := func() bool {
		xids := map[uint32]bool{}
		for _, r := range readDHCP(t, lk) {
			switch {
			case r.CHAddr.String() != macR:
			case r.MsgType == schema.DHCPRequest && !r.CIAddr.IsZero() && r.DstAddr.String() == "255.255.255.255":
				xids[r.XID] = true
			case r.MsgType == schema.DHCPAck && xids[r.XID]:
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(40 * time.Second)
	for !rebound() {
		if time.Now().After(deadline) {
			t.Fatalf("dhclient did not rebind; events %v", lb.events())
		}
		time.Sleep(200 * time.Millisecond)
	}
	nft("delete table inet fllab\n")
	eventually(t, "the rebind in the lake", func() bool {
		h, _ := labHistory(t, lk, macR)
		return len(h) == 1 && h[0].Renewals > renewals
	})
	hist = eventuallyHistory(t, lk, leases, macR, ipR, "rebind at T2")
	clientAgrees("rebind at T2")
	if hist[0].Hostname != "flreb" {
		t.Errorf("rebound span %s: want host flreb", spansString(hist))
	}
	var unicast, broadcast int
	for _, r := range readDHCP(t, lk) {
		if r.MsgType == schema.DHCPRequest && r.CHAddr.String() == macR && !r.CIAddr.IsZero() {
			if r.DstAddr.String() == "10.79.0.1" {
				unicast++
			} else {
				broadcast++
			}
		}
	}
	if unicast < 2 || broadcast < 1 {
		t.Errorf("renewing REQUESTs: %d unicast, %d broadcast; want the renewal and the failed ones unicast, the rebind broadcast", unicast, broadcast)
	}

	// NAK while holding a lease: dhclient restarts believing it holds an
	// address of another network; the authoritative server NAKs its
	// INIT-REBOOT REQUEST, which ends the span it held (NAK), and the
	// client starts over (DORA): a new span, dnsmasq's lease again.
	lb.stop(dh, syscall.SIGKILL)
	if err := os.WriteFile(dl, []byte(`lease {
  interface "eth0";
  fixed-address 10.79.9.9;
  option subnet-mask 255.255.255.0;
  option dhcp-server-identifier 10.79.0.1;
  renew 4 2037/01/01 00:00:00;
  rebind 4 2037/01/01 00:00:00;
  expire 4 2037/01/01 00:00:00;
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	dhclient("dhclient-nak")
	eventually(t, "dhclient bound after the NAK", func() bool { n, _ := lb.countEvents("dhclient-BOUND"); return n == 2 })
	_, ipR = lb.countEvents("dhclient-BOUND")
	hist = eventuallyHistory(t, lk, leases, macR, ipR, "NAK then DORA", schema.LeaseNaked)
	clientAgrees("NAK then DORA")
	if len(hist) != 2 || hist[0].EndReason != schema.LeaseNaked || hist[1].Renewals != 0 {
		t.Errorf("history after the NAK %s: want the rebound span ended NAK, then a new one", spansString(hist))
	}

	// Expiry: the killed client's lease runs out; dnsmasq's lease and the
	// lake's span end together.
	expires := time.UnixMicro(histE[0].EndTime)
	t.Logf("waiting for the stopped client's lease to expire at %s", expires.Format(time.TimeOnly))
	time.Sleep(time.Until(expires)) // real lease time: a real server's clock, nothing to be notified by
	var last error
	deadline = time.Now().Add(15 * time.Second)
	for {
		h, err := labHistory(t, lk, macE)
		last = err
		if err == nil {
			if len(h) == 1 && h[0].EndReason == schema.LeaseExpired {
				if d := time.UnixMicro(h[0].EndTime).Sub(expires).Abs(); d > time.Second {
					t.Errorf("expired at %s, the lease promised %s", time.UnixMicro(h[0].EndTime), expires)
				}
				break
			}
			last = fmt.Errorf("history %s", spansString(h))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stopped client's span did not end EXPIRED: %v", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ls, ok := readLeases(t, leases)[macE]; ok && ls.expires.After(time.Now()) {
		t.Errorf("dnsmasq still leases %s to %s until %s", ls.ip, macE, ls.expires)
	}
	if _, ok := bindingOf(e, macE); ok {
		t.Errorf("the edge's binding table still holds %s", macE)
	}
}
