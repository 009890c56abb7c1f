package edge

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowlake/flowlake/storage/schema"
)

// replayMsg is one DHCPv4 message of a replayed capture.
type replayMsg struct {
	at       time.Duration // after the capture's start
	src, dst string
	reply    bool
	mods     []dhcpv4.Modifier
	raw      []byte // instead of mods: a malformed payload
}

var replayT0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// writeReplay writes msgs as an Ethernet pcap and returns its path.
func writeReplay(t *testing.T, msgs []replayMsg) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "site.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		payload := m.raw
		if payload == nil {
			d, err := dhcpv4.New(m.mods...)
			if err != nil {
				t.Fatal(err)
			}
			payload = d.ToBytes()
		}
		sport, dport := layers.UDPPort(68), layers.UDPPort(67)
		if m.reply {
			sport, dport = 67, 68
		}
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(m.src).To4(), DstIP: net.ParseIP(m.dst).To4()}
		udp := &layers.UDP{SrcPort: sport, DstPort: dport}
		_ = udp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: replayT0.Add(m.at), CaptureLength: len(b), Length: len(b)}, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// replayConfig is an edge that only replays path, trusting it.
func replayConfig(t *testing.T, path string) Config {
	cfg := DefaultConfig()
	cfg.ID = "edge-replay"
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = nil, nil, nil
	cfg.DHCP.Pcap = path
	cfg.DHCP.Trusted = []string{filepath.Base(path)}
	cfg.DHCP.AllowedServers = []string{"10.0.0.0/30"}
	dir := t.TempDir()
	cfg.DHCP.BindingsFile = filepath.Join(dir, "bindings.json")
	cfg.QuarantineFile = filepath.Join(dir, "quarantine.jsonl")
	return cfg
}

// replay runs an edge over the capture to its end and returns its rows
// and the edge (stopped).
func replay(t *testing.T, cfg Config) ([]schema.DHCPEvent, *Edge) {
	t.Helper()
	lk := openLake(t)
	e, err := New(cfg, Deps{Lake: lk, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-e.DHCPReplayDone()
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	return readDHCP(t, lk), e
}

var (
	macA = net.HardwareAddr{2, 0, 0, 0, 0, 0xa1}
	macB = net.HardwareAddr{2, 0, 0, 0, 0, 0xb1}
)

func msgType(t dhcpv4.MessageType) dhcpv4.Modifier { return dhcpv4.WithMessageType(t) }

func server(ip string) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP(ip)))
}

// dora returns a client's DISCOVER, OFFERs from servers, REQUEST to the
// first and the first's ACK of addr, from at on.
func dora(at time.Duration, xid byte, mac net.HardwareAddr, addr string, servers ...string) []replayMsg {
	id := dhcpv4.WithTransactionID(dhcpv4.TransactionID{0, 0, 0, xid})
	hw := dhcpv4.WithHwAddr(mac)
	cid := dhcpv4.WithOption(dhcpv4.OptClientIdentifier(append([]byte{1}, mac...)))
	out := []replayMsg{{at: at, src: "0.0.0.0", dst: "255.255.255.255", mods: []dhcpv4.Modifier{id, hw, cid, msgType(dhcpv4.MessageTypeDiscover)}}}
	for i, s := range servers {
		out = append(out, replayMsg{at: at + time.Duration(i+1)*time.Millisecond, src: s, dst: "255.255.255.255", reply: true,
			mods: []dhcpv4.Modifier{dhcpv4.WithReply(&dhcpv4.DHCPv4{OpCode: dhcpv4.OpcodeBootRequest}), id, hw, msgType(dhcpv4.MessageTypeOffer), server(s), dhcpv4.WithYourIP(net.ParseIP(addr))}})
	}
	out = append(out,
		replayMsg{at: at + 10*time.Millisecond, src: "0.0.0.0", dst: "255.255.255.255", mods: []dhcpv4.Modifier{id, hw, cid, msgType(dhcpv4.MessageTypeRequest), server(servers[0]),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP(addr)))}},
		replayMsg{at: at + 11*time.Millisecond, src: servers[0], dst: "255.255.255.255", reply: true, mods: []dhcpv4.Modifier{
			dhcpv4.WithReply(&dhcpv4.DHCPv4{OpCode: dhcpv4.OpcodeBootRequest}), id, hw, msgType(dhcpv4.MessageTypeAck), server(servers[0]), dhcpv4.WithYourIP(net.ParseIP(addr)),
			dhcpv4.WithLeaseTime(3600), dhcpv4.WithOption(dhcpv4.OptHostName("host-" + mac.String()[15:]))}},
	)
	return out
}

