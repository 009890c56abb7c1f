package meta

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testConfig is a store in dir with cheap password hashing.
func testConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.DSN = filepath.Join(dir, "meta.db")
	cfg.Password = PasswordParams{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}
	return cfg
}

// openTest opens a store on a new SQLite file in t.TempDir().
func openTest(t *testing.T) (*Store, *clock) {
	t.Helper()
	c := newClock()
	s, err := Open(t.Context(), testConfig(t.TempDir()), WithClock(c.Now))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, c
}

// mustUser creates a user or fails the test.
func mustUser(t *testing.T, s *Store, name, role, password string) User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), NewUser{Name: name, Role: role, Password: password})
	if err != nil {
		t.Fatalf("CreateUser %s: %v", name, err)
	}
	return u
}

// wantErr checks err against a sentinel (nil for success) and, when
// substr is set, its message.
func wantErr(t *testing.T, err, sentinel error, substr string) {
	t.Helper()
	switch {
	case sentinel == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case sentinel != nil && err == nil:
		t.Fatalf("no error, want %v", sentinel)
	case sentinel != nil && !errorsIs(err, sentinel):
		t.Fatalf("error %q is not %v", err, sentinel)
	case substr != "" && (err == nil || !contains(err.Error(), substr)):
		t.Fatalf("error %v does not contain %q", err, substr)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }
