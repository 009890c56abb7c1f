package dhcp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
	"github.com/google/go-cmp/cmp"
)

// opt6 encodes one DHCPv6 option.
func opt6(code uint16, v ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func ip16(s string) []byte { a := netip.MustParseAddr(s).As16(); return a[:] }

// msg6 builds a DHCPv6 client or server message.
func msg6(typ byte, xid uint32, opts ...[]byte) []byte {
	return cat([]byte{typ, byte(xid >> 16), byte(xid >> 8), byte(xid)}, cat(opts...))
}

// relay6 wraps a message in a RELAY-FORW (12) or RELAY-REPL (13).
func relay6(typ, hops byte, link, peer string, inner []byte, opts ...[]byte) []byte {
	return cat([]byte{typ, hops}, ip16(link), ip16(peer), cat(opts...), opt6(9, inner...))
}

var (
	clientDUID = []byte{0, 1, 0, 1, 0x29, 0xd0, 0x81, 0x93, 0x28, 0xcf, 0xda, 0xdc, 0x8d, 0x76} // DUID-LLT, Ethernet
	serverDUID = []byte{0, 3, 0, 1, 0xce, 0x0d, 0xb4, 0x8a, 0x33, 0x84}                         // DUID-LL
)

// iana6 is an IA_NA (IAID 1) with T1, T2 and one address.
func iana6(t1, t2 uint32, addr string, pref, valid uint32) []byte {
	v := cat([]byte{0, 0, 0, 1}, u32(t1), u32(t2))
	if addr != "" {
		v = append(v, opt6(5, cat(ip16(addr), u32(pref), u32(valid))...)...)
	}
	return opt6(3, v...)
}

func TestDecodeV6(t *testing.T) {
	meta := func() *Meta {
		return &Meta{Edge: "e1", SrcAddr: netip.MustParseAddr("fe80::1"), DstAddr: netip.MustParseAddr("ff02::1:2"), SrcPort: 546, DstPort: 547}
	}
	base := func() schema.DHCPEvent {
		return schema.DHCPEvent{Edge: "e1", DHCPv6: true, SrcAddr: schema.MustParseAddr("fe80::1"), DstAddr: schema.MustParseAddr("ff02::1:2"),
			SrcPort: 546, DstPort: 547, XID: 0xaca407, ClientID: "0001000129d0819328cfdadc8d76", CHAddr: [6]byte{0x28, 0xcf, 0xda, 0xdc, 0x8d, 0x76}}
	}
	cases := []struct {
		name    string
		payload []byte
		want    func(r *schema.DHCPEvent)
	}{
		{"solicit", msg6(1, 0xaca407, opt6(1, clientDUID...), opt6(6, 0, 23, 0, 24), opt6(8, 0x02, 0xbf), iana6(3600, 5400, "", 0, 0)),
			func(r *schema.DHCPEvent) {
				r.MsgType, r.Op, r.ParamList, r.Secs, r.RenewalTime, r.RebindTime = "SOLICIT", 1, "23,24", 7, 3600, 5400
			}},
		{"reply with address, DNS and search list", msg6(7, 0xaca407, opt6(1, clientDUID...), opt6(2, serverDUID...),
			iana6(1800, 2880, "2001:db8::4", 18000, 28800), opt6(23, ip16("2001:db8::53")...), opt6(24, []byte("\x07example\x03org\x00")...)),
			func(r *schema.DHCPEvent) {
				r.MsgType, r.Op, r.ServerDUID = "REPLY", 2, "00030001ce0db48a3384"
				r.YIAddr, r.IANA, r.LeaseTime = schema.MustParseAddr("2001:db8::4"), "2001:db8::4", 28800
				r.RenewalTime, r.RebindTime, r.DNSServers, r.DomainSearch = 1800, 2880, "2001:db8::53", "example.org"
			}},
		{"request for an address", msg6(3, 0xaca407, opt6(1, clientDUID...), opt6(2, serverDUID...), iana6(0, 0, "2001:db8::4", 0, 0)),
			func(r *schema.DHCPEvent) {
				r.MsgType, r.Op, r.ServerDUID = "REQUEST", 1, "00030001ce0db48a3384"
				r.RequestedIP, r.IANA = schema.MustParseAddr("2001:db8::4"), "2001:db8::4"
			}},
		{"relayed release keeps link address, interface id and remote id",
			relay6(12, 0, "2001:db8:1::1", "fe80::2a", msg6(8, 0xaca407, opt6(1, clientDUID...)),
				opt6(18, []byte("Gi1/0/7")...), opt6(37, cat(u32(9), []byte{0xbe, 0xef})...)),
			func(r *schema.DHCPEvent) {
				r.MsgType, r.Op, r.Hops = "RELEASE", 1, 1
				r.GIAddr, r.CircuitID, r.RemoteID = schema.MustParseAddr("2001:db8:1::1"), "Gi1/0/7", "beef"
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d Decoder
			var got schema.DHCPEvent
			if err := d.DecodeV6(c.payload, meta(), &got); err != nil {
				t.Fatalf("DecodeV6: %v", err)
			}
			want := base()
			c.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
			if d.Counters.Decoded != 1 {
				t.Errorf("counters %+v", d.Counters)
			}
		})
	}
}

func TestDecodeV6Malformed(t *testing.T) {
	deep := msg6(1, 1, opt6(1, clientDUID...))
	for range 40 {
		deep = relay6(12, 0, "::", "::", deep)
	}
	cases := []struct {
		name    string
		payload []byte
		reason  Reason
		offset  int
	}{
		{"empty", nil, ReasonShort, 0},
		{"three bytes", []byte{1, 2, 3}, ReasonShort, 3},
		{"short relay header", []byte{12, 0, 1, 2}, ReasonShort, 4},
		{"option header cut", cat(msg6(1, 1), []byte{0, 1, 0}), ReasonTruncatedOption, 4},
		{"option past the end", cat(msg6(1, 1), []byte{0, 1, 0, 9, 1}), ReasonTruncatedOption, 4},
		{"truncated inside a relayed message", relay6(12, 0, "::", "::", cat(msg6(1, 1), []byte{0, 1, 0, 9})), ReasonTruncatedOption, 38 + 4},
		{"relays nested too deep", deep, ReasonBadOptionValue, 38 * 33},
		{"IA_NA too short", msg6(7, 1, opt6(3, 1, 2, 3)), ReasonBadOptionValue, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d Decoder
			var row schema.DHCPEvent
			err := d.DecodeV6(c.payload, &Meta{}, &row)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("DecodeV6 = %v, want a *DecodeError", err)
			}
			if de.Reason != c.reason || de.Offset != c.offset || !de.V6 {
				t.Errorf("reason %s at %d (v6 %v), want %s at %d (%v)", de.Reason, de.Offset, de.V6, c.reason, c.offset, err)
			}
			if d.Counters.Count(c.reason) != 1 || d.Counters.TotalRejected() != 1 {
				t.Errorf("counters %+v, want one %s", d.Counters, c.reason)
			}
		})
	}
}
