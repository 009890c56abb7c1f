package api

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Config configures the HTTP server.
type Config struct {
	// Listen is the TCP address the server binds, host:port. Port 0 picks
	// a free port; Server.Addr reports the one bound.
	Listen string `koanf:"listen" yaml:"listen" json:"listen"`
	// ReadHeaderTimeout bounds the time to read a request's headers.
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout" yaml:"read_header_timeout" json:"read_header_timeout"`
	// ReadTimeout bounds the time to read a whole request, body included.
	ReadTimeout time.Duration `koanf:"read_timeout" yaml:"read_timeout" json:"read_timeout"`
	// WriteTimeout bounds the time to write a response; 0 means none, which
	// long exports need.
	WriteTimeout time.Duration `koanf:"write_timeout" yaml:"write_timeout" json:"write_timeout"`
	// IdleTimeout bounds how long a keep-alive connection waits for its
	// next request.
	IdleTimeout time.Duration `koanf:"idle_timeout" yaml:"idle_timeout" json:"idle_timeout"`
	// ShutdownTimeout bounds how long Stop waits for in-flight requests.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout" yaml:"shutdown_timeout" json:"shutdown_timeout"`
}

// DefaultConfig returns the configuration used when nothing is set: a
// server on the loopback interface only.
func DefaultConfig() Config {
	return Config{
		Listen:            "127.0.0.1:8080",
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      0,
		IdleTimeout:       2 * time.Minute,
		ShutdownTimeout:   15 * time.Second,
	}
}

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: empty address"))
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %w", err))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"read_header_timeout", c.ReadHeaderTimeout},
		{"read_timeout", c.ReadTimeout},
		{"write_timeout", c.WriteTimeout},
		{"idle_timeout", c.IdleTimeout},
		{"shutdown_timeout", c.ShutdownTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: negative duration %s", d.name, d.v))
		}
	}
	if c.ReadHeaderTimeout == 0 {
		errs = append(errs, errors.New("read_header_timeout: must be positive (slowloris protection)"))
	}
	return errors.Join(errs...)
}