// TestDHCPReplayOffersAndRogue replays a capture (--dhcp-pcap's path)
// where two servers OFFER, one not on the allowed list: both OFFERs are
// rows, only the second's is rogue_server, the REQUEST and ACK list both
// offering servers, and the binding table holds the trusted ACK even
// though the server did not echo the client identifier.
func TestDHCPReplayOffersAndRogue(t *testing.T) {
	path := writeReplay(t, dora(0, 1, macA, "10.0.0.50", "10.0.0.1", "10.0.0.66"))
	rows, e := replay(t, replayConfig(t, path))
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5", len(rows))
	}
	for _, r := range rows {
		wantRogue := r.SrcAddr.String() == "10.0.0.66"
		if r.RogueServer != wantRogue || r.Interface != "site.pcap" || !r.Trusted {
			t.Errorf("%s from %s: rogue %v trusted %v interface %q", r.MsgType, r.SrcAddr, r.RogueServer, r.Trusted, r.Interface)
		}
		switch r.MsgType {
		case schema.DHCPRequest, schema.DHCPAck:
			if r.OfferServers != "10.0.0.1,10.0.0.66" {
				t.Errorf("%s offer_servers %q, want 10.0.0.1,10.0.0.66", r.MsgType, r.OfferServers)
			}
		default:
			if r.OfferServers != "" {
				t.Errorf("%s offer_servers %q, want none", r.MsgType, r.OfferServers)
			}
		}
		if wantRogue != (r.Signals == SignalRogueServer) {
			t.Errorf("%s from %s: signals %q", r.MsgType, r.SrcAddr, r.Signals)
		}
	}
	b := e.DHCPBindings()
	if len(b) != 1 || b[0].IP.String() != "10.0.0.50" || b[0].MAC != macA.String() || b[0].Client != "id:01"+strings.ReplaceAll(macA.String(), ":", "") ||
		b[0].Hostname != "host-a1" || b[0].LeaseTime != 3600 || !b[0].Expires.Equal(replayT0.Add(11*time.Millisecond+time.Hour)) {
		t.Errorf("bindings %+v", b)
	}
}

