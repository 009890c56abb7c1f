package tcptrace

import (
	"strconv"
	"strings"

	"github.com/flowlake/flowlake/storage/schema"
)

// header reads "MDC ID: 1, Sep 18 15:38:58:503 2019, VPN name: N/A", the
// first line of a verbose block, and starts a connection.
func (p *parser) header(n int, sc *scanner) error {
	c := &conn{line: n, verbose: true, device: p.device}
	sc.lit("MDC ID:")
	c.row.MDCID = uint16(sc.uint(16, "MDC ID"))
	sc.lit(",")
	c.row.Time = schema.Micros(sc.devTime(p.opt.Location, "close time"))
	sc.lit(",")
	sc.lit("VPN name:")
	vpn, _ := sc.word("")
	c.row.VPN = vpnName(vpn)
	if sc.err != "" {
		return p.errAt(n, sc.ecol, "%s", sc.err)
	}
	p.conns = append(p.conns, c)
	p.cur, p.pkt, p.mode = c, -1, modePacket
	return nil
}

// packetStart reads "(1) Sep 18 15:33:08:367 2019 RS" and starts a packet.
func (p *parser) packetStart(n int, sc *scanner) error {
	var pk schema.TCPPacket
	sc.lit("(")
	pk.Index = uint16(sc.uint(16, "packet number"))
	sc.lit(")")
	pk.Time = schema.Micros(sc.devTime(p.opt.Location, "packet time"))
	pk.Event, _ = sc.word("")
	if sc.err == "" && pk.Event == "" {
		sc.fail(sc.pos, "want the packet's event code (for example RS) after its time")
	}
	if sc.err != "" {
		return p.errAt(n, sc.ecol, "%s", sc.err)
	}
	p.pkts = append(p.pkts, pk)
	p.pkt = len(p.pkts) - 1
	p.cur.pkts = append(p.cur.pkts, p.pkt)
	return nil
}

// connLines are the verbose block's connection lines; pktLines need a
// packet. Each reads its line with the scanner.
var connLines = []struct {
	prefix string
	read   func(p *parser, sc *scanner, c *schema.TCPConn)
}{
	{"Connection:", func(p *parser, sc *scanner, c *schema.TCPConn) {
		sc.lit("Connection:")
		c.LocalAddr, c.LocalPort = sc.endpoint("local address")
		arrow, off := sc.word("")
		if sc.err == "" && arrow != "->" && arrow != "-->" {
			sc.fail(off, "want -> or --> between the endpoints, found %q", clip(arrow))
		}
		c.ForeignAddr, c.ForeignPort = sc.endpoint("foreign address")
	}},
	{"Reason:", func(p *parser, sc *scanner, c *schema.TCPConn) {
		sc.lit("Reason:")
		off := sc.pos + 1
		name := sc.rest()
		code, ok := reasonNames[strings.ToLower(name)]
		if !ok && isReason(name) {
			code, ok = name, true
		}
		if !ok {
			sc.fail(off, "unknown reason %q (want one of the legend's: peer normal close, received reset, …)", clip(name))
		}
		c.Reason = code
	}},
	{"sndmax/localackmax/scale/mss:", func(p *parser, sc *scanner, c *schema.TCPConn) {
		sc.lit("sndmax/localackmax/scale/mss:")
		c.SndMax = uint32(sc.uint(32, "sndmax"))
		sc.lit("/")
		c.LocalAckMax = uint32(sc.uint(32, "localackmax"))
		sc.lit("/")
		c.SndScale = uint8(sc.uint(8, "send scale"))
		sc.lit("/")
		c.SndMSS = uint16(sc.uint(16, "send mss"))
	}},
	{"rcvmax/peerackmax/scale/mss:", func(p *parser, sc *scanner, c *schema.TCPConn) {
		sc.lit("rcvmax/peerackmax/scale/mss:")
		c.RcvMax = uint32(sc.uint(32, "rcvmax"))
		sc.lit("/")
		c.PeerAckMax = uint32(sc.uint(32, "peerackmax"))
		sc.lit("/")
		c.RcvScale = uint8(sc.uint(8, "receive scale"))
		sc.lit("/")
		c.RcvMSS = uint16(sc.uint(16, "receive mss"))
	}},
	{"iss ", func(p *parser, sc *scanner, c *schema.TCPConn) {
		sc.lit("iss")
		c.ISS = uint32(sc.uint(32, "iss"))
		sc.lit(",")
		sc.lit("irs")
		c.IRS = uint32(sc.uint(32, "irs"))
		sc.lit(",")
		sc.lit("in")
		c.InPackets = uint32(sc.uint(32, "in"))
		sc.lit("(drop")
		c.InDropped = uint32(sc.uint(32, "drop"))
		sc.lit(")")
		sc.lit(",")
		sc.lit("out")
		c.OutPackets = uint32(sc.uint(32, "out"))
		sc.lit(",")
		sc.lit("retrans")
		c.RetransPackets = uint32(sc.uint(32, "retrans"))
	}},
	{"connection time:", func(p *parser, sc *scanner, c *schema.TCPConn) {
		sc.lit("connection time:")
		c.ConnectedAt = schema.Micros(sc.devTime(p.opt.Location, "connection time"))
	}},
}

