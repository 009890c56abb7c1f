package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/storage/meta"
)

// SessionCookie is the name of the login session cookie.
const SessionCookie = "flowlake_session"

// Keys of values handlers leave in the echo context.
const (
	principalKey   = "flowlake.principal"
	auditTargetKey = "flowlake.audit_target"
	auditDetailKey = "flowlake.audit_detail"
)

// errCSRF marks a cookie-authenticated change sent from another origin.
var errCSRF = errors.New("cross-origin request refused: send the request from the API's own origin, or use a bearer token")

// credential says how a caller authenticated.
type credential string

const (
	viaToken   credential = "token"
	viaSession credential = "session"
)

// authenticate finds the caller's credentials (an Authorization bearer
// token first, else the session cookie) and checks them against the
// store. It never logs or returns the secret.
func (s *Server) authenticate(c echo.Context) (meta.Principal, credential, error) {
	ctx := c.Request().Context()
	if h := c.Request().Header.Get(echo.HeaderAuthorization); h != "" {
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			return meta.Principal{}, "", fmt.Errorf("%w: want Authorization: Bearer <token>", ErrUnauthenticated)
		}
		secret = strings.TrimSpace(secret)
		now := time.Now()
		if p, ok := s.tokens.get(secret, now); ok {
			return p, viaToken, nil
		}
		p, err := s.deps.Meta.AuthenticateToken(ctx, secret)
		if err == nil {
			s.tokens.put(secret, p, now)
		}
		return p, viaToken, err
	}
	if ck, err := c.Cookie(SessionCookie); err == nil && ck.Value != "" {
		p, err := s.deps.Meta.AuthenticateSession(ctx, ck.Value)
		return p, viaSession, err
	}
	return meta.Principal{}, "", ErrUnauthenticated
}

// principalOf returns the caller that guard authenticated.
func principalOf(c echo.Context) meta.Principal {
	p, _ := c.Get(principalKey).(meta.Principal)
	return p
}

// unsafeMethod reports whether a method changes state.
func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// sameOrigin reports whether a cookie-authenticated change comes from the
// API's own origin. Browsers send Origin on cross-origin requests (and on
// same-origin POSTs); clients that are not browsers send neither Origin nor
// Referer, and cannot be tricked into sending the cookie anyway.
func sameOrigin(r *http.Request) bool {
	for _, h := range []string{"Origin", "Referer"} {
		v := r.Header.Get(h)
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || v == "null" {
			return false
		}
		return strings.EqualFold(u.Host, r.Host)
	}
	return true
}

// guard is the middleware of every route: it authenticates the caller,
// checks the route's permission from the route table, and writes the
// audit entry of mutations (including refused ones). It is the only
// place permissions are checked.
func (s *Server) guard(r route) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if r.access == public {
				return next(c) // login writes its own audit entries
			}
			p, via, err := s.authenticate(c)
			if err != nil {
				if r.action != "" && (errors.Is(err, ErrUnauthenticated) || errors.Is(err, meta.ErrUnauthenticated)) {
					s.audit(c, r.action, "anonymous", meta.OutcomeDenied, CodeUnauthenticated)
				}
				return err
			}
			c.Set(principalKey, p)
			if via == viaSession && unsafeMethod(c.Request().Method) && !sameOrigin(c.Request()) {
				s.audit(c, r.action, p.User.Name, meta.OutcomeDenied, CodeCSRF)
				return errCSRF
			}
			if r.access == permitted && !p.Permissions.Has(r.perm) {
				s.audit(c, orDefault(r.action, "read"), p.User.Name, meta.OutcomeDenied, "missing "+string(r.perm))
				return fmt.Errorf("%w: %s %s needs permission %s", ErrForbidden, r.method, r.path, r.perm)
			}
			err = next(c)
			if r.action != "" {
				// A mutation may revoke a token, disable a user or change a
				// role: this replica forgets every cached token at once.
				s.tokens.clear()
				outcome, detail := meta.OutcomeSuccess, ""
				if d, ok := c.Get(auditDetailKey).(string); ok {
					detail = d
				}
				if err != nil || c.Response().Status >= 400 {
					outcome = meta.OutcomeFailure
					if err != nil {
						pr := problemFor(err)
						detail = pr.Code
						if pr.Status < 500 && pr.Detail != "" {
							detail += ": " + pr.Detail
						}
					}
				}
				s.audit(c, r.action, p.User.Name, outcome, detail)
			}
			return err
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// maxAuditDetail bounds the detail of an audit entry.
const maxAuditDetail = 512

