package edge

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// lab is a set of network namespaces joined by a bridge in a namespace of
// its own ("sw"), so nothing touches the host's namespace: the edge
// captures on the bridge's ports (inbound only, so every frame is seen
// once, on the port it entered by).
type lab struct {
	t     *testing.T
	id    string
	dir   string
	names []string // namespaces
	mu    sync.Mutex
	procs []*exec.Cmd
}

// labTools are the programs the lab needs.
var labTools = []string{"ip", "dnsmasq", "busybox", "dhclient", "dhcrelay"}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := newLabBase(t, "sw", "srv", "cli", "rog")
	l.ip("-n", l.ns("sw"), "link", "add", "br0", "type", "bridge")
	l.ip("-n", l.ns("sw"), "link", "set", "br0", "up")
	for _, n := range []string{"srv", "cli", "rog"} {
		l.ip("-n", l.ns("sw"), "link", "add", "p-"+n, "type", "veth", "peer", "name", "eth0", "netns", l.ns(n))
		l.ip("-n", l.ns("sw"), "link", "set", "p-"+n, "master", "br0", "up")
		l.ip("-n", l.ns(n), "link", "set", "lo", "up")
	}
	l.setMAC("02:00:00:00:00:c1")
	l.ip("-n", l.ns("srv"), "addr", "add", "10.77.0.1/24", "dev", "eth0")
	l.ip("-n", l.ns("srv"), "link", "set", "eth0", "up")
	l.ip("-n", l.ns("rog"), "addr", "add", "10.77.0.2/24", "dev", "eth0")
	l.ip("-n", l.ns("rog"), "link", "set", "eth0", "up")
	return l
}

// newLabBase creates the namespaces names, removed when the test ends.
func newLabBase(t *testing.T, names ...string) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		mustGate(t, "the DHCP lab needs root (network namespaces)")
	}
	for _, tool := range labTools {
		if _, err := exec.LookPath(tool); err != nil {
			mustGate(t, "the DHCP lab needs %s: %v", tool, err)
		}
	}
	l := &lab{t: t, id: fmt.Sprintf("%04x", os.Getpid()&0xffff), dir: t.TempDir(), names: names}
	t.Cleanup(l.close)
	for _, n := range names {
		l.ip("netns", "add", l.ns(n))
	}
	return l
}

func (l *lab) ns(n string) string { return "fldhcp-" + l.id + "-" + n }

func (l *lab) netnsPath(n string) string { return "/var/run/netns/" + l.ns(n) }

func (l *lab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// setMAC gives the client's interface a MAC (a new client to the server).
func (l *lab) setMAC(mac string) {
	l.t.Helper()
	l.ip("-n", l.ns("cli"), "link", "set", "eth0", "down")
	l.ip("-n", l.ns("cli"), "addr", "flush", "dev", "eth0")
	l.ip("-n", l.ns("cli"), "link", "set", "eth0", "address", mac)
	l.ip("-n", l.ns("cli"), "link", "set", "eth0", "up")
}

// start runs a program in namespace n until the test ends; its output
// goes to <dir>/<name>.out.
func (l *lab) start(name, n string, args ...string) *exec.Cmd {
	l.t.Helper()
	out, err := os.Create(filepath.Join(l.dir, name+".out"))
	if err != nil {
		l.t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.ns(n)}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start %s: %v", name, err)
	}
	l.mu.Lock()
	l.procs = append(l.procs, cmd)
	l.mu.Unlock()
	go func() { _ = cmd.Wait(); _ = out.Close() }()
	return cmd
}

// stop ends a program started by start.
func (l *lab) stop(cmd *exec.Cmd, sig syscall.Signal) {
	_ = cmd.Process.Signal(sig)
}

func (l *lab) close() {
	l.mu.Lock()
	for _, p := range l.procs {
		_ = p.Process.Kill()
	}
	l.mu.Unlock()
	for _, n := range l.names {
		_ = exec.Command("ip", "netns", "del", l.ns(n)).Run()
	}
	if l.t.Failed() {
		for _, f := range []string{"srv", "rog", "udhcpc", "dhclient", "decline", "rogue-client", "relay"} {
			if b, err := os.ReadFile(filepath.Join(l.dir, f+".out")); err == nil {
				l.t.Logf("--- %s output:\n%s", f, b)
			}
		}
	}
}

