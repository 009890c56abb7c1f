package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// User is an account of a person or a service.
type User struct {
	// ID is the user's stable identifier (a ULID).
	ID string `json:"id"`
	// Name is the unique login name.
	Name string `json:"name"`
	// DisplayName is how the user is shown; free text.
	DisplayName string `json:"display_name"`
	// Role names the role whose permissions the user holds.
	Role string `json:"role"`
	// Disabled users cannot log in; disabling one ends their sessions
	// and revokes their tokens.
	Disabled bool `json:"disabled"`
	// HasPassword tells whether the user can log in with a password; users
	// without one (services) authenticate with API tokens only.
	HasPassword bool      `json:"has_password"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// LastLoginAt is the last successful password login; zero if none.
	LastLoginAt time.Time `json:"last_login_at,omitzero"`
}

// NewUser is what CreateUser needs.
type NewUser struct {
	Name        string
	DisplayName string
	Role        string
	// Password is the initial password; empty for a token-only user.
	Password string
	Disabled bool
}

// UserUpdate changes the fields that are not nil.
type UserUpdate struct {
	DisplayName *string
	Role        *string
	// Password sets a new password; a pointer to "" removes it (the user
	// then authenticates with tokens only). A change ends the user's
	// sessions.
	Password *string
	// Disabled set to true ends the user's sessions and revokes their
	// API tokens (for good: enabling the user again needs new tokens).
	Disabled *bool
}

var userNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

func validateUserName(name string) error {
	if !userNameRE.MatchString(name) {
		return fmt.Errorf("%w: user name %q: want 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", ErrInvalid, name)
	}
	return nil
}

func validateDisplayName(s string) error {
	if len(s) > 256 {
		return fmt.Errorf("%w: display name: longer than 256 bytes", ErrInvalid)
	}
	return nil
}

// CreateUser adds a user. The role must exist; the password, if any, is
// stored as an argon2id hash.
func (s *Store) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	if err := validateUserName(nu.Name); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	if err := validateDisplayName(nu.DisplayName); err != nil {
		return User{}, fmt.Errorf("create user %s: %w", nu.Name, err)
	}
	var hash sql.NullString
	if nu.Password != "" {
		if err := validatePassword(nu.Password); err != nil {
			return User{}, fmt.Errorf("create user %s: %w", nu.Name, err)
		}
		h, err := hashPassword(nu.Password, s.cfg.Password)
		if err != nil {
			return User{}, fmt.Errorf("create user %s: %w", nu.Name, err)
		}
		hash = sql.NullString{String: h, Valid: true}
	}
	now := s.nowTime()
	u := User{ID: s.newID(), Name: nu.Name, DisplayName: nu.DisplayName, Role: nu.Role, Disabled: nu.Disabled,
		HasPassword: hash.Valid, CreatedAt: now, UpdatedAt: now}
	err := s.inTx(ctx, func(t tx) error {
		if err := roleExists(ctx, t, nu.Role); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO users (id, name, display_name, role, password_hash, disabled, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Name, u.DisplayName, u.Role, hash, boolInt(u.Disabled), micros(now), micros(now))
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", nu.Name, err)
	}
	return u, nil
}

func roleExists(ctx context.Context, t tx, role string) error {
	var n int
	if err := t.queryRow(ctx, `SELECT COUNT(*) FROM roles WHERE name = ?`, role).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: role %q does not exist", ErrInvalid, role)
	}
	return nil
}

const userColumns = `id, name, display_name, role, CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END, disabled, created_at, updated_at, last_login_at`

func scanUser(sc scanner) (User, error) {
	var u User
	var hasPw, disabled int
	var created, updated int64
	var last sql.NullInt64
	if err := sc.Scan(&u.ID, &u.Name, &u.DisplayName, &u.Role, &hasPw, &disabled, &created, &updated, &last); err != nil {
		return User{}, err
	}
	u.HasPassword, u.Disabled = hasPw != 0, disabled != 0
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromMicros(created), fromMicros(updated), fromNullMicros(last)
	return u, nil
}

// GetUser returns the user with the given ID.
func (s *Store) GetUser(ctx context.Context, id string) (User, error) {
	return queryOne(ctx, s, "get user", id, "user", scanUser, `SELECT `+userColumns+` FROM users WHERE id = ?`, id)
}

// GetUserByName returns the user with the given login name.
func (s *Store) GetUserByName(ctx context.Context, name string) (User, error) {
	return queryOne(ctx, s, "get user named", name, "user", scanUser, `SELECT `+userColumns+` FROM users WHERE name = ?`, name)
}

// ListUsers returns every user, by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	return queryAll(ctx, s, "list users", scanUser, `SELECT `+userColumns+` FROM users ORDER BY name`)
}

// UpdateUser applies upd to the user with the given ID. It refuses to
// demote or disable the last enabled administrator, so the system cannot
// lock itself out.
func (s *Store) UpdateUser(ctx context.Context, id string, upd UserUpdate) (User, error) {
	if upd.DisplayName != nil {
		if err := validateDisplayName(*upd.DisplayName); err != nil {
			return User{}, fmt.Errorf("update user %s: %w", id, err)
		}
	}
	var hash sql.NullString
	if upd.Password != nil && *upd.Password != "" {
		if err := validatePassword(*upd.Password); err != nil {
			return User{}, fmt.Errorf("update user %s: %w", id, err)
		}
		h, err := hashPassword(*upd.Password, s.cfg.Password)
		if err != nil {
			return User{}, fmt.Errorf("update user %s: %w", id, err)
		}
		hash = sql.NullString{String: h, Valid: true}
	}
	now := micros(s.nowTime())
	err := s.inTx(ctx, func(t tx) error {
		cur, err := scanUser(t.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		if err != nil {
			return notFound(err, "user")
		}
		demoted := upd.Role != nil && *upd.Role != RoleAdmin || upd.Disabled != nil && *upd.Disabled
		if cur.Role == RoleAdmin && !cur.Disabled && demoted {
			if err := notLastAdmin(ctx, t); err != nil {
				return err
			}
		}
		if upd.Role != nil {
			if err := roleExists(ctx, t, *upd.Role); err != nil {
				return err
			}
			if _, err := t.exec(ctx, `UPDATE users SET role = ? WHERE id = ?`, *upd.Role, id); err != nil {
				return err
			}
		}
		if upd.DisplayName != nil {
			if _, err := t.exec(ctx, `UPDATE users SET display_name = ? WHERE id = ?`, *upd.DisplayName, id); err != nil {
				return err
			}
		}
		endSessions := false
		if upd.Password != nil {
			if _, err := t.exec(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, id); err != nil {
				return err
			}
			endSessions = true
		}
		if upd.Disabled != nil {
			if _, err := t.exec(ctx, `UPDATE users SET disabled = ? WHERE id = ?`, boolInt(*upd.Disabled), id); err != nil {
				return err
			}
			endSessions = endSessions || *upd.Disabled
			if *upd.Disabled {
				// Disabling ends the user's tokens for good: enabling the
				// user again does not bring them back.
				if _, err := t.exec(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, now, id); err != nil {
					return err
				}
			}
		}
		if endSessions {
			if _, err := t.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
				return err
			}
		}
		_, err = t.exec(ctx, `UPDATE users SET updated_at = ? WHERE id = ?`, now, id)
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("update user %s: %w", id, err)
	}
	return s.GetUser(ctx, id)
}

// notLastAdmin fails with ErrConflict unless another enabled administrator
// exists besides the one being demoted, disabled or deleted.
func notLastAdmin(ctx context.Context, t tx) error {
	var n int
	if err := t.queryRow(ctx, `SELECT COUNT(*) FROM users WHERE role = ? AND disabled = 0`, RoleAdmin).Scan(&n); err != nil {
		return err
	}
	if n <= 1 {
		return fmt.Errorf("%w: the last enabled administrator cannot be removed, disabled or demoted", ErrConflict)
	}
	return nil
}

// DeleteUser deletes a user with their tokens and sessions. The audit log
// keeps their name.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(t tx) error {
		cur, err := scanUser(t.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		if err != nil {
			return notFound(err, "user")
		}
		if cur.Role == RoleAdmin && !cur.Disabled {
			if err := notLastAdmin(ctx, t); err != nil {
				return err
			}
		}
		_, err = t.exec(ctx, `DELETE FROM users WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	return nil
}

