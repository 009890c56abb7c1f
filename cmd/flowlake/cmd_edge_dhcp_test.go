package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/flowlake/flowlake/edge"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// dhcpCapture writes a DORA of mac for addr from server 10.0.0.1 as a pcap.
func dhcpCapture(t *testing.T, mac net.HardwareAddr, addr string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dora.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	id := dhcpv4.WithTransactionID(dhcpv4.TransactionID{7, 7, 7, 7})
	reply := dhcpv4.WithReply(&dhcpv4.DHCPv4{OpCode: dhcpv4.OpcodeBootRequest})
	srv := dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP("10.0.0.1")))
	yi := dhcpv4.WithYourIP(net.ParseIP(addr))
	msgs := []struct {
		reply bool
		mods  []dhcpv4.Modifier
	}{
		{false, []dhcpv4.Modifier{id, dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover)}},
		{true, []dhcpv4.Modifier{reply, id, dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer), srv, yi}},
		{false, []dhcpv4.Modifier{id, dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), srv}},
		{true, []dhcpv4.Modifier{reply, id, dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), srv, yi, dhcpv4.WithLeaseTime(600),
			dhcpv4.WithOption(dhcpv4.OptHostName("laptop-42"))}},
	}
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	for i, m := range msgs {
		d, err := dhcpv4.New(m.mods...)
		if err != nil {
			t.Fatal(err)
		}
		src, dst, sp, dp := "0.0.0.0", "255.255.255.255", layers.UDPPort(68), layers.UDPPort(67)
		if m.reply {
			src, sp, dp = "10.0.0.1", 67, 68
		}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
		udp := &layers.UDP{SrcPort: sp, DstPort: dp}
		_ = udp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		eth := &layers.Ethernet{SrcMAC: mac, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeIPv4}
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(d.ToBytes())); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(b), Length: len(b)}, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEdgeDHCPPcap runs `flowlake edge --dhcp-pcap` (DHCP only, its core
// down): the replayed messages become dhcp_events segments in the spool,
// `flowlake edge status` reports the replay, `flowlake edge dhcp bindings`
// prints the binding from the running edge and, once it stopped, from the
// table it saved.
func TestEdgeDHCPPcap(t *testing.T) {
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 0x42}
	pcap := dhcpCapture(t, mac, "10.0.0.42")
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("fl_test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	status := "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))
	core := "http://127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	exited := make(chan int, 1)
	stopped := make(chan struct{})
	t.Cleanup(func() { cancel(); <-stopped })
	go func() {
		defer close(stopped)
		exited <- run(ctx, []string{"edge", "--core", core, "--token-file", tokenFile, "--spool", spool, "--status-listen", status,
			"--netflow-listen", "", "--ipfix-listen", "", "--sflow-listen", "", "--dhcp-pcap", pcap}, &stdout, &stderr, hooks{})
	}()
	url := "http://" + status
	var out string
	deadline := time.Now().Add(20 * time.Second)
	for {
		var code int
		out, _, code = runCLI(t, nil, "edge", "dhcp", "bindings", "--url", url)
		if code == 0 && strings.Contains(out, "1 bindings") {
			break
		}
		select {
		case c := <-exited:
			t.Fatalf("flowlake edge exited %d: %s", c, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no binding served: %q", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"10.0.0.42", mac.String(), "laptop-42", "10.0.0.1", "dora.pcap"} {
		if !strings.Contains(out, want) {
			t.Errorf("bindings output lacks %q:\n%s", want, out)
		}
	}
	st, _, code := runCLI(t, nil, "edge", "status", "--url", url)
	if code != 0 || !strings.Contains(st, "replay "+pcap+" (done)") || !regexp.MustCompile(`(?m)^\s+bindings\s+1$`).MatchString(st) {
		t.Errorf("edge status (exit %d) lacks the DHCP replay:\n%s", code, st)
	}
	cancel()
	if c := <-exited; c != 0 {
		t.Fatalf("flowlake edge exited %d: %s", c, stderr.String())
	}
	jsonOut, errOut, code := runCLI(t, nil, "--json", "edge", "dhcp", "bindings", "--file", filepath.Join(spool, "dhcp_bindings.json"))
	if code != 0 {
		t.Fatalf("bindings --file exited %d: %s", code, errOut)
	}
	var bs []edge.Binding
	if err := json.Unmarshal([]byte(jsonOut), &bs); err != nil || len(bs) != 1 || bs[0].IP.String() != "10.0.0.42" || bs[0].MAC != mac.String() {
		t.Errorf("saved bindings %q: %v", jsonOut, err)
	}
	lc := lake.DefaultConfig()
	lc.Root = spool
	l, err := lake.Open(lc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	segs, err := l.Segments(context.Background(), schema.DHCPEvents, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var rows []schema.DHCPEvent
	for _, s := range segs {
		r, err := lake.Read[schema.DHCPEvent](context.Background(), l, s)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r...)
	}
	if len(rows) != 4 || rows[3].MsgType != schema.DHCPAck || rows[3].Edge != "edge" || rows[2].OfferServers != "10.0.0.1" {
		t.Errorf("spooled dhcp_events: %d rows %+v", len(rows), rows)
	}
}
