package flow

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// snapshotVersion is the version of the template snapshot format.
const snapshotVersion = 1

// snapshot is the JSON form of the decoder's template state: what an edge
// writes on shutdown (and periodically) and restores on start, so data sets
// arriving before the exporter re-sends its templates still decode.
type snapshot struct {
	Version int              `json:"version"`
	Domains []snapshotDomain `json:"domains"`
}

type snapshotDomain struct {
	Exporter  string             `json:"exporter"`
	Format    string             `json:"format"` // "netflow9" or "ipfix"
	Domain    uint32             `json:"domain"`
	SysInitMs uint64             `json:"sys_init_ms,omitempty"`
	LastRate  uint32             `json:"last_rate,omitempty"`
	Rates     []snapshotRate     `json:"rates,omitempty"`
	Templates []snapshotTemplate `json:"templates"`
}

type snapshotRate struct {
	Sampler *uint64 `json:"sampler,omitempty"` // absent: option data named no sampler
	Rate    uint32  `json:"rate"`
}

type snapshotTemplate struct {
	ID      uint16          `json:"id"`
	Options bool            `json:"options,omitempty"`
	Scopes  []snapshotField `json:"scopes,omitempty"`
	Fields  []snapshotField `json:"fields"`
}

type snapshotField struct {
	Type   uint16 `json:"type"`
	Length uint16 `json:"length"`
	PEN    uint32 `json:"pen,omitempty"`
}

func toSnapFields(fs []netflow.Field) []snapshotField {
	out := make([]snapshotField, len(fs))
	for i, f := range fs {
		out[i] = snapshotField{Type: f.Type, Length: f.Length}
		if f.PenProvided {
			out[i].PEN = f.Pen
		}
	}
	return out
}

func fromSnapFields(fs []snapshotField) []netflow.Field {
	out := make([]netflow.Field, len(fs))
	for i, f := range fs {
		out[i] = netflow.Field{Type: f.Type, Length: f.Length, Pen: f.PEN, PenProvided: f.PEN != 0}
	}
	return out
}

// MarshalTemplates returns the templates and option-data sampling state of
// every NetFlow v9 and IPFIX domain as JSON, in a stable order.
func (d *Decoder) MarshalTemplates() ([]byte, error) {
	d.mu.RLock()
	doms := make([]*domain, 0, len(d.domains))
	for _, dom := range d.domains {
		if dom.key.format == FormatNetFlowV9 || dom.key.format == FormatIPFIX {
			doms = append(doms, dom)
		}
	}
	d.mu.RUnlock()
	s := snapshot{Version: snapshotVersion, Domains: make([]snapshotDomain, 0, len(doms))}
	for _, dom := range doms {
		dom.mu.Lock()
		sd := snapshotDomain{Exporter: dom.key.addr.String(), Format: dom.key.format.String(), Domain: dom.key.id,
			SysInitMs: dom.sysInitMs, LastRate: dom.lastRate, Templates: []snapshotTemplate{}}
		for k, r := range dom.rates {
			sr := snapshotRate{Rate: r}
			if k != noSampler {
				sr.Sampler = &k
			}
			sd.Rates = append(sd.Rates, sr)
		}
		for _, t := range dom.templates {
			sd.Templates = append(sd.Templates, snapshotTemplate{ID: t.id, Options: t.options, Scopes: toSnapFields(t.scopes), Fields: toSnapFields(t.raw)})
		}
		dom.mu.Unlock()
		slices.SortFunc(sd.Rates, func(a, b snapshotRate) int {
			switch {
			case a.Sampler == nil:
				return -1
			case b.Sampler == nil:
				return 1
			}
			return int(min(max(int64(*a.Sampler)-int64(*b.Sampler), -1), 1))
		})
		slices.SortFunc(sd.Templates, func(a, b snapshotTemplate) int { return int(a.ID) - int(b.ID) })
		s.Domains = append(s.Domains, sd)
	}
	slices.SortFunc(s.Domains, func(a, b snapshotDomain) int {
		if c := netip.MustParseAddr(a.Exporter).Compare(netip.MustParseAddr(b.Exporter)); c != 0 {
			return c
		}
		if a.Format != b.Format {
			if a.Format < b.Format {
				return -1
			}
			return 1
		}
		return int(int64(a.Domain) - int64(b.Domain))
	})
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal templates: %w", err)
	}
	return b, nil
}

