package flow

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// Batch is a caller-owned, reusable buffer of decoded rows. Decode appends
// to Rows; the caller hands Rows on (to the lake writer) and calls Reset to
// reuse the memory, so the steady state allocates nothing.
type Batch struct {
	// Rows are the decoded flows, in datagram order.
	Rows []schema.Flow
	// Quarantined are the decoded rows whose time lies outside the
	// decoder's window around their datagram's receipt (Config.MaxPast,
	// Config.MaxFuture): Decode sets them aside here instead of Rows, so a
	// corrupt timestamp never reaches the lake, and counts them
	// (Counters.TimeQuarantined). The caller keeps them inspectable (the
	// edge appends them to its quarantine file) before Reset.
	Quarantined []QuarantinedRow
}

// QuarantinedRow is a decoded row set aside by the time window, with what
// an operator needs to find its exporter.
type QuarantinedRow struct {
	// Row is the row as decoded (enriched, sampling applied); Row.Time is
	// the exporter's timestamp, untouched.
	Row schema.Flow
	// Exporter is the UDP source of the datagram.
	Exporter netip.AddrPort
	// Received is when the datagram arrived.
	Received time.Time
}

// Reset empties the batch, keeping its capacity.
func (b *Batch) Reset() { b.Rows, b.Quarantined = b.Rows[:0], b.Quarantined[:0] }

// Len returns the number of rows in the batch.
func (b *Batch) Len() int { return len(b.Rows) }

// Decoder turns flow datagrams into rows. It keeps the per-exporter state
// the protocols need (templates, option-data sampling rates, sequence
// numbers) and is safe for concurrent use: datagrams of one exporter domain
// are decoded one at a time, different domains in parallel. Sequence
// accounting assumes a domain's datagrams arrive in order, so callers with
// several workers should route each exporter to one worker.
type Decoder struct {
	cfg      Config
	sampling samplingTable
	counters Counters
	enricher atomic.Pointer[Enricher]
	log      atomic.Pointer[slog.Logger]

	mu      sync.RWMutex
	domains map[domainKey]*domain
}

// domainKey identifies an exporter's observation domain: the exporter
// address (NetFlow/IPFIX: UDP source; sFlow: agent address), the format
// and the domain id (v9 source id, IPFIX observation domain, v5 engine
// type/id, sFlow sub-agent id). Templates, sampling rates and sequence
// numbers live per domain; the source port is left out so an exporter that
// reconnects from a new port keeps its state.
type domainKey struct {
	addr   netip.Addr
	format Format
	id     uint32
}

// domain is the state of one domainKey.
type domain struct {
	mu      sync.Mutex
	key     domainKey
	device  string // exporter address as text, cached for rows
	rule    SamplingRule
	hasRule bool
	// ruleShadowed is set once a fallback rule was found shadowed by a
	// rate the exporter reports (counted and logged once).
	ruleShadowed bool
	// expectsRate is set once the domain defined an options template with
	// a sampling element: it samples, so records without a known rate
	// are "rate unknown", not unsampled.
	expectsRate bool
	templates   map[uint16]*template
	// rates holds option-data sampling rates by sampler/selector id
	// (noSampler when the option record names none); lastRate is the most
	// recent one, used for records that name no sampler.
	rates    map[uint64]uint32
	lastRate uint32
	// sysInitMs is the exporter's boot time (IPFIX 160), needed to place
	// IPFIX 21/22 uptime timestamps; 0 when unknown.
	sysInitMs uint64
	seq       seqState
	loss      domainLoss // traffic and loss, for Decoder.DomainLoss
}

// noSampler keys option-data rates that name no sampler id.
const noSampler = ^uint64(0)

// New returns a Decoder for cfg.
func New(cfg Config) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("flow decoder config: %w", err)
	}
	return &Decoder{cfg: cfg, sampling: newSamplingTable(cfg.Sampling), domains: map[domainKey]*domain{}}, nil
}

// Counters returns the decoder's counters; the pointer stays valid for the
// decoder's life.
func (d *Decoder) Counters() *Counters { return &d.counters }

// SetEnricher makes Decode apply e to every row it decodes from now on (nil
// turns enrichment off). Rows already decoded are not changed; swapping is
// safe while other goroutines decode.
func (d *Decoder) SetEnricher(e *Enricher) { d.enricher.Store(e) }

