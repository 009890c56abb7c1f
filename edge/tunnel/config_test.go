package tunnel

import (
	"strings"
	"testing"
	"time"

	wire "github.com/flowlake/flowlake/tunnel"
)

// TestConfigValidate lists the configurations New refuses and why.
func TestConfigValidate(t *testing.T) {
	good := func() Config {
		c := DefaultConfig()
		c.Serial, c.Enroll = "SN-1", "fle_x"
		c.Primary = wire.Server{Domain: "core.example"}
		return c
	}
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"odd serial", func(c *Config) { c.Serial = "SN 1" }, "not allowed"},
		{"no secret", func(c *Config) { c.Enroll = "" }, "enroll or credential"},
		{"no primary", func(c *Config) { c.Primary = wire.Server{} }, "primary server"},
		{"nine backups", func(c *Config) {
			for i := range 9 {
				c.Backups = append(c.Backups, wire.Server{Domain: string(rune('a'+i)) + ".example"})
			}
		}, "at most 8"},
		{"keepalive too short", func(c *Config) { c.Timing.Keepalive = time.Second }, "keepalive interval"},
		{"ping too long", func(c *Config) { c.Timing.Ping = time.Hour }, "ping interval"},
		{"bad DHCP domain", func(c *Config) { c.DHCPDomain = "a..b" }, "empty or over-long label"},
	} {
		c := good()
		tc.set(&c)
		if _, err := New(c, Deps{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
