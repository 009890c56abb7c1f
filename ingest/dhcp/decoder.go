package dhcp

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/flowlake/flowlake/storage/schema"
)

// Layout of the fixed BOOTP header (RFC 2131 section 2).
const (
	offSName    = 44
	offFile     = 108
	offCookie   = 236
	offOptions  = 240
	lenSName    = 64
	lenFile     = 128
	minMessage  = offOptions
	bootRequest = 1
	bootReply   = 2
)

// Option codes the decoder maps onto columns.
const (
	optPad          = 0
	optSubnetMask   = 1
	optRouter       = 3
	optDNS          = 6
	optHostname     = 12
	optDomainName   = 15
	optRequestedIP  = 50
	optLeaseTime    = 51
	optOverload     = 52
	optMsgType      = 53
	optServerID     = 54
	optMessage      = 56
	optParamList    = 55
	optRenewalTime  = 58
	optRebindTime   = 59
	optVendorClass  = 60
	optClientID     = 61
	optClientFQDN   = 81
	optRelayAgent   = 82
	optDomainSearch = 119
	optClassless    = 121
	opt253          = 253
	optEnd          = 255
)

var magicCookie = [4]byte{99, 130, 83, 99}

// Meta is what the caller knows about the frame that carried a message. The
// decoder copies it into the row unchanged.
type Meta struct {
	// Time is when the frame was seen, µs since the Unix epoch (UTC).
	Time int64
	// Edge, Device and Interface name the collector and capture point.
	Edge, Device, Interface string
	// VLAN is the 802.1Q tag the frame arrived with (0 when untagged).
	VLAN uint16
	// SrcAddr and DstAddr are the IP header's addresses.
	SrcAddr, DstAddr netip.Addr
	// SrcPort and DstPort are the UDP ports (0 when unknown).
	SrcPort, DstPort uint16
	// Trusted says whether the frame arrived on a trusted (snooping) port.
	Trusted bool
}

// optVal is where an option's value lives: either a slice of the message
// (the common case) or, for an option split into several instances (RFC
// 3396), a concatenated copy.
type optVal struct {
	b    []byte
	off  int // offset of the first instance's value in the payload
	seen bool
}

// Decoder decodes DHCPv4 messages into rows and counts them. It keeps
// per-message scratch space, so one Decoder serves one goroutine; its zero
// value is ready to use.
type Decoder struct {
	// Counters counts what Decode accepted and rejected.
	Counters Counters

	opts [256]optVal
	seen []uint8
}

// Decode decodes one DHCPv4 message (a UDP payload) into row, which it
// overwrites. A malformed message returns a *DecodeError, counted in
// d.Counters under its Reason; row is then left in an unspecified state and
// the caller keeps payload as the raw evidence.
func (d *Decoder) Decode(payload []byte, m *Meta, row *schema.DHCPEvent) error {
	err := d.decode(payload, m, row)
	for _, c := range d.seen {
		d.opts[c] = optVal{}
	}
	d.seen = d.seen[:0]
	if err != nil {
		d.Counters.Rejected[err.Reason]++
		return err
	}
	d.Counters.Decoded++
	return nil
}

func (d *Decoder) decode(p []byte, m *Meta, row *schema.DHCPEvent) *DecodeError {
	if len(p) < minMessage {
		return &DecodeError{Reason: ReasonShort, Offset: len(p), What: "header",
			Why: fmt.Sprintf("%d bytes, a DHCP message needs at least %d (BOOTP header and magic cookie)", len(p), minMessage)}
	}
	if op := p[0]; op != bootRequest && op != bootReply {
		return &DecodeError{Reason: ReasonBadOp, Offset: 0, What: "header op", Why: fmt.Sprintf("op %d is neither 1 (BOOTREQUEST) nor 2 (BOOTREPLY)", op)}
	}
	if [4]byte(p[offCookie:offOptions]) != magicCookie {
		return &DecodeError{Reason: ReasonBadCookie, Offset: offCookie, What: "magic cookie",
			Why: fmt.Sprintf("got % x, want 63 82 53 63", p[offCookie:offOptions])}
	}
	*row = schema.DHCPEvent{
		Time: m.Time, Edge: m.Edge, Device: m.Device, Interface: m.Interface, VLAN: m.VLAN, Trusted: m.Trusted,
		SrcAddr: schema.AddrFrom(m.SrcAddr), DstAddr: schema.AddrFrom(m.DstAddr), SrcPort: m.SrcPort, DstPort: m.DstPort,
		Op: p[0], HType: p[1], HLen: p[2], Hops: p[3],
		XID:   binary.BigEndian.Uint32(p[4:8]),
		Secs:  binary.BigEndian.Uint16(p[8:10]),
		Flags: binary.BigEndian.Uint16(p[10:12]),
	}
	row.Broadcast = row.Flags&0x8000 != 0
	row.CIAddr = addr4(p[12:16])
	row.YIAddr = addr4(p[16:20])
	row.SIAddr = addr4(p[20:24])
	row.GIAddr = addr4(p[24:28])
	n := min(int(row.HLen), 6)
	copy(row.CHAddr[:n], p[28:28+n])

	if err := d.walk(p, offOptions, len(p), "options"); err != nil {
		return err
	}
	overload := uint8(0)
	if o := d.opts[optOverload]; o.seen {
		if len(o.b) != 1 || o.b[0] < 1 || o.b[0] > 3 {
			return badValue(o, optOverload, "want one byte 1 (file), 2 (sname) or 3 (both)")
		}
		overload = o.b[0]
		row.Overload = overload
	}
	// RFC 2131 section 4.1: the options field, then file, then sname.
	if overload&1 != 0 {
		if err := d.walk(p, offFile, offFile+lenFile, "file (overloaded)"); err != nil {
			return err
		}
	} else {
		row.File = cString(p[offFile : offFile+lenFile])
	}
	if overload&2 != 0 {
		if err := d.walk(p, offSName, offSName+lenSName, "sname (overloaded)"); err != nil {
			return err
		}
	} else {
		row.SName = cString(p[offSName : offSName+lenSName])
	}
	return d.fill(row)
}

// walk records the options of p[from:to]. Pad is skipped; End, or the end
// of the area, ends it (a missing End is accepted, as clients in the wild
// omit it).
func (d *Decoder) walk(p []byte, from, to int, area string) *DecodeError {
	for i := from; i < to; {
		c := p[i]
		if c == optPad {
			i++
			continue
		}
		if c == optEnd {
			return nil
		}
		if i+1 >= to {
			return &DecodeError{Reason: ReasonTruncatedOption, Offset: i, What: "option " + strconv.Itoa(int(c)),
				Why: "no length byte before the end of the " + area + " area"}
		}
		l := int(p[i+1])
		if i+2+l > to {
			return &DecodeError{Reason: ReasonTruncatedOption, Offset: i, What: "option " + strconv.Itoa(int(c)),
				Why: fmt.Sprintf("length %d runs past the end of the %s area (%d bytes left)", l, area, to-i-2)}
		}
		v := p[i+2 : i+2+l : i+2+l]
		o := &d.opts[c]
		switch {
		case !o.seen:
			*o = optVal{b: v, off: i, seen: true}
			d.seen = append(d.seen, c)
		default: // RFC 3396: instances of one option are concatenated
			o.b = append(append(make([]byte, 0, len(o.b)+l), o.b...), v...)
		}
		i += 2 + l
	}
	return nil
}

func badValue(o optVal, code int, why string) *DecodeError {
	return &DecodeError{Reason: ReasonBadOptionValue, Offset: o.off, What: "option " + strconv.Itoa(code), Why: why}
}