// SetLogger makes the decoder log configuration problems it finds in
// traffic (a sampling rule an exporter shadows), once each; nil (the
// default) logs nothing. Decode errors are never logged here: they are
// returned and counted.
func (d *Decoder) SetLogger(l *slog.Logger) { d.log.Store(l) }

// Decode decodes one UDP payload received from exporter at received and
// appends its flows to into. The format is recognised from the payload's
// version field. On error, rows decoded before the failure stay in into,
// the failure is counted under its kind, and a *DecodeError says what,
// where and why. Data sets whose template is unknown are skipped and
// counted (Counters.TemplateMisses), not returned as errors.
func (d *Decoder) Decode(exporter netip.AddrPort, payload []byte, received time.Time, into *Batch) error {
	start := len(into.Rows)
	var (
		format Format
		dev    netip.Addr
		err    *DecodeError
	)
	switch sniff(payload) {
	case FormatNetFlowV5:
		format, dev = FormatNetFlowV5, exporter.Addr().Unmap()
		err = d.decodeV5(dev, payload, into)
	case FormatNetFlowV9:
		format, dev = FormatNetFlowV9, exporter.Addr().Unmap()
		err = d.decodeV9(dev, payload, into)
	case FormatIPFIX:
		format, dev = FormatIPFIX, exporter.Addr().Unmap()
		err = d.decodeIPFIX(dev, payload, into)
	case FormatSFlow:
		format = FormatSFlow
		dev, err = d.decodeSFlow(exporter.Addr().Unmap(), payload, received, into)
	default:
		var v uint16
		if len(payload) >= 2 {
			v = binary.BigEndian.Uint16(payload)
		}
		d.counters.Errors[ErrUnknownVersion].Add(1)
		return &DecodeError{Kind: ErrUnknownVersion, Exporter: exporter, What: "version", Why: fmt.Sprintf("%d bytes starting with version %d: not NetFlow v5/v9, IPFIX or sFlow v5", len(payload), v)}
	}
	d.counters.Datagrams[format].Add(1)
	if e := d.enricher.Load(); e != nil && len(into.Rows) > start {
		e.Apply(dev, into.Rows[start:])
	}
	d.quarantine(exporter, received, into, start)
	d.counters.Flows[format].Add(uint64(len(into.Rows) - start))
	if err != nil {
		err.Format, err.Exporter = format, exporter
		d.counters.Errors[err.Kind].Add(1)
		return err
	}
	return nil
}

// quarantine moves the rows decoded from start on whose time lies outside
// [received−MaxPast, received+MaxFuture] from into.Rows to
// into.Quarantined, keeping the others in order.
func (d *Decoder) quarantine(exporter netip.AddrPort, received time.Time, into *Batch, start int) {
	lo := schema.Micros(received.Add(-d.cfg.MaxPast))
	hi := schema.Micros(received.Add(d.cfg.MaxFuture))
	keep := start
	for i := start; i < len(into.Rows); i++ {
		if t := into.Rows[i].Time; t < lo || t > hi {
			into.Quarantined = append(into.Quarantined, QuarantinedRow{Row: into.Rows[i], Exporter: exporter, Received: received})
			continue
		}
		if keep != i {
			into.Rows[keep] = into.Rows[i]
		}
		keep++
	}
	if n := len(into.Rows) - keep; n > 0 {
		d.counters.TimeQuarantined.Add(uint64(n))
		into.Rows = into.Rows[:keep]
	}
}

// sniff recognises the format from the first bytes; numFormats means none.
func sniff(p []byte) Format {
	if len(p) < 4 {
		if len(p) >= 2 {
			switch binary.BigEndian.Uint16(p) {
			case 5:
				return FormatNetFlowV5
			case 9:
				return FormatNetFlowV9
			case 10:
				return FormatIPFIX
			}
		}
		return numFormats
	}
	switch binary.BigEndian.Uint16(p) {
	case 5:
		return FormatNetFlowV5
	case 9:
		return FormatNetFlowV9
	case 10:
		return FormatIPFIX
	case 0:
		if binary.BigEndian.Uint32(p) == 5 {
			return FormatSFlow
		}
	}
	return numFormats
}

