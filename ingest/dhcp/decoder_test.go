package dhcp

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
	"github.com/google/go-cmp/cmp"
)

var testMAC = [6]byte{0x00, 0x0a, 0x28, 0x00, 0xfa, 0x42}

// testMeta is the frame a test message arrives in.
func testMeta() *Meta {
	return &Meta{Time: 1_700_000_000_000_000, Edge: "e1", Device: "sw1", Interface: "ge-0/0/1", VLAN: 10,
		SrcAddr: netip.MustParseAddr("10.0.0.1"), DstAddr: netip.MustParseAddr("255.255.255.255"), SrcPort: 67, DstPort: 68, Trusted: true}
}

// baseRow is the row of a message with testMeta and no options.
func baseRow() schema.DHCPEvent {
	return schema.DHCPEvent{Time: 1_700_000_000_000_000, Edge: "e1", Device: "sw1", Interface: "ge-0/0/1", VLAN: 10, Trusted: true,
		SrcAddr: schema.MustParseAddr("10.0.0.1"), DstAddr: schema.MustParseAddr("255.255.255.255"), SrcPort: 67, DstPort: 68,
		Op: 2, HType: 1, HLen: 6, XID: 0x1234, CHAddr: testMAC}
}

func TestDecode(t *testing.T) {
	type tc struct {
		name string
		msg  msg
		want func(r *schema.DHCPEvent)
	}
	reply := func(opts ...[]byte) msg { return msg{op: 2, xid: 0x1234, chaddr: testMAC, opts: opts} }
	cases := []tc{
		{"header fields", msg{op: 2, hops: 1, xid: 0x1234, secs: 7, flags: 0x8001, ciaddr: "192.168.0.9", yiaddr: "192.168.0.10",
			siaddr: "10.0.0.2", giaddr: "10.0.0.254", chaddr: testMAC, sname: "boot", file: "pxelinux.0", opts: [][]byte{opt(53, 5)}},
			func(r *schema.DHCPEvent) {
				r.Hops, r.Secs, r.Flags, r.Broadcast = 1, 7, 0x8001, true
				r.CIAddr, r.YIAddr = schema.MustParseAddr("192.168.0.9"), schema.MustParseAddr("192.168.0.10")
				r.SIAddr, r.GIAddr = schema.MustParseAddr("10.0.0.2"), schema.MustParseAddr("10.0.0.254")
				r.SName, r.File, r.MsgType = "boot", "pxelinux.0", schema.DHCPAck
			}},
		{"every stored option", reply(
			opt(53, 5), opt(1, ip4("255.255.255.0")...), opt(3, append(ip4("10.0.0.254"), ip4("10.0.0.253")...)...),
			opt(6, ip4("9.9.9.9")...), opt(12, []byte("laptop-42\x00")...), opt(15, []byte("example.org")...),
			opt(50, ip4("10.0.0.7")...), opt(51, u32(3600)...), opt(54, ip4("10.0.0.1")...), opt(55, 1, 3, 6, 121),
			opt(58, u32(1800)...), opt(59, u32(3150)...), opt(60, []byte("MSFT 5.0")...), opt(61, 1, 0, 10, 40, 0, 250, 66),
			opt(81, append([]byte{0x05, 0, 0, 6}, []byte("laptop\x07example\x03org\x00")...)...),
			opt(82, append(append(opt(1, []byte("Gi1/0/3")...), opt(2, 0x00, 0x01, 0xff)...), opt(6, []byte("sub")...)...)...),
			opt(119, append([]byte("\x07example\x03org\x00\x03eng"), 0xc0, 0x00)...),
			opt(121, 24, 192, 168, 5, 10, 0, 0, 1, 0, 10, 0, 0, 254),
			opt(253, []byte("oasis.h3c.com")...)),
			func(r *schema.DHCPEvent) {
				r.MsgType, r.SubnetMask = schema.DHCPAck, schema.MustParseAddr("255.255.255.0")
				r.Routers, r.DNSServers, r.Hostname, r.DomainName = "10.0.0.254,10.0.0.253", "9.9.9.9", "laptop-42", "example.org"
				r.RequestedIP, r.LeaseTime, r.ServerID = schema.MustParseAddr("10.0.0.7"), 3600, schema.MustParseAddr("10.0.0.1")
				r.ParamList, r.RenewalTime, r.RebindTime, r.VendorClass = "1,3,6,121", 1800, 3150, "MSFT 5.0"
				r.ClientID, r.ClientFQDN = "01000a2800fa42", "laptop.example.org"
				r.CircuitID, r.RemoteID, r.RelayOther = "Gi1/0/3", "0001ff", "6=737562"
				r.DomainSearch = "example.org,eng.example.org"
				r.ClasslessRoutes = "192.168.5.0/24 via 10.0.0.1,0.0.0.0/0 via 10.0.0.254"
				r.Option253 = "oasis.h3c.com"
			}},
		{"ascii fqdn", reply(opt(53, 3), opt(81, append([]byte{0x01, 0, 0}, []byte("pc.example.org")...)...)),
			func(r *schema.DHCPEvent) { r.MsgType, r.ClientFQDN = schema.DHCPRequest, "pc.example.org" }},
		{"overload both: options in file then sname", msg{op: 2, xid: 0x1234, chaddr: testMAC, sname: "ignored", file: "ignored",
			opts: [][]byte{opt(53, 2), opt(52, 3)}, fileOpts: [][]byte{opt(51, u32(600)...)}, snameOpts: [][]byte{opt(54, ip4("10.0.0.1")...)}},
			func(r *schema.DHCPEvent) {
				r.MsgType, r.Overload, r.LeaseTime, r.ServerID = schema.DHCPOffer, 3, 600, schema.MustParseAddr("10.0.0.1")
			}},
		{"split option in RFC 3396 order: options, file, sname", msg{op: 2, xid: 0x1234, chaddr: testMAC,
			opts: [][]byte{opt(53, 6), opt(56, 'a'), opt(52, 3)}, fileOpts: [][]byte{opt(56, 'b')}, snameOpts: [][]byte{opt(56, 'c')}},
			func(r *schema.DHCPEvent) { r.MsgType, r.Overload, r.Message = schema.DHCPNak, 3, "abc" }},
		{"overload file keeps sname", msg{op: 2, xid: 0x1234, chaddr: testMAC, sname: "srv",
			opts: [][]byte{opt(53, 2), opt(52, 1)}, fileOpts: [][]byte{opt(12, []byte("h")...)}},
			func(r *schema.DHCPEvent) {
				r.MsgType, r.Overload, r.Hostname, r.SName = schema.DHCPOffer, 1, "h", "srv"
			}},
		{"split option concatenated (RFC 3396)", reply(opt(53, 5), opt(12, []byte("lap")...), opt(12, []byte("top")...)),
			func(r *schema.DHCPEvent) { r.MsgType, r.Hostname = schema.DHCPAck, "laptop" }},
		{"no option 53 is BOOTP", reply(), func(r *schema.DHCPEvent) { r.MsgType = "BOOTP" }},
		{"unknown message type", reply(opt(53, 106)), func(r *schema.DHCPEvent) { r.MsgType = "TYPE106" }},
		{"missing End accepted", msg{op: 2, xid: 0x1234, chaddr: testMAC, opts: [][]byte{opt(53, 7)}, noEnd: true},
			func(r *schema.DHCPEvent) { r.MsgType = schema.DHCPRelease }},
		{"pad and trailing bytes after End", msg{op: 2, xid: 0x1234, chaddr: testMAC, opts: [][]byte{{0, 0}, opt(53, 8)}, trailer: []byte{1, 2, 3}},
			func(r *schema.DHCPEvent) { r.MsgType = schema.DHCPInform }},
		{"hardware type 0 keeps chaddr bytes", msg{op: 2, htype: 0, hlen: 16, xid: 0x1234, chaddr: testMAC, opts: [][]byte{opt(53, 3)}},
			func(r *schema.DHCPEvent) { r.HType, r.HLen, r.MsgType = 0, 16, schema.DHCPRequest }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.msg.htype == 0 && c.msg.hlen == 16 {
				c.msg.htype = 0
			}
			var d Decoder
			var got schema.DHCPEvent
			if err := d.Decode(c.msg.bytes(), testMeta(), &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := baseRow()
			c.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
			if d.Counters.Decoded != 1 || d.Counters.TotalRejected() != 0 {
				t.Errorf("counters %+v, want 1 decoded", d.Counters)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	good := msg{op: 1, xid: 1, chaddr: testMAC, opts: [][]byte{opt(53, 1)}}.bytes()
	cases := []struct {
		name    string
		payload []byte
		reason  Reason
		offset  int
	}{
		{"empty", nil, ReasonShort, 0},
		{"header only", good[:239], ReasonShort, 239},
		{"op 0", append([]byte{0}, good[1:]...), ReasonBadOp, 0},
		{"bad cookie", msg{op: 1, cookie: []byte{1, 2, 3, 4}}.bytes(), ReasonBadCookie, 236},
		{"option without length", append(good[:240:240], 53), ReasonTruncatedOption, 240},
		{"option length past the end", append(good[:240:240], 12, 10, 'a'), ReasonTruncatedOption, 240},
		{"overloaded file truncated", func() []byte {
			p := msg{op: 2, opts: [][]byte{opt(52, 1)}}.bytes()
			p[offFile], p[offFile+1] = 12, 200
			return p
		}(), ReasonTruncatedOption, offFile},
		{"overload value 4", msg{op: 2, opts: [][]byte{opt(52, 4)}}.bytes(), ReasonBadOptionValue, 240},
		{"message type 2 bytes", msg{op: 2, opts: [][]byte{opt(53, 5, 5)}}.bytes(), ReasonBadOptionValue, 240},
		{"3-byte server id", msg{op: 2, opts: [][]byte{opt(54, 1, 2, 3)}}.bytes(), ReasonBadOptionValue, 240},
		{"router list of 5 bytes", msg{op: 2, opts: [][]byte{opt(3, 1, 2, 3, 4, 5)}}.bytes(), ReasonBadOptionValue, 240},
		{"lease time 2 bytes", msg{op: 2, opts: [][]byte{opt(51, 1, 2)}}.bytes(), ReasonBadOptionValue, 240},
		{"relay sub-option past its end", msg{op: 2, opts: [][]byte{opt(82, 1, 9, 'x')}}.bytes(), ReasonBadOptionValue, 240},
		{"fqdn too short", msg{op: 2, opts: [][]byte{opt(81, 1)}}.bytes(), ReasonBadOptionValue, 240},
		{"route mask 33", msg{op: 2, opts: [][]byte{opt(121, 33, 1, 2, 3, 4, 5, 1, 1, 1, 1)}}.bytes(), ReasonBadOptionValue, 240},
		{"search list pointer loop", msg{op: 2, opts: [][]byte{opt(119, 0xc0, 0x00)}}.bytes(), ReasonBadOptionValue, 240},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d Decoder
			var row schema.DHCPEvent
			err := d.Decode(c.payload, testMeta(), &row)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode = %v, want a *DecodeError", err)
			}
			if de.Reason != c.reason || de.Offset != c.offset {
				t.Errorf("reason %s at %d, want %s at %d (%v)", de.Reason, de.Offset, c.reason, c.offset, err)
			}
			if d.Counters.Count(c.reason) != 1 || d.Counters.TotalRejected() != 1 || d.Counters.Decoded != 0 {
				t.Errorf("counters %+v, want one %s", d.Counters, c.reason)
			}
		})
	}
}

// TestDecoderReuse checks that one message's options do not leak into the
// next message's row.
func TestDecoderReuse(t *testing.T) {
	var d Decoder
	var row schema.DHCPEvent
	if err := d.Decode(msg{op: 2, opts: [][]byte{opt(53, 5), opt(12, 'a'), opt(12, 'b')}}.bytes(), testMeta(), &row); err != nil {
		t.Fatal(err)
	}
	if err := d.Decode(msg{op: 2, opts: [][]byte{opt(53, 5)}}.bytes(), testMeta(), &row); err != nil {
		t.Fatal(err)
	}
	if row.Hostname != "" {
		t.Errorf("hostname %q leaked from the previous message", row.Hostname)
	}
}
