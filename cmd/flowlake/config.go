package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/flowlake/flowlake/api"
	"github.com/flowlake/flowlake/edge"
	"github.com/flowlake/flowlake/jobs"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
)

// Config is the whole configuration of the binary: one section per
// component. Every field has a koanf key (its YAML key); flattened with
// dots it names the setting, and FLOWLAKE_ plus the upper-cased key with
// dots as underscores names its environment variable.
type Config struct {
	// LogLevel is the least severe level logged: debug, info, warn, error.
	LogLevel string `koanf:"log_level" yaml:"log_level" json:"log_level"`
	// LogFormat is how log lines look on stderr: text or json.
	LogFormat string `koanf:"log_format" yaml:"log_format" json:"log_format"`
	// Lake is where the data lives and how files are written.
	Lake lake.Config `koanf:"lake" yaml:"lake" json:"lake"`
	// Serve configures the HTTP server of serve and demo.
	Serve api.Config `koanf:"serve" yaml:"serve" json:"serve"`
	// Jobs configures the maintenance scheduled by serve and demo.
	Jobs jobs.Config `koanf:"jobs" yaml:"jobs" json:"jobs"`
	// Reports configures the report schedules serve runs: retries, the
	// archive's retention, links and the SMTP server results are mailed
	// through.
	Reports jobs.ReportConfig `koanf:"reports" yaml:"reports" json:"reports"`
	// Meta configures the metadata store (users, tokens, audit, ...); an
	// empty meta.dsn means <lake.root>/_meta.db (the underscore keeps it,
	// and SQLite's -wal and -shm files, out of the lake's listings).
	Meta meta.Config `koanf:"meta" yaml:"meta" json:"meta"`
	// Gen configures the synthetic data of gen.
	Gen GenConfig `koanf:"gen" yaml:"gen" json:"gen"`
	// Demo configures the history demo generates on its first run.
	Demo DemoConfig `koanf:"demo" yaml:"demo" json:"demo"`
	// Edge configures the flow collector: embedded in serve and demo
	// (writing the lake), or alone in `flowlake edge` (spooling and
	// shipping to a core).
	Edge edge.Config `koanf:"edge" yaml:"edge" json:"edge"`
	// Tunnel configures the edge↔core management tunnel (docs/tunnel.md).
	Tunnel TunnelConfig `koanf:"tunnel" yaml:"tunnel" json:"tunnel"`
}

// GenConfig configures `flowlake gen`.
type GenConfig struct {
	// Seed makes generated data reproducible.
	Seed int64 `koanf:"seed" yaml:"seed" json:"seed"`
	// Rate is the mean flow-record rate, in flows per second across all
	// edges; the other datasets scale with the simulated network.
	Rate float64 `koanf:"rate" yaml:"rate" json:"rate"`
	// Days is the length of history generated when no --from is given; it
	// ends now.
	Days int `koanf:"days" yaml:"days" json:"days"`
	// Workers is how many hours of rows are written to the lake at once
	// while the next ones are generated.
	Workers int `koanf:"workers" yaml:"workers" json:"workers"`
}

// DemoConfig configures `flowlake demo`.
type DemoConfig struct {
	// Days is the history generated into an empty lake, ending now.
	Days int `koanf:"days" yaml:"days" json:"days"`
	// Rate is the flow rate of that history (flows per second), chosen so
	// a week generates in under two minutes on two cores.
	Rate float64 `koanf:"rate" yaml:"rate" json:"rate"`
	// LiveRate is the rate (flows per second) of the live traffic the demo
	// exports as NetFlow v9, IPFIX and sFlow datagrams to the embedded
	// edge's listeners while it serves; 0 sends none.
	LiveRate float64 `koanf:"live_rate" yaml:"live_rate" json:"live_rate"`
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	lc := lake.DefaultConfig()
	lc.Root = "./data"
	return Config{
		LogLevel:  "info",
		LogFormat: "text",
		Lake:      lc,
		Serve:     api.DefaultConfig(),
		Jobs:      jobs.DefaultConfig(),
		Reports:   jobs.DefaultReportConfig(),
		Meta:      meta.DefaultConfig(),
		Gen:       GenConfig{Seed: 1, Rate: 50, Days: 1, Workers: 2},
		Demo:      DemoConfig{Days: 7, Rate: 10, LiveRate: 20},
		Edge:      edge.DefaultConfig(),
		Tunnel:    DefaultTunnelConfig(),
	}
}

// Validate checks every section and reports all problems at once.
func (c Config) Validate() error {
	var errs []error
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log_format %q: want text or json", c.LogFormat))
	}
	section := func(name string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	section("lake", c.Lake.Validate())
	section("serve", c.Serve.Validate())
	section("jobs", c.Jobs.Validate())
	section("reports", c.Reports.Validate())
	section("meta", c.MetaConfig().Validate())
	section("gen", c.Gen.Validate())
	section("demo", c.Demo.Validate())
	section("tunnel", c.Tunnel.Validate())
	if c.edgeListens() { // no listener: serve runs without the embedded edge
		section("edge", c.Edge.Validate())
	}
	if f := c.Edge.TCPTrace.Filter; f != "" {
		if _, err := compileTracerFilter(f); err != nil {
			section("edge", fmt.Errorf("tcptrace: filter: %w", err))
		}
	}
	return errors.Join(errs...)
}

// MetaConfig returns the metadata store's configuration with the DSN
// resolved: meta.dsn, or _meta.db in the lake directory. Files whose names
// start with "_" are not part of the lake (the Hive convention lake
// listings, verify and external engines follow).
func (c Config) MetaConfig() meta.Config {
	m := c.Meta
	if m.DSN == "" {
		m.DSN = filepath.Join(c.Lake.Root, "_meta.db")
	}
	return m
}

// Validate checks the generator settings; the generator checks the rest.
func (c GenConfig) Validate() error {
	var errs []error
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %g: negative", c.Rate))
	}
	if c.Days < 1 {
		errs = append(errs, fmt.Errorf("days %d: want at least 1", c.Days))
	}
	if c.Workers < 1 || c.Workers > 64 {
		errs = append(errs, fmt.Errorf("workers %d: want 1 to 64", c.Workers))
	}
	return errors.Join(errs...)
}

// Validate checks the demo settings.
func (c DemoConfig) Validate() error {
	var errs []error
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %g: negative", c.Rate))
	}
	if c.Days < 1 {
		errs = append(errs, fmt.Errorf("days %d: want at least 1", c.Days))
	}
	if c.LiveRate < 0 || c.LiveRate > 1e6 {
		errs = append(errs, fmt.Errorf("live_rate %g: want 0 to 1000000", c.LiveRate))
	}
	return errors.Join(errs...)
}

// edgeListens reports whether the edge has a listen address or a DHCP
// capture: with none, serve and demo run without the embedded edge.
func (c Config) edgeListens() bool {
	return len(c.Edge.NetFlowListen)+len(c.Edge.IPFIXListen)+len(c.Edge.SFlowListen) > 0 || c.Edge.DHCP.Enabled() || c.Edge.TCPTrace.Enabled() || c.Edge.Drop.Enabled()
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToLower(s))); err != nil {
		return 0, fmt.Errorf("log_level %q: want debug, info, warn or error", s)
	}
	return l, nil
}
