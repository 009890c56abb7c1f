package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/storage/meta"
)

// TokensResponse lists API tokens (metadata only, never secrets).
type TokensResponse struct {
	Tokens []meta.Token `json:"tokens"`
}

// TokenRequest is the body of POST /api/v1/me/tokens.
type TokenRequest struct {
	// Name says what the token is for.
	Name string `json:"name"`
	// Scopes narrow the token to these permissions; empty means all of
	// the caller's (or, for a caller using a scoped token, that token's).
	Scopes []meta.Permission `json:"scopes,omitempty"`
	// Edges binds the token to the edges (segment sources) it may upload
	// for; empty leaves it unbound (it may upload only for the edge named
	// like its user), or, for a caller using a bound token, bound to that
	// token's edges.
	Edges []string `json:"edges,omitempty"`
	// ExpiresAt ends the token at a time; ExpiresIn after a duration
	// ("90d"); neither means it never expires. Not both.
	ExpiresAt *time.Time     `json:"expires_at,omitempty"`
	ExpiresIn *meta.Duration `json:"expires_in,omitempty"`
}

// AdminTokenRequest is the body of POST /api/v1/tokens: a token for any
// user.
type AdminTokenRequest struct {
	UserID string `json:"user_id"`
	TokenRequest
}

// TokenCreated answers a token creation. Secret is the bearer token; it is
// shown this once and cannot be recovered.
type TokenCreated struct {
	Token  meta.Token `json:"token"`
	Secret string     `json:"secret"`
}

// expiry resolves a request's expiry to a time (zero for never).
func (r TokenRequest) expiry(now time.Time) (time.Time, error) {
	switch {
	case r.ExpiresAt != nil && r.ExpiresIn != nil:
		return time.Time{}, fmt.Errorf("%w: give expires_at or expires_in, not both", ErrInvalid)
	case r.ExpiresAt != nil:
		return *r.ExpiresAt, nil
	case r.ExpiresIn != nil:
		if *r.ExpiresIn <= 0 {
			return time.Time{}, fmt.Errorf("%w: expires_in %s: want a positive duration", ErrInvalid, *r.ExpiresIn)
		}
		return now.Add(time.Duration(*r.ExpiresIn)), nil
	}
	return time.Time{}, nil
}

func (s *Server) listMyTokens(c echo.Context) error {
	toks, err := s.deps.Meta.ListTokens(c.Request().Context(), principalOf(c).User.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, TokensResponse{Tokens: toks})
}

// createMyToken issues a token for the caller. Its scopes must be within
// what the caller may do now, so a narrow token cannot mint a broader one.
func (s *Server) createMyToken(c echo.Context) error {
	var req TokenRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := principalOf(c)
	scopes, err := scopesFor(p, req.Scopes)
	if err != nil {
		return err
	}
	if req.Edges, err = edgesFor(p, req.Edges); err != nil {
		return err
	}
	return s.issueToken(c, p.User.ID, req, scopes)
}

// edgesFor checks the edges a caller binds a new token to: a caller using
// a bound token may only narrow its binding (none asked inherits it), so a
// bound edge token cannot mint a token that writes for other edges.
func edgesFor(p meta.Principal, requested []string) ([]string, error) {
	if len(p.Edges) == 0 {
		return requested, nil
	}
	if len(requested) == 0 {
		return p.Edges, nil
	}
	for _, e := range requested {
		if !p.MayWriteFor(e) {
			return nil, fmt.Errorf("%w: edge %s: your token is bound to %v", ErrForbidden, e, p.Edges)
		}
	}
	return requested, nil
}

// scopesFor checks the scopes a caller asks for a new token: each must be
// one the caller holds now, so no token is broader than its maker's
// credentials; none asked means the caller's role, or, for a caller using
// a scoped token, that token's permissions.
func scopesFor(p meta.Principal, requested []meta.Permission) ([]meta.Permission, error) {
	if len(requested) == 0 {
		if p.TokenID == "" {
			return nil, nil
		}
		scopes := p.Permissions.List()
		if len(scopes) == 0 {
			return nil, fmt.Errorf("%w: this token holds no permission to pass on", ErrForbidden)
		}
		return scopes, nil
	}
	for _, sc := range requested {
		if sc.Valid() && !p.Permissions.Has(sc) {
			return nil, fmt.Errorf("%w: scope %s: you do not hold it", ErrForbidden, sc)
		}
	}
	return requested, nil
}

func (s *Server) issueToken(c echo.Context, userID string, req TokenRequest, scopes []meta.Permission) error {
	exp, err := req.expiry(time.Now())
	if err != nil {
		return err
	}
	tok, secret, err := s.deps.Meta.CreateToken(c.Request().Context(), meta.NewToken{UserID: userID, Name: req.Name, Scopes: scopes, Edges: req.Edges, ExpiresAt: exp})
	if err != nil {
		return err
	}
	c.Set(auditTargetKey, tok.ID)
	detail := fmt.Sprintf("user %s, name %q, scopes %s", userID, tok.Name, orAll(permString(tok.Scopes)))
	if len(tok.Edges) > 0 {
		detail += fmt.Sprintf(", edges %s", strings.Join(tok.Edges, " "))
	}
	c.Set(auditDetailKey, detail)
	return c.JSON(http.StatusCreated, TokenCreated{Token: tok, Secret: secret})
}

func orAll(s string) string {
	if s == "" {
		return "all of the user's"
	}
	return s
}

func (s *Server) revokeMyToken(c echo.Context) error {
	ctx := c.Request().Context()
	tok, err := s.deps.Meta.GetToken(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	if tok.UserID != principalOf(c).User.ID {
		// Someone else's token is, to this caller, no token at all.
		return fmt.Errorf("token %q: %w", c.Param("id"), ErrNotFound)
	}
	tok, err = s.deps.Meta.RevokeToken(ctx, tok.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tok)
}

func (s *Server) listTokens(c echo.Context) error {
	toks, err := s.deps.Meta.ListTokens(c.Request().Context(), c.QueryParam("user_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, TokensResponse{Tokens: toks})
}

func (s *Server) createToken(c echo.Context) error {
	var req AdminTokenRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.UserID == "" {
		return fmt.Errorf("%w: user_id is required", ErrInvalid)
	}
	scopes, err := scopesFor(principalOf(c), req.Scopes)
	if err != nil {
		return err
	}
	if req.Edges, err = edgesFor(principalOf(c), req.Edges); err != nil {
		return err
	}
	return s.issueToken(c, req.UserID, req.TokenRequest, scopes)
}

func (s *Server) getToken(c echo.Context) error {
	tok, err := s.deps.Meta.GetToken(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tok)
}

func (s *Server) revokeToken(c echo.Context) error {
	tok, err := s.deps.Meta.RevokeToken(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tok)
}
