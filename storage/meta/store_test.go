package meta

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMigrateFromEmpty(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.SchemaVersion(t.Context())
	if err != nil || v != 4 {
		t.Errorf("schema version = %d, %v; want 4 (00004_edge_admissions)", v, err)
	}
	var tables []string
	rows, err := s.db.QueryContext(t.Context(), `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	want := []string{"api_tokens", "applications", "audit_log", "edge_admissions", "goose_db_version", "ingest_contents", "ip_groups", "login_failures",
		"report_definitions", "report_runs", "report_schedules", "roles", "sessions", "settings", "users"}
	if diff := cmp.Diff(want, tables); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
	var mode string
	if err := s.db.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := s.db.QueryRowContext(t.Context(), `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	mustUser(t, s, "alice", RoleAdmin, "correct horse")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening migrates nothing and keeps the data.
	s, err = Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.GetUserByName(t.Context(), "alice"); err != nil {
		t.Errorf("user lost across reopen: %v", err)
	}
	if n, _ := s.CountUsers(t.Context()); n != 1 {
		t.Errorf("CountUsers = %d, want 1", n)
	}
}

func TestClosed(t *testing.T) {
	s, err := Open(t.Context(), testConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = s.ListUsers(t.Context())
	wantErr(t, err, ErrClosed, "list users")
	wantErr(t, s.Ping(t.Context()), ErrClosed, "")
}

func TestConfigValidate(t *testing.T) {
	f := func(name string, mutate func(*Config), want string) {
		t.Run(name, func(t *testing.T) {
			c := testConfig(t.TempDir())
			mutate(&c)
			err := c.Validate()
			if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
				t.Errorf("Validate() = %v, want %q", err, want)
			}
		})
	}
	f("ok", func(*Config) {}, "")
	f("postgres", func(c *Config) { c.Driver = "postgres" }, `driver "postgres"`)
	f("no dsn", func(c *Config) { c.DSN = "" }, "dsn: empty")
	f("pool", func(c *Config) { c.MaxOpenConns = 0 }, "max_open_conns 0")
	f("session age", func(c *Config) { c.SessionMaxAge = 0 }, "session_max_age")
	f("cheap hash", func(c *Config) { c.Password.MemoryKiB = 8 }, "memory_kib 8")
	f("no passes", func(c *Config) { c.Password.Iterations = 0 }, "iterations 0")
	f("no lanes", func(c *Config) { c.Password.Parallelism = 0 }, "parallelism 0")
}

func TestSQLiteDSN(t *testing.T) {
	d := sqliteDialect{}
	got, err := d.dsn("/var/lib/flowlake/meta.db")
	if err != nil || got != "/var/lib/flowlake/meta.db?"+sqlitePragmas {
		t.Errorf("dsn = %q, %v", got, err)
	}
	got, err = d.dsn("file:/x/meta.db?cache=shared")
	if err != nil || got != "file:/x/meta.db?cache=shared&"+sqlitePragmas {
		t.Errorf("dsn with query = %q, %v", got, err)
	}
	if _, err := d.dsn(":memory:"); err == nil || !strings.Contains(err.Error(), "in-memory") {
		t.Errorf("in-memory dsn: %v", err)
	}
	if !strings.Contains(sqlitePragmas, "busy_timeout(5000)") || !strings.Contains(sqlitePragmas, "journal_mode(WAL)") || !strings.Contains(sqlitePragmas, "_txlock=immediate") {
		t.Errorf("pragmas lack STACK.md's settings: %s", sqlitePragmas)
	}
}

// TestConcurrentWriters runs two stores on one file (as two API replicas
// sharing a database would, each with its own connection pool) and many
// writers in each. SQLite has one writer at a time; the busy timeout
// makes the others wait instead of failing with SQLITE_BUSY.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	a, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	const writers, each = 8, 25
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*3) // up to three writes per iteration
	for w := range writers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for i := range each {
				if _, err := s.AppendAudit(ctx, AuditEntry{Actor: fmt.Sprintf("w%d", w), Action: "test.write", Outcome: OutcomeSuccess}); err != nil {
					errs <- err
				}
				in := IPGroupInput{Name: fmt.Sprintf("g-%d-%d", w, i), Members: []string{fmt.Sprintf("10.%d.%d.0/24", w, i)}}
				if _, err := s.CreateIPGroup(ctx, in); err != nil {
					errs <- err
				}
				if _, err := s.UpdateSettings(ctx, SettingsPatch{TopN: ptr(10 + i)}, "w"); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write failed: %v", err)
	}
	groups, err := b.ListIPGroups(ctx)
	if err != nil || len(groups) != writers*each {
		t.Errorf("got %d groups, %v; want %d", len(groups), err, writers*each)
	}
	page, err := a.ListAudit(ctx, AuditFilter{Action: "test.write", Limit: MaxAuditLimit})
	if err != nil || len(page.Entries) != writers*each {
		t.Errorf("got %d audit entries, %v; want %d", len(page.Entries), err, writers*each)
	}
	seen := map[string]bool{}
	for _, e := range page.Entries {
		if seen[e.ID] {
			t.Errorf("duplicate audit id %s", e.ID)
		}
		seen[e.ID] = true
	}
}

func ptr[T any](v T) *T { return &v }

func TestOpenBadPath(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.DSN = filepath.Join(t.TempDir(), "missing", "dir", "meta.db")
	_, err := Open(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), cfg.DSN) {
		t.Errorf("Open in a missing directory: %v", err)
	}
}
