package tunnel

import (
	"errors"
	"fmt"

	wire "github.com/flowlake/flowlake/tunnel"
)

// Config is the edge's tunnel configuration.
type Config struct {
	// Serial is the edge's serial number, its name in the core's
	// allow-list and the source of its segments.
	Serial string `koanf:"serial"`
	// Enroll is the one-time enrolment secret the core's administrator got
	// when admitting Serial; used until the edge holds a credential.
	Enroll string `koanf:"enroll"`
	// Credential is the tunnel credential of a bound edge (kept by the
	// caller from the first registration; see Client.Credential).
	Credential string `koanf:"credential"`
	// Primary and Backups are the cloud servers (up to 8 backups, up to 3
	// ports each).
	Primary wire.Server   `koanf:"primary"`
	Backups []wire.Server `koanf:"backups"`
	// DHCPDomain is the server domain learned from DHCP option 253; when
	// set it replaces Primary's domain (it has the higher priority).
	DHCPDomain string `koanf:"dhcp_domain"`
	// Timing is the keepalive and ping settings.
	Timing wire.Timing `koanf:"timing"`
	// MemoryThreshold, in bytes, drops the tunnel (down reason "Memory
	// reached threshold") while the process's Go memory exceeds it, as the
	// device sheds its cloud connection under memory pressure; the tunnel
	// comes back once the memory falls below. 0 (the default) never drops.
	MemoryThreshold uint64 `koanf:"memory_threshold"`
}

// DefaultConfig returns the documents' timing and no servers.
func DefaultConfig() Config { return Config{Timing: wire.DefaultTiming()} }

// Validate checks the serial, the servers and the timing.
func (c Config) Validate() error {
	var errs []error
	if err := wire.ValidSerial(c.Serial); err != nil {
		errs = append(errs, fmt.Errorf("serial: %w", err))
	}
	if c.Enroll == "" && c.Credential == "" {
		errs = append(errs, errors.New("enroll or credential: one is required"))
	}
	if _, err := c.endpoints(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Timing.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// endpoints returns the failover order, the DHCP domain replacing the
// primary's (a backup of the same domain is then left out: the domain is
// tried once, first).
func (c Config) endpoints() ([]wire.Endpoint, error) {
	p := c.Primary
	backups := c.Backups
	if c.DHCPDomain != "" {
		p.Domain = c.DHCPDomain
		backups = nil
		for _, b := range c.Backups {
			if b.Domain != c.DHCPDomain {
				backups = append(backups, b)
			}
		}
	}
	return wire.Order(p, backups)
}
