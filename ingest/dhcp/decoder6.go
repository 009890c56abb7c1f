package dhcp

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
)

// DHCPv6 message types (RFC 8415 section 7.3) as stored in msg_type.
var msgTypeNames6 = [...]string{
	1: "SOLICIT", 2: "ADVERTISE", 3: "REQUEST", 4: "CONFIRM", 5: "RENEW", 6: "REBIND", 7: "REPLY",
	8: "RELEASE", 9: "DECLINE", 10: "RECONFIGURE", 11: "INFORMATION-REQUEST", 12: "RELAY-FORW", 13: "RELAY-REPL",
}

// MsgTypeName6 returns the msg_type column value for a DHCPv6 message type:
// the RFC 8415 name in upper case, or "TYPE<n>" for another value.
func MsgTypeName6(t uint8) string {
	if int(t) < len(msgTypeNames6) && msgTypeNames6[t] != "" {
		return msgTypeNames6[t]
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// maxRelayDepth bounds relay nesting (RFC 8415 HOP_COUNT_LIMIT is 8).
const maxRelayDepth = 32

// DecodeV6 decodes one DHCPv6 message (a UDP payload on port 546 or 547)
// into row, which it overwrites, unwrapping RELAY-FORW and RELAY-REPL to the
// client's or server's message. Errors and counting are as for Decode.
func (d *Decoder) DecodeV6(payload []byte, m *Meta, row *schema.DHCPEvent) error {
	err := decode6(payload, m, row)
	if err != nil {
		d.Counters.Rejected[err.Reason]++
		return err
	}
	d.Counters.Decoded++
	return nil
}

func errV6(r Reason, off int, what, why string) *DecodeError {
	return &DecodeError{V6: true, Reason: r, Offset: off, What: what, Why: why}
}

// checkOptions6 walks a DHCPv6 option area for framing errors, descending
// into relay messages, so that truncation gets its own reason and offset.
func checkOptions6(p []byte, base, depth int) *DecodeError {
	for i := 0; i < len(p); {
		if len(p)-i < 4 {
			return errV6(ReasonTruncatedOption, base+i, "option header", fmt.Sprintf("%d bytes left, an option header needs 4", len(p)-i))
		}
		code, l := binary.BigEndian.Uint16(p[i:]), int(binary.BigEndian.Uint16(p[i+2:]))
		if i+4+l > len(p) {
			return errV6(ReasonTruncatedOption, base+i, "option "+strconv.Itoa(int(code)),
				fmt.Sprintf("length %d runs past the end (%d bytes left)", l, len(p)-i-4))
		}
		if code == 9 { // Relay Message: a whole message
			if err := checkMessage6(p[i+4:i+4+l], base+i+4, depth+1); err != nil {
				return err
			}
		}
		i += 4 + l
	}
	return nil
}

func checkMessage6(p []byte, base, depth int) *DecodeError {
	if depth > maxRelayDepth {
		return errV6(ReasonBadOptionValue, base, "relay message", fmt.Sprintf("nested deeper than %d relays", maxRelayDepth))
	}
	if len(p) < 4 {
		return errV6(ReasonShort, base+len(p), "header", fmt.Sprintf("%d bytes, a DHCPv6 message needs at least 4", len(p)))
	}
	if p[0] == 12 || p[0] == 13 {
		if len(p) < 34 {
			return errV6(ReasonShort, base+len(p), "relay header", fmt.Sprintf("%d bytes, a relay message needs at least 34", len(p)))
		}
		return checkOptions6(p[34:], base+34, depth)
	}
	return checkOptions6(p[4:], base+4, depth)
}

func decode6(p []byte, m *Meta, row *schema.DHCPEvent) *DecodeError {
	if err := checkMessage6(p, 0, 0); err != nil {
		return err
	}
	parsed, err := dhcpv6.FromBytes(p)
	if err != nil {
		return errV6(ReasonBadOptionValue, 0, "options", err.Error())
	}
	*row = schema.DHCPEvent{
		Time: m.Time, Edge: m.Edge, Device: m.Device, Interface: m.Interface, VLAN: m.VLAN, Trusted: m.Trusted,
		SrcAddr: schema.AddrFrom(m.SrcAddr), DstAddr: schema.AddrFrom(m.DstAddr), SrcPort: m.SrcPort, DstPort: m.DstPort,
		DHCPv6: true,
	}
	// Unwrap relays; the innermost relay is the one on the client's link.
	var inner *dhcpv6.RelayMessage
	for parsed.IsRelay() {
		r, ok := parsed.(*dhcpv6.RelayMessage)
		if !ok {
			return errV6(ReasonBadOptionValue, 0, "relay message", "not a relay message")
		}
		inner = r
		row.Hops++
		parsed = r.Options.RelayMessage()
		if parsed == nil {
			return errV6(ReasonBadOptionValue, 0, "relay message", "no Relay Message option (9)")
		}
	}
	msg, ok := parsed.(*dhcpv6.Message)
	if !ok {
		return errV6(ReasonBadOptionValue, 0, "message", "not a client or server message")
	}
	t := uint8(msg.MessageType)
	row.MsgType = MsgTypeName6(t)
	row.Op = bootRequest
	if t == 2 || t == 7 || t == 10 { // ADVERTISE, REPLY, RECONFIGURE
		row.Op = bootReply
	}
	row.XID = uint32(msg.TransactionID[0])<<16 | uint32(msg.TransactionID[1])<<8 | uint32(msg.TransactionID[2])
	o := msg.Options
	if e := o.ElapsedTime(); e > 0 {
		row.Secs = uint16(min(e/time.Second, 65535))
	}
	if c := o.ClientID(); c != nil {
		b := c.ToBytes()
		row.ClientID = hex.EncodeToString(b)
		row.CHAddr = duidMAC(c)
	}
	if s := o.ServerID(); s != nil {
		row.ServerDUID = hex.EncodeToString(s.ToBytes())
	}
	var addrs []string
	for i, ia := range o.IANA() {
		if i == 0 {
			row.RenewalTime, row.RebindTime = seconds(ia.T1), seconds(ia.T2)
		}
		for _, a := range ia.Options.Addresses() {
			ip, ok := netip.AddrFromSlice(a.IPv6Addr)
			if !ok {
				continue
			}
			if len(addrs) == 0 {
				if row.Op == bootReply {
					row.YIAddr = schema.AddrFrom(ip)
				} else {
					row.RequestedIP = schema.AddrFrom(ip)
				}
				row.LeaseTime = seconds(a.ValidLifetime)
			}
			addrs = append(addrs, ip.String())
		}
	}
	row.IANA = strings.Join(addrs, ",")
	if oro := o.RequestedOptions(); len(oro) > 0 {
		codes := make([]string, len(oro))
		for i, c := range oro {
			codes[i] = strconv.Itoa(int(c))
		}
		row.ParamList = strings.Join(codes, ",")
	}
	row.DNSServers = ipList(o.DNS())
	if l := o.DomainSearchList(); l != nil {
		row.DomainSearch = strings.Join(l.Labels, ",")
	}
	if f := o.FQDN(); f != nil && f.DomainName != nil {
		row.ClientFQDN = strings.Join(f.DomainName.Labels, ",")
	}
	if inner != nil {
		if a, ok := netip.AddrFromSlice(inner.LinkAddr); ok && !a.IsUnspecified() {
			row.GIAddr = schema.AddrFrom(a)
		}
		if id := inner.Options.InterfaceID(); id != nil {
			row.CircuitID = printableOrHex(id)
		}
		if r := inner.Options.RemoteID(); r != nil {
			row.RemoteID = printableOrHex(r.RemoteID)
		}
		if row.CHAddr.IsZero() {
			if ht, hw := inner.Options.ClientLinkLayerAddress(); ht == iana.HWTypeEthernet && len(hw) == 6 {
				row.CHAddr = schema.MAC(hw)
			}
		}
	}
	return nil
}

// duidMAC returns the Ethernet address inside a DUID-LLT or DUID-LL, else
// the zero MAC.
func duidMAC(d dhcpv6.DUID) schema.MAC {
	var hw net.HardwareAddr
	switch v := d.(type) {
	case *dhcpv6.DUIDLLT:
		if v.HWType == iana.HWTypeEthernet {
			hw = v.LinkLayerAddr
		}
	case *dhcpv6.DUIDLL:
		if v.HWType == iana.HWTypeEthernet {
			hw = v.LinkLayerAddr
		}
	}
	if len(hw) != 6 {
		return schema.MAC{}
	}
	return schema.MAC(hw)
}

func seconds(d time.Duration) uint32 {
	s := d / time.Second
	if s < 0 {
		return 0
	}
	return uint32(min(s, 1<<32-1))
}

func ipList(ips []net.IP) string {
	parts := make([]string, 0, len(ips))
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip); ok {
			parts = append(parts, a.Unmap().String())
		}
	}
	return strings.Join(parts, ",")
}
