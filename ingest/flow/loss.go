package flow

import (
	"cmp"
	"net/netip"
	"slices"
)

// domainLoss counts one exporter domain's traffic and loss; guarded by the
// domain's mutex, like the sequence state it comes from.
type domainLoss struct {
	datagrams, flows                       uint64
	gaps, lostFlows, lostDatagrams, resets uint64
	templateMisses                         uint64
}

// DomainLoss is the running totals of one exporter domain since the
// decoder was created: what the edge turns into flow_loss rows (deltas
// per interval). Datagrams and Flows give the loss its scale.
type DomainLoss struct {
	// Exporter is the exporter's address (NetFlow/IPFIX: UDP source;
	// sFlow: agent address).
	Exporter netip.Addr
	// Device is the exporter as flows rows' device column holds it: its
	// configured name (EnrichConfig.Exporters), else its address.
	Device string
	// Format is the domain's wire format.
	Format Format
	// Domain is the observation domain: v9 source id, IPFIX observation
	// domain id, v5 engine type<<8|engine id, sFlow sub-agent id.
	Domain uint32
	// Datagrams counts the datagrams whose header reached the domain (the
	// ones that fail earlier count only in Counters.Errors).
	Datagrams uint64
	// Flows counts the flow records decoded from them (time-quarantined
	// ones included).
	Flows uint64
	// SequenceGaps, LostFlows, LostDatagrams and SequenceResets are the
	// domain's share of the Counters fields of the same names.
	SequenceGaps, LostFlows, LostDatagrams, SequenceResets uint64
	// TemplateMisses counts the domain's data sets skipped for want of
	// their template: their records are lost.
	TemplateMisses uint64
}

// account adds a datagram's sequence result to the decoder's counters and
// to its domain's; lostFlows says whether the lost units are flow records
// (v5, IPFIX) or datagrams (v9, sFlow). Called with dom.mu held, once per
// datagram that reached the domain.
func (d *Decoder) account(dom *domain, r seqResult, lostFlows bool) {
	d.counters.account(r, lostFlows)
	l := &dom.loss
	l.datagrams++
	switch {
	case r.reset:
		l.resets++
	case r.gap && lostFlows:
		l.gaps++
		l.lostFlows += uint64(r.lost)
	case r.gap:
		l.gaps++
		l.lostDatagrams += uint64(r.lost)
	}
}

// DomainLoss returns every exporter domain's running totals, ordered by
// exporter, format and domain. Domains are never forgotten while the
// decoder lives, so each total only grows.
func (d *Decoder) DomainLoss() []DomainLoss {
	d.mu.RLock()
	doms := make([]*domain, 0, len(d.domains))
	for _, dom := range d.domains {
		doms = append(doms, dom)
	}
	d.mu.RUnlock()
	en := d.enricher.Load()
	out := make([]DomainLoss, 0, len(doms))
	for _, dom := range doms {
		dom.mu.Lock()
		l := dom.loss
		dom.mu.Unlock()
		dev := dom.device
		if en != nil {
			if x := en.exporters[dom.key.addr]; x != nil && x.Name != "" {
				dev = x.Name
			}
		}
		out = append(out, DomainLoss{
			Exporter: dom.key.addr, Device: dev, Format: dom.key.format, Domain: dom.key.id,
			Datagrams: l.datagrams, Flows: l.flows, SequenceGaps: l.gaps, LostFlows: l.lostFlows,
			LostDatagrams: l.lostDatagrams, SequenceResets: l.resets, TemplateMisses: l.templateMisses,
		})
	}
	slices.SortFunc(out, func(a, b DomainLoss) int {
		return cmp.Or(a.Exporter.Compare(b.Exporter), cmp.Compare(a.Format, b.Format), cmp.Compare(a.Domain, b.Domain))
	})
	return out
}