// fill maps the recorded options onto row's columns.
func (d *Decoder) fill(row *schema.DHCPEvent) *DecodeError {
	o := &d.opts
	row.MsgType = msgTypeBOOTP
	if v := o[optMsgType]; v.seen {
		if len(v.b) != 1 {
			return badValue(v, optMsgType, fmt.Sprintf("length %d, want 1", len(v.b)))
		}
		row.MsgType = MsgTypeName(v.b[0])
	}
	var err *DecodeError
	one := func(code int, dst *schema.Addr) {
		if v := o[code]; v.seen && err == nil {
			if len(v.b) != 4 {
				err = badValue(v, code, fmt.Sprintf("length %d, want a 4-byte address", len(v.b)))
				return
			}
			*dst = addr4(v.b)
		}
	}
	one(optSubnetMask, &row.SubnetMask)
	one(optRequestedIP, &row.RequestedIP)
	one(optServerID, &row.ServerID)
	list := func(code int, dst *string) {
		if v := o[code]; v.seen && err == nil {
			if len(v.b) == 0 || len(v.b)%4 != 0 {
				err = badValue(v, code, fmt.Sprintf("length %d, want a non-empty multiple of 4 (addresses)", len(v.b)))
				return
			}
			*dst = addrList(v.b)
		}
	}
	list(optRouter, &row.Routers)
	list(optDNS, &row.DNSServers)
	u32 := func(code int, dst *uint32) {
		if v := o[code]; v.seen && err == nil {
			if len(v.b) != 4 {
				err = badValue(v, code, fmt.Sprintf("length %d, want 4 (seconds)", len(v.b)))
				return
			}
			*dst = binary.BigEndian.Uint32(v.b)
		}
	}
	u32(optLeaseTime, &row.LeaseTime)
	u32(optRenewalTime, &row.RenewalTime)
	u32(optRebindTime, &row.RebindTime)
	if err != nil {
		return err
	}
	text := func(code int, dst *string) {
		if v := o[code]; v.seen {
			*dst = cleanText(v.b)
		}
	}
	text(optHostname, &row.Hostname)
	text(optDomainName, &row.DomainName)
	text(optVendorClass, &row.VendorClass)
	text(optMessage, &row.Message)
	text(opt253, &row.Option253)
	if v := o[optParamList]; v.seen {
		row.ParamList = paramList(v.b)
	}
	if v := o[optClientID]; v.seen {
		row.ClientID = hex.EncodeToString(v.b)
	}
	if v := o[optClientFQDN]; v.seen {
		s, e := clientFQDN(v.b)
		if e != "" {
			return badValue(v, optClientFQDN, e)
		}
		row.ClientFQDN = s
	}
	if v := o[optRelayAgent]; v.seen {
		if e := relayAgent(v.b, row); e != "" {
			return badValue(v, optRelayAgent, e)
		}
	}
	if v := o[optDomainSearch]; v.seen {
		s, e := domainSearch(v.b)
		if e != "" {
			return badValue(v, optDomainSearch, e)
		}
		row.DomainSearch = s
	}
	if v := o[optClassless]; v.seen {
		s, e := classlessRoutes(v.b)
		if e != "" {
			return badValue(v, optClassless, e)
		}
		row.ClasslessRoutes = s
	}
	return nil
}

// addr4 returns the IPv4 address in b (4 bytes) as a column value; 0.0.0.0
// is the zero (null) Addr.
func addr4(b []byte) schema.Addr {
	a := [4]byte(b)
	if a == [4]byte{} {
		return schema.Addr{}
	}
	return schema.AddrFrom(netip.AddrFrom4(a))
}

// addrList formats b (a multiple of 4 bytes) as comma-separated addresses.
func addrList(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) * 4)
	for i := 0; i < len(b); i += 4 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(netip.AddrFrom4([4]byte(b[i : i+4])).String())
	}
	return sb.String()
}

// paramList formats option 55 as comma-separated decimal codes.
func paramList(b []byte) string {
	buf := make([]byte, 0, len(b)*4)
	for i, c := range b {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendUint(buf, uint64(c), 10)
	}
	return string(buf)
}

// cString returns a NUL-terminated header field as text ("" when empty).
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	return cleanText(b)
}

// cleanText returns an option's text with trailing NULs removed (senders
// often NUL-terminate), as valid UTF-8.
func cleanText(b []byte) string {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
