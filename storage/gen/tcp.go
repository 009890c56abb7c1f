package gen

import (
	"encoding/base64"
	"encoding/binary"
	"math"

	"github.com/flowlake/flowlake/storage/schema"
)

// reasonWeights is the mix of close reasons, in schema.TCPReasons() order
// (PN RR SR AN AA KT PT RT BD): resets dominate, retransmit and keepalive
// timeouts are regular, persist timeouts and backup drops rare. PN and AN
// come from devices whose trace cache mode is `all`.
var reasonWeights = []float64{9, 27, 21, 8, 8, 10, 1.5, 14, 1.5}

// Packet event codes as the trace prints them after the packet time: RS is
// the device's code for a retransmitted send; S and R mark an ordinary sent
// and received packet.
const (
	evSend     = "S"
	evRecv     = "R"
	evResend   = "RS"
	tcpDevice  = "device"
	tcpPassive = "passive"
)

// Values the device prints for a traced connection's socket and control
// block; passive capture knows neither.
const (
	sockConnected = "ISCONNECTED"
	sockClosing   = "ISDISCONNECTING"
	tcbOptions    = "TF_ACKNOW TF_REQ_SCALE TF_RCVD_SCALE TF_REQ_TSTMP TF_RCVD_TSTMP TF_SACK_PERMIT"
	tcbOptions6   = "TF_ACKNOW TF_REQ_SCALE TF_RCVD_SCALE TF_REQ_TSTMP TF_RCVD_TSTMP TF_SACK_PERMIT TF_APP_SEND"
	nsrOff        = "invalid (CLOSED)" // NSR not enabled
	sockOptions   = "SO_OOBINLINE"
	inpcbFlags    = "INP_ANONPORT INP_PROTOCOL_PACKET INP_SYNCPCB"
	inpcbFlags6   = "INP_ANONPORT INP_PROTOCOL_PACKET IN6P_IPV6_V6ONLY INP_SYNCPCB"
	inpcbExtNone  = "N/A"
)

// deviceServices are the TCP services a network device talks as a client
// (foreign port) or serves (local port).
var (
	deviceClientPorts = []uint16{179, 49, 443, 19443, 830, 6514}
	deviceServerPorts = []uint16{22, 23, 830, 22, 22}
)

// cloudServer6 is the cloud server's IPv6 address devices reach it on.
var cloudServer6 = schema.MustParseAddr("2402:f000:4:1::153")

// tcpGen generates one edge's traced TCP closes and their last packets.
type tcpGen struct {
	top     *topology
	ed      *edge
	maxPk   int
	ipv6    float64
	reasons alias
	capture string // device column of passively captured connections
	conns   []schema.TCPConn
	pkts    []schema.TCPPacket
	g       rng
	// per-connection sequence state while its packets are built
	sndNxt, rcvNxt, sndUna uint32
	ipid                   uint16
	off                    int64 // µs since the first kept packet
}

func newTCPGen(top *topology, ed *edge, cfg *Config) *tcpGen {
	return &tcpGen{top: top, ed: ed, maxPk: cfg.TCPPacketsMax, ipv6: cfg.IPv6Share,
		reasons: newAlias(reasonWeights), capture: ed.id + ":eth1", g: newRNG(cfg.Seed, streamTCP)}
}

// hour generates about mean closes in [lo, hi) µs.
func (t *tcpGen) hour(seed int64, abs, lo, hi int64, mean float64) ([]schema.TCPConn, []schema.TCPPacket) {
	g := &t.g
	g.reseed(seed, streamTCP, uint64(t.ed.index), uint64(abs))
	t.conns, t.pkts = t.conns[:0], t.pkts[:0]
	n := g.poisson(mean)
	for k := range n {
		t.conn(uint64(abs)<<20|uint64(k), lo, hi)
	}
	return t.conns, t.pkts
}

