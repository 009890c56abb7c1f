package jobs

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// ReportConfig configures the report schedules: how replicas share them,
// how failed runs are retried, how long the archive keeps files and how
// results are mailed.
type ReportConfig struct {
	// Replica names this process in run records (the owner of the runs
	// it claimed); empty means host name and process ID.
	Replica string `koanf:"replica" yaml:"replica" json:"replica"`
	// SyncEvery is how often schedules are re-read from the metadata
	// store, so changes made through the API (on any replica) take
	// effect; 0 reads them only at start.
	SyncEvery time.Duration `koanf:"sync_every" yaml:"sync_every" json:"sync_every"`
	// RetryBackoff is the wait before the second attempt of a failed run;
	// it doubles with every further attempt up to MaxBackoff.
	RetryBackoff time.Duration `koanf:"retry_backoff" yaml:"retry_backoff" json:"retry_backoff"`
	MaxBackoff   time.Duration `koanf:"max_backoff" yaml:"max_backoff" json:"max_backoff"`
	// ArchiveMaxAge deletes archived reports older than this, checked
	// every ArchiveRetentionEvery; 0 keeps them forever.
	ArchiveMaxAge         time.Duration `koanf:"archive_max_age" yaml:"archive_max_age" json:"archive_max_age"`
	ArchiveRetentionEvery time.Duration `koanf:"archive_retention_every" yaml:"archive_retention_every" json:"archive_retention_every"`
	// BaseURL is the API's public address (https://flowlake.example.com),
	// the start of the links mailed instead of attachments.
	BaseURL string `koanf:"base_url" yaml:"base_url" json:"base_url"`
	// Mail is the SMTP server results are sent through.
	Mail MailConfig `koanf:"mail" yaml:"mail" json:"mail"`
}

// DefaultReportConfig returns the documented defaults: schedules re-read
// every minute, retries after 1, 2, 4 … minutes up to 30, the archive
// kept 400 days and pruned hourly, mail disabled.
func DefaultReportConfig() ReportConfig {
	return ReportConfig{
		SyncEvery:             time.Minute,
		RetryBackoff:          time.Minute,
		MaxBackoff:            30 * time.Minute,
		ArchiveMaxAge:         400 * Day,
		ArchiveRetentionEvery: time.Hour,
		Mail:                  MailConfig{TLS: "starttls", Timeout: 30 * time.Second},
	}
}

// Validate reports every invalid setting at once.
func (c ReportConfig) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"sync_every", c.SyncEvery}, {"retry_backoff", c.RetryBackoff}, {"max_backoff", c.MaxBackoff},
		{"archive_max_age", c.ArchiveMaxAge}, {"archive_retention_every", c.ArchiveRetentionEvery},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: negative duration %s", d.name, d.v))
		}
	}
	if c.SyncEvery > 0 && c.SyncEvery < time.Second {
		errs = append(errs, fmt.Errorf("sync_every: %s is below 1s", c.SyncEvery))
	}
	if c.ArchiveRetentionEvery > 0 && c.ArchiveRetentionEvery < time.Second {
		errs = append(errs, fmt.Errorf("archive_retention_every: %s is below 1s", c.ArchiveRetentionEvery))
	}
	if c.MaxBackoff < c.RetryBackoff {
		errs = append(errs, fmt.Errorf("max_backoff %s: below retry_backoff %s", c.MaxBackoff, c.RetryBackoff))
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("base_url %q: want http(s)://host[:port][/path]", c.BaseURL))
		}
	}
	if err := c.Mail.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}
