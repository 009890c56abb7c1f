package meta

import (
	"context"
	"fmt"
	"time"
)

// Login failures are counted in the database, per key (the API uses the
// user name and the remote address), so the limit holds across API
// replicas and restarts.

// RecordLoginFailure counts a failed login for key and returns how many
// failures key has had within window, this one included. Failures older
// than window are removed on the way.
func (s *Store) RecordLoginFailure(ctx context.Context, key string, window time.Duration) (int, error) {
	now := s.nowTime()
	since := micros(now.Add(-window))
	var n int
	err := s.inTx(ctx, func(t tx) error {
		if _, err := t.exec(ctx, `DELETE FROM login_failures WHERE at <= ?`, since); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO login_failures (key, at) VALUES (?, ?)`, key, micros(now)); err != nil {
			return err
		}
		return t.queryRow(ctx, `SELECT COUNT(*) FROM login_failures WHERE key = ? AND at > ?`, key, since).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("record login failure: %w", err)
	}
	return n, nil
}

// LoginFailures returns how many failures key has had within window and
// when the oldest of them leaves the window (zero if none).
func (s *Store) LoginFailures(ctx context.Context, key string, window time.Duration) (int, time.Time, error) {
	now := s.nowTime()
	var n int
	var oldest *int64
	err := s.queryRow(ctx, `SELECT COUNT(*), MIN(at) FROM login_failures WHERE key = ? AND at > ?`,
		key, micros(now.Add(-window))).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("login failures: %w", s.closedErr(err))
	}
	var until time.Time
	if oldest != nil {
		until = fromMicros(*oldest).Add(window)
	}
	return n, until, nil
}

// ClearLoginFailures forgets key's failures after a successful login.
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	if _, err := s.exec(ctx, `DELETE FROM login_failures WHERE key = ?`, key); err != nil {
		return fmt.Errorf("clear login failures: %w", err)
	}
	return nil
}
