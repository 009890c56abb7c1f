package meta

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Secret formats. A secret is a prefix naming its kind and 32 random bytes
// in unpadded base64url: 256 bits, so a plain SHA-256 of it is a safe
// stored form (no salt or slow hash needed, unlike passwords), and
// secret scanners can recognise a leaked Flowlake token by its prefix.
const (
	// TokenPrefix starts every API token.
	TokenPrefix = "flk_"
	// SessionPrefix starts every session secret (the session cookie).
	SessionPrefix = "fls_"
	secretBytes   = 32
	// shownPrefixLen is how much of a token is stored in the clear to tell
	// tokens apart in listings: the kind prefix and 8 characters.
	shownPrefixLen = len(TokenPrefix) + 8
)

// touchEvery bounds how often a token's last use or a session's last
// activity is written: at most once a minute per token or session, so
// reads do not turn into a write per request on SQLite's single writer.
const touchEvery = time.Minute

// newSecret returns a fresh secret of the given kind and its stored hash.
func newSecret(prefix string) (secret, hash string, err error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("random secret: %w", err)
	}
	secret = prefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, hashSecret(secret), nil
}

// hashSecret is the stored form of a token or session secret.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// wellFormed reports whether secret looks like one of the kind; malformed
// ones are rejected without a database round trip.
func wellFormed(secret, prefix string) bool {
	rest, ok := strings.CutPrefix(secret, prefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(secretBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}

// Token is an API token's metadata; the secret itself is shown once, by
// CreateToken, and never stored.
type Token struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	// Name says what the token is for ("grafana", "nightly export").
	Name string `json:"name"`
	// Prefix is the start of the secret, to recognise it.
	Prefix string `json:"prefix"`
	// Scopes limit the token to these permissions (intersected with the
	// user's role at each use); empty means all of the user's.
	Scopes []Permission `json:"scopes"`
	// Edges binds the token to the edges (segment sources) it may upload
	// for; empty means unbound: it may upload only for the source named
	// like its user (Principal.MayWriteFor).
	Edges      []string  `json:"edges"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// Active reports whether the token can be used at time now.
func (t Token) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// NewToken is what CreateToken needs.
type NewToken struct {
	UserID string
	Name   string
	Scopes []Permission
	// Edges binds the token to these edges for uploads; empty for none.
	Edges []string
	// ExpiresAt is when the token stops working; zero for never.
	ExpiresAt time.Time
}

// Principal is an authenticated caller: the user, what they may do, and
// how they proved it.
type Principal struct {
	User User
	// Permissions are the user's role's, narrowed by the token's scopes.
	Permissions PermissionSet
	// TokenID is set when the caller used an API token.
	TokenID string
	// Edges are the edges the caller's token is bound to (Token.Edges);
	// empty for an unbound token or a session.
	Edges []string
	// SessionID is set when the caller used a login session.
	SessionID string
}

// CreateToken issues a token for a user and returns its metadata and its
// secret. The secret is not stored; this is the only time it is known.
func (s *Store) CreateToken(ctx context.Context, nt NewToken) (Token, string, error) {
	name := strings.TrimSpace(nt.Name)
	if name == "" || len(name) > 128 {
		return Token{}, "", fmt.Errorf("create token: %w: name: want 1 to 128 bytes", ErrInvalid)
	}
	scopes, err := normalizePermissions(nt.Scopes)
	if err != nil {
		return Token{}, "", fmt.Errorf("create token %q: scopes: %w", name, err)
	}
	edges, err := normalizeEdges(nt.Edges)
	if err != nil {
		return Token{}, "", fmt.Errorf("create token %q: %w", name, err)
	}
	rawEdges, err := json.Marshal(edges)
	if err != nil {
		return Token{}, "", err
	}
	now := s.nowTime()
	if !nt.ExpiresAt.IsZero() && !nt.ExpiresAt.After(now) {
		return Token{}, "", fmt.Errorf("create token %q: %w: expires_at %s is not in the future", name, ErrInvalid, nt.ExpiresAt.UTC().Format(time.RFC3339))
	}
	secret, hash, err := newSecret(TokenPrefix)
	if err != nil {
		return Token{}, "", fmt.Errorf("create token %q: %w", name, err)
	}
	raw, err := json.Marshal(scopes)
	if err != nil {
		return Token{}, "", err
	}
	t := Token{ID: s.newID(), UserID: nt.UserID, Name: name, Prefix: secret[:shownPrefixLen], Scopes: scopes,
		Edges: edges, CreatedAt: now, ExpiresAt: truncUTC(nt.ExpiresAt)}
	err = s.inTx(ctx, func(x tx) error {
		var n int
		if err := x.queryRow(ctx, `SELECT COUNT(*) FROM users WHERE id = ?`, nt.UserID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("user %q: %w", nt.UserID, ErrNotFound)
		}
		_, err := x.exec(ctx, `INSERT INTO api_tokens (id, user_id, name, secret_hash, prefix, scopes, edges, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.UserID, t.Name, hash, t.Prefix, string(raw), string(rawEdges), micros(now), nullMicros(t.ExpiresAt))
		return err
	})
	if err != nil {
		return Token{}, "", fmt.Errorf("create token %q: %w", name, err)
	}
	return t, secret, nil
}