// dnsmasq starts a DHCP server in namespace n.
func (l *lab) dnsmasq(name, n, rangeSpec string, extra ...string) string {
	leases := filepath.Join(l.dir, name+".leases")
	args := []string{"dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--port=0",
		"--interface=eth0", "--bind-interfaces", "--dhcp-range=" + rangeSpec, "--dhcp-leasefile=" + leases,
		"--dhcp-authoritative", "--no-ping", "--log-dhcp", "--log-facility=-", "--user=root", "--group=root",
		"--pid-file=" + filepath.Join(l.dir, name+".pid")}
	l.start(name, n, append(args, extra...)...)
	return leases
}

// clientScript writes the udhcpc/dhclient script: it records each event
// with the address and configures the interface.
func (l *lab) clientScript() (udhcpc, dhclient string) {
	l.t.Helper()
	udhcpc = filepath.Join(l.dir, "udhcpc.sh")
	dhclient = filepath.Join(l.dir, "dhclient.sh")
	ev := filepath.Join(l.dir, "client.events")
	if err := os.WriteFile(udhcpc, fmt.Appendf(nil, `#!/bin/sh
echo "$1 $ip $lease" >> %s
case "$1" in
bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/24" dev "$interface" ;;
deconfig) ip addr flush dev "$interface" ;;
esac
exit 0
`, ev), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(dhclient, fmt.Appendf(nil, `#!/bin/sh
echo "dhclient-$reason $new_ip_address" >> %s
case "$reason" in
BOUND|RENEW|REBIND|REBOOT) ip addr flush dev "$interface"; ip addr add "$new_ip_address/24" dev "$interface" ;;
esac
exit 0
`, ev), 0o755); err != nil {
		l.t.Fatal(err)
	}
	return udhcpc, dhclient
}

// events returns the client's recorded events ("bound 10.77.0.100", …).
func (l *lab) events() []string {
	b, _ := os.ReadFile(filepath.Join(l.dir, "client.events"))
	return strings.Fields(strings.ReplaceAll(string(b), "\n", "|"))
}

// countEvents counts client events starting with prefix and returns the
// address of the last.
func (l *lab) countEvents(prefix string) (int, string) {
	b, _ := os.ReadFile(filepath.Join(l.dir, "client.events"))
	n, last := 0, ""
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == prefix {
			n++
			if len(f) > 1 {
				last = f[1]
			}
		}
	}
	return n, last
}

// lastField returns field i of the last client event starting with
// prefix ("bound 10.77.0.100 120": 1 the address, 2 udhcpc's lease time).
func (l *lab) lastField(prefix string, i int) string {
	b, _ := os.ReadFile(filepath.Join(l.dir, "client.events"))
	last := ""
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) > i && f[0] == prefix {
			last = f[i]
		}
	}
	return last
}

// dnsmasqLease is one line of dnsmasq's lease file.
type dnsmasqLease struct {
	expires  time.Time
	mac      string
	ip       netip.Addr
	hostname string
}

func readLeases(t *testing.T, path string) map[string]dnsmasqLease {
	t.Helper()
	out := map[string]dnsmasqLease{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 {
			continue
		}
		exp, _ := strconv.ParseInt(fs[0], 10, 64)
		ip, err := netip.ParseAddr(fs[2])
		if err != nil {
			continue
		}
		out[fs[1]] = dnsmasqLease{expires: time.Unix(exp, 0), mac: fs[1], ip: ip, hostname: fs[3]}
	}
	return out
}

