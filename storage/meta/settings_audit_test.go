package meta

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSettings(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), testConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	got, err := s.GetSettings(ctx)
	if err != nil || !cmp.Equal(DefaultSettings(), got) {
		t.Fatalf("fresh settings = %+v, %v", got, err)
	}
	for _, tt := range []struct {
		name  string
		patch SettingsPatch
		err   string
	}{
		{"top n", SettingsPatch{TopN: ptr(20)}, ""},
		{"zero top n", SettingsPatch{TopN: ptr(0)}, "top_n 0: want 1 to 1000"},
		{"every error at once", SettingsPatch{DiskThresholdPercent: ptr(100), Retention: ptr(Duration(time.Hour))},
			"retention 1h: want 1d to 3650d\ndisk_threshold_percent 100: want 50 to 99"},
		{"refresh", SettingsPatch{RefreshInterval: ptr(Duration(30 * time.Second)), Retention: ptr(Duration(30 * 24 * time.Hour))}, ""},
		{"idle", SettingsPatch{SessionIdleTimeout: ptr(Duration(0))}, "session_idle_timeout 0s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.UpdateSettings(ctx, tt.patch, "alice")
			if tt.err == "" {
				wantErr(t, err, nil, "")
			} else {
				wantErr(t, err, ErrInvalid, tt.err)
			}
		})
	}
	want := DefaultSettings()
	want.TopN, want.RefreshInterval, want.Retention = 20, Duration(30*time.Second), Duration(30*24*time.Hour)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(t.Context(), testConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err = s.GetSettings(ctx)
	if diff := cmp.Diff(want, got); diff != "" || err != nil {
		t.Errorf("settings after reopen (-want +got) %v:\n%s", err, diff)
	}
	var by string
	if err := s.db.QueryRowContext(ctx, `SELECT updated_by FROM settings WHERE name = 'top_n'`).Scan(&by); err != nil || by != "alice" {
		t.Errorf("updated_by = %q, %v", by, err)
	}
	// Only changed settings are stored; the rest follow future defaults.
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM settings`).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d stored settings, want 3", n)
	}
	// A name from a newer version is ignored, not an error.
	if _, err := s.db.ExecContext(ctx, `INSERT INTO settings (name, value, updated_at) VALUES ('from_the_future', '1', 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSettings(ctx); err != nil {
		t.Errorf("unknown stored setting: %v", err)
	}
}

func TestDurationJSON(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		out  string
		err  string
	}{
		{`"15m"`, 15 * time.Minute, `"15m"`, ""},
		{`"90d"`, 90 * 24 * time.Hour, `"90d"`, ""},
		{`"1d12h"`, 36 * time.Hour, `"1d12h"`, ""},
		{`"1h30m"`, 90 * time.Minute, `"1h30m"`, ""},
		{`"30s"`, 30 * time.Second, `"30s"`, ""},
		{`900`, 0, "", "want a string"},
		{`"soon"`, 0, "", `want a string such as "30s"`},
		{`"xd"`, 0, "", `want a string such as "30s"`},
		{`{"password":"hunter2"}`, 0, "", "got an object"},
	} {
		var d Duration
		err := json.Unmarshal([]byte(tt.in), &d)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want %q", tt.in, err, tt.err)
			}
			// The client's text never comes back: errors reach the audit log.
			if v := strings.Trim(tt.in, `"`); err != nil && len(v) > 2 && strings.Contains(err.Error(), v) {
				t.Errorf("%s: error %v quotes the value", tt.in, err)
			}
			continue
		}
		out, _ := json.Marshal(d)
		if err != nil || time.Duration(d) != tt.want || string(out) != tt.out {
			t.Errorf("%s: %v (%s), %v", tt.in, time.Duration(d), out, err)
		}
	}
}

func TestAudit(t *testing.T) {
	s, clk := openTest(t)
	ctx := t.Context()
	start := clk.Now()
	const n = 25
	var last time.Time
	for i := range n {
		actor := "alice"
		if i%5 == 0 {
			actor = "bob"
		}
		outcome := OutcomeSuccess
		if i%2 == 1 {
			outcome = OutcomeFailure
		}
		e, err := s.AppendAudit(ctx, AuditEntry{Actor: actor, Action: fmt.Sprintf("thing.%d", i%3), Target: fmt.Sprint(i), Outcome: outcome, RemoteAddr: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		if e.ID == "" || !e.At.Equal(clk.Now()) {
			t.Errorf("appended %+v", e)
		}
		last = e.At
		if i%10 != 9 {
			clk.Advance(time.Second)
		} // some entries share a timestamp: the ID still orders them
	}
	// Page through everything, newest first.
	var targets []string
	cursor := ""
	pages := 0
	for {
		page, err := s.ListAudit(ctx, AuditFilter{Limit: 10, Before: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range page.Entries {
			targets = append(targets, e.Target)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	var want []string
	for i := n - 1; i >= 0; i-- {
		want = append(want, fmt.Sprint(i))
	}
	if diff := cmp.Diff(want, targets); diff != "" || pages != 3 {
		t.Errorf("%d pages; targets (-want +got):\n%s", pages, diff)
	}

	count := func(f AuditFilter) int {
		t.Helper()
		f.Limit = MaxAuditLimit
		p, err := s.ListAudit(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Entries)
	}
	for _, tt := range []struct {
		name string
		f    AuditFilter
		want int
	}{
		{"all", AuditFilter{}, 25},
		{"actor", AuditFilter{Actor: "bob"}, 5},
		{"action", AuditFilter{Action: "thing.0"}, 9},
		{"outcome", AuditFilter{Outcome: OutcomeFailure}, 12},
		{"since", AuditFilter{Since: start.Add(20 * time.Second)}, 3},
		{"until", AuditFilter{Until: start.Add(2 * time.Second)}, 2},
		{"actor and outcome", AuditFilter{Actor: "bob", Outcome: OutcomeSuccess}, 3},
	} {
		if got := count(tt.f); got != tt.want {
			t.Errorf("%s: %d entries, want %d", tt.name, got, tt.want)
		}
	}
	// Times are stored in microseconds; bounds in between round up.
	if got := count(AuditFilter{Since: last.Add(time.Nanosecond)}); got != 0 {
		t.Errorf("since just after the last entry: %d entries", got)
	}
	if got := count(AuditFilter{Until: start.Add(time.Nanosecond)}); got != 1 {
		t.Errorf("until just after the first entry: %d entries, want 1", got)
	}
	if p, _ := s.ListAudit(ctx, AuditFilter{}); len(p.Entries) != 25 || p.Next != "" {
		t.Errorf("default limit page: %d entries, next %q", len(p.Entries), p.Next)
	}
	_, err := s.ListAudit(ctx, AuditFilter{Limit: MaxAuditLimit + 1})
	wantErr(t, err, ErrInvalid, "limit 1001")
	_, err = s.AppendAudit(ctx, AuditEntry{Actor: "x", Action: "y", Outcome: "meh"})
	wantErr(t, err, ErrInvalid, `outcome "meh"`)
	_, err = s.AppendAudit(ctx, AuditEntry{Action: "y", Outcome: OutcomeSuccess})
	wantErr(t, err, ErrInvalid, "actor and action")

	// The database itself refuses to rewrite history.
	if _, err := s.db.ExecContext(ctx, `UPDATE audit_log SET actor = 'mallory'`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("UPDATE audit_log: %v", err)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM audit_log`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("DELETE FROM audit_log: %v", err)
	}
}
