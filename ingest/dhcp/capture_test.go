package dhcp

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// frame is one packet of a test capture.
type frame struct {
	vlan         uint16
	v6           bool
	src, dst     string
	sport, dport uint16
	payload      []byte
	moreFrags    bool
}

// buildCapture writes frames as an Ethernet pcap (pcapng when ng).
func buildCapture(t *testing.T, ng bool, frames []frame) []byte {
	t.Helper()
	var buf bytes.Buffer
	var write func(gopacket.CaptureInfo, []byte) error
	flush := func() error { return nil }
	if ng {
		w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
		if err != nil {
			t.Fatal(err)
		}
		write, flush = w.WritePacket, w.Flush
	} else {
		w := pcapgo.NewWriter(&buf)
		if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		write = w.WritePacket
	}
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for i, f := range frames {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 1, 2, 3, 4, 5}, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeIPv4}
		var ls []gopacket.SerializableLayer
		ls = append(ls, eth)
		et := layers.EthernetTypeIPv4
		if f.v6 {
			et = layers.EthernetTypeIPv6
		}
		if f.vlan != 0 {
			eth.EthernetType = layers.EthernetTypeDot1Q
			ls = append(ls, &layers.Dot1Q{VLANIdentifier: f.vlan, Type: et})
		} else {
			eth.EthernetType = et
		}
		udp := &layers.UDP{SrcPort: layers.UDPPort(f.sport), DstPort: layers.UDPPort(f.dport)}
		if f.v6 {
			ip := &layers.IPv6{Version: 6, HopLimit: 1, NextHeader: layers.IPProtocolUDP, SrcIP: net.ParseIP(f.src), DstIP: net.ParseIP(f.dst)}
			_ = udp.SetNetworkLayerForChecksum(ip)
			ls = append(ls, ip)
		} else {
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(f.src).To4(), DstIP: net.ParseIP(f.dst).To4()}
			if f.moreFrags {
				ip.Flags = layers.IPv4MoreFragments
			}
			_ = udp.SetNetworkLayerForChecksum(ip)
			ls = append(ls, ip)
		}
		ls = append(ls, udp, gopacket.Payload(f.payload))
		sb := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatal(err)
		}
		data := sb.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * time.Second), CaptureLength: len(data), Length: len(data)}
		if err := write(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeCapture(t *testing.T) {
	discover := msg{op: 1, xid: 0x42, chaddr: testMAC, opts: [][]byte{opt(53, 1)}}.bytes()
	offer := msg{op: 2, xid: 0x42, yiaddr: "10.0.0.7", chaddr: testMAC, opts: [][]byte{opt(53, 2), opt(54, ip4("10.0.0.1")...)}}.bytes()
	bad := msg{op: 1, cookie: []byte{1, 2, 3, 4}}.bytes()
	solicit := msg6(1, 0xaca407, opt6(1, clientDUID...))
	frames := []frame{
		{vlan: 10, src: "0.0.0.0", dst: "255.255.255.255", sport: 68, dport: 67, payload: discover},
		{src: "10.0.0.1", dst: "10.0.0.7", sport: 67, dport: 68, payload: offer},
		{src: "10.0.0.9", dst: "10.0.0.1", sport: 5353, dport: 53, payload: []byte("dns")},
		{vlan: 20, src: "0.0.0.0", dst: "255.255.255.255", sport: 68, dport: 67, payload: bad},
		{v6: true, src: "fe80::1", dst: "ff02::1:2", sport: 546, dport: 547, payload: solicit},
		{src: "10.0.0.9", dst: "10.0.0.1", sport: 68, dport: 67, payload: discover[:100], moreFrags: true},
	}
	for _, ng := range []bool{false, true} {
		name := "pcap"
		if ng {
			name = "pcapng"
		}
		t.Run(name, func(t *testing.T) {
			res, err := DecodeCapture(buildCapture(t, ng, frames), Meta{Edge: "e1", Interface: "eth0"})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rows) != 3 || res.Frames[0] != 1 || res.Frames[1] != 2 || res.Frames[2] != 5 {
				t.Fatalf("rows at frames %v, want 1, 2, 5", res.Frames)
			}
			r := res.Rows[0]
			if r.VLAN != 10 || r.SrcPort != 68 || r.DstPort != 67 || r.SrcAddr.String() != "0.0.0.0" || r.DstAddr.String() != "255.255.255.255" ||
				r.Edge != "e1" || r.Interface != "eth0" || r.MsgType != "DISCOVER" || r.Time != time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC).UnixMicro() {
				t.Errorf("first row %+v", r)
			}
			if r := res.Rows[1]; r.VLAN != 0 || r.YIAddr.String() != "10.0.0.7" || r.MsgType != "OFFER" {
				t.Errorf("second row %+v", r)
			}
			if r := res.Rows[2]; !r.DHCPv6 || r.MsgType != "SOLICIT" || r.SrcAddr.String() != "fe80::1" {
				t.Errorf("third row %+v", r)
			}
			if len(res.Malformed) != 2 || res.Malformed[0].Frame != 4 || res.Malformed[0].Err.Reason != ReasonBadCookie ||
				res.Malformed[0].Meta.VLAN != 20 || !bytes.Equal(res.Malformed[0].Payload, bad) ||
				res.Malformed[1].Frame != 6 || res.Malformed[1].Err.Reason != ReasonShort {
				t.Errorf("malformed %+v", res.Malformed)
			}
			if res.Counters.Decoded != 3 || res.Counters.Count(ReasonBadCookie) != 1 || res.Counters.Count(ReasonShort) != 1 || res.V6 != 1 || res.Other != 1 {
				t.Errorf("counters %+v, v6 %d, other %d", res.Counters, res.V6, res.Other)
			}
		})
	}
}

