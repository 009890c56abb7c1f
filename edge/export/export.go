package export

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// Format is a wire format an Exporter writes.
type Format int

// The formats.
const (
	NetFlow9 Format = iota
	IPFIX
	SFlow5
)

func (f Format) String() string {
	switch f {
	case NetFlow9:
		return "netflow9"
	case IPFIX:
		return "ipfix"
	case SFlow5:
		return "sflow"
	}
	return fmt.Sprintf("format(%d)", int(f))
}

// Config configures an Exporter.
type Config struct {
	// Format is the wire format.
	Format Format
	// Domain is the NetFlow v9 source id, IPFIX observation domain or
	// sFlow sub-agent id.
	Domain uint32
	// Agent is the sFlow agent address (default 192.0.2.1).
	Agent netip.Addr
	// MaxDatagram bounds a datagram's size in bytes (default 1400, below
	// a 1500-byte MTU).
	MaxDatagram int
	// TemplateEvery re-sends the NetFlow v9/IPFIX templates after this
	// many datagrams (default 20), as exporters do for collectors that
	// start late.
	TemplateEvery int
}

// Exporter turns rows into datagrams of one format, keeping the sequence
// numbers and template state of one exporter. It is not safe for
// concurrent use.
type Exporter struct {
	cfg     Config
	boot    time.Time
	seq     uint32 // datagrams (v9, sFlow) or data records (IPFIX) sent
	samples uint32 // sFlow sample sequence
	sent    int    // datagrams since the last template
	v9count int    // records (template and data) in the v9 packet being built
}

// New returns an exporter booted at boot (NetFlow v9 uptimes count from it).
func New(cfg Config, boot time.Time) *Exporter {
	if cfg.MaxDatagram <= 0 {
		cfg.MaxDatagram = 1400
	}
	if cfg.TemplateEvery <= 0 {
		cfg.TemplateEvery = 20
	}
	if !cfg.Agent.IsValid() {
		cfg.Agent = netip.AddrFrom4([4]byte{192, 0, 2, 1})
	}
	return &Exporter{cfg: cfg, boot: boot, sent: cfg.TemplateEvery}
}

// Encode appends to out the datagrams carrying rows, exported at now, and
// returns it. Rows' bytes and packets are divided by their sampling rate
// (the exporter sends what it sampled, and the rate) so a collector's
// correction gives them back (up to rounding).
func (x *Exporter) Encode(out [][]byte, rows []schema.Flow, now time.Time) [][]byte {
	if x.cfg.Format == SFlow5 {
		return x.encodeSFlow(out, rows, now)
	}
	return x.encodeTemplated(out, rows, now)
}

// Template ids and fields (IPFIX information element ids; NetFlow v9 uses
// the same numbers). v9 carries times as sysUpTime offsets (22, 21),
// IPFIX as epoch milliseconds (152, 153).
const (
	tmplV4 = 256
	tmplV6 = 257
)

type field struct{ id, length uint16 }

func fields(format Format, v6 bool) []field {
	src, dst, hop, alen := uint16(8), uint16(12), uint16(15), uint16(4)
	if v6 {
		src, dst, hop, alen = 27, 28, 62, 16
	}
	f := []field{{src, alen}, {dst, alen}, {7, 2}, {11, 2}, {4, 1}, {6, 1}, {5, 1}, {10, 4}, {14, 4},
		{16, 4}, {17, 4}, {hop, alen}, {58, 2}, {61, 1}, {1, 8}, {2, 8}, {34, 4}}
	if format == NetFlow9 {
		return append(f, field{22, 4}, field{21, 4})
	}
	return append(f, field{152, 8}, field{153, 8})
}

func recordLen(fs []field) int {
	n := 0
	for _, f := range fs {
		n += int(f.length)
	}
	return n
}

func be16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func be32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func be64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// templateSet returns the template set of both templates.
func (x *Exporter) templateSet() []byte {
	setID := uint16(2)
	if x.cfg.Format == NetFlow9 {
		setID = 0
	}
	var body []byte
	for _, t := range []struct {
		id uint16
		v6 bool
	}{{tmplV4, false}, {tmplV6, true}} {
		fs := fields(x.cfg.Format, t.v6)
		body = be16(be16(body, t.id), uint16(len(fs)))
		for _, f := range fs {
			body = be16(be16(body, f.id), f.length)
		}
	}
	return append(be16(be16(nil, setID), uint16(4+len(body))), body...)
}

