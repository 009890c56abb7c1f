package edge

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"
)

// DHCPConfig configures DHCP snooping at the edge (edge.dhcp): frames
// captured on Interfaces (or replayed from Pcap) are decoded into
// dhcp_events, checked against the trusted ports and allowed servers,
// turned into signals, and kept as the binding table. docs/edge.md and
// docs/ingest-dhcp.md describe it.
type DHCPConfig struct {
	// Interfaces are captured through AF_PACKET with a kernel filter for
	// UDP 67, 68, 546 and 547 (VLAN-tagged frames too). Empty (the
	// default) with no Pcap: no DHCP snooping.
	Interfaces []string `yaml:"interfaces" koanf:"interfaces"`
	// Netns is the network namespace of Interfaces, as a path
	// (/var/run/netns/NAME); "" (the default): the edge's own.
	Netns string `yaml:"netns" koanf:"netns"`
	// Pcap is a pcap or pcapng capture replayed through the same path in
	// place of Interfaces (`--dhcp-pcap`); its frames are read as fast as
	// they are written, never dropped, and their interface is the file's
	// base name.
	Pcap string `yaml:"pcap" koanf:"pcap"`
	// InboundOnly keeps only the frames an interface receives (default
	// true): on the ports of a bridge or a mirror of several ports each
	// message is then seen once, on the port it entered by, which is the
	// port that snooping trusts or not.
	InboundOnly bool `yaml:"inbound_only" koanf:"inbound_only"`
	// Trusted are the interfaces (snooping trusted ports) where DHCP
	// servers may answer; a server reply entering by any other is
	// rogue_server. For a replay, list the file's base name to trust it.
	// Empty (the default): every port is trusted, and only
	// AllowedServers tells rogue servers.
	Trusted []string `yaml:"trusted" koanf:"trusted"`
	// AllowedServers are the addresses or prefixes of the DHCP servers
	// (option 54, else the IP source; relay agents forward with the
	// server's option 54). Empty: every server on a trusted port is
	// allowed.
	AllowedServers []string `yaml:"allowed_servers" koanf:"allowed_servers"`
	// Pools are the address pools whose use is watched.
	Pools []DHCPPool `yaml:"pools" koanf:"pools"`
	// Signals sets the thresholds of the rate signals.
	Signals DHCPSignals `yaml:"signals" koanf:"signals"`
	// QueueFrames bounds the frames waiting for the DHCP worker (default
	// 65536); beyond it live frames are dropped and counted (queue).
	QueueFrames int `yaml:"queue_frames" koanf:"queue_frames"`
	// BatchRows and BatchAge rotate the dhcp_events batch into a segment
	// (defaults 8192 rows, 5s).
	BatchRows int           `yaml:"batch_rows" koanf:"batch_rows"`
	BatchAge  time.Duration `yaml:"batch_age" koanf:"batch_age"`
	// BindingsFile keeps the binding table across restarts (default "":
	// dhcp_bindings.json next to the edge's template file, or in the
	// spool directory of `flowlake edge`; with neither, not kept).
	BindingsFile string `yaml:"bindings_file" koanf:"bindings_file"`
	// BindingsInterval is how often a changed table is saved (default
	// 5s; also saved on stop).
	BindingsInterval time.Duration `yaml:"bindings_interval" koanf:"bindings_interval"`
	// QuarantineFile receives malformed DHCP messages, raw, as JSON lines
	// (default "": dhcp_quarantine.jsonl next to the edge's quarantine
	// file; rotated at edge.quarantine_max_bytes).
	QuarantineFile string `yaml:"quarantine_file" koanf:"quarantine_file"`
	// RingBlocks sizes each interface's capture ring in MiB (default 8),
	// held as blocks of dhcpRingBlockSize.
	RingBlocks int `yaml:"ring_blocks" koanf:"ring_blocks"`
}

// DHCPPool is one watched address pool.
type DHCPPool struct {
	// Subnet is the pool's prefix, e.g. "10.1.0.0/24"; a binding counts
	// in the first pool whose subnet holds its address.
	Subnet string `yaml:"subnet" koanf:"subnet"`
	// Size is the number of addresses the server may lease in it
	// (default: the subnet's host addresses, network and broadcast
	// excluded).
	Size int `yaml:"size" koanf:"size"`
	// High and Low are percentages of Size (defaults 90 and 80; 0 means
	// the default): use at or above High raises pool_high; it is cleared
	// (pool_ok) only once use falls to Low or below, so it does not flap.
	High float64 `yaml:"high" koanf:"high"`
	Low  float64 `yaml:"low" koanf:"low"`
}