// conn builds one closed connection with its last packets, or nothing when
// its packet trace does not fit in [lo, hi).
func (t *tcpGen) conn(id uint64, lo, hi int64) {
	g, ed, st := &t.g, t.ed, t.ed.site
	reason := schema.TCPReasons()[t.reasons.pick(g)]
	c := schema.TCPConn{Edge: ed.id, Reason: reason, TraceID: id, ISS: uint32(g.u64()), IRS: uint32(g.u64())}
	v6 := g.chance(t.ipv6)
	passive := g.chance(0.25) && reason != schema.ReasonBackupDrop
	if passive {
		c.Source, c.Device = tcpPassive, t.capture
		h := &st.hosts[ed.hosts[ed.clients.pick(g)]]
		p := &osProfiles[h.os]
		c.LocalAddr, c.LocalPort = h.v4, p.ephLo+uint16(g.intn(int(p.ephHi-p.ephLo)))
		var e extHost
		if v6 {
			c.LocalAddr = h.v6
			e = t.top.ext6[t.top.pop6.pick(g)]
		} else {
			e = t.top.ext4[t.top.pop4.pick(g)]
		}
		c.ForeignAddr, c.ForeignPort = e.addr, 443
		if u := g.float(); u < 0.2 {
			c.ForeignPort = 80
		} else if u < 0.35 { // an internal server
			s := &st.hosts[st.byGroup[grpServers][st.servers.pick(g)]]
			c.ForeignAddr, c.ForeignPort = s.v4, []uint16{445, 3389, 389, 3306}[g.intn(4)]
			if v6 {
				c.ForeignAddr = s.v6
			}
		}
	} else {
		c.Source = tcpDevice
		x := &ed.exporters[g.intn(len(ed.exporters))]
		c.Device, c.LocalAddr = x.name, x.mgmt
		if v6 {
			c.LocalAddr = addr6([4]uint16{0x2001, 0x0db8, uint16(st.index), grpInfra}, uint64(0xff00)|uint64(x.mgmt[15]))
		}
		if g.chance(0.45) { // an administrator's session to the device
			c.LocalPort = deviceServerPorts[g.intn(len(deviceServerPorts))]
			adm := &st.hosts[st.byGroup[grpEngineering][g.intn(min(40, len(st.byGroup[grpEngineering])))]]
			c.ForeignAddr, c.ForeignPort = adm.v4, osProfiles[adm.os].ephLo+uint16(g.intn(10000))
			if v6 {
				c.ForeignAddr = adm.v6
			}
		} else { // the device as a client: BGP, TACACS+, cloud, NETCONF, syslog over TLS
			c.LocalPort = uint16(1025 + g.intn(64000))
			c.ForeignPort = deviceClientPorts[g.intn(len(deviceClientPorts))]
			switch {
			case c.ForeignPort == 179 && !v6:
				c.ForeignAddr = st.wanHop4
			case c.ForeignPort == 179:
				c.ForeignAddr = st.wanHop6
			case c.ForeignPort == 443 || c.ForeignPort == 19443:
				c.ForeignAddr = addr4(139, 217, 27, 153)
				if v6 {
					c.ForeignAddr = cloudServer6
				}
			default:
				s := &st.hosts[st.byGroup[grpServers][g.intn(3)]]
				c.ForeignAddr = s.v4
				if v6 {
					c.ForeignAddr = s.v6
				}
			}
		}
		if g.chance(0.12) {
			c.VPN = "mgmt"
		}
	}
	// Connection shape: MSS, window scale, counters.
	c.SndMSS, c.RcvMSS = 1448, 1448
	if v6 {
		c.SndMSS, c.RcvMSS = 1428, 1428
	}
	switch u := g.float(); {
	case u < 0.2:
		c.RcvMSS = 0
	case u < 0.35:
		c.RcvMSS = 1380
	}
	scales := [...]uint8{0, 3, 6, 7, 8, 9}
	c.SndScale, c.RcvScale = scales[g.intn(len(scales))], scales[g.intn(len(scales))]
	life := t.lifetime(reason)
	c.OutPackets = uint32(3 + math.Min(g.lognormal(math.Log(life/4+2), 1), 5e7))
	c.InPackets = uint32(math.Max(2, float64(c.OutPackets)*(0.6+0.8*g.float())))
	if g.chance(0.05) {
		c.InDropped = uint32(1 + g.intn(5))
	}
	switch reason {
	case schema.ReasonRetransmitTimeout:
		c.RetransPackets = uint32(12 + g.intn(10))
	case schema.ReasonKeepaliveTimeout, schema.ReasonPersistTimeout:
		c.RetransPackets = uint32(g.intn(4))
	default:
		if g.chance(0.2) {
			c.RetransPackets = uint32(1 + g.intn(5))
		}
	}
	sent := uint32(math.Min(g.lognormal(7, 2.5), 2e9))
	recv := uint32(math.Min(g.lognormal(7.5, 2.5), 2e9))
	t.sndNxt, t.rcvNxt, t.sndUna, t.off = sent, recv, sent, 0
	t.ipid = uint16(g.u64())
	first := len(t.pkts)
	if passive {
		// The tracer's Zeek columns, as it derives them for these closes
		// (ingest/tcptrace; the local side is the client).
		c.ConnState, c.History, c.End = "SF", "ShADadFf", schema.TCPEndClosed
		switch reason {
		case schema.ReasonReceivedReset:
			c.ConnState, c.History = "RSTR", "ShADadr"
		case schema.ReasonSentReset:
			c.ConnState, c.History = "RSTO", "ShADadR"
		case schema.ReasonRetransmitTimeout, schema.ReasonKeepaliveTimeout, schema.ReasonPersistTimeout:
			c.ConnState, c.History, c.End = "S1", "ShADadT", schema.TCPEndTimeout
		}
	}
	t.trace(&c, v6, passive)
	// Place the trace: the close comes one last gap after the last packet.
	span := t.off + int64(g.between(200, 2000))*1000
	if reason == schema.ReasonRetransmitTimeout || reason == schema.ReasonKeepaliveTimeout || reason == schema.ReasonPersistTimeout {
		span = t.off + int64(g.between(15000, 75000))*1000
	}
	if span >= hi-lo {
		t.pkts = t.pkts[:first]
		return
	}
	c.Time = lo + span + int64(g.intn(int(hi-lo-span)))
	base := c.Time - span
	for i := first; i < len(t.pkts); i++ {
		t.pkts[i].Time += base
	}
	c.SndMax, c.LocalAckMax = t.sndNxt, t.rcvNxt
	c.RcvMax, c.PeerAckMax = t.rcvNxt, t.sndUna
	if !passive || g.chance(0.7) {
		c.ConnectedAt = c.Time - int64(life*1e6)
		if passive {
			// The tracer saw the SYN (every history here starts with S):
			// opened_at and the setup time it gives.
			c.SetupTime = setupTime(&c)
			c.OpenedAt = c.ConnectedAt - c.SetupTime
		}
	}
	t.conns = append(t.conns, c)
}