// header returns the message header; the length/count is patched later.
func (x *Exporter) header(now time.Time) []byte {
	if x.cfg.Format == NetFlow9 {
		// version, count (patched), sysUpTime, unix secs, sequence, source id
		b := be16(be16(nil, 9), 0)
		b = be32(b, uint32(now.Sub(x.boot).Milliseconds()))
		return be32(be32(be32(b, uint32(now.Unix())), x.seq), x.cfg.Domain)
	}
	// version, length (patched), export time, sequence, domain
	return be32(be32(be32(be16(be16(nil, 10), 0), uint32(now.Unix())), x.seq), x.cfg.Domain)
}

func (x *Exporter) encodeTemplated(out [][]byte, rows []schema.Flow, now time.Time) [][]byte {
	var msg []byte
	records, sets := 0, 0
	var set []byte
	setTmpl := -1
	closeSet := func() {
		if len(set) > 0 {
			binary.BigEndian.PutUint16(set[2:], uint16(len(set)))
			msg = append(msg, set...)
			sets++
			set = nil
		}
	}
	finish := func() {
		closeSet()
		if records == 0 && sets == 0 {
			return
		}
		if x.cfg.Format == NetFlow9 {
			binary.BigEndian.PutUint16(msg[2:], uint16(x.v9count)) // v9 counts records, templates included
			x.seq++
		} else {
			binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
			x.seq += uint32(records)
		}
		out = append(out, msg)
		x.sent++
		msg, records, sets, setTmpl = nil, 0, 0, -1
	}
	start := func() {
		msg = x.header(now)
		x.v9count = 0
		if x.sent >= x.cfg.TemplateEvery {
			msg = append(msg, x.templateSet()...)
			x.v9count += 2 // two template records
			x.sent = 0
		}
	}
	for i := range rows {
		r := &rows[i]
		v6 := !isV4(r.SrcAddr) || !isV4(r.DstAddr)
		tmpl := tmplV4
		if v6 {
			tmpl = tmplV6
		}
		n := recordLen(fields(x.cfg.Format, v6))
		if msg == nil {
			start()
		}
		extra := n
		if setTmpl != tmpl {
			extra += 4
		}
		if len(msg)+len(set)+extra > x.cfg.MaxDatagram && records > 0 {
			finish()
			start()
		}
		if setTmpl != tmpl {
			closeSet()
			set, setTmpl = be16(be16(nil, uint16(tmpl)), 0), tmpl
		}
		set = x.appendRecord(set, r, v6)
		records++
		x.v9count++
	}
	finish()
	return out
}

func isV4(a schema.Addr) bool { return netip.AddrFrom16(a).Is4In6() }

func rate(r *schema.Flow) uint64 {
	if r.SamplingRate <= 1 {
		return 1
	}
	return uint64(r.SamplingRate)
}

func (x *Exporter) appendRecord(b []byte, r *schema.Flow, v6 bool) []byte {
	addr := func(b []byte, a schema.Addr) []byte {
		if v6 {
			return append(b, a[:]...)
		}
		return append(b, a[12:]...)
	}
	b = addr(addr(b, r.SrcAddr), r.DstAddr)
	b = be16(be16(b, r.SrcPort), r.DstPort)
	b = append(b, r.Proto, r.TCPFlags, r.ToS)
	b = be32(be32(b, r.InIf), r.OutIf)
	b = be32(be32(b, r.SrcAS), r.DstAS)
	b = addr(b, r.NextHop)
	b = be16(b, r.VLAN)
	b = append(b, r.Direction)
	k := rate(r)
	b = be64(be64(b, max(r.Bytes/k, 1)), max(r.Packets/k, 1))
	b = be32(b, uint32(k))
	startMs := r.Time / 1000
	endMs := startMs + int64(r.DurationMS)
	if x.cfg.Format == NetFlow9 {
		bootMs := x.boot.UnixMilli()
		return be32(be32(b, uint32(max(startMs-bootMs, 0))), uint32(max(endMs-bootMs, 0)))
	}
	return be64(be64(b, uint64(startMs)), uint64(endMs))
}