// eventually polls cond (external programs give no notification) until it
// holds, or fails the test after 15 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventuallyDump is eventually, logging the edge's rows when it fails.
func eventuallyDump(t *testing.T, what string, cond func() bool, e *Edge, lk *lake.Lake) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			_ = e.Stop()
			for _, r := range readDHCP(t, lk) {
				t.Logf("%s %s %s→%s %s xid %x chaddr %s cid %q req %s yi %s rogue=%v", time.UnixMicro(r.Time).Format("15:04:05.000000"),
					r.Interface, r.SrcAddr, r.DstAddr, r.MsgType, r.XID, r.CHAddr, r.ClientID, r.RequestedIP, r.YIAddr, r.RogueServer)
			}
			t.Logf("status %+v", e.dhcp.status())
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bindingOf returns the edge's binding of mac.
func bindingOf(e *Edge, mac string) (Binding, bool) {
	for _, b := range e.DHCPBindings() {
		if b.MAC == mac {
			return b, true
		}
	}
	return Binding{}, false
}

// readDHCP reads every dhcp_events row of the lake.
func readDHCP(t *testing.T, l *lake.Lake) []schema.DHCPEvent {
	t.Helper()
	ctx := context.Background()
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	segs, err := l.Segments(ctx, schema.DHCPEvents, time.Unix(0, 0), time.Now().Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var rows []schema.DHCPEvent
	for _, s := range segs {
		r, err := lake.Read[schema.DHCPEvent](ctx, l, s)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r...)
	}
	return rows
}

// consistent checks that the edge's binding of mac, dnsmasq's lease of
// mac and the client's address agree (or that neither side has one).
func consistent(e *Edge, leases map[string]dnsmasqLease, mac, clientIP string) error {
	b, bound := bindingOf(e, mac)
	ls, leased := leases[mac]
	switch {
	case bound != leased:
		return fmt.Errorf("edge binding %v (%+v), dnsmasq lease %v (%+v)", bound, b, leased, ls)
	case !bound:
		return nil
	case b.IP != ls.ip || clientIP != "" && b.IP.String() != clientIP:
		return fmt.Errorf("edge has %s, dnsmasq %s, client %s", b.IP, ls.ip, clientIP)
	case b.Expires.Sub(ls.expires).Abs() > 2*time.Second:
		return fmt.Errorf("edge expiry %s, dnsmasq %s", b.Expires, ls.expires)
	case ls.hostname != "*" && b.Hostname != ls.hostname:
		return fmt.Errorf("edge hostname %q, dnsmasq %q", b.Hostname, ls.hostname)
	}
	return nil
}