// audit appends an entry for the current request. The target is what the
// handler named (c.Set(auditTargetKey, ...)), else the path's id or name.
// A failure to write is logged, not returned: the action has happened,
// and the client's answer must say how it went.
func (s *Server) audit(c echo.Context, action, actor, outcome, detail string) {
	if action == "" {
		action = "request"
	}
	target, _ := c.Get(auditTargetKey).(string)
	if target == "" {
		target = c.Param("id")
	}
	if target == "" {
		target = c.Param("name")
	}
	if target == "" && outcome == meta.OutcomeDenied {
		target = c.Request().Method + " " + c.Request().URL.Path
	}
	if len(detail) > maxAuditDetail {
		detail = detail[:maxAuditDetail]
	}
	ctx := c.Request().Context()
	_, err := s.deps.Meta.AppendAudit(ctx, meta.AuditEntry{
		Actor: actor, Action: action, Target: target, Outcome: outcome,
		RemoteAddr: c.RealIP(), Detail: detail,
	})
	if err != nil {
		s.logger.ErrorContext(ctx, "audit entry lost", "action", action, "actor", actor, "target", target,
			"outcome", outcome, "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "err", err)
	}
}

// LoginRequest is the body of POST /api/v1/login.
type LoginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// LoginResponse is the answer to a successful login; the session itself
// is the cookie.
type LoginResponse struct {
	User        meta.User         `json:"user"`
	Permissions []meta.Permission `json:"permissions"`
	// ExpiresAt is the session's absolute end; idleness may end it sooner.
	ExpiresAt time.Time `json:"expires_at"`
}

// login answers POST /api/v1/login: it checks the per user-and-address
// failure count (kept in the store, so the limit holds across replicas),
// the password, and on success starts a server-side session and sets its
// cookie. Every attempt is audited; the password never is.
func (s *Server) login(c echo.Context) error {
	var req LoginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Name == "" || req.Password == "" {
		return fmt.Errorf("%w: name and password are required", ErrInvalid)
	}
	ctx := c.Request().Context()
	c.Set(auditTargetKey, req.Name)
	key := strings.ToLower(req.Name) + "|" + c.RealIP()
	n, until, err := s.deps.Meta.LoginFailures(ctx, key, s.cfg.LoginWindow)
	if err != nil {
		return err
	}
	if n >= s.cfg.LoginMaxFailures {
		wait := max(time.Until(until), time.Second) // the store's clock may differ; at least a second
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second).Seconds())))
		s.audit(c, "login", req.Name, meta.OutcomeDenied, CodeRateLimited)
		return fmt.Errorf("%w: %d failed logins; try again later", ErrRateLimited, n)
	}
	u, err := s.deps.Meta.Authenticate(ctx, req.Name, req.Password)
	if err != nil {
		if !errors.Is(err, meta.ErrUnauthenticated) {
			return err
		}
		if _, rerr := s.deps.Meta.RecordLoginFailure(ctx, key, s.cfg.LoginWindow); rerr != nil {
			s.logger.ErrorContext(ctx, "record login failure", "err", rerr)
		}
		s.audit(c, "login", req.Name, meta.OutcomeFailure, "invalid name or password")
		return err
	}
	if err := s.deps.Meta.ClearLoginFailures(ctx, key); err != nil {
		return err
	}
	ss, secret, err := s.deps.Meta.CreateSession(ctx, u.ID, c.RealIP(), c.Request().UserAgent())
	if err != nil {
		return err
	}
	p, err := s.deps.Meta.AuthenticateSession(ctx, secret)
	if err != nil {
		return fmt.Errorf("new session: %w", err)
	}
	c.SetCookie(&http.Cookie{
		Name:     SessionCookie,
		Value:    secret,
		Path:     "/",
		Expires:  ss.ExpiresAt,
		HttpOnly: true,
		Secure:   s.cfg.SecureCookie,
		SameSite: http.SameSiteStrictMode,
	})
	s.audit(c, "login", u.Name, meta.OutcomeSuccess, "session "+ss.ID)
	return c.JSON(http.StatusOK, LoginResponse{User: u, Permissions: p.Permissions.List(), ExpiresAt: ss.ExpiresAt})
}