func truncUTC(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

const tokenColumns = `id, user_id, name, prefix, scopes, edges, created_at, expires_at, revoked_at, last_used_at`

func scanToken(sc scanner) (Token, error) {
	var t Token
	var scopes, edges string
	var created int64
	var expires, revoked, used sql.NullInt64
	if err := sc.Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, &scopes, &edges, &created, &expires, &revoked, &used); err != nil {
		return Token{}, err
	}
	if err := json.Unmarshal([]byte(scopes), &t.Scopes); err != nil {
		return Token{}, fmt.Errorf("token %s: stored scopes: %w", t.ID, err)
	}
	if err := json.Unmarshal([]byte(edges), &t.Edges); err != nil {
		return Token{}, fmt.Errorf("token %s: stored edges: %w", t.ID, err)
	}
	if t.Edges == nil {
		t.Edges = []string{}
	}
	if t.Scopes == nil {
		t.Scopes = []Permission{}
	}
	t.CreatedAt = fromMicros(created)
	t.ExpiresAt, t.RevokedAt, t.LastUsedAt = fromNullMicros(expires), fromNullMicros(revoked), fromNullMicros(used)
	return t, nil
}

// GetToken returns a token's metadata.
func (s *Store) GetToken(ctx context.Context, id string) (Token, error) {
	return queryOne(ctx, s, "get token", id, "token", scanToken, `SELECT `+tokenColumns+` FROM api_tokens WHERE id = ?`, id)
}

// ListTokens returns the tokens of a user, or of every user when userID is
// empty, newest first; revoked and expired ones included.
func (s *Store) ListTokens(ctx context.Context, userID string) ([]Token, error) {
	q, args := `SELECT `+tokenColumns+` FROM api_tokens ORDER BY id DESC`, []any(nil)
	if userID != "" {
		q, args = `SELECT `+tokenColumns+` FROM api_tokens WHERE user_id = ? ORDER BY id DESC`, []any{userID}
	}
	return queryAll(ctx, s, "list tokens", scanToken, q, args...)
}

// RevokeToken makes a token unusable from now on. Revoking a revoked token
// keeps its first revocation time.
func (s *Store) RevokeToken(ctx context.Context, id string) (Token, error) {
	res, err := s.exec(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, micros(s.nowTime()), id)
	if err != nil {
		return Token{}, fmt.Errorf("revoke token %s: %w", id, err)
	}
	if _, err := res.RowsAffected(); err != nil {
		return Token{}, fmt.Errorf("revoke token %s: %w", id, err)
	}
	return s.GetToken(ctx, id) // ErrNotFound if there was none
}

// AuthenticateToken returns the principal a token secret stands for. An
// unknown, malformed, revoked or expired token, or one of a disabled user,
// is ErrUnauthenticated. Use is recorded at most once a minute.
func (s *Store) AuthenticateToken(ctx context.Context, secret string) (Principal, error) {
	if !wellFormed(secret, TokenPrefix) {
		return Principal{}, fmt.Errorf("token: %w", ErrUnauthenticated)
	}
	row := s.queryRow(ctx, `SELECT t.id, t.user_id, t.name, t.prefix, t.scopes, t.edges, t.created_at, t.expires_at, t.revoked_at, t.last_used_at,
			u.id, u.name, u.display_name, u.role, CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END, u.disabled, u.created_at, u.updated_at, u.last_login_at,
			r.permissions
		FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN roles r ON r.name = u.role
		WHERE t.secret_hash = ?`, hashSecret(secret))
	var t Token
	var scopes, edges, perms string
	var created int64
	var expires, revoked, used sql.NullInt64
	var u User
	var hasPw, disabled int
	var uCreated, uUpdated int64
	var last sql.NullInt64
	err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, &scopes, &edges, &created, &expires, &revoked, &used,
		&u.ID, &u.Name, &u.DisplayName, &u.Role, &hasPw, &disabled, &uCreated, &uUpdated, &last, &perms)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, fmt.Errorf("token: %w", ErrUnauthenticated)
	} else if err != nil {
		return Principal{}, fmt.Errorf("token: %w", s.closedErr(err))
	}
	t.ExpiresAt, t.RevokedAt, t.LastUsedAt = fromNullMicros(expires), fromNullMicros(revoked), fromNullMicros(used)
	now := s.nowTime()
	if !t.Active(now) || disabled != 0 {
		return Principal{}, fmt.Errorf("token: %w", ErrUnauthenticated)
	}
	u.HasPassword, u.Disabled = hasPw != 0, false
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromMicros(uCreated), fromMicros(uUpdated), fromNullMicros(last)
	set, err := effectivePermissions(perms, scopes)
	if err != nil {
		return Principal{}, fmt.Errorf("token %s: %w", t.ID, err)
	}
	if t.LastUsedAt.IsZero() || now.Sub(t.LastUsedAt) >= touchEvery {
		if _, err := s.exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, micros(now), t.ID); err != nil {
			return Principal{}, fmt.Errorf("token %s: record use: %w", t.ID, err)
		}
	}
	if err := json.Unmarshal([]byte(edges), &t.Edges); err != nil {
		return Principal{}, fmt.Errorf("token %s: stored edges: %w", t.ID, err)
	}
	return Principal{User: u, Permissions: set, TokenID: t.ID, Edges: t.Edges}, nil
}

// effectivePermissions intersects a role's stored permissions with a
// token's stored scopes (empty scopes: the role's).
func effectivePermissions(rolePerms, scopes string) (PermissionSet, error) {
	var role, scope []Permission
	if err := json.Unmarshal([]byte(rolePerms), &role); err != nil {
		return nil, fmt.Errorf("stored role permissions: %w", err)
	}
	if scopes != "" {
		if err := json.Unmarshal([]byte(scopes), &scope); err != nil {
			return nil, fmt.Errorf("stored scopes: %w", err)
		}
	}
	set := NewPermissionSet(role...)
	if len(scope) == 0 {
		return set, nil
	}
	narrowed := NewPermissionSet()
	for _, p := range scope {
		if set[p] {
			narrowed[p] = true
		}
	}
	return narrowed, nil
}
