package dhcp

import (
	"encoding/binary"
	"net/netip"
)

// msg builds DHCPv4 messages for tests: a header, then options, optionally
// overloaded into file and sname.
type msg struct {
	op, htype, hlen, hops byte
	xid                   uint32
	secs, flags           uint16
	ciaddr, yiaddr        string
	siaddr, giaddr        string
	chaddr                [6]byte
	sname, file           string
	cookie                []byte // nil: the magic cookie
	opts                  [][]byte
	fileOpts, snameOpts   [][]byte
	noEnd                 bool
	trailer               []byte
}

// opt encodes one option.
func opt(code byte, v ...byte) []byte { return append([]byte{code, byte(len(v))}, v...) }

// ip4 returns an address's 4 bytes.
func ip4(s string) []byte { a := netip.MustParseAddr(s).As4(); return a[:] }

// u32 returns v as 4 big-endian bytes.
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func (m msg) bytes() []byte {
	p := make([]byte, 240)
	p[0], p[1], p[2], p[3] = m.op, m.htype, m.hlen, m.hops
	if p[0] == 0 {
		p[0] = 1
	}
	if m.htype == 0 && m.hlen == 0 {
		p[1], p[2] = 1, 6
	}
	binary.BigEndian.PutUint32(p[4:], m.xid)
	binary.BigEndian.PutUint16(p[8:], m.secs)
	binary.BigEndian.PutUint16(p[10:], m.flags)
	for i, s := range []string{m.ciaddr, m.yiaddr, m.siaddr, m.giaddr} {
		if s != "" {
			copy(p[12+4*i:], ip4(s))
		}
	}
	copy(p[28:], m.chaddr[:])
	copy(p[offSName:offSName+lenSName], m.sname)
	copy(p[offFile:offFile+lenFile], m.file)
	area := func(off, n int, opts [][]byte) {
		var b []byte
		for _, o := range opts {
			b = append(b, o...)
		}
		b = append(b, optEnd)
		copy(p[off:off+n], b)
	}
	if m.fileOpts != nil {
		area(offFile, lenFile, m.fileOpts)
	}
	if m.snameOpts != nil {
		area(offSName, lenSName, m.snameOpts)
	}
	copy(p[offCookie:], magicCookie[:])
	if m.cookie != nil {
		copy(p[offCookie:], m.cookie)
	}
	for _, o := range m.opts {
		p = append(p, o...)
	}
	if !m.noEnd {
		p = append(p, optEnd)
	}
	return append(p, m.trailer...)
}