// setupTime is a passively traced connection's setup time in µs, SYN to
// the handshake's last ACK: lognormal around a median of 2 to 40 ms that
// depends on the server (its distance), drawn from hashes of the server
// and the trace id so the generator's random stream, and with it every
// other column, stays as it was before the column existed.
func setupTime(c *schema.TCPConn) int64 {
	var srv uint64
	for _, b := range c.ForeignAddr {
		srv = mix(srv ^ uint64(b))
	}
	median := 2000 + float64(srv%38000)
	h := mix(c.TraceID ^ srv)
	u1 := (float64(h>>11) + 0.5) * 0x1p-53
	u2 := float64(mix(h)>>11) * 0x1p-53
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	return max(1, int64(median*math.Exp(0.6*z)))
}

// lifetime draws how long a connection lived (seconds) before closing for
// reason.
func (t *tcpGen) lifetime(reason string) float64 {
	g := &t.g
	switch reason {
	case schema.ReasonKeepaliveTimeout:
		return 7200 + 675 + g.lognormal(8, 1.2)
	case schema.ReasonBackupDrop, schema.ReasonPersistTimeout:
		return g.lognormal(10, 1.5)
	case schema.ReasonRetransmitTimeout:
		return 120 + g.lognormal(6.5, 1.8)
	}
	return 0.05 + g.lognormal(3, 2.2)
}

