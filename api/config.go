package api

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/flowlake/flowlake/graph"
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
	// TrustProxyHeaders makes the server take the client address from
	// X-Forwarded-For when the request comes from a private or loopback
	// address (a load balancer). Off, the TCP peer is the client: headers
	// a client sets itself must not choose its audit address or its
	// login rate-limit bucket.
	TrustProxyHeaders bool `koanf:"trust_proxy_headers" yaml:"trust_proxy_headers" json:"trust_proxy_headers"`
	// SecureCookie sets the Secure attribute on the session cookie, so
	// browsers send it over HTTPS only (and to http://localhost). Turn it
	// off only to log in from a browser over plain HTTP to another host.
	SecureCookie bool `koanf:"secure_cookie" yaml:"secure_cookie" json:"secure_cookie"`
	// LoginMaxFailures is how many failed logins a user name may have from
	// one address within LoginWindow before further attempts are refused
	// with 429 until the oldest failure leaves the window.
	LoginMaxFailures int `koanf:"login_max_failures" yaml:"login_max_failures" json:"login_max_failures"`
	// LoginWindow is the sliding window of LoginMaxFailures.
	LoginWindow time.Duration `koanf:"login_window" yaml:"login_window" json:"login_window"`
	// IngestMaxAge and IngestMaxFuture bound the time of the rows of an
	// uploaded segment around the core's clock: a segment with a row older
	// than IngestMaxAge or later than IngestMaxFuture ahead is refused
	// (422), so a broken clock or a hostile edge cannot write 1970 or 2100
	// into the lake (data dated 2100 would never age out). MaxAge is how
	// long an edge may be cut off from the core and still deliver its
	// spool; MaxFuture absorbs clock skew between exporters and the core.
	IngestMaxAge    time.Duration `koanf:"ingest_max_age" yaml:"ingest_max_age" json:"ingest_max_age"`
	IngestMaxFuture time.Duration `koanf:"ingest_max_future" yaml:"ingest_max_future" json:"ingest_max_future"`
	// GraphQL holds the GraphQL endpoint's limits (docs/graphql.md,
	// Limits); zero fields take graph.DefaultConfig's values.
	GraphQL graph.Config `koanf:"graphql" yaml:"graphql" json:"graphql"`
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
		SecureCookie:      true,
		LoginMaxFailures:  5,
		LoginWindow:       15 * time.Minute,
		IngestMaxAge:      30 * 24 * time.Hour,
		IngestMaxFuture:   time.Hour,
		GraphQL:           graph.DefaultConfig(),
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
		{"login_window", c.LoginWindow},
		{"ingest_max_age", c.IngestMaxAge},
		{"ingest_max_future", c.IngestMaxFuture},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: negative duration %s", d.name, d.v))
		}
	}
	if c.LoginMaxFailures < 1 {
		errs = append(errs, fmt.Errorf("login_max_failures %d: want at least 1", c.LoginMaxFailures))
	}
	if c.LoginWindow < time.Second {
		errs = append(errs, fmt.Errorf("login_window %s: want at least 1s", c.LoginWindow))
	}
	if c.IngestMaxAge == 0 {
		errs = append(errs, errors.New("ingest_max_age: must be positive"))
	}
	if err := c.GraphQL.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("graphql: %w", err))
	}
	if c.ReadHeaderTimeout == 0 {
		errs = append(errs, errors.New("read_header_timeout: must be positive (slowloris protection)"))
	}
	return errors.Join(errs...)
}