// CountUsers returns how many users exist; serve warns when there are
// none, since nobody could then use the API.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", s.closedErr(err))
	}
	return n, nil
}

// Authenticate checks a login name and password and returns the user. Any
// failure (unknown user, no password, wrong password, disabled account) is
// ErrUnauthenticated and costs one argon2id hash, so timing does not tell
// which. A success records the login time.
func (s *Store) Authenticate(ctx context.Context, name, password string) (User, error) {
	var hash sql.NullString
	var u User
	row := s.queryRow(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE name = ?`, name)
	var hasPw, disabled int
	var created, updated int64
	var last sql.NullInt64
	err := row.Scan(&u.ID, &u.Name, &u.DisplayName, &u.Role, &hasPw, &disabled, &created, &updated, &last, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return User{}, fmt.Errorf("authenticate: %w", s.closedErr(err))
	}
	if len(password) > MaxPasswordLen {
		password = password[:MaxPasswordLen] // still hashed: the length must not shortcut timing
	}
	phc := s.dummyHash
	if hash.Valid {
		phc = hash.String
	}
	ok, cerr := checkPassword(phc, password)
	if cerr != nil {
		return User{}, fmt.Errorf("authenticate %s: %w", name, cerr)
	}
	if !ok || !hash.Valid || disabled != 0 {
		return User{}, fmt.Errorf("authenticate: %w", ErrUnauthenticated)
	}
	now := s.nowTime()
	if _, err := s.exec(ctx, `UPDATE users SET last_login_at = ? WHERE id = ?`, micros(now), u.ID); err != nil {
		return User{}, fmt.Errorf("authenticate %s: record login: %w", name, err)
	}
	u.HasPassword = true
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromMicros(created), fromMicros(updated), now
	return u, nil
}

// ChangePassword sets a user's own password after checking the current
// one (ErrUnauthenticated if wrong, at the cost of one hash either way).
// Like every password change it ends the user's sessions.
func (s *Store) ChangePassword(ctx context.Context, userID, current, next string) error {
	if err := validatePassword(next); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	var hash sql.NullString
	err := s.queryRow(ctx, `SELECT password_hash FROM users WHERE id = ?`, userID).Scan(&hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("change password: %w", s.closedErr(err))
	}
	phc := s.dummyHash
	if hash.Valid {
		phc = hash.String
	}
	ok, err := checkPassword(phc, current)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if !ok || !hash.Valid {
		return fmt.Errorf("change password: current password: %w", ErrUnauthenticated)
	}
	if _, err := s.UpdateUser(ctx, userID, UserUpdate{Password: &next}); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return nil
}