// UnmarshalTemplates restores state written by MarshalTemplates. Templates
// the decoder already holds (learned since start) win over the snapshot's.
// It checks the whole snapshot before applying any of it, and returns the
// number of templates restored.
func (d *Decoder) UnmarshalTemplates(b []byte) (int, error) {
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return 0, fmt.Errorf("unmarshal templates: %w", err)
	}
	if s.Version != snapshotVersion {
		return 0, fmt.Errorf("unmarshal templates: snapshot version %d, want %d", s.Version, snapshotVersion)
	}
	type restored struct {
		key   domainKey
		sd    *snapshotDomain
		tmpls []*template
	}
	var all []restored
	seen := map[domainKey]bool{}
	for i := range s.Domains {
		sd := &s.Domains[i]
		addr, err := netip.ParseAddr(sd.Exporter)
		if err != nil {
			return 0, fmt.Errorf("unmarshal templates: domain %d: exporter: %w", i, err)
		}
		k := domainKey{addr: addr.Unmap(), id: sd.Domain}
		switch sd.Format {
		case FormatNetFlowV9.String():
			k.format = FormatNetFlowV9
		case FormatIPFIX.String():
			k.format = FormatIPFIX
		default:
			return 0, fmt.Errorf("unmarshal templates: domain %d: format %q is not netflow9 or ipfix", i, sd.Format)
		}
		if seen[k] {
			return 0, fmt.Errorf("unmarshal templates: domain %d (%s %s %d) listed twice", i, sd.Exporter, sd.Format, sd.Domain)
		}
		seen[k] = true
		if len(sd.Templates) > d.cfg.MaxTemplatesPerDomain {
			return 0, fmt.Errorf("unmarshal templates: domain %d has %d templates, above max_templates_per_domain %d", i, len(sd.Templates), d.cfg.MaxTemplatesPerDomain)
		}
		if len(sd.Rates) > maxRates {
			return 0, fmt.Errorf("unmarshal templates: domain %d has %d sampling rates, above %d", i, len(sd.Rates), maxRates)
		}
		r := restored{key: k, sd: sd}
		ids := map[uint16]bool{}
		for _, st := range sd.Templates {
			if ids[st.ID] {
				return 0, fmt.Errorf("unmarshal templates: domain %d: template %d listed twice", i, st.ID)
			}
			ids[st.ID] = true
			if !st.Options && len(st.Scopes) > 0 {
				return 0, fmt.Errorf("unmarshal templates: domain %d: data template %d has scope fields", i, st.ID)
			}
			t, err := compileTemplate(st.ID, st.Options, fromSnapFields(st.Scopes), fromSnapFields(st.Fields))
			if err != nil {
				return 0, fmt.Errorf("unmarshal templates: domain %d: %w", i, err)
			}
			r.tmpls = append(r.tmpls, t)
		}
		all = append(all, r)
	}
	d.mu.Lock()
	if n := len(d.domains); n+len(all) > d.cfg.MaxDomains {
		fresh := 0
		for _, r := range all {
			if d.domains[r.key] == nil {
				fresh++
			}
		}
		if n+fresh > d.cfg.MaxDomains {
			d.mu.Unlock()
			return 0, fmt.Errorf("unmarshal templates: %d new domains exceed max_domains %d", fresh, d.cfg.MaxDomains)
		}
	}
	doms := make([]*domain, len(all))
	for i, r := range all {
		if doms[i] = d.domains[r.key]; doms[i] == nil {
			doms[i] = d.newDomain(r.key)
			d.domains[r.key] = doms[i]
		}
	}
	d.mu.Unlock()
	n := 0
	for i, r := range all {
		dom := doms[i]
		dom.mu.Lock()
		if dom.sysInitMs == 0 {
			dom.sysInitMs = r.sd.SysInitMs
		}
		if dom.lastRate == 0 {
			dom.lastRate = r.sd.LastRate
		}
		for _, sr := range r.sd.Rates {
			k := noSampler
			if sr.Sampler != nil {
				k = *sr.Sampler
			}
			if _, ok := dom.rates[k]; !ok && len(dom.rates) < maxRates {
				dom.rates[k] = sr.Rate
			}
		}
		for _, t := range r.tmpls {
			if dom.templates[t.id] == nil && len(dom.templates) < d.cfg.MaxTemplatesPerDomain {
				dom.templates[t.id] = t
				dom.expectsRate = dom.expectsRate || t.sampling
				n++
			}
		}
		dom.mu.Unlock()
	}
	return n, nil
}
