package flow

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Config configures a Decoder. Start from DefaultConfig.
type Config struct {
	// Edge is written into every row's edge column: the id of the agent
	// that collected it (default "" — the edge sets its serial).
	Edge string `yaml:"-" koanf:"-"`
	// Sampling lists sampling-rate rules per exporter address or subnet; the
	// longest matching prefix applies (default none). See SamplingRule.
	Sampling []SamplingRule `yaml:"sampling" koanf:"sampling"`
	// MaxDomains bounds the exporter/observation-domain states kept, so a
	// flood of spoofed sources cannot exhaust memory (default 4096).
	// Datagrams of new domains beyond it fail with ErrLimit.
	MaxDomains int `yaml:"max_domains" koanf:"max_domains"`
	// MaxTemplatesPerDomain bounds the templates one domain may define
	// (default 1024); further templates fail with ErrLimit.
	MaxTemplatesPerDomain int `yaml:"max_templates_per_domain" koanf:"max_templates_per_domain"`
	// MaxPast and MaxFuture bound a record's time (its flow start) around
	// the moment its datagram was received: a record that starts more than
	// MaxPast before, or more than MaxFuture after, is not a row of the
	// flows dataset but is moved to Batch.Quarantined and counted
	// (Counters.TimeQuarantined). Defaults 168h (a week: long-lived
	// sessions reported at their end, exporters replaying a backlog) and
	// 10m (exporter clock skew). A broken exporter clock or a corrupt
	// timestamp (year 111613) thus never creates a partition nor ages
	// wrongly; see docs/ingest-flow.md.
	MaxPast   time.Duration `yaml:"max_past" koanf:"max_past"`
	MaxFuture time.Duration `yaml:"max_future" koanf:"max_future"`
}

// SamplingRule sets the sampling rate of the exporters in Prefix (the
// exporter's address: the UDP source for NetFlow/IPFIX, the agent address
// for sFlow).
type SamplingRule struct {
	// Prefix selects exporters: an address/len ("10.0.0.0/8") or, with
	// /32 or /128, one exporter.
	Prefix netip.Prefix `yaml:"prefix" koanf:"prefix"`
	// Rate is the 1-in-N sampling rate (≥ 1).
	Rate uint32 `yaml:"rate" koanf:"rate"`
	// Force makes Rate replace whatever the exporter reports. Without it,
	// Rate is only a fallback: it applies while the exporter reports no
	// rate at all (no sampling element in the record nor option data for
	// its domain). Exporters that report "unsampled" still report a rate:
	// softflowd's NetFlow v9 and IPFIX send an options template (256) with
	// SAMPLING_INTERVAL=1, so a rule for softflowd v9/IPFIX needs force
	// (its NetFlow v5 header says 0, which counts as no rate). A fallback
	// rule shadowed by a reported rate is counted per exporter domain
	// (Counters.SamplingRulesShadowed) and logged once.
	Force bool `yaml:"force" koanf:"force"`
}

// The default time window of Config.MaxPast and Config.MaxFuture.
const (
	DefaultMaxPast   = 7 * 24 * time.Hour
	DefaultMaxFuture = 10 * time.Minute
)

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{MaxDomains: 4096, MaxTemplatesPerDomain: 1024, MaxPast: DefaultMaxPast, MaxFuture: DefaultMaxFuture}
}

// Validate reports every invalid setting.
func (c Config) Validate() error {
	var errs []error
	if c.MaxDomains < 1 {
		errs = append(errs, fmt.Errorf("max_domains %d is below 1", c.MaxDomains))
	}
	if c.MaxTemplatesPerDomain < 1 {
		errs = append(errs, fmt.Errorf("max_templates_per_domain %d is below 1", c.MaxTemplatesPerDomain))
	}
	if c.MaxPast <= 0 {
		errs = append(errs, fmt.Errorf("max_past %s is not positive (records older than that before their receipt are quarantined)", c.MaxPast))
	}
	if c.MaxFuture <= 0 {
		errs = append(errs, fmt.Errorf("max_future %s is not positive (records dated later than that after their receipt are quarantined)", c.MaxFuture))
	}
	seen := map[netip.Prefix]bool{}
	for i, r := range c.Sampling {
		if !r.Prefix.IsValid() {
			errs = append(errs, fmt.Errorf("sampling[%d]: prefix is missing or invalid", i))
			continue
		}
		if r.Rate == 0 {
			errs = append(errs, fmt.Errorf("sampling[%d] %s: rate must be at least 1", i, r.Prefix))
		}
		p := canonPrefix(r.Prefix)
		if seen[p] {
			errs = append(errs, fmt.Errorf("sampling[%d]: prefix %s listed twice", i, r.Prefix))
		}
		seen[p] = true
	}
	return errors.Join(errs...)
}

// canonPrefix maps an IPv4 prefix onto the IPv4-mapped IPv6 space, so one
// comparison serves both families.
func canonPrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if p.Addr().Is4() {
		return netip.PrefixFrom(netip.AddrFrom16(p.Addr().As16()), p.Bits()+96)
	}
	return p
}

// samplingTable resolves the rule of an exporter address, longest prefix
// first.
type samplingTable struct {
	rules []SamplingRule // canonical prefixes, longest first
}

func newSamplingTable(rules []SamplingRule) samplingTable {
	t := samplingTable{rules: make([]SamplingRule, len(rules))}
	for i, r := range rules {
		r.Prefix = canonPrefix(r.Prefix)
		t.rules[i] = r
	}
	slices.SortStableFunc(t.rules, func(a, b SamplingRule) int { return b.Prefix.Bits() - a.Prefix.Bits() })
	return t
}

// lookup returns the rule for addr and whether one matched.
func (t samplingTable) lookup(addr netip.Addr) (SamplingRule, bool) {
	if len(t.rules) == 0 {
		return SamplingRule{}, false
	}
	a := netip.AddrFrom16(addr.As16())
	for _, r := range t.rules {
		if r.Prefix.Contains(a) {
			return r, true
		}
	}
	return SamplingRule{}, false
}