var pktLines = []struct {
	prefix string
	read   func(p *parser, sc *scanner, c *schema.TCPConn, pk *schema.TCPPacket)
}{
	{"seq ", readSeq},
	{"flag ", readFlag},
	{"iss/sndcc/unack/next/max/wnd:", func(p *parser, sc *scanner, c *schema.TCPConn, pk *schema.TCPPacket) {
		sc.lit("iss/sndcc/unack/next/max/wnd:")
		off := sc.pos
		v := sc.slashed(32, "iss", "sndcc", "unack", "next", "max", "wnd")
		if sc.err == "" && uint32(v[0]) != c.ISS {
			sc.fail(off+1, "iss %d differs from the connection's iss %d", v[0], c.ISS)
		}
		pk.SndCC, pk.SndUna, pk.SndNxt, pk.SndMaxSeq, pk.SndWnd = uint32(v[1]), uint32(v[2]), uint32(v[3]), uint32(v[4]), uint32(v[5])
	}},
	{"irs/rcvcc/undeliver/next/adv/wnd:", func(p *parser, sc *scanner, c *schema.TCPConn, pk *schema.TCPPacket) {
		sc.lit("irs/rcvcc/undeliver/next/adv/wnd:")
		off := sc.pos
		v := sc.slashed(32, "irs", "rcvcc", "undeliver", "next", "adv", "wnd")
		if sc.err == "" && uint32(v[0]) != c.IRS {
			sc.fail(off+1, "irs %d differs from the connection's irs %d", v[0], c.IRS)
		}
		pk.RcvCC, pk.RcvUndelivered, pk.RcvNxt, pk.RcvAdv, pk.RcvWnd = uint32(v[1]), uint32(v[2]), uint32(v[3]), uint32(v[4]), uint32(v[5])
	}},
	{"socket state:", textField("socket state:", func(pk *schema.TCPPacket, s string) { pk.SocketState = s })},
	{"socket options:", textField("socket options:", func(pk *schema.TCPPacket, s string) { pk.SocketOptions = s })},
	{"inpcb flags:", textField("inpcb flags:", func(pk *schema.TCPPacket, s string) { pk.InpcbFlags = s })},
	{"inpcb extflag:", textField("inpcb extflag:", func(pk *schema.TCPPacket, s string) { pk.InpcbExtFlags = s })},
	{"TCP options:", textField("TCP options:", func(pk *schema.TCPPacket, s string) { pk.TCPOptions = s })},
	{"recv delayack:", func(p *parser, sc *scanner, c *schema.TCPConn, pk *schema.TCPPacket) {
		sc.lit("recv delayack:")
		pk.RcvDelayAck = uint32(sc.uint(32, "recv delayack"))
	}},
}

// textField reads a "label: words" line into a string field.
func textField(label string, set func(*schema.TCPPacket, string)) func(*parser, *scanner, *schema.TCPConn, *schema.TCPPacket) {
	return func(p *parser, sc *scanner, c *schema.TCPConn, pk *schema.TCPPacket) {
		sc.lit(label)
		set(pk, sc.rest())
	}
}

// Labels of the multi-line numeric groups and how many numbers follow.
const (
	timeLabel  = "time start/offset/nsroffset start/lastrcv/tsrecent tsrecentage"
	rexmtLabel = "rexmt shift/current/seq rtt/srtt/var low/min/best updatetimes"
)

// verboseLine reads a line inside a verbose block; false when t is none
// of its lines.
func (p *parser) verboseLine(n int, sc *scanner, t string) (bool, error) {
	for _, l := range connLines {
		if strings.HasPrefix(t, l.prefix) {
			l.read(p, sc, &p.cur.row)
			return true, nil
		}
	}
	var label string
	switch {
	case strings.Join(strings.Fields(t), " ") == timeLabel:
		label = timeLabel
	case strings.Join(strings.Fields(t), " ") == rexmtLabel:
		label = rexmtLabel
	}
	for _, l := range pktLines {
		if strings.HasPrefix(t, l.prefix) || label != "" {
			if p.pkt < 0 {
				sc.skipSpace()
				return true, p.errAt(n, sc.col(sc.pos), "packet line before any \"(n) time code\" packet line of the block on line %d", p.cur.line)
			}
			if label != "" {
				want := 7
				if label == rexmtLabel {
					want = 10
				}
				p.grp = &group{name: label, line: n, want: want}
				sc.pos = len(sc.s)
				return true, nil
			}
			l.read(p, sc, &p.cur.row, &p.pkts[p.pkt])
			return true, nil
		}
	}
	return false, nil
}

