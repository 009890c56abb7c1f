package tunnelcore

import (
	"errors"
	"fmt"
	"time"
)

// Config is the core's tunnel configuration.
type Config struct {
	// AuthListen is the authentication port's address (default
	// ":19443", the documents' port).
	AuthListen string `koanf:"auth_listen"`
	// ConnListen is the connection port's address (default ":443").
	ConnListen string `koanf:"conn_listen"`
	// PublicHost is the host name the registration answer puts in the
	// tunnel URL; empty means the name the edge asked the authentication
	// port by (its TLS server name).
	PublicHost string `koanf:"public_host"`
	// PublicPort is the port the registration answer puts in the tunnel
	// URL; 0 means the connection port's own (set it behind a NAT or a
	// proxy that maps the port).
	PublicPort int `koanf:"public_port"`
	// TicketTTL bounds the time between authentication and registration.
	TicketTTL time.Duration `koanf:"ticket_ttl"`
	// MaxEdges bounds the tunnels held at once; more are refused (503).
	MaxEdges int `koanf:"max_edges"`
	// IngestMaxAge and IngestMaxFuture bound the time of the rows of a
	// segment uploaded over the tunnel around the core's clock, as the
	// PUT path's serve.ingest_max_age and ingest_max_future do (serve sets
	// them from those); 0 is no bound.
	IngestMaxAge    time.Duration `koanf:"-"`
	IngestMaxFuture time.Duration `koanf:"-"`
}

// DefaultConfig returns the documents' ports and a one-minute ticket.
func DefaultConfig() Config {
	return Config{AuthListen: ":19443", ConnListen: ":443", TicketTTL: time.Minute, MaxEdges: 10000}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.AuthListen == "" || c.ConnListen == "" {
		errs = append(errs, errors.New("auth_listen and conn_listen are required"))
	}
	if c.TicketTTL < time.Second || c.TicketTTL > time.Hour {
		errs = append(errs, fmt.Errorf("ticket_ttl %v: want 1s to 1h", c.TicketTTL))
	}
	if c.PublicPort < 0 || c.PublicPort > 65535 {
		errs = append(errs, fmt.Errorf("public_port %d: want 0-65535", c.PublicPort))
	}
	if c.IngestMaxAge < 0 || c.IngestMaxFuture < 0 {
		errs = append(errs, fmt.Errorf("ingest window %v/%v: want 0 (no bound) or positive", c.IngestMaxAge, c.IngestMaxFuture))
	}
	if c.MaxEdges < 1 {
		errs = append(errs, fmt.Errorf("max_edges %d: want at least 1", c.MaxEdges))
	}
	return errors.Join(errs...)
}