func TestDecodeCaptureBadFile(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("not a capture at all"), {0x0a, 0x0d, 0x0d, 0x0a, 1, 2}} {
		if _, err := DecodeCapture(data, Meta{}); err == nil {
			t.Errorf("DecodeCapture(%q) accepted a broken capture", data)
		}
	}
}

// TestFramePayload: FramePayload finds DHCPv4 and DHCPv6 payloads in
// captured frames, with their VLAN and ports, and refuses other frames.
func TestFramePayload(t *testing.T) {
	frames := []frame{
		{src: "10.0.0.9", dst: "255.255.255.255", sport: 68, dport: 67, payload: make([]byte, 300)},
		{vlan: 42, src: "10.0.0.1", dst: "10.0.0.9", sport: 67, dport: 68, payload: make([]byte, 300)},
		{v6: true, src: "fe80::1", dst: "ff02::1:2", sport: 546, dport: 547, payload: make([]byte, 40)},
		{src: "10.0.0.9", dst: "10.0.0.1", sport: 5353, dport: 53, payload: make([]byte, 30)},
	}
	want := []struct {
		ok, v6 bool
		vlan   uint16
	}{{true, false, 0}, {true, false, 42}, {true, true, 0}, {false, false, 0}}
	src, err := openCapture(buildCapture(t, false, frames))
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		raw, _, err := src.ReadPacketData()
		if err != nil {
			t.Fatal(err)
		}
		var m Meta
		p, v6, ok := FramePayload(raw, src.LinkType(), &m)
		if ok != w.ok || v6 != w.v6 || m.VLAN != w.vlan || ok && len(p) != len(frames[i].payload) {
			t.Errorf("frame %d: ok %v v6 %v vlan %d len %d, want %+v", i, ok, v6, m.VLAN, len(p), w)
		}
	}
	if _, _, ok := FramePayload([]byte{1, 2, 3}, layers.LinkTypeEthernet, &Meta{}); ok {
		t.Error("3 bytes: ok")
	}
}