// trace appends the connection's last packets, with times relative to the
// first (fixed up by the caller), following the pattern its reason leaves
// in a trace.
func (t *tcpGen) trace(c *schema.TCPConn, v6, passive bool) {
	g := &t.g
	n := t.maxPk
	if n > 3 {
		n = 3 + g.intn(n-2)
	}
	// How many trailing packets the reason dictates, and how many ordinary
	// exchange packets precede them.
	var tail int
	switch c.Reason {
	case schema.ReasonRetransmitTimeout:
		tail = min(n, int(c.RetransPackets))
	case schema.ReasonKeepaliveTimeout, schema.ReasonPersistTimeout:
		tail = min(n-1, 9)
	case schema.ReasonPeerNormalClose, schema.ReasonAppNormalClose:
		tail = 3
	case schema.ReasonReceivedReset, schema.ReasonSentReset, schema.ReasonAppAbnormalClose:
		tail = 1
	}
	tail = min(tail, n)
	for i := 0; i < n-tail; i++ {
		gap := int64(g.lognormal(10, 2)) // µs, ~20 ms median
		if g.chance(0.5) {
			l := uint16(1 + g.intn(int(c.SndMSS)+1))
			if c.SndMSS == 0 {
				l = 536
			}
			t.add(c, true, evSend, flagPSH|flagACK, l, "ESTABLISHED", gap, passive, 0)
		} else {
			l := uint16(0)
			if g.chance(0.6) {
				l = uint16(1 + g.intn(1448))
			}
			t.add(c, false, evRecv, flagACK|flagPSH*uint8(boolInt(l > 0)), l, "ESTABLISHED", gap, passive, 0)
		}
	}
	switch c.Reason {
	case schema.ReasonRetransmitTimeout:
		// The same unacknowledged segment, resent with backing-off timers.
		l := uint16(1 + g.intn(64))
		t.sndUna = t.sndNxt
		t.sndNxt += uint32(l)
		rto := 200e3 + g.float()*800e3
		skip := int(c.RetransPackets) - tail
		for k := 0; k < tail; k++ {
			shift := skip + k + 1
			gap := int64(math.Min(rto*math.Pow(2, float64(shift-1)), 15.56e6))
			t.add(c, true, evResend, flagPSH|flagACK, l, "ESTABLISHED", gap, passive, uint8(min(shift, 12)))
		}
	case schema.ReasonKeepaliveTimeout:
		for range tail { // unanswered keepalive probes
			t.add(c, true, evSend, flagACK, 0, "ESTABLISHED", 75e6, passive, 0)
			p := &t.pkts[len(t.pkts)-1]
			p.Seq = c.ISS + t.sndNxt - 1
		}
	case schema.ReasonPersistTimeout:
		for k := range tail { // zero-window probes and the peer's closed window
			if k%2 == 0 {
				t.add(c, true, evSend, flagACK, 1, "ESTABLISHED", int64(math.Min(5e6*math.Pow(2, float64(k/2)), 60e6)), passive, uint8(k/2+1))
				t.sndNxt--
			} else {
				t.add(c, false, evRecv, flagACK, 0, "ESTABLISHED", int64(g.intn(200e3)), passive, 0)
				t.pkts[len(t.pkts)-1].Window = 0
			}
		}
	case schema.ReasonReceivedReset:
		t.add(c, false, evRecv, flagRST|flagACK, 0, "CLOSED", int64(g.lognormal(11, 2)), passive, 0)
	case schema.ReasonSentReset:
		if passive { // the device keeps no record of its own RST
			t.add(c, true, evSend, flagRST|flagACK, 0, "CLOSED", int64(g.lognormal(11, 2)), passive, 0)
		} else {
			t.add(c, false, evRecv, flagPSH|flagACK, uint16(1+g.intn(200)), "ESTABLISHED", int64(g.lognormal(11, 2)), passive, 0)
		}
	case schema.ReasonAppAbnormalClose:
		t.add(c, true, evSend, flagFIN|flagACK, 0, "FIN_WAIT_1", int64(g.lognormal(9, 2)), passive, 0)
	case schema.ReasonPeerNormalClose:
		t.add(c, false, evRecv, flagFIN|flagACK, 0, "CLOSE_WAIT", int64(g.lognormal(11, 2)), passive, 0)
		t.add(c, true, evSend, flagFIN|flagACK, 0, "LAST_ACK", int64(g.lognormal(7, 1)), passive, 0)
		t.add(c, false, evRecv, flagACK, 0, "CLOSED", int64(g.lognormal(9, 1)), passive, 0)
	case schema.ReasonAppNormalClose:
		t.add(c, true, evSend, flagFIN|flagACK, 0, "FIN_WAIT_1", int64(g.lognormal(9, 2)), passive, 0)
		t.add(c, false, evRecv, flagACK, 0, "FIN_WAIT_2", int64(g.lognormal(9, 1)), passive, 0)
		t.add(c, false, evRecv, flagFIN|flagACK, 0, "TIME_WAIT", int64(g.lognormal(8, 1)), passive, 0)
	}
	// Number the kept packets 1..n in time order.
	base := len(t.pkts) - n
	if base < 0 {
		base = 0
	}
	for i := base; i < len(t.pkts); i++ {
		if t.pkts[i].TraceID == c.TraceID {
			t.pkts[i].Index = uint16(i - base + 1)
		}
	}
}