// DHCPSignals are the thresholds of the rate signals, counted per
// interface over a sliding Window in the messages' own time (a replay
// raises what the live traffic did). A signal is raised when its count
// reaches the threshold and ends when the count falls to half of it.
type DHCPSignals struct {
	// Window is the sliding window (default 10s, whole seconds).
	Window time.Duration `yaml:"window" koanf:"window"`
	// NakStorm is the NAKs per window that raise nak_storm (default 20).
	NakStorm int `yaml:"nak_storm" koanf:"nak_storm"`
	// DiscoverFlood is the DISCOVERs (DHCPv6 SOLICITs) per window that
	// raise discover_flood, a starvation attempt (default 500).
	DiscoverFlood int `yaml:"discover_flood" koanf:"discover_flood"`
	// DeclineSpike is the DECLINEs per window that raise decline_spike,
	// address conflicts (default 10).
	DeclineSpike int `yaml:"decline_spike" koanf:"decline_spike"`
}

// DefaultDHCPConfig returns the documented defaults (snooping off).
func DefaultDHCPConfig() DHCPConfig {
	return DHCPConfig{
		InboundOnly: true, QueueFrames: 65536, BatchRows: 8192, BatchAge: 5 * time.Second,
		BindingsInterval: 5 * time.Second, RingBlocks: 8,
		Signals: DHCPSignals{Window: 10 * time.Second, NakStorm: 20, DiscoverFlood: 500, DeclineSpike: 10},
	}
}

// Enabled reports whether DHCP snooping runs.
func (c DHCPConfig) Enabled() bool { return len(c.Interfaces) > 0 || c.Pcap != "" }

// Validate reports every invalid setting.
func (c DHCPConfig) Validate() error {
	var errs []error
	if len(c.Interfaces) > 0 && c.Pcap != "" {
		errs = append(errs, errors.New("interfaces and pcap are both set: a replay replaces the live capture"))
	}
	for _, s := range c.AllowedServers {
		if _, err := parseServer(s); err != nil {
			errs = append(errs, fmt.Errorf("allowed_servers: %w", err))
		}
	}
	for i, p := range c.Pools {
		if _, err := p.resolve(); err != nil {
			errs = append(errs, fmt.Errorf("pools[%d]: %w", i, err))
		}
	}
	if c.QueueFrames < 1 || c.BatchRows < 1 || c.BatchAge <= 0 || c.BindingsInterval <= 0 || c.RingBlocks < 1 {
		errs = append(errs, fmt.Errorf("queue_frames %d, batch_rows %d, ring_blocks %d, batch_age %s and bindings_interval %s must be positive",
			c.QueueFrames, c.BatchRows, c.RingBlocks, c.BatchAge, c.BindingsInterval))
	}
	s := c.Signals
	if s.Window < time.Second || s.Window > time.Hour || s.NakStorm < 1 || s.DiscoverFlood < 1 || s.DeclineSpike < 1 {
		errs = append(errs, fmt.Errorf("signals: window %s must be within 1s..1h and nak_storm %d, discover_flood %d, decline_spike %d positive",
			s.Window, s.NakStorm, s.DiscoverFlood, s.DeclineSpike))
	}
	return errors.Join(errs...)
}

// parseServer parses an allowed server: an address or a prefix.
func parseServer(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("%q: %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q: want an address or a prefix: %w", s, err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// pool is a DHCPPool resolved.
type pool struct {
	prefix    netip.Prefix
	size      int
	high, low float64
}

func (p DHCPPool) resolve() (pool, error) {
	pfx, err := netip.ParsePrefix(p.Subnet)
	if err != nil {
		return pool{}, fmt.Errorf("subnet %q: %w", p.Subnet, err)
	}
	pfx = pfx.Masked()
	r := pool{prefix: pfx, size: p.Size, high: p.High, low: p.Low}
	if r.size == 0 {
		hostBits := pfx.Addr().BitLen() - pfx.Bits()
		switch {
		case hostBits >= 31:
			r.size = 1 << 30
		case hostBits < 2:
			r.size = 1 << hostBits
		default:
			r.size = 1<<hostBits - 2
		}
	}
	if r.high == 0 {
		r.high = 90
	}
	if r.low == 0 {
		r.low = 80
	}
	switch {
	case r.size < 1:
		return r, fmt.Errorf("size %d is below 1", r.size)
	case r.high <= 0 || r.high > 100 || r.low < 0 || r.low >= r.high:
		return r, fmt.Errorf("high %.1f and low %.1f: want 0 <= low < high <= 100 (percent)", r.high, r.low)
	}
	return r, nil
}

// bindingsFile returns where the binding table is kept ("" for nowhere).
func (c Config) bindingsFile() string {
	switch {
	case c.DHCP.BindingsFile != "":
		return c.DHCP.BindingsFile
	case c.TemplateFile != "":
		return filepath.Join(filepath.Dir(c.TemplateFile), "dhcp_bindings.json")
	}
	return ""
}

// dhcpQuarantineFile returns where malformed DHCP messages go ("" for
// nowhere: counted as lost).
func (c Config) dhcpQuarantineFile() string {
	if c.DHCP.QuarantineFile != "" {
		return c.DHCP.QuarantineFile
	}
	if q := c.quarantineFile(); q != "" {
		return filepath.Join(filepath.Dir(q), "dhcp_quarantine.jsonl")
	}
	return ""
}
