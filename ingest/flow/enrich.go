package flow

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/flowlake/flowlake/storage/schema"
)

// EnrichConfig is what the enrichment knows: user-defined applications, IP
// groups, and names of exporters and their interfaces. It comes from the
// edge configuration (and, later, the metadata store).
type EnrichConfig struct {
	// Applications are matched in order before the default port/protocol
	// table; the first match names the flow's app.
	Applications []Application `yaml:"applications" koanf:"applications"`
	// IPGroups name address ranges; src_group/dst_group get the group of
	// the smallest range containing the address (longest match).
	IPGroups []IPGroup `yaml:"ip_groups" koanf:"ip_groups"`
	// Exporters give exporters and their interfaces names.
	Exporters []Exporter `yaml:"exporters" koanf:"exporters"`
	// NoDefaultServices turns the built-in IANA port table off, leaving app
	// empty for flows no user-defined application matches.
	NoDefaultServices bool `yaml:"no_default_services" koanf:"no_default_services"`
}

// Application is a user-defined application. A flow matches when its
// protocol matches and one of its sides (source or destination) has an
// address in Addresses and a port in Ports; an empty list matches anything.
// Matching either side classifies both directions of a conversation alike.
type Application struct {
	// Name is written into the app column.
	Name string `yaml:"name" koanf:"name"`
	// Addresses: addresses, PREFIX/LEN or FIRST-LAST ranges (IPv4 or IPv6).
	Addresses []string `yaml:"addresses" koanf:"addresses"`
	// Ports: ports or FIRST-LAST ranges.
	Ports []string `yaml:"ports" koanf:"ports"`
	// Protocol: "tcp", "udp", "icmp", "icmpv6", "sctp", a number, or "" for any.
	Protocol string `yaml:"protocol" koanf:"protocol"`
}

// IPGroup names a set of addresses.
type IPGroup struct {
	// Name is written into src_group/dst_group.
	Name string `yaml:"name" koanf:"name"`
	// Addresses: addresses, PREFIX/LEN or FIRST-LAST ranges.
	Addresses []string `yaml:"addresses" koanf:"addresses"`
}

// Exporter names an exporter (the device column) and its interfaces.
type Exporter struct {
	// Address is the exporter's address as the device column derives it
	// (NetFlow/IPFIX: UDP source; sFlow: agent address).
	Address netip.Addr `yaml:"address" koanf:"address"`
	// Name replaces the address in the device column ("" keeps it).
	Name string `yaml:"name" koanf:"name"`
	// Interfaces maps SNMP ifIndex to a name (in_if_name/out_if_name).
	Interfaces map[uint32]string `yaml:"interfaces" koanf:"interfaces"`
}

// Enricher fills the derived columns of flows rows: app, src_group,
// dst_group, in_if_name, out_if_name, and device names. It is immutable and
// safe for concurrent use; a configuration change builds a new Enricher
// (Decoder.SetEnricher swaps it for rows decoded afterwards). Apply
// allocates nothing.
type Enricher struct {
	apps      []compiledApp
	groups    rangeTable
	groupName []string
	exporters map[netip.Addr]*Exporter
	services  *services
}

type compiledApp struct {
	name  string
	proto int // -1 any
	addrs rangeTable
	any   bool // no addresses: any address
	ports [][2]uint16
}

// NewEnricher checks and compiles cfg.
func NewEnricher(cfg EnrichConfig) (*Enricher, error) {
	var errs []error
	e := &Enricher{exporters: map[netip.Addr]*Exporter{}}
	if !cfg.NoDefaultServices {
		s, err := parseServices(servicesCSV)
		if err != nil {
			return nil, fmt.Errorf("built-in services table: %w", err)
		}
		e.services = s
	}
	for i, a := range cfg.Applications {
		ca, err := compileApp(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("applications[%d] %q: %w", i, a.Name, err))
			continue
		}
		e.apps = append(e.apps, ca)
	}
	var entries []tableEntry
	for i, g := range cfg.IPGroups {
		if g.Name == "" {
			errs = append(errs, fmt.Errorf("ip_groups[%d]: name is empty", i))
			continue
		}
		if len(g.Addresses) == 0 {
			errs = append(errs, fmt.Errorf("ip_groups[%d] %q: no addresses", i, g.Name))
		}
		for _, s := range g.Addresses {
			r, err := parseAddrSpec(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("ip_groups[%d] %q: %w", i, g.Name, err))
				continue
			}
			entries = append(entries, tableEntry{r: r, val: int32(len(e.groupName))})
		}
		e.groupName = append(e.groupName, g.Name)
	}
	e.groups = buildRangeTable(entries)
	for i := range cfg.Exporters {
		x := cfg.Exporters[i]
		if !x.Address.IsValid() {
			errs = append(errs, fmt.Errorf("exporters[%d] %q: address is missing", i, x.Name))
			continue
		}
		a := x.Address.Unmap()
		if _, dup := e.exporters[a]; dup {
			errs = append(errs, fmt.Errorf("exporters[%d]: address %s listed twice", i, a))
			continue
		}
		e.exporters[a] = &x
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("enrichment config: %w", err)
	}
	return e, nil
}

