package jobs

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// Day is 24 hours, the unit retention ages are usually given in.
const Day = 24 * time.Hour

// Config configures the maintenance schedule.
type Config struct {
	// CompactEvery is the interval between compaction runs; 0 disables
	// scheduled compaction.
	CompactEvery time.Duration `koanf:"compact_every" yaml:"compact_every" json:"compact_every"`
	// CompactAfter is how long after an hour partition ends it becomes
	// eligible for compaction, leaving late segments time to arrive.
	CompactAfter time.Duration `koanf:"compact_after" yaml:"compact_after" json:"compact_after"`
	// RetentionEvery is the interval between retention runs; 0 disables
	// scheduled retention.
	RetentionEvery time.Duration `koanf:"retention_every" yaml:"retention_every" json:"retention_every"`
	// RollupEvery is the interval between rollup maintenance runs, which
	// rebuild the rollups of hours whose flows changed; 0 disables them
	// (queries then read raw flows).
	RollupEvery time.Duration `koanf:"rollup_every" yaml:"rollup_every" json:"rollup_every"`
	// Retention says what a retention run deletes.
	Retention RetentionConfig `koanf:"retention" yaml:"retention" json:"retention"`
	// StopTimeout bounds how long Stop waits for a running job after
	// cancelling it.
	StopTimeout time.Duration `koanf:"stop_timeout" yaml:"stop_timeout" json:"stop_timeout"`
}

// RetentionConfig is the configurable form of lake.RetentionPolicy.
type RetentionConfig struct {
	// MaxAge is the age, by dataset, after which partitions are deleted;
	// 0 keeps a dataset forever.
	MaxAge map[string]time.Duration `koanf:"max_age" yaml:"max_age" json:"max_age"`
	// MaxBytes deletes the oldest partitions of any dataset while the lake
	// is larger than this many bytes; 0 disables the threshold.
	MaxBytes int64 `koanf:"max_bytes" yaml:"max_bytes" json:"max_bytes"`
}

// Policy returns the lake retention policy the configuration describes.
func (c RetentionConfig) Policy() lake.RetentionPolicy {
	return lake.RetentionPolicy{MaxAge: maps.Clone(c.MaxAge), MaxBytes: c.MaxBytes}
}

// DefaultConfig returns the documented defaults: compaction every 15
// minutes of hours that ended over 10 minutes ago, rollups every minute,
// retention hourly keeping flows 90 days, TCP traces 180 days, DHCP and
// cloud-connection events a year, minute rollups 90 days, hourly rollups
// two years, host rollups 400 days and daily rollups forever, with no disk
// threshold.
func DefaultConfig() Config {
	return Config{
		CompactEvery:   15 * time.Minute,
		CompactAfter:   10 * time.Minute,
		RetentionEvery: time.Hour,
		RollupEvery:    time.Minute,
		Retention: RetentionConfig{
			MaxAge: map[string]time.Duration{
				schema.Flows:      90 * Day,
				schema.TCPConns:   180 * Day,
				schema.TCPPackets: 180 * Day,
				schema.DHCPEvents: 365 * Day,
				schema.DHCPLeases: 365 * Day,
				schema.CloudConns: 365 * Day,
				schema.FlowLosses: 365 * Day,
				// Rollups outlive the flows they summarise.
				schema.Flows1m:     90 * Day,
				schema.Flows1h:     2 * 365 * Day,
				schema.FlowHosts1h: 400 * Day,
				schema.Flows1d:     0,
				schema.FlowHosts1d: 2 * 365 * Day,
				// Event rollups are small: kept as long as the daily flows.
				schema.TCPConns1d:   0,
				schema.DHCPEvents1d: 0,
				schema.CloudConns1d: 0,
				schema.FlowLosses1d: 0,
			},
			MaxBytes: 0,
		},
		StopTimeout: 30 * time.Second,
	}
}

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"compact_every", c.CompactEvery},
		{"compact_after", c.CompactAfter},
		{"retention_every", c.RetentionEvery},
		{"rollup_every", c.RollupEvery},
		{"stop_timeout", c.StopTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: negative duration %s", d.name, d.v))
		}
	}
	if c.CompactEvery > 0 && c.CompactEvery < time.Second {
		errs = append(errs, fmt.Errorf("compact_every: %s is below 1s", c.CompactEvery))
	}
	if c.RollupEvery > 0 && c.RollupEvery < time.Second {
		errs = append(errs, fmt.Errorf("rollup_every: %s is below 1s", c.RollupEvery))
	}
	if c.RetentionEvery > 0 && c.RetentionEvery < time.Second {
		errs = append(errs, fmt.Errorf("retention_every: %s is below 1s", c.RetentionEvery))
	}
	for _, name := range slices.Sorted(maps.Keys(c.Retention.MaxAge)) {
		if _, err := schema.Lookup(name); err != nil {
			errs = append(errs, fmt.Errorf("retention.max_age: %w", err))
		}
		if age := c.Retention.MaxAge[name]; age < 0 {
			errs = append(errs, fmt.Errorf("retention.max_age.%s: negative duration %s", name, age))
		}
	}
	if c.Retention.MaxBytes < 0 {
		errs = append(errs, errors.New("retention.max_bytes: negative"))
	}
	return errors.Join(errs...)
}
