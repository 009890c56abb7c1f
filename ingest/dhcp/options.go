package dhcp

import (
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/flowlake/flowlake/storage/schema"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/rfc1035label"
)

// msgTypeBOOTP is msg_type for a message without option 53: a plain BOOTP
// message.
const msgTypeBOOTP = "BOOTP"

// msgTypeNames are the option 53 values of RFC 2132, RFC 3203, RFC 4388,
// RFC 6926 and RFC 7724, indexed by value.
var msgTypeNames = [...]string{
	1: schema.DHCPDiscover, 2: schema.DHCPOffer, 3: schema.DHCPRequest, 4: schema.DHCPDecline,
	5: schema.DHCPAck, 6: schema.DHCPNak, 7: schema.DHCPRelease, 8: schema.DHCPInform,
	9: "FORCERENEW", 10: "LEASEQUERY", 11: "LEASEUNASSIGNED", 12: "LEASEUNKNOWN", 13: "LEASEACTIVE",
	14: "BULKLEASEQUERY", 15: "LEASEQUERYDONE", 16: "ACTIVELEASEQUERY", 17: "LEASEQUERYSTATUS", 18: "TLS",
}

// MsgTypeName returns the msg_type column value for an option 53 value: the
// RFC name in upper case, or "TYPE<n>" for a value no RFC defines.
func MsgTypeName(t uint8) string {
	if int(t) < len(msgTypeNames) && msgTypeNames[t] != "" {
		return msgTypeNames[t]
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// printableOrHex returns b as text when every byte is printable ASCII, else
// as lower-case hex: circuit and remote ids are names on some switches and
// binary port numbers on others.
func printableOrHex(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return hex.EncodeToString(b)
		}
	}
	return string(b)
}

// relayAgent maps option 82 (RFC 3046) onto circuit_id, remote_id and
// relay_other. It returns why the option is malformed, or "".
func relayAgent(b []byte, row *schema.DHCPEvent) string {
	var ro dhcpv4.RelayOptions
	if err := ro.FromBytes(b); err != nil {
		return "sub-options: " + err.Error()
	}
	codes := make([]int, 0, len(ro.Options))
	for c := range ro.Options {
		codes = append(codes, int(c))
	}
	slices.Sort(codes)
	var other []string
	for _, c := range codes {
		v := ro.Options[uint8(c)]
		switch c {
		case 1:
			row.CircuitID = printableOrHex(v)
		case 2:
			row.RemoteID = printableOrHex(v)
		default:
			other = append(other, strconv.Itoa(c)+"="+hex.EncodeToString(v))
		}
	}
	row.RelayOther = strings.Join(other, ",")
	return ""
}

// clientFQDN decodes option 81 (RFC 4702): flags, two obsolete rcodes, then
// the name in ASCII or, with flag E, in DNS wire format.
func clientFQDN(b []byte) (string, string) {
	if len(b) < 3 {
		return "", "length " + strconv.Itoa(len(b)) + ", want at least 3 (flags, rcode1, rcode2)"
	}
	name := b[3:]
	if b[0]&0x04 == 0 {
		return cleanText(name), ""
	}
	if len(name) == 0 {
		return "", ""
	}
	l, err := rfc1035label.FromBytes(name)
	if err != nil {
		return "", "domain name: " + err.Error()
	}
	return strings.Join(l.Labels, ","), ""
}

// domainSearch decodes option 119 (RFC 3397) into comma-separated domains.
func domainSearch(b []byte) (string, string) {
	l, err := rfc1035label.FromBytes(b)
	if err != nil {
		return "", "domain list: " + err.Error()
	}
	return strings.Join(l.Labels, ","), ""
}

// classlessRoutes decodes option 121 (RFC 3442) into comma-separated
// "prefix via router" entries.
func classlessRoutes(b []byte) (string, string) {
	var rs dhcpv4.Routes
	if err := rs.FromBytes(b); err != nil {
		return "", "routes: " + err.Error()
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Dest.String() + " via " + r.Router.String()
	}
	return strings.Join(parts, ","), ""
}