// domain returns the state of k, creating it when new. It fails when the
// configured number of domains is reached.
func (d *Decoder) domain(k domainKey) (*domain, *DecodeError) {
	d.mu.RLock()
	dom := d.domains[k]
	d.mu.RUnlock()
	if dom != nil {
		return dom, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if dom = d.domains[k]; dom != nil {
		return dom, nil
	}
	if len(d.domains) >= d.cfg.MaxDomains {
		return nil, &DecodeError{Kind: ErrLimit, What: "exporter domain", Why: fmt.Sprintf("max_domains (%d) exporter domains already known; %s domain %d not added", d.cfg.MaxDomains, k.addr, k.id)}
	}
	dom = d.newDomain(k)
	d.domains[k] = dom
	return dom, nil
}

func (d *Decoder) newDomain(k domainKey) *domain {
	dom := &domain{key: k, device: k.addr.String(), templates: map[uint16]*template{}, rates: map[uint64]uint32{}}
	dom.rule, dom.hasRule = d.sampling.lookup(k.addr)
	return dom
}

// rate applies the configured sampling rules to the rate the exporter
// reported (0 = none): a forced rule replaces it, a fallback rule fills
// in when it is 0, and 0 means 1 otherwise. A fallback rule that a
// reported rate shadows is counted and logged once per domain.
func (d *Decoder) rate(dom *domain, reported uint32) uint32 {
	switch {
	case dom.hasRule && dom.rule.Force:
		return dom.rule.Rate
	case reported != 0:
		if dom.hasRule && !dom.ruleShadowed && reported != dom.rule.Rate {
			dom.ruleShadowed = true
			d.counters.SamplingRulesShadowed.Add(1)
			if l := d.log.Load(); l != nil {
				l.Warn("sampling rule not applied: the exporter reports its own rate; set force: true to override it",
					"exporter", dom.device, "format", dom.key.format.String(), "domain", dom.key.id,
					"rule_prefix", dom.rule.Prefix.String(), "rule_rate", dom.rule.Rate, "reported_rate", reported)
			}
		}
		return reported
	case dom.hasRule:
		return dom.rule.Rate
	}
	return 1
}

// newRow appends a zero row for dom and returns it.
func (d *Decoder) newRow(dom *domain, into *Batch) *schema.Flow {
	into.Rows = append(into.Rows, schema.Flow{})
	r := &into.Rows[len(into.Rows)-1]
	r.Edge = d.cfg.Edge
	r.Device = dom.device
	return r
}

// be returns the big-endian unsigned value of b (up to 8 bytes; longer
// values keep their last 8 bytes).
func be(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	case 4:
		return uint64(binary.BigEndian.Uint32(b))
	case 8:
		return binary.BigEndian.Uint64(b)
	}
	if len(b) > 8 {
		b = b[len(b)-8:]
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// msToUs converts milliseconds to µs, saturating instead of wrapping (a
// saturated time is then quarantined, never taken for a sane one).
func msToUs(v uint64) int64 { return scaleSat(v, 1000) }

// secToUs converts seconds to µs, saturating.
func secToUs(v uint64) int64 { return scaleSat(v, 1_000_000) }

func scaleSat(v, by uint64) int64 {
	if v > math.MaxInt64/by {
		return math.MaxInt64
	}
	return int64(v * by)
}

// addr4 maps a 4-byte IPv4 address to a schema.Addr.
func addr4(b []byte) schema.Addr {
	var a schema.Addr
	a[10], a[11] = 0xff, 0xff
	copy(a[12:], b[:4])
	return a
}

// addr16 converts a 16-byte IPv6 address; IPv4-mapped stays as it is.
func addr16(b []byte) schema.Addr {
	var a schema.Addr
	copy(a[:], b[:16])
	return a
}

// unspecified reports whether a is 0.0.0.0 or :: (as exporters send for
// "no next hop").
func unspecified(a schema.Addr) bool {
	return a == schema.Addr{} || a == schema.Addr{10: 0xff, 11: 0xff}
}

// mac converts a 6-byte MAC.
func mac(b []byte) schema.MAC {
	var m schema.MAC
	copy(m[:], b[:6])
	return m
}

// mulSat multiplies with saturation, so a hostile rate cannot wrap a count.
func mulSat(v uint64, rate uint32) uint64 {
	if rate <= 1 {
		return v
	}
	hi, lo := bits.Mul64(v, uint64(rate))
	if hi != 0 {
		return ^uint64(0)
	}
	return lo
}
