package tcptrace

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Cache modes: which closed connections the tracer writes.
const (
	// CacheAbnormal writes connections that closed for an abnormal reason
	// (RR, SR, AA, KT, PT, RT) and those still open at shutdown: the
	// device's default.
	CacheAbnormal = "abnormal-close"
	// CacheAll writes every connection, normal closes and timeouts too.
	CacheAll = "all"
)

// Endpoint is one side of a connection as filters see it.
type Endpoint struct {
	Addr netip.Addr
	Port uint16
}

// TracerConfig holds the passive tracer's settings, the device's own with
// its defaults and ranges (docs/tcptrace.md, "Passive tracer").
type TracerConfig struct {
	// Local lists the prefixes of the traced hosts: a connection is seen
	// from the side whose address is in one of them. Empty means every
	// address is local; then (and when both sides are local) the local
	// side is the one that sent the first SYN, else the first packet.
	Local []netip.Prefix `koanf:"local"`
	// MaxPackets is the ring of last packets kept per connection (device
	// range 1-500, default 500): the newest overwrite the oldest.
	MaxPackets int `koanf:"max_packets"`
	// MemoryQuota bounds the memory the connection table and the rings
	// hold, counted from the real sizes of what is allocated (default
	// 100 MB). Once reached, no new connection is traced (counted in
	// Stats.Refused) while existing ones keep overwriting their own rings.
	MemoryQuota int64 `koanf:"memory_quota"`
	// CacheMode is CacheAbnormal (default) or CacheAll.
	CacheMode string `koanf:"cache_mode"`
	// OnlyNew ignores connections whose handshake (the SYN) was not seen.
	OnlyNew bool `koanf:"only_new"`
	// SnapLen is how many bytes of each kept packet, from the IP header on,
	// are kept for the pcap export (default 128, at least 40).
	SnapLen int `koanf:"snap_len"`
	// IdleTimeout ends a connection no packet was seen on for that long
	// (default 2h, as Linux's keepalive time).
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// CloseWait is how long a connection closed by FINs or an RST stays in
	// the table to absorb retransmitted FINs, RSTs and stray ACKs, so a
	// connection gives one record (default 5s, as Zeek's tcp_close_delay).
	CloseWait time.Duration `koanf:"close_wait"`
	// StallTimeout ends a connection whose last packets were unanswered
	// retransmissions, keepalive or window probes once it has been silent
	// that long: the sender gave up (RT, KT, PT). Default 60s.
	StallTimeout time.Duration `koanf:"stall_timeout"`
	// SynTimeout ends a connection that never got past its SYN (default 75s,
	// Linux's connect timeout with the default SYN retries is longer, but
	// nothing else happens on it).
	SynTimeout time.Duration `koanf:"syn_timeout"`
	// Probes is how many unanswered retransmissions of one segment,
	// keepalive probes or window probes make RT, KT or PT (default 3).
	Probes int `koanf:"probes"`
	// Filter, when set, decides which connections are traced, from their
	// local and foreign endpoints. The edge builds it from the query filter
	// language (ingest may not import storage/query).
	Filter func(local, foreign Endpoint) bool `koanf:"-"`
	// Edge and Device fill the rows' edge and device columns.
	Edge   string `koanf:"-"`
	Device string `koanf:"-"`
}

// DefaultTracerConfig returns the device's defaults.
func DefaultTracerConfig() TracerConfig {
	return TracerConfig{
		MaxPackets:   500,
		MemoryQuota:  100 << 20,
		CacheMode:    CacheAbnormal,
		SnapLen:      128,
		IdleTimeout:  2 * time.Hour,
		CloseWait:    5 * time.Second,
		StallTimeout: time.Minute,
		SynTimeout:   75 * time.Second,
		Probes:       3,
	}
}

// Validate reports every setting out of its range.
func (c TracerConfig) Validate() error {
	var errs []error
	if c.MaxPackets < 1 || c.MaxPackets > 500 {
		errs = append(errs, fmt.Errorf("max_packets %d: want 1 to 500 (the device's range)", c.MaxPackets))
	}
	if c.MemoryQuota < 1<<20 {
		errs = append(errs, fmt.Errorf("memory_quota %d: want at least 1 MiB", c.MemoryQuota))
	}
	if c.CacheMode != CacheAbnormal && c.CacheMode != CacheAll {
		errs = append(errs, fmt.Errorf("cache_mode %q: want %q or %q", c.CacheMode, CacheAbnormal, CacheAll))
	}
	if c.SnapLen < 40 || c.SnapLen > 65535 {
		errs = append(errs, fmt.Errorf("snap_len %d: want 40 to 65535 bytes", c.SnapLen))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"idle_timeout", c.IdleTimeout}, {"close_wait", c.CloseWait}, {"stall_timeout", c.StallTimeout}, {"syn_timeout", c.SynTimeout}} {
		if d.d <= 0 {
			errs = append(errs, fmt.Errorf("%s %s: want a positive duration", d.name, d.d))
		}
	}
	if c.Probes < 1 {
		errs = append(errs, fmt.Errorf("probes %d: want at least 1", c.Probes))
	}
	for _, p := range c.Local {
		if !p.IsValid() {
			errs = append(errs, errors.New("local: an invalid prefix"))
		}
	}
	return errors.Join(errs...)
}
