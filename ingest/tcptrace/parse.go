package tcptrace

import (
	"bufio"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// maxLine bounds one input line; device output lines are under 200 bytes.
const maxLine = 64 << 10

// reasonNames maps the long reasons of a verbose block's "Reason:" line
// (the legend's names, in lower case) to the codes of column R.
var reasonNames = map[string]string{
	"peer normal close":          schema.ReasonPeerNormalClose,
	"received reset":             schema.ReasonReceivedReset,
	"sent reset":                 schema.ReasonSentReset,
	"application normal close":   schema.ReasonAppNormalClose,
	"application abnormal close": schema.ReasonAppAbnormalClose,
	"keepalive timeout":          schema.ReasonKeepaliveTimeout,
	"persist timeout":            schema.ReasonPersistTimeout,
	"retransmit timeout":         schema.ReasonRetransmitTimeout,
	"backup drop":                schema.ReasonBackupDrop,
}

// flagBits maps the flag names of a packet's "flag" list to schema bits.
var flagBits = map[string]uint8{"FIN": 1, "SYN": 2, "RST": 4, "PSH": 8, "ACK": 16, "URG": 32, "ECE": 64, "CWR": 128}

// mode is the output the parser is in, set by the prompt's command.
type mode int

const (
	modeNone mode = iota
	modeTable
	modePacket
	modeInfo
)

// conn is a connection being read, with the lines that place it.
type conn struct {
	row     schema.TCPConn
	line    int  // where it started, for errors
	verbose bool // from a verbose block (else a table row)
	device  string
	pkts    []int // indexes into parser.pkts
}

// group is a multi-line numeric field: its label line, then values on
// the following lines ("time start/…" and "rexmt shift/…").
type group struct {
	name string
	line int
	vals []uint64
	want int
}

type parser struct {
	opt     Options
	res     Result
	mode    mode
	device  string // sysname of the last prompt
	conns   []*conn
	cur     *conn  // verbose block being read
	pkt     int    // index of the packet being read, -1 if none
	pending *conn  // table row waiting for its date line
	grp     *group // numeric group being read
	pkts    []schema.TCPPacket
}

// Parse reads device TCP trace output from r. See the package doc and
// docs/tcptrace.md for what it accepts.
func Parse(r io.Reader, opt Options) (*Result, error) {
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	if opt.File == "" {
		opt.File = "input"
	}
	p := &parser{opt: opt, pkt: -1}
	br := bufio.NewScanner(r)
	br.Buffer(make([]byte, 0, 4096), maxLine)
	n := 0
	for br.Scan() {
		n++
		if err := p.line(n, strings.TrimRight(br.Text(), "\r")); err != nil {
			return nil, err
		}
	}
	if err := br.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &ParseError{File: opt.File, Line: n + 1, Col: 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return nil, fmt.Errorf("read %s: %w", opt.File, err)
	}
	p.res.Lines = n
	if err := p.finish(n); err != nil {
		return nil, err
	}
	return &p.res, nil
}

func (p *parser) errAt(line, col int, format string, args ...any) error {
	return &ParseError{File: p.opt.File, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// line classifies and reads one input line.
func (p *parser) line(n int, raw string) error {
	s := normalize(raw)
	t := strings.TrimSpace(s)
	if t == "" {
		return nil
	}
	if p.pending != nil {
		return p.tableDate(n, s)
	}
	if p.grp != nil {
		return p.groupLine(n, s)
	}
	sc := &scanner{s: s}
	ok, err := p.dispatch(n, sc, t)
	if err != nil {
		return err
	}
	if sc.err != "" {
		return p.errAt(n, sc.ecol, "%s", sc.err)
	}
	if ok && !sc.done() {
		return p.errAt(n, sc.col(sc.pos), "unexpected %q after the %s line", clip(sc.s[sc.pos:]), strings.Fields(t)[0])
	}
	if !ok {
		p.res.Unknown = append(p.res.Unknown, Line{Number: n, Text: raw})
	}
	return nil
}

// dispatch recognises the line t (trimmed) and reads it with sc; it
// reports false for a line it does not know.
func (p *parser) dispatch(n int, sc *scanner, t string) (bool, error) {
	switch {
	case strings.HasPrefix(t, "<") || strings.HasPrefix(t, "["):
		if !p.prompt(t) {
			return false, nil
		}
		sc.pos = len(sc.s)
		return true, nil
	case t == "R (Reason):":
		sc.pos = len(sc.s)
		return true, nil
	case len(t) > 4 && t[2] == ':' && reasonNames[strings.ToLower(strings.TrimSpace(t[3:]))] == t[:2]:
		sc.pos = len(sc.s) // a legend line: "PN: Peer normal close"
		return true, nil
	case strings.HasPrefix(t, "Local Addr:port") || strings.HasPrefix(t, "LAddr->port"):
		p.mode, sc.pos = modeTable, len(sc.s)
		return true, nil
	case strings.HasPrefix(t, "MDC ID:"):
		return true, p.header(n, sc)
	case strings.HasPrefix(t, "(") && p.cur != nil:
		return true, p.packetStart(n, sc)
	}
	if p.cur != nil {
		if ok, err := p.verboseLine(n, sc, t); ok || err != nil {
			return ok, err
		}
	}
	switch p.mode {
	case modeTable:
		f := strings.Fields(t)
		if len(f) >= 5 && isReason(f[3]) {
			return true, p.tableRow(n, sc)
		}
	case modeInfo:
		if k, v, ok := strings.Cut(t, ":"); ok && strings.TrimSpace(k) != "" {
			p.res.Settings = append(p.res.Settings, Setting{Line: n, Key: strings.TrimSpace(k), Value: strings.Join(strings.Fields(v), " ")})
			sc.pos = len(sc.s)
			return true, nil
		}
	}
	return false, nil
}

func isReason(code string) bool {
	for _, r := range schema.TCPReasons() {
		if code == r {
			return true
		}
	}
	return false
}

// prompt reads "<sysname> command" (user view) or "[view] command" (system
// and other views): it says which output follows, and a user-view prompt
// names the device. A view's prompt may carry the view's name after the
// sysname ("[DeviceB-GigabitEthernet1/0/1]") and sysnames may hold dashes,
// so it names none: its rows need --device. A prompt ends the verbose
// block before it.
func (p *parser) prompt(t string) bool {
	closer := byte('>')
	if t[0] == '[' {
		closer = ']'
	}
	end := strings.IndexByte(t, closer)
	if end < 2 || strings.ContainsAny(t[1:end], "<>[] ") {
		return false
	}
	p.device = ""
	if closer == '>' {
		p.device = t[1:end]
	}
	p.cur, p.pkt = nil, -1
	cmd := strings.Join(strings.Fields(strings.ToLower(t[end+1:])), " ")
	switch {
	case strings.HasPrefix(cmd, "display tcp trace cache-connection"):
		p.mode = modeTable
	case strings.HasPrefix(cmd, "display tcp trace cache-packet"):
		p.mode = modePacket
	case strings.HasPrefix(cmd, "display tcp trace information"):
		p.mode = modeInfo
	default:
		p.mode = modeNone
	}
	return true
}

// endpoint reads "1.1.1.1:9732" or "1::1->47745" into an address and port.
func (sc *scanner) endpoint(what string) (schema.Addr, uint16) {
	if sc.err != "" {
		return schema.Addr{}, 0
	}
	w, off := sc.word("")
	host, port, ok := "", "", false
	if i := strings.LastIndex(w, "->"); i >= 0 {
		host, port, ok = w[:i], w[i+2:], true
	} else if i := strings.LastIndexByte(w, ':'); i >= 0 {
		host, port, ok = w[:i], w[i+1:], true
	}
	if !ok {
		sc.fail(off, "%s: want address:port or address->port, found %q", what, clip(w))
		return schema.Addr{}, 0
	}
	a, err := schema.ParseAddr(host)
	if err != nil {
		sc.fail(off, "%s: %q is not an IP address", what, clip(host))
		return schema.Addr{}, 0
	}
	sub := &scanner{s: port}
	v := sub.uint(16, what+" port")
	if sub.err != "" || !sub.done() {
		sc.fail(off+len(host)+1, "%s: port %q is not a number from 0 to 65535", what, clip(port))
	}
	return a, uint16(v)
}

// vpnName maps the device's "N/A" (the public network) to "".
func vpnName(s string) string {
	if s == "N/A" {
		return ""
	}
	return s
}

// tableRow reads a cache-connection row: local, foreign, VPN, reason and
// the time; the date comes on the same line or the next one.
func (p *parser) tableRow(n int, sc *scanner) error {
	c := &conn{line: n, device: p.device}
	c.row.LocalAddr, c.row.LocalPort = sc.endpoint("local address")
	c.row.ForeignAddr, c.row.ForeignPort = sc.endpoint("foreign address")
	vpn, _ := sc.word("")
	c.row.VPN = vpnName(vpn)
	c.row.Reason, _ = sc.word("")
	h, mi, s, ms := sc.clock("close time")
	if sc.err != "" {
		return p.errAt(n, sc.ecol, "%s", sc.err)
	}
	c.row.Time = int64(((h*60+mi)*60+s)*1000+ms) * 1000 // time of day until the date comes
	p.conns = append(p.conns, c)
	if sc.done() {
		p.pending = c
		return nil
	}
	return p.completeDate(n, sc, c)
}

// tableDate reads the date line a table row wrapped onto.
func (p *parser) tableDate(n int, s string) error {
	c := p.pending
	p.pending = nil
	sc := &scanner{s: s}
	if err := p.completeDate(n, sc, c); err != nil {
		return err
	}
	if !sc.done() {
		return p.errAt(n, sc.col(sc.pos), "unexpected %q after the date of the connection on line %d", clip(sc.s[sc.pos:]), c.line)
	}
	return nil
}

func (p *parser) completeDate(n int, sc *scanner, c *conn) error {
	y, mo, d, off := sc.date(fmt.Sprintf("date of the connection on line %d", c.line))
	tod := time.Duration(c.row.Time) * time.Microsecond
	h, mi, s := int(tod/time.Hour), int(tod/time.Minute%60), int(tod/time.Second%60)
	t := mkTime(sc, off, y, mo, d, h, mi, s, 0, p.opt.Location, "close time")
	if sc.err != "" {
		return p.errAt(n, sc.ecol, "%s", sc.err)
	}
	c.row.Time = schema.Micros(t)
	return nil
}

// traceID derives a connection's trace_id from what identifies it, so
// importing the same output twice gives the same ids.
func traceID(c *schema.TCPConn) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%s|%d|%s|%d|%d|%s", c.Device, c.VPN, c.LocalAddr, c.LocalPort, c.ForeignAddr, c.ForeignPort, c.Time, c.Reason)
	return h.Sum64()
}

// finish checks what is left open, joins table rows to verbose blocks,
// names devices and assigns trace ids.
func (p *parser) finish(n int) error {
	if p.pending != nil {
		return p.errAt(n+1, 1, "the connection on line %d has no date line (want \"Month D YYYY\" after the time)", p.pending.line)
	}
	if p.grp != nil {
		return p.errAt(n+1, 1, "the %q values of line %d end early: %d of %d numbers", p.grp.name, p.grp.line, len(p.grp.vals), p.grp.want)
	}
	for _, c := range p.conns {
		if c.verbose && (c.row.LocalAddr.IsZero() || c.row.ForeignAddr.IsZero()) {
			return p.errAt(c.line, 1, "the trace block starting here has no \"Connection:\" line")
		}
		if c.verbose && c.row.Reason == "" {
			return p.errAt(c.line, 1, "the trace block starting here has no \"Reason:\" line")
		}
		c.row.Device = p.opt.Device
		if c.row.Device == "" {
			c.row.Device = c.device
		}
		if c.row.Device == "" {
			return p.errAt(c.line, 1, "no device name: no <sysname> prompt names the device of this connection; name it (--device)")
		}
		c.row.Edge, c.row.Source = p.opt.Edge, "device"
	}
	for _, c := range p.conns {
		if c.verbose {
			continue
		}
		if v := p.verboseFor(c); v != nil {
			p.res.Merged++
			c.line = -1 // folded into v
		}
	}
	for _, c := range p.conns {
		if c.line < 0 {
			continue
		}
		c.row.TraceID = traceID(&c.row)
		p.res.Conns = append(p.res.Conns, c.row)
		for _, i := range c.pkts {
			pk := p.pkts[i]
			pk.Edge, pk.Device, pk.TraceID = c.row.Edge, c.row.Device, c.row.TraceID
			p.res.Packets = append(p.res.Packets, pk)
		}
	}
	return nil
}

// verboseFor returns the verbose block describing table row c: same
// device, VPN, endpoints and reason, closed within the same second (the
// table prints seconds, the block milliseconds).
func (p *parser) verboseFor(c *conn) *conn {
	for _, v := range p.conns {
		r, w := &v.row, &c.row
		if v.verbose && r.Device == w.Device && r.VPN == w.VPN && r.LocalAddr == w.LocalAddr && r.LocalPort == w.LocalPort &&
			r.ForeignAddr == w.ForeignAddr && r.ForeignPort == w.ForeignPort && r.Reason == w.Reason &&
			r.Time/1e6 == w.Time/1e6 {
			return v
		}
	}
	return nil
}