// readSeq reads "seq 2236102038(67), ack 3798739839(512), data 6, NSR
// invalid (CLOSED)". The relative numbers in parentheses say which side
// sent the packet: relative to iss, the traced host sent it.
func readSeq(p *parser, sc *scanner, c *schema.TCPConn, pk *schema.TCPPacket) {
	sc.lit("seq")
	pk.Seq = uint32(sc.uint(32, "seq"))
	sc.lit("(")
	relSeq := uint32(sc.uint(32, "relative seq"))
	sc.lit(")")
	sc.lit(",")
	sc.lit("ack")
	pk.Ack = uint32(sc.uint(32, "ack"))
	sc.lit("(")
	relAck := uint32(sc.uint(32, "relative ack"))
	sc.lit(")")
	sc.lit(",")
	sc.lit("data")
	pk.DataLen = uint16(sc.uint(16, "data"))
	sc.lit(",")
	sc.lit("NSR")
	pk.NSRState = sc.rest()
	switch {
	case pk.Seq-c.ISS == relSeq && pk.Ack-c.IRS == relAck:
		pk.Direction = "out"
	case pk.Seq-c.IRS == relSeq && pk.Ack-c.ISS == relAck:
		pk.Direction = "in"
	default:
		pk.Direction = eventDirection(pk.Event)
	}
}

// eventDirection is the direction an event code implies when the
// sequence numbers cannot say: S and RS are sends, R a receive.
func eventDirection(ev string) string {
	switch ev {
	case "S", "RS":
		return "out"
	case "R":
		return "in"
	}
	return ""
}

// readFlag reads "flag PSH ACK, status ESTABLISHED, win: 8145, csum:
// 0xeab6, ID: 200, ipcsum: 0x0"; IPv6 blocks end after csum.
func readFlag(p *parser, sc *scanner, c *schema.TCPConn, pk *schema.TCPPacket) {
	sc.lit("flag")
	for sc.err == "" && !sc.peek(",") {
		w, off := sc.word(",")
		if w == "" {
			sc.fail(off, "want flag names (FIN SYN RST PSH ACK URG ECE CWR) then a comma")
			break
		}
		bit, ok := flagBits[strings.ToUpper(w)]
		if !ok {
			sc.fail(off, "unknown TCP flag %q", clip(w))
		}
		pk.Flags |= bit
	}
	sc.lit(",")
	sc.lit("status")
	pk.State, _ = sc.word(",")
	sc.lit(",")
	sc.lit("win:")
	pk.Window = uint32(sc.uint(32, "win"))
	sc.lit(",")
	sc.lit("csum:")
	pk.Checksum = uint16(sc.hex(16, "csum"))
	if sc.peek(",") {
		sc.lit(",")
		sc.lit("ID:")
		pk.IPID = uint16(sc.uint(16, "ID"))
		sc.lit(",")
		sc.lit("ipcsum:")
		pk.IPChecksum = uint16(sc.hex(16, "ipcsum"))
	}
}

// groupLine reads the values of a multi-line numeric group: numbers
// separated by '/' or spaces, over as many lines as it takes.
func (p *parser) groupLine(n int, s string) error {
	g := p.grp
	sc := &scanner{s: s}
	for !sc.done() {
		if len(g.vals) == g.want {
			return p.errAt(n, sc.col(sc.pos), "more than the %d numbers the %q line of line %d announces", g.want, g.name, g.line)
		}
		if len(g.vals) > 0 && sc.s[sc.pos] == '/' {
			sc.pos++
		}
		bits := 32
		if g.name == timeLabel && (len(g.vals) == 0 || len(g.vals) == 3 || len(g.vals) == 6) {
			bits = 64 // device clock ticks
		}
		v := sc.uint(bits, "value "+strconv.Itoa(len(g.vals)+1)+" of the "+strings.Fields(g.name)[0]+" line")
		if sc.err != "" {
			return p.errAt(n, sc.ecol, "%s", sc.err)
		}
		g.vals = append(g.vals, v)
	}
	if len(g.vals) < g.want {
		return nil
	}
	p.grp = nil
	pk, v := &p.pkts[p.pkt], g.vals
	if g.name == timeLabel {
		pk.TickStart, pk.TickOffset, pk.NSROffset = v[0], uint32(v[1]), uint32(v[2])
		pk.Tick, pk.LastRcv, pk.TSRecent, pk.TSRecentAge = v[3], uint32(v[4]), uint32(v[5]), v[6]
		return nil
	}
	if v[0] > 255 {
		return p.errAt(n, 1, "rexmt shift %d of line %d does not fit in 8 bits", v[0], g.line)
	}
	pk.RexmtShift, pk.RexmtCurrent, pk.RexmtSeq = uint8(v[0]), uint32(v[1]), uint32(v[2])
	pk.RTT, pk.SRTT, pk.RTTVar = uint32(v[3]), uint32(v[4]), uint32(v[5])
	pk.RTTLow, pk.RTTMin, pk.RTTBest, pk.RTTUpdates = uint32(v[6]), uint32(v[7]), uint32(v[8]), uint32(v[9])
	return nil
}
