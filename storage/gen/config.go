package gen

import (
	"errors"
	"fmt"
	"time"
)

// Config sets what the generator produces. Every field has a documented
// default (DefaultConfig); the zero value of a field is not a default, so
// start from DefaultConfig and change what you need.
type Config struct {
	// Seed makes the output deterministic: the same Config yields the same
	// rows. Default 1.
	Seed int64
	// Start and End bound the generated range [Start, End), in UTC. Hours
	// cut by a bound are generated in proportion. Default: the week from
	// Monday 2026-01-05 00:00 UTC to Monday 2026-01-12 00:00 UTC.
	Start, End time.Time

	// FlowsPerSecond is the mean flow-record rate over a week, across all
	// edges; the diurnal and weekly curves modulate it. Default 50.
	FlowsPerSecond float64
	// DiurnalRatio is the ratio of the busiest weekday hour (14:00 UTC) to
	// the quietest (04:00 UTC). Default 5.
	DiurnalRatio float64
	// WeekendFactor is the traffic of a weekend hour relative to the same
	// weekday hour. Default 0.4.
	WeekendFactor float64

	// Sites is the number of sites (head office, data centre, branches);
	// each has its own address plan and IP groups. Default 3, at most 15.
	Sites int
	// EdgesPerSite is the number of edge agents per site; each edge is one
	// source of rows (the `edge` column). Default 1.
	EdgesPerSite int
	// ExportersPerEdge is the number of flow exporters (devices with named
	// interfaces) behind each edge. Their kinds (IPFIX, NetFlow v9/v5,
	// sFlow; unsampled or 1:100, 1:1000) rotate through a fixed palette.
	// Default 3.
	ExportersPerEdge int
	// HostsPerSite is the number of internal hosts per site, spread over
	// the IP groups; their popularity is Zipf-distributed. Default 3000,
	// at most 40000.
	HostsPerSite int
	// ExternalHosts is the number of Internet destinations (IPv4 and IPv6)
	// in real providers' prefixes, Zipf-popular. Default 30000.
	ExternalHosts int
	// IPv6Share is the fraction of flows carried over IPv6. Default 0.12.
	IPv6Share float64

	// TCPClosesPerHour is the mean number of traced TCP connection closes
	// per edge per hour (tcp_conns rows), modulated by the diurnal curve.
	// Default 40.
	TCPClosesPerHour float64
	// TCPPacketsMax is the largest number of tcp_packets rows kept per
	// connection (the device keeps the last N); each connection keeps
	// between 3 and this many. Default 20, at least 3.
	TCPPacketsMax int

	// DHCPClientsPerSite is the number of hosts per site that lease their
	// address by DHCP (servers are static). Default 400.
	DHCPClientsPerSite int
	// RoguesPerWeek is the expected number of rogue DHCP server episodes
	// (an unauthorised server answering on an untrusted port for one hour
	// to four, mostly in working hours) per edge per week. Default 3.
	RoguesPerWeek float64

	// CloudDevicesPerSite is the number of cloud-managed devices per site
	// whose connection state is observed (cloud_conn rows). Default 4.
	CloudDevicesPerSite int
	// CloudInterval is how often each device's cloud state is sampled;
	// state changes are recorded as they happen as well. Default 5m.
	CloudInterval time.Duration
	// CloudMeanUptime is the mean time between cloud connection downs of a
	// stable device; flappy devices (about one in four) go down eight
	// times as often. Default 72h.
	CloudMeanUptime time.Duration
}

// DefaultConfig returns the documented defaults: one week of the demo
// network at 50 flows/s.
func DefaultConfig() Config {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	return Config{
		Seed:                1,
		Start:               start,
		End:                 start.Add(7 * 24 * time.Hour),
		FlowsPerSecond:      50,
		DiurnalRatio:        5,
		WeekendFactor:       0.4,
		Sites:               3,
		EdgesPerSite:        1,
		ExportersPerEdge:    3,
		HostsPerSite:        3000,
		ExternalHosts:       30000,
		IPv6Share:           0.12,
		TCPClosesPerHour:    40,
		TCPPacketsMax:       20,
		DHCPClientsPerSite:  400,
		RoguesPerWeek:       3,
		CloudDevicesPerSite: 4,
		CloudInterval:       5 * time.Minute,
		CloudMeanUptime:     72 * time.Hour,
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(!c.Start.IsZero() && !c.End.IsZero(), "start and end must be set")
	check(c.End.After(c.Start), "end %s must be after start %s", c.End.UTC().Format(time.RFC3339), c.Start.UTC().Format(time.RFC3339))
	check(c.FlowsPerSecond >= 0 && c.FlowsPerSecond <= 1e7, "flows per second %g must be in [0, 1e7]", c.FlowsPerSecond)
	check(c.DiurnalRatio >= 1 && c.DiurnalRatio <= 100, "diurnal ratio %g must be in [1, 100]", c.DiurnalRatio)
	check(c.WeekendFactor > 0 && c.WeekendFactor <= 2, "weekend factor %g must be in (0, 2]", c.WeekendFactor)
	check(c.Sites >= 1 && c.Sites <= 15, "sites %d must be in [1, 15]", c.Sites)
	check(c.EdgesPerSite >= 1 && c.EdgesPerSite <= 16, "edges per site %d must be in [1, 16]", c.EdgesPerSite)
	check(c.ExportersPerEdge >= 1 && c.ExportersPerEdge <= 32, "exporters per edge %d must be in [1, 32]", c.ExportersPerEdge)
	check(c.HostsPerSite >= 50 && c.HostsPerSite <= 40000, "hosts per site %d must be in [50, 40000]", c.HostsPerSite)
	check(c.HostsPerSite >= 50*c.EdgesPerSite, "hosts per site %d must be at least 50 per edge", c.HostsPerSite)
	check(c.ExternalHosts >= 100 && c.ExternalHosts <= 1000000, "external hosts %d must be in [100, 1000000]", c.ExternalHosts)
	check(c.IPv6Share >= 0 && c.IPv6Share <= 1, "IPv6 share %g must be in [0, 1]", c.IPv6Share)
	check(c.TCPClosesPerHour >= 0 && c.TCPClosesPerHour <= 1e5, "TCP closes per hour %g must be in [0, 1e5]", c.TCPClosesPerHour)
	check(c.TCPPacketsMax >= 3 && c.TCPPacketsMax <= 500, "TCP packets max %d must be in [3, 500]", c.TCPPacketsMax)
	check(c.DHCPClientsPerSite >= 0 && c.DHCPClientsPerSite <= c.HostsPerSite*3/4, "DHCP clients per site %d must be in [0, 3/4 of hosts per site]", c.DHCPClientsPerSite)
	check(c.RoguesPerWeek >= 0 && c.RoguesPerWeek <= 168, "rogues per week %g must be in [0, 168]", c.RoguesPerWeek)
	check(c.CloudDevicesPerSite >= 0 && c.CloudDevicesPerSite <= 1000, "cloud devices per site %d must be in [0, 1000]", c.CloudDevicesPerSite)
	check(c.CloudInterval >= time.Second && c.CloudInterval <= time.Hour, "cloud interval %s must be in [1s, 1h]", c.CloudInterval)
	check(c.CloudMeanUptime >= time.Minute, "cloud mean uptime %s must be at least 1m", c.CloudMeanUptime)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid generator config: %w", err)
	}
	return nil
}