// logout answers POST /api/v1/logout: it ends the cookie's session and
// clears the cookie. With a bearer token it does nothing (revoke tokens
// with DELETE /api/v1/me/tokens/{id}).
func (s *Server) logout(c echo.Context) error {
	p := principalOf(c)
	if p.SessionID != "" {
		ck, err := c.Cookie(SessionCookie)
		if err == nil {
			if err := s.deps.Meta.DeleteSession(c.Request().Context(), ck.Value); err != nil {
				return err
			}
		}
		c.Set(auditTargetKey, "session "+p.SessionID)
	}
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.cfg.SecureCookie, SameSite: http.SameSiteStrictMode})
	return c.NoContent(http.StatusNoContent)
}

// MeResponse is the body of GET /api/v1/me.
type MeResponse struct {
	User        meta.User         `json:"user"`
	Permissions []meta.Permission `json:"permissions"`
	// Via is "token" or "session".
	Via       string `json:"via"`
	TokenID   string `json:"token_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
}

func (s *Server) me(c echo.Context) error {
	p := principalOf(c)
	via := viaToken
	if p.SessionID != "" {
		via = viaSession
	}
	return c.JSON(http.StatusOK, MeResponse{User: p.User, Permissions: orEmpty(p.Permissions.List()),
		Via: string(via), TokenID: p.TokenID, SessionID: p.SessionID})
}

func orEmpty[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// PermissionInfo describes a permission.
type PermissionInfo struct {
	Name        meta.Permission `json:"name"`
	Description string          `json:"description"`
}

// PermissionsResponse is the body of GET /api/v1/permissions.
type PermissionsResponse struct {
	Permissions []PermissionInfo `json:"permissions"`
}

// permissionDocs describe each permission for clients building role
// editors; TestPermissionDocs keeps it complete.
var permissionDocs = map[meta.Permission]string{
	meta.PermAnalysisRead: "Statistics and analysis: datasets, queries, exports.",
	meta.PermObjectsRead:  "Read IP groups and applications.",
	meta.PermObjectsWrite: "Create, change and delete IP groups and applications.",
	meta.PermConfigRead:   "Read the system configuration and settings.",
	meta.PermConfigWrite:  "Change the system configuration and settings.",
	meta.PermAlertsRead:   "See alert rules, active alerts and their history.",
	meta.PermAlertsWrite:  "Define, change, acknowledge and delete alerts.",
	meta.PermReportsRead:  "Read and download reports.",
	meta.PermReportsWrite: "Define and schedule reports and their recipients.",
	meta.PermUsersRead:    "List users, roles and every user's API tokens.",
	meta.PermUsersWrite:   "Manage users, roles and every user's API tokens.",
	meta.PermAuditRead:    "Read the audit log.",
	meta.PermMetricsRead:  "Scrape the Prometheus metrics endpoint.",
	meta.PermIngestWrite:  "Upload segments into the lake (the token of an edge agent).",
}

func (s *Server) listPermissions(c echo.Context) error {
	var out PermissionsResponse
	for _, p := range meta.AllPermissions() {
		out.Permissions = append(out.Permissions, PermissionInfo{Name: p, Description: permissionDocs[p]})
	}
	return c.JSON(http.StatusOK, out)
}

// PasswordChangeRequest is the body of POST /api/v1/me/password.
type PasswordChangeRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changeMyPassword answers POST /api/v1/me/password. A wrong current
// password counts as a failed login for the caller's name and address, so
// a stolen session cannot be used to guess the password faster than the
// login form allows.
func (s *Server) changeMyPassword(c echo.Context) error {
	var req PasswordChangeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := principalOf(c)
	c.Set(auditTargetKey, p.User.ID)
	ctx := c.Request().Context()
	key := strings.ToLower(p.User.Name) + "|" + c.RealIP()
	n, until, err := s.deps.Meta.LoginFailures(ctx, key, s.cfg.LoginWindow)
	if err != nil {
		return err
	}
	if n >= s.cfg.LoginMaxFailures {
		wait := max(time.Until(until), time.Second)
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second).Seconds())))
		return fmt.Errorf("%w: %d failed password checks; try again later", ErrRateLimited, n)
	}
	err = s.deps.Meta.ChangePassword(ctx, p.User.ID, req.CurrentPassword, req.NewPassword)
	if errors.Is(err, meta.ErrUnauthenticated) {
		if _, rerr := s.deps.Meta.RecordLoginFailure(ctx, key, s.cfg.LoginWindow); rerr != nil {
			s.logger.ErrorContext(ctx, "record login failure", "err", rerr)
		}
		// 403, not 401: the caller is authenticated, the proof is wrong.
		return fmt.Errorf("%w: the current password is wrong", ErrForbidden)
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