func compileApp(a Application) (compiledApp, error) {
	ca := compiledApp{name: a.Name, proto: -1}
	if a.Name == "" {
		return ca, errors.New("name is empty")
	}
	if a.Protocol != "" {
		p, err := parseProtocol(a.Protocol)
		if err != nil {
			return ca, err
		}
		ca.proto = p
	}
	var entries []tableEntry
	for _, s := range a.Addresses {
		r, err := parseAddrSpec(s)
		if err != nil {
			return ca, err
		}
		entries = append(entries, tableEntry{r: r, val: 0})
	}
	ca.addrs = buildRangeTable(entries)
	ca.any = len(entries) == 0
	for _, s := range a.Ports {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
		p1, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
		if err != nil {
			return ca, fmt.Errorf("port %q: want PORT or FIRST-LAST", s)
		}
		p2 := p1
		if isRange {
			if p2, err = strconv.ParseUint(strings.TrimSpace(hi), 10, 16); err != nil || p2 < p1 {
				return ca, fmt.Errorf("port range %q: want FIRST-LAST with FIRST ≤ LAST", s)
			}
		}
		ca.ports = append(ca.ports, [2]uint16{uint16(p1), uint16(p2)})
	}
	if ca.any && len(ca.ports) == 0 && ca.proto < 0 {
		return ca, errors.New("matches every flow: give addresses, ports or a protocol")
	}
	return ca, nil
}

func parseProtocol(s string) (int, error) {
	switch strings.ToLower(s) {
	case "tcp":
		return 6, nil
	case "udp":
		return 17, nil
	case "icmp":
		return 1, nil
	case "icmpv6":
		return 58, nil
	case "sctp":
		return 132, nil
	case "gre":
		return 47, nil
	case "esp":
		return 50, nil
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("protocol %q: want tcp, udp, icmp, icmpv6, sctp, gre, esp or 0-255", s)
	}
	return int(n), nil
}

func (a *compiledApp) side(addr schema.Addr, port uint16) bool {
	if !a.any && a.addrs.lookup(addr) < 0 {
		return false
	}
	if len(a.ports) == 0 {
		return true
	}
	for _, p := range a.ports {
		if port >= p[0] && port <= p[1] {
			return true
		}
	}
	return false
}

func (a *compiledApp) match(r *schema.Flow) bool {
	if a.proto >= 0 && int(r.Proto) != a.proto {
		return false
	}
	return a.side(r.DstAddr, r.DstPort) || a.side(r.SrcAddr, r.SrcPort)
}

// Apply enriches rows exported by device (the exporter address the rows'
// device column was derived from): device and interface names from the
// exporter's configuration, IP groups, then the application — user-defined
// applications first, then the default port/protocol table.
func (e *Enricher) Apply(device netip.Addr, rows []schema.Flow) {
	x := e.exporters[device.Unmap()]
	for i := range rows {
		r := &rows[i]
		if x != nil {
			if x.Name != "" {
				r.Device = x.Name
			}
			if x.Interfaces != nil {
				r.InIfName = x.Interfaces[r.InIf]
				r.OutIfName = x.Interfaces[r.OutIf]
			}
		}
		if g := e.groups.lookup(r.SrcAddr); g >= 0 {
			r.SrcGroup = e.groupName[g]
		}
		if g := e.groups.lookup(r.DstAddr); g >= 0 {
			r.DstGroup = e.groupName[g]
		}
		r.App = e.app(r)
	}
}

func (e *Enricher) app(r *schema.Flow) string {
	for i := range e.apps {
		if e.apps[i].match(r) {
			return e.apps[i].name
		}
	}
	if e.services != nil {
		return e.services.classify(r.Proto, r.SrcPort, r.DstPort)
	}
	return ""
}