func eventuallyConsistent(t *testing.T, e *Edge, leaseFile, mac, clientIP, step string) {
	t.Helper()
	var last error
	deadline := time.Now().Add(15 * time.Second)
	for {
		if last = consistent(e, readLeases(t, leaseFile), mac, clientIP); last == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: edge bindings and dnsmasq leases disagree: %v", step, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDHCPLab is the acceptance test of DHCP snooping: real dnsmasq
// servers, real clients (busybox udhcpc, ISC dhclient) in network
// namespaces joined by a bridge, and the edge capturing on the bridge's
// ports through AF_PACKET. DORA, renew, release, NAK, decline and a rogue
// dnsmasq on an untrusted port; at every step the edge's binding table
// equals dnsmasq's lease file and the client's own address; in the lake,
// the rogue server's replies are flagged and the trusted one's are not;
// the binding table survives a restart of the edge.
func TestDHCPLab(t *testing.T) {
	lb := newLab(t)
	udhcpcScript, dhclientScript := lb.clientScript()
	leases := lb.dnsmasq("srv", "srv", "10.77.0.100,10.77.0.110,255.255.255.0,2m", "--dhcp-host=02:00:00:00:00:d1,10.77.0.105")

	lk := openLake(t)
	cfg := DefaultConfig()
	cfg.ID = "edge-lab"
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = nil, nil, nil
	cfg.DHCP.Interfaces = []string{"p-srv", "p-cli", "p-rog"}
	cfg.DHCP.Netns = lb.netnsPath("sw")
	cfg.DHCP.Trusted = []string{"p-srv"}
	cfg.DHCP.AllowedServers = []string{"10.77.0.1"}
	cfg.DHCP.Pools = []DHCPPool{{Subnet: "10.77.0.0/24", Size: 11, High: 9, Low: 1}}
	cfg.DHCP.BindingsFile = filepath.Join(lb.dir, "bindings.json")
	cfg.DHCP.BatchAge = 200 * time.Millisecond
	cfg.QuarantineFile = filepath.Join(lb.dir, "quarantine.jsonl")
	e, err := New(cfg, Deps{Lake: lk, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()

	const mac1 = "02:00:00:00:00:c1"
	// DORA.
	cli := lb.start("udhcpc", "cli", "busybox", "udhcpc", "-f", "-i", "eth0", "-s", udhcpcScript, "-t", "5", "-T", "1", "-A", "1", "-x", "hostname:flcli")
	eventually(t, "udhcpc bound", func() bool { n, _ := lb.countEvents("bound"); return n == 1 })
	_, ip1 := lb.countEvents("bound")
	eventuallyConsistent(t, e, leases, mac1, ip1, "DORA")
	if hist := eventuallyHistory(t, lk, leases, mac1, ip1, "DORA"); fmt.Sprint(hist[0].LeaseTime) != lb.lastField("bound", 2) {
		t.Errorf("DORA: the lake's lease time %d, the client's %q", hist[0].LeaseTime, lb.lastField("bound", 2))
	}
	b1, _ := bindingOf(e, mac1)
	if b1.Server != netip.MustParseAddr("10.77.0.1") || b1.Interface != "p-cli" && b1.Interface != "p-srv" || b1.Hostname != "flcli" {
		t.Errorf("DORA binding %+v: want server 10.77.0.1 and hostname flcli", b1)
	}

	// Renew (udhcpc's SIGUSR1: a REQUEST in RENEWING state, unicast).
	lb.stop(cli, syscall.SIGUSR1)
	eventually(t, "udhcpc renew", func() bool { n, _ := lb.countEvents("renew"); return n >= 1 })
	eventually(t, "renewal in the binding table", func() bool { b, ok := bindingOf(e, mac1); return ok && b.Renewed.After(b1.Renewed) })
	eventuallyConsistent(t, e, leases, mac1, ip1, "renew")
	if b, _ := bindingOf(e, mac1); !b.Start.Equal(b1.Start) {
		t.Errorf("renewal moved the binding's start from %s to %s: one binding, renewed", b1.Start, b.Start)
	}
	// In the lake: one span, the renewal merged into it.
	var hist []schema.DHCPLease
	eventually(t, "the renewal in the lake's lease history", func() bool {
		hist, _ = labHistory(t, lk, mac1)
		return len(hist) == 1 && hist[0].Renewals >= 1
	})
	eventuallyHistory(t, lk, leases, mac1, ip1, "renew")
	if hist[0].Time != b1.Start.UnixMicro() || hist[0].Hostname != "flcli" || hist[0].ServerID.String() != "10.77.0.1" {
		t.Errorf("renewed span %s: want the binding's start %s, host flcli, server 10.77.0.1", spansString(hist), b1.Start)
	}

	// Release (SIGUSR2).
	lb.stop(cli, syscall.SIGUSR2)
	eventually(t, "binding released", func() bool { _, ok := bindingOf(e, mac1); return !ok })
	eventuallyConsistent(t, e, leases, mac1, "", "release")
	eventuallyHistory(t, lk, leases, mac1, "", "release", schema.LeaseReleased)
	lb.stop(cli, syscall.SIGKILL)

	// NAK: dhclient reboots with a lease on the wrong network; the
	// authoritative server NAKs it, then the client starts over (DORA).
	dl := filepath.Join(lb.dir, "dhclient.leases")
	if err := os.WriteFile(dl, []byte(`lease {
  interface "eth0";
  fixed-address 10.77.9.9;
  option subnet-mask 255.255.255.0;
  option dhcp-server-identifier 10.77.0.1;
  renew 4 2037/01/01 00:00:00;
  rebind 4 2037/01/01 00:00:00;
  expire 4 2037/01/01 00:00:00;
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	dh := lb.start("dhclient", "cli", "dhclient", "-d", "-v", "-1", "-lf", dl, "-pf", filepath.Join(lb.dir, "dhclient.pid"), "-sf", dhclientScript, "eth0")
	eventually(t, "dhclient bound after the NAK", func() bool { n, _ := lb.countEvents("dhclient-BOUND"); return n >= 1 })
	_, ip2 := lb.countEvents("dhclient-BOUND")
	eventuallyConsistent(t, e, leases, mac1, ip2, "NAK then DORA")
	eventuallyHistory(t, lk, leases, mac1, ip2, "NAK then DORA", schema.LeaseReleased)
	lb.stop(dh, syscall.SIGKILL)

	// DECLINE: 10.77.0.105, reserved for MAC d1, is already in use (on
	// the rogue's host); udhcpc's ARP check declines it.
	const mac2 = "02:00:00:00:00:d1"
	lb.setMAC(mac2)
	lb.ip("-n", lb.ns("rog"), "addr", "add", "10.77.0.105/24", "dev", "eth0")
	dc := lb.start("decline", "cli", "busybox", "udhcpc", "-f", "-i", "eth0", "-s", udhcpcScript, "-t", "3", "-T", "1", "-A", "1", "-a", "-C")
	eventuallyDump(t, "a declined binding", func() bool { return e.dhcp.status().BindingsEnded[string(endDecline)] >= 1 }, e, lk)
	lb.stop(dc, syscall.SIGKILL)
	eventuallyConsistent(t, e, leases, mac2, "", "decline")
	eventuallyHistory(t, lk, leases, mac2, "", "decline", schema.LeaseDeclined)
	lb.ip("-n", lb.ns("rog"), "addr", "del", "10.77.0.105/24", "dev", "eth0")

	// A rogue dnsmasq on an untrusted port: both servers OFFER.
	lb.dnsmasq("rog", "rog", "10.77.0.200,10.77.0.210,255.255.255.0,2m")
	eventually(t, "the rogue dnsmasq ready", func() bool {
		b, _ := os.ReadFile(filepath.Join(lb.dir, "rog.out"))
		return bytes.Contains(b, []byte("DHCP, IP range"))
	})
	const mac3 = "02:00:00:00:00:e1"
	lb.setMAC(mac3)
	lb.start("rogue-client", "cli", "busybox", "udhcpc", "-f", "-q", "-i", "eth0", "-s", udhcpcScript, "-t", "5", "-T", "2", "-A", "1")
	eventuallyDump(t, "offers from both servers", func() bool {
		return e.dhcp.status().SignalsRaised[SignalRogueServer] >= 1 && strings.Count(strings.Join(lb.events(), " "), "bound") >= 2
	}, e, lk)
	// The trusted server's lease for mac3 exists only if the client took
	// its offer; the binding table must agree either way.
	eventuallyConsistent(t, e, leases, mac3, "", "rogue")
	eventuallyHistory(t, lk, leases, mac3, "", "rogue")

	before := e.DHCPBindings()
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	rows := readDHCP(t, lk)
	checkLabRows(t, rows)

	// The binding table survives a restart.
	e2, err := New(cfg, Deps{Lake: lk, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := e2.DHCPBindings()
	if err := e2.Stop(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(before) != fmt.Sprint(after) || len(after) == 0 {
		t.Errorf("bindings before the restart:\n%v\nafter:\n%v", before, after)
	}
}

// checkLabRows checks the lab's dhcp_events: every message type of the
// script is there, server replies are flagged rogue exactly when they
// come from the rogue server, and the pool signal rose and fell.
func checkLabRows(t *testing.T, rows []schema.DHCPEvent) {
	t.Helper()
	types := map[string]int{}
	trusted, rogue := netip.MustParseAddr("10.77.0.1"), netip.MustParseAddr("10.77.0.2")
	offersBy := map[netip.Addr]int{}
	var sigs []string
	for _, r := range rows {
		types[r.MsgType]++
		src := r.SrcAddr.Netip()
		if r.Signals != "" {
			sigs = append(sigs, r.Signals)
		}
		if r.Op != 2 {
			if r.RogueServer || r.Trusted {
				t.Errorf("client %s from %s on %s: rogue %v trusted %v, want neither", r.MsgType, src, r.Interface, r.RogueServer, r.Trusted)
			}
			continue
		}
		if r.MsgType == schema.DHCPOffer {
			offersBy[src]++
		}
		switch src {
		case trusted:
			if r.RogueServer || !r.Trusted || r.Interface != "p-srv" {
				t.Errorf("trusted server's %s (xid %x): rogue %v trusted %v interface %s", r.MsgType, r.XID, r.RogueServer, r.Trusted, r.Interface)
			}
		case rogue:
			if !r.RogueServer || r.Trusted || r.Interface != "p-rog" || !strings.Contains(r.Signals, SignalRogueServer) {
				t.Errorf("rogue server's %s (xid %x): rogue %v trusted %v interface %s signals %q", r.MsgType, r.XID, r.RogueServer, r.Trusted, r.Interface, r.Signals)
			}
		default:
			t.Errorf("reply from unexpected %s", src)
		}
	}
	for _, mt := range []string{schema.DHCPDiscover, schema.DHCPOffer, schema.DHCPRequest, schema.DHCPAck, schema.DHCPRelease, schema.DHCPNak, schema.DHCPDecline} {
		if types[mt] == 0 {
			t.Errorf("no %s in dhcp_events (%v)", mt, types)
		}
	}
	if offersBy[trusted] == 0 || offersBy[rogue] == 0 {
		t.Errorf("OFFERs by server %v: want both servers", offersBy)
	}
	var withOffers int
	for _, r := range rows {
		if r.MsgType == schema.DHCPRequest && r.OfferServers != "" {
			withOffers++
			if sid := r.ServerID.Netip(); sid.IsValid() && !strings.Contains(r.OfferServers, sid.String()) {
				t.Errorf("REQUEST xid %x chose %s, offer_servers %q lacks it", r.XID, sid, r.OfferServers)
			}
		}
	}
	if withOffers == 0 {
		t.Error("no REQUEST carries offer_servers")
	}
	all := strings.Join(sigs, ",")
	if !strings.Contains(all, "pool_high=10.77.0.0/24") || !strings.Contains(all, "pool_ok=10.77.0.0/24") {
		t.Errorf("signals %q: want pool_high and pool_ok for 10.77.0.0/24", all)
	}
	var buf bytes.Buffer
	for _, r := range rows {
		fmt.Fprintf(&buf, "%s %s %s→%s %s rogue=%v offers=%q signals=%q\n", time.UnixMicro(r.Time).Format("15:04:05.000"), r.Interface, r.SrcAddr, r.DstAddr, r.MsgType, r.RogueServer, r.OfferServers, r.Signals)
	}
	t.Logf("dhcp_events:\n%s", buf.String())
}

// TestDHCPLabRelay: a client behind isc-dhcp-relay (dhcrelay -a, adding
// relay agent information) gets its lease from dnsmasq on another subnet.
// The edge captures both bridges' ports: the relayed messages carry giaddr
// and the circuit id, and the binding keeps them, in agreement with
// dnsmasq's lease file and the client.
func TestDHCPLabRelay(t *testing.T) {
	lb := newLabBase(t, "sw", "srv", "cli", "rel")
	sw := lb.ns("sw")
	lb.ip("-n", sw, "link", "add", "br0", "type", "bridge") // client side
	lb.ip("-n", sw, "link", "add", "br1", "type", "bridge") // server side
	lb.ip("-n", sw, "link", "set", "br0", "up")
	lb.ip("-n", sw, "link", "set", "br1", "up")
	for _, p := range []struct{ port, ns, dev, br string }{
		{"p-cli", "cli", "eth0", "br0"}, {"p-rel", "rel", "eth0", "br0"},
		{"p-relu", "rel", "eth1", "br1"}, {"p-srv", "srv", "eth0", "br1"},
	} {
		lb.ip("-n", sw, "link", "add", p.port, "type", "veth", "peer", "name", p.dev, "netns", lb.ns(p.ns))
		lb.ip("-n", sw, "link", "set", p.port, "master", p.br, "up")
		lb.ip("-n", lb.ns(p.ns), "link", "set", "lo", "up")
	}
	lb.setMAC("02:00:00:00:00:f1")
	lb.ip("-n", lb.ns("rel"), "addr", "add", "10.78.1.1/24", "dev", "eth0")
	lb.ip("-n", lb.ns("rel"), "addr", "add", "10.78.0.2/24", "dev", "eth1")
	lb.ip("-n", lb.ns("rel"), "link", "set", "eth0", "up")
	lb.ip("-n", lb.ns("rel"), "link", "set", "eth1", "up")
	lb.ip("-n", lb.ns("srv"), "addr", "add", "10.78.0.1/24", "dev", "eth0")
	lb.ip("-n", lb.ns("srv"), "link", "set", "eth0", "up")
	lb.ip("-n", lb.ns("srv"), "route", "add", "10.78.1.0/24", "via", "10.78.0.2")
	udhcpcScript, _ := lb.clientScript()
	leases := lb.dnsmasq("srv", "srv", "10.78.1.100,10.78.1.110,255.255.255.0,2m")

	lk := openLake(t)
	cfg := DefaultConfig()
	cfg.ID = "edge-relay"
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = nil, nil, nil
	cfg.DHCP.Interfaces = []string{"p-cli", "p-rel", "p-relu", "p-srv"}
	cfg.DHCP.Netns = lb.netnsPath("sw")
	cfg.DHCP.Trusted = []string{"p-srv", "p-rel"}
	cfg.DHCP.AllowedServers = []string{"10.78.0.1"}
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
	lb.start("relay", "rel", "dhcrelay", "-4", "-d", "-a", "--no-pid", "-id", "eth0", "-iu", "eth1", "10.78.0.1")
	const mac = "02:00:00:00:00:f1"
	// dhcrelay needs a moment to open its sockets: the client retries.
	lb.start("udhcpc", "cli", "busybox", "udhcpc", "-f", "-q", "-i", "eth0", "-s", udhcpcScript, "-t", "10", "-T", "1", "-A", "1")
	eventually(t, "udhcpc bound through the relay", func() bool { n, _ := lb.countEvents("bound"); return n == 1 })
	_, ip := lb.countEvents("bound")
	eventuallyConsistent(t, e, leases, mac, ip, "relayed DORA")
	hist := eventuallyHistory(t, lk, leases, mac, ip, "relayed DORA")
	if len(hist) != 1 || hist[0].GIAddr.String() != "10.78.1.1" || hist[0].CircuitID != "eth0" || hist[0].ServerID.String() != "10.78.0.1" {
		t.Errorf("relayed lease history %s: want one span with giaddr 10.78.1.1, circuit id eth0, server 10.78.0.1", spansString(hist))
	}
	b, _ := bindingOf(e, mac)
	if b.GIAddr != netip.MustParseAddr("10.78.1.1") || b.CircuitID != "eth0" || b.Server != netip.MustParseAddr("10.78.0.1") {
		t.Errorf("relayed binding %+v: want giaddr 10.78.1.1, circuit id eth0, server 10.78.0.1", b)
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	var relayed int
	for _, r := range readDHCP(t, lk) {
		if r.RogueServer {
			t.Errorf("%s from %s on %s flagged rogue", r.MsgType, r.SrcAddr, r.Interface)
		}
		if r.Interface == "p-relu" && r.Op == 1 {
			relayed++
			if r.GIAddr.String() != "10.78.1.1" || r.CircuitID != "eth0" || r.Hops != 1 {
				t.Errorf("relayed %s: giaddr %s circuit %q hops %d", r.MsgType, r.GIAddr, r.CircuitID, r.Hops)
			}
		}
	}
	if relayed < 2 {
		t.Errorf("%d relayed client messages, want the DISCOVER and the REQUEST", relayed)
	}
}
