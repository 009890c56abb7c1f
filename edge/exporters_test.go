package edge

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	ft "github.com/flowlake/flowlake/ingest/flow/flowtest"
	"github.com/flowlake/flowlake/storage/schema"
)

// flowKey is what the exporter-quirk tests compare of a row.
type flowKey struct {
	Src, Dst         string
	Proto            uint8
	SrcPort, DstPort uint16
	Bytes, Packets   uint64
	Rate             uint32
	VLAN             uint16
}

func keyOf(r schema.Flow) flowKey {
	return flowKey{Src: r.SrcAddr.Netip().String(), Dst: r.DstAddr.Netip().String(), Proto: r.Proto, SrcPort: r.SrcPort, DstPort: r.DstPort,
		Bytes: r.Bytes, Packets: r.Packets, Rate: r.SamplingRate, VLAN: r.VLAN}
}

// ipfixOverUDP sends IPFIX messages to a fresh edge, stops it and returns
// the rows in the lake, in the order sent, and the edge.
func ipfixOverUDP(t *testing.T, msgs ...[]byte) ([]schema.Flow, *Edge) {
	t.Helper()
	l := openLake(t)
	cfg := testConfig(t)
	cfg.Workers = 1
	e := startEdge(t, cfg, l)
	send(t, e, e.Addrs()["ipfix"][0], msgs...)
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	return readFlows(t, l), e
}

// TestFrameSectionOverUDP: IPFIX records carrying only a sampled frame (IE
// 315 dataLinkFrameSection, as Juniper, SRv6 and EoMPLS exporters send)
// become rows with the frame's addresses, ports and protocol, bytes = frame
// length × rate and packets = rate, like sFlow's sampled headers; an
// IP-in-IP frame gives the inner header.
func TestFrameSectionOverUDP(t *testing.T) {
	now := uint32(time.Now().Unix())
	frame := ft.EthIPv4TCP([4]byte{192, 0, 2, 1}, [4]byte{198, 51, 100, 2}, 40000, 443, 0x18, 0, 231) // 14+4+40 bytes
	// IPv4-in-IPv6 (the SRv6/6in4 case): outer 2001:db8::a → 2001:db8::b, inner UDP 10.1.1.1:53 → 10.2.2.2:5353.
	inner := []byte{0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 1, 1, 1, 10, 2, 2, 2}
	inner = ft.BE16(ft.BE16(ft.BE16(ft.BE16(inner, 53), 5353), 8), 0)
	v6 := []byte{0x60, 0, 0, 0}
	v6 = append(ft.BE16(v6, uint16(len(inner))), 4, 64)
	v6 = append(append(v6, netip.MustParseAddr("2001:db8::a").AsSlice()...), netip.MustParseAddr("2001:db8::b").AsSlice()...)
	tunnel := append(append([]byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xdd}, v6...), inner...)
	varField := func(b []byte) []byte { return append([]byte{byte(len(b))}, b...) }

	tmpl := ft.Set(2,
		ft.TemplateRecord(500, ft.Field{ID: 10, Length: 4}, ft.Field{ID: 315, Length: 0xffff}),
		ft.TemplateRecord(501, ft.Field{ID: 34, Length: 4}, ft.Field{ID: 315, Length: 0xffff}),
		ft.TemplateRecord(502, ft.Field{ID: 312, Length: 2}, ft.Field{ID: 315, Length: 0xffff}))
	rows, e := ipfixOverUDP(t, ft.IPFIXMessage(now, 0, 1, tmpl,
		ft.Set(500, append(ft.BE32(nil, 7), varField(frame)...)),
		ft.Set(501, append(ft.BE32(nil, 100), varField(frame)...)),
		ft.Set(502, append(ft.BE16(nil, 1500), varField(tunnel)...))))
	a := func(s string) string { return s }
	want := []flowKey{
		{Src: a("192.0.2.1"), Dst: a("198.51.100.2"), Proto: 6, SrcPort: 40000, DstPort: 443, Bytes: 58, Packets: 1, Rate: 1, VLAN: 231},
		{Src: a("192.0.2.1"), Dst: a("198.51.100.2"), Proto: 6, SrcPort: 40000, DstPort: 443, Bytes: 5800, Packets: 100, Rate: 100, VLAN: 231},
		{Src: a("10.1.1.1"), Dst: a("10.2.2.2"), Proto: 17, SrcPort: 53, DstPort: 5353, Bytes: 1500, Packets: 1, Rate: 1},
	}
	var got []flowKey
	for _, r := range rows {
		got = append(got, keyOf(r))
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("rows (-want +got):\n%s", d)
	}
	c := e.Decoder().Counters().Snapshot()
	if c.FrameSections != 3 || c.FrameUnparsed != 0 || c.TunnelRecords != 1 {
		t.Errorf("frame sections %d, unparsed %d, tunnel records %d; want 3, 0, 1", c.FrameSections, c.FrameUnparsed, c.TunnelRecords)
	}
	if m := gatherMetrics(t, e); m["flowlake_edge_decoder_events_total/frame_sections"] != 3 {
		t.Errorf("metric frame_sections %v, want 3", m["flowlake_edge_decoder_events_total/frame_sections"])
	}
}