// add appends one packet gap µs after the previous one and advances the
// sequence state.
func (t *tcpGen) add(c *schema.TCPConn, out bool, ev string, flags uint8, data uint16, state string, gap int64, passive bool, shift uint8) {
	g := &t.g
	t.off += gap
	p := schema.TCPPacket{
		Time: t.off, Edge: c.Edge, Device: c.Device, TraceID: c.TraceID, Event: ev,
		DataLen: data, Flags: flags, State: state, Checksum: uint16(g.u64()),
		RexmtShift: shift, SRTT: uint32(2 + g.intn(60)),
		SndWnd: 65535 << (c.RcvScale % 3), RcvWnd: 65160,
	}
	p.Window = uint32(4000 + g.intn(60000))
	if out {
		p.Direction = "out"
		p.Seq, p.Ack = c.ISS+t.sndNxt, c.IRS+t.rcvNxt
		if ev == evResend {
			p.Seq = c.ISS + t.sndUna
		} else {
			t.sndNxt += uint32(data)
		}
		if flags&flagFIN != 0 {
			t.sndNxt++
		}
		p.IPID = t.ipid
		t.ipid++
	} else {
		p.Direction = "in"
		p.Seq, p.Ack = c.IRS+t.rcvNxt, c.ISS+t.sndNxt
		t.rcvNxt += uint32(data)
		if flags&flagFIN != 0 {
			t.rcvNxt++
		}
		t.sndUna = t.sndNxt
		p.IPID = uint16(g.u64())
	}
	if c.LocalAddr.Netip().Is6() {
		p.IPID = 0 // IPv6 has no IP identification
	}
	p.SndUna, p.SndNxt, p.RcvNxt = t.sndUna, t.sndNxt, t.rcvNxt
	if passive {
		p.Frame, p.FrameLen = passiveFrame(c, &p)
	}
	if !passive {
		p.SocketState = sockConnected
		if state != "ESTABLISHED" {
			p.SocketState = sockClosing
		}
		p.TCPOptions = tcbOptions
		p.NSRState, p.SocketOptions, p.InpcbFlags, p.InpcbExtFlags = nsrOff, sockOptions, inpcbFlags, inpcbExtNone
		p.SndMaxSeq = t.sndNxt
		if c.LocalAddr.Netip().Is6() {
			p.InpcbFlags = inpcbFlags6
			if g.chance(0.3) {
				p.TCPOptions = tcbOptions6
			}
		}
	}
	t.pkts = append(t.pkts, p)
}

// passiveFrame is the IPv4 and TCP header the passive tracer would have
// captured for p (IPv6 connections: the IPv6 header), base64-encoded as
// tcp_packets.frame holds it.
func passiveFrame(c *schema.TCPConn, p *schema.TCPPacket) (string, uint32) {
	src, dst, sp, dp := c.LocalAddr.Netip(), c.ForeignAddr.Netip(), c.LocalPort, c.ForeignPort
	if p.Direction == "in" {
		src, dst, sp, dp = dst, src, dp, sp
	}
	var b []byte
	if src.Is4() && dst.Is4() {
		b = make([]byte, 40)
		b[0], b[8], b[9] = 0x45, 64, 6
		binary.BigEndian.PutUint16(b[2:], uint16(40+int(p.DataLen)))
		binary.BigEndian.PutUint16(b[4:], p.IPID)
		s4, d4 := src.As4(), dst.As4()
		copy(b[12:], s4[:])
		copy(b[16:], d4[:])
	} else {
		b = make([]byte, 60)
		b[0], b[6], b[7] = 0x60, 6, 64
		binary.BigEndian.PutUint16(b[4:], 20+p.DataLen)
		s16, d16 := src.As16(), dst.As16()
		copy(b[8:], s16[:])
		copy(b[24:], d16[:])
	}
	tcp := b[len(b)-20:]
	binary.BigEndian.PutUint16(tcp, sp)
	binary.BigEndian.PutUint16(tcp[2:], dp)
	binary.BigEndian.PutUint32(tcp[4:], p.Seq)
	binary.BigEndian.PutUint32(tcp[8:], p.Ack)
	tcp[12], tcp[13] = 5<<4, p.Flags
	binary.BigEndian.PutUint16(tcp[14:], uint16(min(p.Window, 65535)))
	binary.BigEndian.PutUint16(tcp[16:], p.Checksum)
	return base64.StdEncoding.EncodeToString(b), uint32(len(b) + int(p.DataLen))
}
