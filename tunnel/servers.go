package tunnel

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Defaults and limits of the documents (guide 002, reference 003).
const (
	// DefaultAuthPort is the authentication port (cloud-management server
	// port), and the port of a server entry that names none.
	DefaultAuthPort = 19443
	// DefaultConnPort is the connection (tunnel) port.
	DefaultConnPort = 443
	// MaxBackups is how many backup servers may follow the primary.
	MaxBackups = 8
	// MaxPorts is how many ports one server domain may list.
	MaxPorts = 3
	// DefaultKeepalive, DefaultKeepaliveCount and DefaultPing are the
	// documents' defaults; MinInterval and MaxInterval bound both
	// intervals (10–600 s).
	DefaultKeepalive      = 180 * time.Second
	DefaultKeepaliveCount = 3
	DefaultPing           = 60 * time.Second
	MinInterval           = 10 * time.Second
	MaxInterval           = 600 * time.Second
)

// Server is one configured cloud server: a domain and up to MaxPorts
// authentication ports.
type Server struct {
	Domain string   `koanf:"domain" json:"domain"`
	Ports  []uint16 `koanf:"ports" json:"ports,omitempty"`
}

// Endpoint is one place the edge tries: a domain and one port, with its
// position in the failover order.
type Endpoint struct {
	Domain string
	Port   uint16
	// Index is 0 for the primary's ports and 1–8 for the backups' (the
	// cloud_conn column server_index).
	Index int
}

// String is "domain:port".
func (e Endpoint) String() string { return fmt.Sprintf("%s:%d", e.Domain, e.Port) }

// ValidDomain checks a server domain: 1–253 characters (the reference's
// range), letters, digits, '-', '.', no empty label.
func ValidDomain(d string) error {
	if d == "" || len(d) > 253 {
		return fmt.Errorf("domain %q: want 1-253 characters", d)
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("domain %q: empty or over-long label", d)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("domain %q: character %q not allowed", d, r)
			}
		}
	}
	return nil
}

// Order returns the endpoints in the order the edge tries them: the
// primary first, then the backups with their domain names in alphabetical
// order; each server's ports in descending order (DefaultAuthPort when it
// lists none). docs/decisions.md says why the primary leads although the
// guide says domains are "stored in alphabet order".
func Order(primary Server, backups []Server) ([]Endpoint, error) {
	if err := ValidDomain(primary.Domain); err != nil {
		return nil, fmt.Errorf("primary server: %w", err)
	}
	if len(backups) > MaxBackups {
		return nil, fmt.Errorf("%d backup servers: at most %d", len(backups), MaxBackups)
	}
	sorted := slices.Clone(backups)
	slices.SortStableFunc(sorted, func(a, b Server) int { return cmp.Compare(a.Domain, b.Domain) })
	seen := map[string]bool{}
	var out []Endpoint
	for i, s := range append([]Server{primary}, sorted...) {
		what := "primary server"
		if i > 0 {
			what = "backup server " + s.Domain
		}
		if err := ValidDomain(s.Domain); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if seen[s.Domain] {
			return nil, fmt.Errorf("%s: domain listed twice", what)
		}
		seen[s.Domain] = true
		if len(s.Ports) > MaxPorts {
			return nil, fmt.Errorf("%s: %d ports, at most %d", what, len(s.Ports), MaxPorts)
		}
		ports := slices.Clone(s.Ports)
		if len(ports) == 0 {
			ports = []uint16{DefaultAuthPort}
		}
		slices.Sort(ports)
		slices.Reverse(ports)
		for j, p := range ports {
			if p == 0 || j > 0 && p == ports[j-1] {
				return nil, fmt.Errorf("%s: port %d zero or repeated", what, p)
			}
			out = append(out, Endpoint{Domain: s.Domain, Port: p, Index: i})
		}
	}
	return out, nil
}

// Timing is the tunnel's liveness settings.
type Timing struct {
	// Keepalive is how often the edge sends a keepalive the core answers.
	Keepalive time.Duration `koanf:"keepalive_interval" json:"keepalive_interval"`
	// KeepaliveCount is how many unanswered keepalives in a row make the
	// edge drop the tunnel and register again.
	KeepaliveCount int `koanf:"keepalive_count" json:"keepalive_count"`
	// Ping is how often the edge sends a ping nobody answers, to keep NAT
	// entries alive.
	Ping time.Duration `koanf:"ping_interval" json:"ping_interval"`
}

// DefaultTiming returns the documents' defaults: 180 s, 3, 60 s.
func DefaultTiming() Timing {
	return Timing{Keepalive: DefaultKeepalive, KeepaliveCount: DefaultKeepaliveCount, Ping: DefaultPing}
}

// Validate checks the documents' ranges: intervals 10–600 s, whole
// seconds; a count of 1–10 (the documents give only the default 3).
func (t Timing) Validate() error {
	for _, iv := range []struct {
		name string
		d    time.Duration
	}{{"keepalive interval", t.Keepalive}, {"ping interval", t.Ping}} {
		if iv.d < MinInterval || iv.d > MaxInterval || iv.d%time.Second != 0 {
			return fmt.Errorf("%s %v: want whole seconds from %v to %v", iv.name, iv.d, MinInterval, MaxInterval)
		}
	}
	if t.KeepaliveCount < 1 || t.KeepaliveCount > 10 {
		return fmt.Errorf("keepalive count %d: want 1 to 10", t.KeepaliveCount)
	}
	return nil
}

// ValidSerial checks an edge serial number: the rule of segment sources
// and of the core's allow-list (1–64 letters, digits, '-', '_' or '.',
// not starting with a dot), so a serial with odd characters is refused at
// both ends.
func ValidSerial(s string) error {
	if s == "" || len(s) > 64 || strings.HasPrefix(s, ".") {
		return fmt.Errorf("serial %q: want 1-64 characters, not starting with a dot", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("serial %q: character %q not allowed (letters, digits, - _ .)", s, r)
		}
	}
	return nil
}
