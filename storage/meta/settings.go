package meta

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Settings are the system settings operators change at run time (the
// product brief's system configuration: report TopN, refresh interval,
// log retention, disk threshold, operator idle time). Each is stored on
// its own row; a setting never written reads as its default.
type Settings struct {
	// TopN is the default N of TopN tables in reports and dashboards.
	TopN int `json:"top_n"`
	// RefreshInterval is how often dashboards and live reports refresh.
	RefreshInterval Duration `json:"refresh_interval"`
	// Retention is how long network logs (flow records and the other
	// datasets) are kept by default.
	Retention Duration `json:"retention"`
	// DiskThresholdPercent is the disk usage at which retention deletes
	// the oldest data and an alert fires.
	DiskThresholdPercent int `json:"disk_threshold_percent"`
	// SessionIdleTimeout ends a login session unused for this long (the
	// brief's "operator maximum idle time").
	SessionIdleTimeout Duration `json:"session_idle_timeout"`
}

// DefaultSettings are the settings of a new installation.
func DefaultSettings() Settings {
	return Settings{
		TopN:                 10,
		RefreshInterval:      Duration(5 * time.Minute),
		Retention:            Duration(90 * 24 * time.Hour),
		DiskThresholdPercent: 90,
		SessionIdleTimeout:   Duration(30 * time.Minute),
	}
}

// SettingsPatch changes the settings that are not nil.
type SettingsPatch struct {
	TopN                 *int      `json:"top_n,omitempty"`
	RefreshInterval      *Duration `json:"refresh_interval,omitempty"`
	Retention            *Duration `json:"retention,omitempty"`
	DiskThresholdPercent *int      `json:"disk_threshold_percent,omitempty"`
	SessionIdleTimeout   *Duration `json:"session_idle_timeout,omitempty"`
}

// Validate reports every setting out of its range at once.
func (s Settings) Validate() error {
	var errs []error
	if s.TopN < 1 || s.TopN > 1000 {
		errs = append(errs, fmt.Errorf("top_n %d: want 1 to 1000", s.TopN))
	}
	durs := []struct {
		name     string
		v        Duration
		min, max time.Duration
	}{
		{"refresh_interval", s.RefreshInterval, time.Second, 24 * time.Hour},
		{"retention", s.Retention, 24 * time.Hour, 3650 * 24 * time.Hour},
		{"session_idle_timeout", s.SessionIdleTimeout, time.Minute, 7 * 24 * time.Hour},
	}
	for _, d := range durs {
		if time.Duration(d.v) < d.min || time.Duration(d.v) > d.max {
			errs = append(errs, fmt.Errorf("%s %s: want %s to %s", d.name, d.v, Duration(d.min), Duration(d.max)))
		}
	}
	if s.DiskThresholdPercent < 50 || s.DiskThresholdPercent > 99 {
		errs = append(errs, fmt.Errorf("disk_threshold_percent %d: want 50 to 99", s.DiskThresholdPercent))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// apply returns s with the patch's fields set.
func (p SettingsPatch) apply(s Settings) Settings {
	if p.TopN != nil {
		s.TopN = *p.TopN
	}
	if p.RefreshInterval != nil {
		s.RefreshInterval = *p.RefreshInterval
	}
	if p.Retention != nil {
		s.Retention = *p.Retention
	}
	if p.DiskThresholdPercent != nil {
		s.DiskThresholdPercent = *p.DiskThresholdPercent
	}
	if p.SessionIdleTimeout != nil {
		s.SessionIdleTimeout = *p.SessionIdleTimeout
	}
	return s
}

// settingRows maps each setting's stored name to its JSON value.
func settingRows(s Settings) (map[string]string, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		out[k] = string(v)
	}
	return out, nil
}

// GetSettings returns the current settings: the stored ones over the
// defaults.
func (s *Store) GetSettings(ctx context.Context) (Settings, error) {
	return getSettings(ctx, s)
}

// querier runs queries on the store or in a transaction.
type querier interface {
	query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func getSettings(ctx context.Context, db querier) (Settings, error) {
	rows, err := db.query(ctx, `SELECT name, value FROM settings`)
	if err != nil {
		return Settings{}, fmt.Errorf("get settings: %w", err)
	}
	defer rows.Close()
	stored := map[string]json.RawMessage{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return Settings{}, fmt.Errorf("get settings: %w", err)
		}
		stored[name] = json.RawMessage(value)
	}
	if err := rows.Err(); err != nil {
		return Settings{}, fmt.Errorf("get settings: %w", err)
	}
	out := DefaultSettings()
	if len(stored) == 0 {
		return out, nil
	}
	merged, err := json.Marshal(stored)
	if err != nil {
		return Settings{}, err
	}
	// Unknown names (written by a newer version) are ignored.
	if err := json.Unmarshal(merged, &out); err != nil {
		return Settings{}, fmt.Errorf("get settings: stored value: %w", err)
	}
	return out, nil
}

// UpdateSettings applies a patch, validates the result as a whole and
// stores the settings that changed. by names who changed them.
func (s *Store) UpdateSettings(ctx context.Context, p SettingsPatch, by string) (Settings, error) {
	var out Settings
	err := s.inTx(ctx, func(t tx) error {
		cur, err := getSettings(ctx, t)
		if err != nil {
			return err
		}
		next := p.apply(cur)
		if err := next.Validate(); err != nil {
			return err
		}
		before, err := settingRows(cur)
		if err != nil {
			return err
		}
		after, err := settingRows(next)
		if err != nil {
			return err
		}
		now := micros(s.nowTime())
		for name, v := range after {
			if before[name] == v {
				continue
			}
			_, err := t.exec(ctx, `INSERT INTO settings (name, value, updated_at, updated_by) VALUES (?, ?, ?, ?)
				ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
				name, v, now, by)
			if err != nil {
				return fmt.Errorf("store %s: %w", name, err)
			}
		}
		out = next
		return nil
	})
	if err != nil {
		return Settings{}, fmt.Errorf("update settings: %w", err)
	}
	return out, nil
}

// Duration is a time.Duration that reads and writes JSON as text: Go's
// syntax ("15m", "1h30m") plus whole days ("90d", "1d12h").
type Duration time.Duration

// String formats d as MarshalJSON does.
func (d Duration) String() string {
	v := time.Duration(d)
	if v == 0 {
		return "0s"
	}
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
		v = -v
	}
	const day = 24 * time.Hour
	if days := v / day; days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		v -= days * day
	}
	if v == 0 {
		return b.String()
	}
	s := v.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	b.WriteString(s)
	return b.String()
}

// ParseDuration parses "15m", "1h30m", "90d", "1d12h".
func ParseDuration(s string) (Duration, error) {
	orig := strings.TrimSpace(s)
	if len(orig) > 40 {
		return 0, fmt.Errorf("duration %q…: %d bytes, too long for a duration", orig[:16], len(orig))
	}
	s = orig
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, fmt.Errorf("duration %q: bad number of days", orig)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return Duration(days), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 30s, 15m, 1h30m or 90d", orig)
	}
	if days > 0 && d < 0 {
		return 0, fmt.Errorf("duration %q: mixed signs", orig)
	}
	return Duration(days + d), nil
}

// jsonKind names the kind of a JSON value by its first byte.
func jsonKind(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '"':
		return "a string"
	}
	return "a number"
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		// The value itself is not echoed: it is the client's text, of any
		// length, and errors reach the audit log.
		return fmt.Errorf("duration: want a string such as \"15m\" or \"90d\", got %s", jsonKind(b))
	}
	v, err := ParseDuration(s)
	if err != nil {
		// Not ParseDuration's message: that quotes the text, and a body's
		// text must not reach the logs (a password pasted in the wrong
		// field).
		return errors.New(`duration: want a string such as "30s", "15m", "1h30m" or "90d"`)
	}
	*d = v
	return nil
}
