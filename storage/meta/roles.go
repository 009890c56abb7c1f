package meta

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// Role is a named set of permissions assigned to users.
type Role struct {
	// Name identifies the role; lower case letters, digits, '-' and '_'.
	Name string `json:"name"`
	// Description says what the role is for.
	Description string `json:"description"`
	// Permissions are what users of the role may do.
	Permissions []Permission `json:"permissions"`
	// Builtin marks the roles Flowlake ships (admin, analyst, viewer,
	// report-recipient); they cannot be changed or deleted.
	Builtin   bool      `json:"builtin"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

var roleNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func validateRoleName(name string) error {
	if !roleNameRE.MatchString(name) {
		return fmt.Errorf("%w: role name %q: want 1 to 64 lower-case letters, digits, '-' or '_', starting with a letter or digit", ErrInvalid, name)
	}
	return nil
}

// seedRoles writes the built-in roles, updating their permissions to this
// version's, so an upgrade that adds a permission gives it to admin.
func (s *Store) seedRoles(ctx context.Context) error {
	now := micros(s.nowTime())
	return s.inTx(ctx, func(t tx) error {
		for _, r := range BuiltinRoles() {
			perms, err := json.Marshal(r.Permissions)
			if err != nil {
				return err
			}
			_, err = t.exec(ctx, `INSERT INTO roles (name, description, permissions, builtin, created_at, updated_at)
				VALUES (?, ?, ?, 1, ?, ?)
				ON CONFLICT (name) DO UPDATE SET description = excluded.description,
					permissions = excluded.permissions, builtin = 1`,
				r.Name, r.Description, string(perms), now, now)
			if err != nil {
				return fmt.Errorf("seed role %s: %w", r.Name, err)
			}
		}
		return nil
	})
}

// CreateRole adds a custom role.
func (s *Store) CreateRole(ctx context.Context, r Role) (Role, error) {
	if err := validateRoleName(r.Name); err != nil {
		return Role{}, fmt.Errorf("create role: %w", err)
	}
	if isBuiltinRole(r.Name) {
		return Role{}, fmt.Errorf("create role %s: %w: the name of a built-in role", r.Name, ErrConflict)
	}
	perms, err := normalizePermissions(r.Permissions)
	if err != nil {
		return Role{}, fmt.Errorf("create role %s: %w", r.Name, err)
	}
	raw, err := json.Marshal(perms)
	if err != nil {
		return Role{}, err
	}
	now := s.nowTime()
	out := Role{Name: r.Name, Description: r.Description, Permissions: perms, CreatedAt: now, UpdatedAt: now}
	_, err = s.exec(ctx, `INSERT INTO roles (name, description, permissions, builtin, created_at, updated_at)
		VALUES (?, ?, ?, 0, ?, ?)`, out.Name, out.Description, string(raw), micros(now), micros(now))
	if err != nil {
		return Role{}, fmt.Errorf("create role %s: %w", r.Name, err)
	}
	return out, nil
}

const roleColumns = `name, description, permissions, builtin, created_at, updated_at`

func scanRole(sc scanner) (Role, error) {
	var r Role
	var perms string
	var builtin int
	var created, updated int64
	if err := sc.Scan(&r.Name, &r.Description, &perms, &builtin, &created, &updated); err != nil {
		return Role{}, err
	}
	if err := json.Unmarshal([]byte(perms), &r.Permissions); err != nil {
		return Role{}, fmt.Errorf("role %s: stored permissions: %w", r.Name, err)
	}
	if r.Permissions == nil {
		r.Permissions = []Permission{}
	}
	r.Builtin = builtin != 0
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return r, nil
}

// GetRole returns the role called name.
func (s *Store) GetRole(ctx context.Context, name string) (Role, error) {
	return queryOne(ctx, s, "get role", name, "role", scanRole, `SELECT `+roleColumns+` FROM roles WHERE name = ?`, name)
}

// ListRoles returns every role, built-in ones first, then by name.
func (s *Store) ListRoles(ctx context.Context) ([]Role, error) {
	return queryAll(ctx, s, "list roles", scanRole, `SELECT `+roleColumns+` FROM roles ORDER BY builtin DESC, name`)
}

// UpdateRole replaces a custom role's description and permissions. Users
// of the role, and their tokens, get the new permissions at their next
// request.
func (s *Store) UpdateRole(ctx context.Context, name, description string, permissions []Permission) (Role, error) {
	if isBuiltinRole(name) {
		return Role{}, fmt.Errorf("update role %s: %w", name, ErrImmutable)
	}
	perms, err := normalizePermissions(permissions)
	if err != nil {
		return Role{}, fmt.Errorf("update role %s: %w", name, err)
	}
	raw, err := json.Marshal(perms)
	if err != nil {
		return Role{}, err
	}
	res, err := s.exec(ctx, `UPDATE roles SET description = ?, permissions = ?, updated_at = ? WHERE name = ? AND builtin = 0`,
		description, string(raw), micros(s.nowTime()), name)
	if err != nil {
		return Role{}, fmt.Errorf("update role %s: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return Role{}, fmt.Errorf("update role %s: %w", name, err)
	} else if n == 0 {
		return Role{}, fmt.Errorf("update role %q: role: %w", name, ErrNotFound)
	}
	return s.GetRole(ctx, name)
}

// DeleteRole deletes a custom role no user holds.
func (s *Store) DeleteRole(ctx context.Context, name string) error {
	if isBuiltinRole(name) {
		return fmt.Errorf("delete role %s: %w", name, ErrImmutable)
	}
	return s.inTx(ctx, func(t tx) error {
		var users int
		if err := t.queryRow(ctx, `SELECT COUNT(*) FROM users WHERE role = ?`, name).Scan(&users); err != nil {
			return fmt.Errorf("delete role %s: %w", name, err)
		}
		if users > 0 {
			return fmt.Errorf("delete role %s: %w: %d users hold it", name, ErrConflict, users)
		}
		res, err := t.exec(ctx, `DELETE FROM roles WHERE name = ? AND builtin = 0`, name)
		if err != nil {
			return fmt.Errorf("delete role %s: %w", name, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("delete role %s: %w", name, err)
		} else if n == 0 {
			return fmt.Errorf("delete role %q: role: %w", name, ErrNotFound)
		}
		return nil
	})
}