// TestTunnelTemplateOverUDP: a Huawei-style template with the outer
// (tunnel) header's IPv6 addresses and protocol 4 and the inner IPv4 UDP
// header's addresses, protocol and ports gives rows wholly from the inner
// header, never outer addresses with inner ports.
func TestTunnelTemplateOverUDP(t *testing.T) {
	now := uint32(time.Now().Unix())
	a := func(s string) string { return s }
	outerSrc, outerDst := netip.MustParseAddr("2001:db8:1::1").AsSlice(), netip.MustParseAddr("2001:db8:2::2").AsSlice()
	tests := []struct {
		name   string
		fields []ft.Field
		rec    []byte
		want   flowKey
	}{
		{
			name:   "outer first (27, 28, proto 4), then inner (8, 12, proto 17, ports)",
			fields: []ft.Field{{ID: 27, Length: 16}, {ID: 28, Length: 16}, {ID: 4, Length: 1}, {ID: 8, Length: 4}, {ID: 12, Length: 4}, {ID: 4, Length: 1}, {ID: 7, Length: 2}, {ID: 11, Length: 2}, {ID: 1, Length: 4}, {ID: 2, Length: 4}},
			rec:    ft.BE32(ft.BE32(ft.BE16(ft.BE16(append(append(append(append(append([]byte{}, outerSrc...), outerDst...), 4), 192, 0, 2, 10, 198, 51, 100, 20), 17), 2222), 1111), 900), 3),
			want:   flowKey{Src: a("192.0.2.10"), Dst: a("198.51.100.20"), Proto: 17, SrcPort: 2222, DstPort: 1111, Bytes: 900, Packets: 3, Rate: 1},
		},
		{
			name:   "inner first (8, 12, proto 17, ports), then outer (27, 28, proto 4)",
			fields: []ft.Field{{ID: 8, Length: 4}, {ID: 12, Length: 4}, {ID: 4, Length: 1}, {ID: 7, Length: 2}, {ID: 11, Length: 2}, {ID: 27, Length: 16}, {ID: 28, Length: 16}, {ID: 4, Length: 1}, {ID: 1, Length: 4}, {ID: 2, Length: 4}},
			rec:    ft.BE32(ft.BE32(append(append(append(ft.BE16(ft.BE16([]byte{192, 0, 2, 10, 198, 51, 100, 20, 17}, 2222), 1111), outerSrc...), outerDst...), 4), 900), 3),
			want:   flowKey{Src: a("192.0.2.10"), Dst: a("198.51.100.20"), Proto: 17, SrcPort: 2222, DstPort: 1111, Bytes: 900, Packets: 3, Rate: 1},
		},
		{
			name:   "dual-stack template, IPv4 side zero: the IPv6 header",
			fields: []ft.Field{{ID: 27, Length: 16}, {ID: 28, Length: 16}, {ID: 8, Length: 4}, {ID: 12, Length: 4}, {ID: 4, Length: 1}, {ID: 7, Length: 2}, {ID: 11, Length: 2}},
			rec:    ft.BE16(ft.BE16(append(append(append(append([]byte{}, outerSrc...), outerDst...), 0, 0, 0, 0, 0, 0, 0, 0), 6), 1), 2),
			want:   flowKey{Src: a("2001:db8:1::1"), Dst: a("2001:db8:2::2"), Proto: 6, SrcPort: 1, DstPort: 2, Rate: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, e := ipfixOverUDP(t, ft.IPFIXMessage(now, 0, 1, ft.Set(2, ft.TemplateRecord(600, tc.fields...)), ft.Set(600, tc.rec)))
			if len(rows) != 1 {
				t.Fatalf("%d rows, want 1", len(rows))
			}
			if d := cmp.Diff(tc.want, keyOf(rows[0])); d != "" {
				t.Errorf("row (-want +got):\n%s", d)
			}
			tunnel := netip.MustParseAddr(tc.want.Src).Is4()
			if got := e.Decoder().Counters().Snapshot().TunnelRecords; (got == 1) != tunnel {
				t.Errorf("tunnel records %d, tunnel %v", got, tunnel)
			}
		})
	}
}
