package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Session is a server-side login session. It lives in the database, not in
// the API process, so any API replica can serve any request and logout or
// a disabled account takes effect everywhere at once.
type Session struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	// ExpiresAt is the session's absolute end (Config.SessionMaxAge after
	// login); the idle timeout may end it sooner.
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	RemoteAddr string    `json:"remote_addr"`
	UserAgent  string    `json:"user_agent"`
}

// CreateSession starts a session for a user (after Authenticate) and
// returns it with its secret, the value of the session cookie. It also
// removes expired sessions, so the table does not grow without bound.
func (s *Store) CreateSession(ctx context.Context, userID, remoteAddr, userAgent string) (Session, string, error) {
	secret, hash, err := newSecret(SessionPrefix)
	if err != nil {
		return Session{}, "", fmt.Errorf("create session: %w", err)
	}
	if len(userAgent) > 256 {
		userAgent = userAgent[:256]
	}
	now := s.nowTime()
	ss := Session{ID: s.newID(), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionMaxAge),
		LastSeenAt: now, RemoteAddr: remoteAddr, UserAgent: userAgent}
	err = s.inTx(ctx, func(t tx) error {
		if _, err := t.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, micros(now)); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		_, err := t.exec(ctx, `INSERT INTO sessions (id, user_id, secret_hash, created_at, expires_at, last_seen_at, remote_addr, user_agent)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			ss.ID, ss.UserID, hash, micros(now), micros(ss.ExpiresAt), micros(now), ss.RemoteAddr, ss.UserAgent)
		return err
	})
	if err != nil {
		return Session{}, "", fmt.Errorf("create session for user %s: %w", userID, err)
	}
	return ss, secret, nil
}

// AuthenticateSession returns the principal of a session secret. An
// unknown, expired or idle session, or one of a disabled user, is
// ErrUnauthenticated; the idle timeout is the session_idle_timeout
// setting. Activity is recorded at most once a minute, so the idle timeout
// is accurate to that minute.
func (s *Store) AuthenticateSession(ctx context.Context, secret string) (Principal, error) {
	if !wellFormed(secret, SessionPrefix) {
		return Principal{}, fmt.Errorf("session: %w", ErrUnauthenticated)
	}
	settings, err := s.GetSettings(ctx)
	if err != nil {
		return Principal{}, fmt.Errorf("session: %w", err)
	}
	row := s.queryRow(ctx, `SELECT ss.id, ss.expires_at, ss.last_seen_at,
			u.id, u.name, u.display_name, u.role, CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END, u.disabled, u.created_at, u.updated_at, u.last_login_at,
			r.permissions
		FROM sessions ss JOIN users u ON u.id = ss.user_id JOIN roles r ON r.name = u.role
		WHERE ss.secret_hash = ?`, hashSecret(secret))
	var id, perms string
	var expires, seen int64
	var u User
	var hasPw, disabled int
	var created, updated int64
	var last sql.NullInt64
	err = row.Scan(&id, &expires, &seen, &u.ID, &u.Name, &u.DisplayName, &u.Role, &hasPw, &disabled, &created, &updated, &last, &perms)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, fmt.Errorf("session: %w", ErrUnauthenticated)
	} else if err != nil {
		return Principal{}, fmt.Errorf("session: %w", s.closedErr(err))
	}
	now := s.nowTime()
	lastSeen := fromMicros(seen)
	if !now.Before(fromMicros(expires)) || now.Sub(lastSeen) >= time.Duration(settings.SessionIdleTimeout) || disabled != 0 {
		return Principal{}, fmt.Errorf("session: %w", ErrUnauthenticated)
	}
	u.HasPassword = hasPw != 0
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromMicros(created), fromMicros(updated), fromNullMicros(last)
	set, err := effectivePermissions(perms, "")
	if err != nil {
		return Principal{}, fmt.Errorf("session %s: %w", id, err)
	}
	if now.Sub(lastSeen) >= touchEvery {
		if _, err := s.exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, micros(now), id); err != nil {
			return Principal{}, fmt.Errorf("session %s: record activity: %w", id, err)
		}
	}
	return Principal{User: u, Permissions: set, SessionID: id}, nil
}

// DeleteSession ends the session of a secret (logout). Ending an unknown
// session is not an error: the caller is logged out either way.
func (s *Store) DeleteSession(ctx context.Context, secret string) error {
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE secret_hash = ?`, hashSecret(secret)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// ListSessions returns a user's sessions that have not expired, newest
// first.
func (s *Store) ListSessions(ctx context.Context, userID string) ([]Session, error) {
	return queryAll(ctx, s, "list sessions", scanSession, `SELECT id, user_id, created_at, expires_at, last_seen_at, remote_addr, user_agent
		FROM sessions WHERE user_id = ? AND expires_at > ? ORDER BY id DESC`, userID, micros(s.nowTime()))
}

func scanSession(sc scanner) (Session, error) {
	var ss Session
	var created, expires, seen int64
	if err := sc.Scan(&ss.ID, &ss.UserID, &created, &expires, &seen, &ss.RemoteAddr, &ss.UserAgent); err != nil {
		return Session{}, err
	}
	ss.CreatedAt, ss.ExpiresAt, ss.LastSeenAt = fromMicros(created), fromMicros(expires), fromMicros(seen)
	return ss, nil
}