// TestDHCPReplaySignals: NAK storms, DISCOVER floods and DECLINE spikes
// raise their signal once, on the message that reaches the threshold,
// in the messages' own time; a second storm after a quiet window raises
// it again.
func TestDHCPReplaySignals(t *testing.T) {
	var msgs []replayMsg
	nak := func(at time.Duration, i int) replayMsg {
		return replayMsg{at: at, src: "10.0.0.1", dst: "255.255.255.255", reply: true, mods: []dhcpv4.Modifier{
			dhcpv4.WithReply(&dhcpv4.DHCPv4{OpCode: dhcpv4.OpcodeBootRequest}),
			dhcpv4.WithTransactionID(dhcpv4.TransactionID{1, 0, byte(i >> 8), byte(i)}), dhcpv4.WithHwAddr(macB), msgType(dhcpv4.MessageTypeNak), server("10.0.0.1")}}
	}
	client := func(at time.Duration, i int, mt dhcpv4.MessageType) replayMsg {
		return replayMsg{at: at, src: "0.0.0.0", dst: "255.255.255.255", mods: []dhcpv4.Modifier{
			dhcpv4.WithTransactionID(dhcpv4.TransactionID{2, 0, byte(i >> 8), byte(i)}),
			dhcpv4.WithHwAddr(net.HardwareAddr{2, 1, 0, 0, byte(i >> 8), byte(i)}), msgType(mt),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP("10.0.0.77")))}}
	}
	for i := range 25 { // 25 NAKs in 2.5 s: raised at the 20th
		msgs = append(msgs, nak(time.Duration(i)*100*time.Millisecond, i))
	}
	for i := range 600 { // 600 DISCOVERs in 6 s: raised at the 500th
		msgs = append(msgs, client(3*time.Second+time.Duration(i)*10*time.Millisecond, i, dhcpv4.MessageTypeDiscover))
	}
	for i := range 10 { // 10 DECLINEs: raised at the 10th
		msgs = append(msgs, client(10*time.Second+time.Duration(i)*time.Millisecond, i, dhcpv4.MessageTypeDecline))
	}
	for i := range 20 { // a minute later: a new NAK storm
		msgs = append(msgs, nak(70*time.Second+time.Duration(i)*time.Millisecond, 100+i))
	}
	cfg := replayConfig(t, writeReplay(t, msgs))
	rows, e := replay(t, cfg)
	type hit struct {
		sig string
		n   int // index among the messages of its type
	}
	var got []hit
	seen := map[string]int{}
	for _, r := range rows {
		seen[r.MsgType]++
		if r.Signals != "" {
			got = append(got, hit{r.Signals, seen[r.MsgType]})
		}
	}
	want := []hit{{SignalNakStorm, 20}, {SignalDiscoverFlood, 500}, {SignalDeclineSpike, 10}, {SignalNakStorm, 45}}
	if len(got) != len(want) {
		t.Fatalf("signals %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("signal %d: %v, want %v", i, got[i], want[i])
		}
	}
	_, raised := e.dhcp.sig.state()
	if raised[SignalNakStorm] != 2 || raised[SignalDiscoverFlood] != 1 || raised[SignalDeclineSpike] != 1 {
		t.Errorf("raised %v", raised)
	}
}

// TestDHCPReplayMalformed: malformed messages are counted by reason and
// kept raw in the DHCP quarantine file; the messages around them are
// written.
func TestDHCPReplayMalformed(t *testing.T) {
	good := dora(0, 3, macA, "10.0.0.60", "10.0.0.1")
	badCookie := make([]byte, 300)
	badCookie[0] = 1
	truncated := make([]byte, 244)
	truncated[0] = 1
	copy(truncated[236:], []byte{99, 130, 83, 99, 51, 4, 0}) // option 51, length 4, 1 byte left
	msgs := append([]replayMsg{
		{at: 0, src: "0.0.0.0", dst: "255.255.255.255", raw: badCookie},
		{at: time.Millisecond, src: "0.0.0.0", dst: "255.255.255.255", raw: []byte{1, 2, 3}},
		{at: 2 * time.Millisecond, src: "0.0.0.0", dst: "255.255.255.255", raw: truncated},
	}, good...)
	cfg := replayConfig(t, writeReplay(t, msgs))
	rows, e := replay(t, cfg)
	if len(rows) != len(good) {
		t.Errorf("%d rows, want %d", len(rows), len(good))
	}
	st := e.dhcp.status()
	if st.Rejected["bad_cookie"] != 1 || st.Rejected["short"] != 1 || st.Rejected["truncated_option"] != 1 || st.Quarantined != 3 || st.QuarantineLost != 0 {
		t.Errorf("status %+v", st)
	}
	f, err := os.Open(filepath.Join(filepath.Dir(cfg.QuarantineFile), "dhcp_quarantine.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []dhcpQuarantineLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l dhcpQuarantineLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 3 || lines[0].Reason != "bad_cookie" || string(lines[0].Payload) != string(badCookie) ||
		lines[1].Reason != "short" || lines[2].Reason != "truncated_option" || !strings.Contains(lines[2].Error, "option 51") || lines[2].Interface != "site.pcap" {
		t.Errorf("quarantine lines %+v", lines)
	}
}

// TestDHCPBindingsRestart: the binding table is saved on stop and
// restored on start; releases, declines, NAKs and another client's ACK of
// the same address end bindings.
func TestDHCPBindingsRestart(t *testing.T) {
	msgs := dora(0, 4, macA, "10.0.0.10", "10.0.0.1")
	msgs = append(msgs, dora(time.Second, 5, macB, "10.0.0.11", "10.0.0.1")...)
	cfg := replayConfig(t, writeReplay(t, msgs))
	_, e := replay(t, cfg)
	if n := len(e.DHCPBindings()); n != 2 {
		t.Fatalf("%d bindings, want 2", n)
	}
	// The next capture: B's address goes to a new client C; A releases.
	macC := net.HardwareAddr{2, 0, 0, 0, 0, 0xc1}
	next := dora(2*time.Second, 6, macC, "10.0.0.11", "10.0.0.1")
	next = append(next, replayMsg{at: 3 * time.Second, src: "10.0.0.10", dst: "10.0.0.1", mods: []dhcpv4.Modifier{
		dhcpv4.WithTransactionID(dhcpv4.TransactionID{9}), dhcpv4.WithHwAddr(macA), msgType(dhcpv4.MessageTypeRelease),
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier(append([]byte{1}, macA...))), dhcpv4.WithClientIP(net.ParseIP("10.0.0.10")), server("10.0.0.1")}})
	cfg.DHCP.Pcap = writeReplay(t, next)
	cfg.DHCP.Trusted = []string{filepath.Base(cfg.DHCP.Pcap)}
	lk := openLake(t)
	e2, err := New(cfg, Deps{Lake: lk, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-e2.DHCPReplayDone()
	if err := e2.Stop(); err != nil {
		t.Fatal(err)
	}
	b := e2.DHCPBindings()
	if len(b) != 1 || b[0].MAC != macC.String() || b[0].IP.String() != "10.0.0.11" {
		t.Errorf("bindings after restart and the second capture: %+v", b)
	}
	st := e2.dhcp.status()
	if st.BindingsEnded["moved"] != 1 || st.BindingsEnded["release"] != 1 {
		t.Errorf("ended %v", st.BindingsEnded)
	}
	raw, err := os.ReadFile(cfg.DHCP.BindingsFile)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := ReadBindings(raw)
	if err != nil || len(saved) != 1 || saved[0].MAC != macC.String() {
		t.Errorf("saved bindings %+v, %v", saved, err)
	}
	// The lease history resumed its open spans from the bindings file: in
	// the second edge's lake, A's and B's spans end (RELEASE, SUPERSEDED)
	// with the starts of the first capture, and C's is open.
	for _, tc := range []struct {
		mac    net.HardwareAddr
		reason string
		before time.Time
	}{{macA, schema.LeaseReleased, replayT0.Add(time.Second)}, {macB, schema.LeaseSuperseded, replayT0.Add(2 * time.Second)}, {macC, schema.LeaseOpen, replayT0.Add(3 * time.Second)}} {
		h, err := labHistory(t, lk, tc.mac.String())
		if err != nil || len(h) != 1 || h[0].EndReason != tc.reason || !time.UnixMicro(h[0].Time).Before(tc.before) {
			t.Errorf("lease history of %s after the restart: %v%s; want one span ended %s, started before %s", tc.mac, err, spansString(h), tc.reason, tc.before)
		}
	}
}

// TestDHCPReplayExpiryAndMetrics: a lease that runs out (in the capture's
// time) leaves the table and lowers its pool's use below the low mark
// (pool_ok, on the next message's row); the DHCP metrics are exported.
func TestDHCPReplayExpiryAndMetrics(t *testing.T) {
	msgs := dora(0, 8, macA, "10.0.0.20", "10.0.0.1") // lease 3600 s
	msgs = append(msgs, replayMsg{at: 2 * time.Hour, src: "0.0.0.0", dst: "255.255.255.255", mods: []dhcpv4.Modifier{
		dhcpv4.WithTransactionID(dhcpv4.TransactionID{9, 9}), dhcpv4.WithHwAddr(macB), msgType(dhcpv4.MessageTypeDiscover)}})
	cfg := replayConfig(t, writeReplay(t, msgs))
	cfg.DHCP.Pools = []DHCPPool{{Subnet: "10.0.0.0/27", Size: 2, High: 50, Low: 10}}
	rows, e := replay(t, cfg)
	if len(rows) != 5 || rows[3].Signals != "pool_high=10.0.0.0/27" || rows[4].Signals != "pool_ok=10.0.0.0/27" {
		for _, r := range rows {
			t.Logf("%s signals %q", r.MsgType, r.Signals)
		}
		t.Fatalf("want pool_high on the ACK and pool_ok on the DISCOVER after the expiry")
	}
	if b := e.DHCPBindings(); len(b) != 0 {
		t.Errorf("bindings after expiry: %+v", b)
	}
	reg := prometheus.NewRegistry()
	for _, c := range e.Collectors() {
		reg.MustRegister(c)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for key, want := range map[string]float64{
		"flowlake_edge_dhcp_messages_decoded_total":                  5,
		"flowlake_edge_dhcp_rows_written_total":                      5,
		"flowlake_edge_dhcp_bindings_ended_total,reason=expiry":      1,
		"flowlake_edge_dhcp_signals_total,signal=pool_high":          1,
		"flowlake_edge_dhcp_pool_use_ratio,subnet=10.0.0.0/27":       0,
		"flowlake_edge_dhcp_drops_total,cause=kernel":                0,
		"flowlake_edge_dhcp_frames_total,interface=" + cfg.DHCP.Pcap: 5,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
}

// TestDHCPCaptureMissingInterface: an interface that does not exist fails
// Start with an error naming it, and Stop after it is harmless.
func TestDHCPCaptureMissingInterface(t *testing.T) {
	if os.Geteuid() != 0 {
		mustGate(t, "AF_PACKET capture needs root")
	}
	cfg := DefaultConfig()
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = nil, nil, nil
	cfg.DHCP.Interfaces = []string{"nosuchif0"}
	e, err := New(cfg, Deps{Lake: openLake(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nosuchif0") {
		t.Fatalf("Start: %v, want an error naming nosuchif0", err)
	}
	if err := e.Stop(); err != nil {
		t.Errorf("Stop after a failed Start: %v", err)
	}
}

// TestDHCPReplayPoolQuickTurn: a release 50 ms after the ACK that filled
// the pool still lowers it (pool_ok on the RELEASE's row).
func TestDHCPReplayPoolQuickTurn(t *testing.T) {
	msgs := dora(0, 10, macA, "10.0.0.21", "10.0.0.1")
	msgs = append(msgs, replayMsg{at: 61 * time.Millisecond, src: "10.0.0.21", dst: "10.0.0.1", mods: []dhcpv4.Modifier{
		dhcpv4.WithTransactionID(dhcpv4.TransactionID{11}), dhcpv4.WithHwAddr(macA), msgType(dhcpv4.MessageTypeRelease),
		dhcpv4.WithOption(dhcpv4.OptClientIdentifier(append([]byte{1}, macA...))), dhcpv4.WithClientIP(net.ParseIP("10.0.0.21")), server("10.0.0.1")}})
	cfg := replayConfig(t, writeReplay(t, msgs))
	cfg.DHCP.Pools = []DHCPPool{{Subnet: "10.0.0.0/27", Size: 1, High: 100, Low: 10}}
	rows, _ := replay(t, cfg)
	if len(rows) != 5 || rows[3].Signals != "pool_high=10.0.0.0/27" || rows[4].Signals != "pool_ok=10.0.0.0/27" {
		for _, r := range rows {
			t.Logf("%s signals %q", r.MsgType, r.Signals)
		}
		t.Fatal("want pool_high on the ACK and pool_ok on the RELEASE 50 ms later")
	}
}
