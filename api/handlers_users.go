package api

import (
	"net/http"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/storage/meta"
)

// changed lists the JSON names of the non-nil fields of a patch, for the
// audit detail (never their values: one may be a password).
func changed(fields map[string]bool) string {
	var names []string
	for n, set := range fields {
		if set {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return "changed " + strings.Join(names, ",")
}

// UsersResponse is the body of GET /api/v1/users.
type UsersResponse struct {
	Users []meta.User `json:"users"`
}

// UserCreateRequest is the body of POST /api/v1/users.
type UserCreateRequest struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
	Role        string `json:"role"`
	// Password is the initial password; omit it for a token-only user.
	Password string `json:"password,omitempty"`
	Disabled bool   `json:"disabled,omitempty"`
}

// UserPatchRequest is the body of PATCH /api/v1/users/{id}: the fields
// present are changed. An empty password removes the password.
type UserPatchRequest struct {
	DisplayName *string `json:"display_name,omitempty"`
	Role        *string `json:"role,omitempty"`
	Password    *string `json:"password,omitempty"`
	Disabled    *bool   `json:"disabled,omitempty"`
}

func (s *Server) listUsers(c echo.Context) error {
	users, err := s.deps.Meta.ListUsers(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, UsersResponse{Users: users})
}

func (s *Server) createUser(c echo.Context) error {
	var req UserCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	c.Set(auditTargetKey, req.Name)
	u, err := s.deps.Meta.CreateUser(c.Request().Context(), meta.NewUser{
		Name: req.Name, DisplayName: req.DisplayName, Role: req.Role, Password: req.Password, Disabled: req.Disabled,
	})
	if err != nil {
		return err
	}
	c.Set(auditTargetKey, u.ID)
	c.Set(auditDetailKey, "name "+u.Name+", role "+u.Role)
	return c.JSON(http.StatusCreated, u)
}

func (s *Server) getUser(c echo.Context) error {
	u, err := s.deps.Meta.GetUser(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, u)
}

func (s *Server) updateUser(c echo.Context) error {
	var req UserPatchRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	c.Set(auditDetailKey, changed(map[string]bool{"display_name": req.DisplayName != nil, "role": req.Role != nil,
		"password": req.Password != nil, "disabled": req.Disabled != nil}))
	u, err := s.deps.Meta.UpdateUser(c.Request().Context(), c.Param("id"), meta.UserUpdate{
		DisplayName: req.DisplayName, Role: req.Role, Password: req.Password, Disabled: req.Disabled,
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, u)
}

func (s *Server) deleteUser(c echo.Context) error {
	if err := s.deps.Meta.DeleteUser(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// RolesResponse is the body of GET /api/v1/roles.
type RolesResponse struct {
	Roles []meta.Role `json:"roles"`
}

// RoleCreateRequest is the body of POST /api/v1/roles.
type RoleCreateRequest struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Permissions []meta.Permission `json:"permissions"`
}

// RoleUpdateRequest is the body of PUT /api/v1/roles/{name}.
type RoleUpdateRequest struct {
	Description string            `json:"description"`
	Permissions []meta.Permission `json:"permissions"`
}

func (s *Server) listRoles(c echo.Context) error {
	roles, err := s.deps.Meta.ListRoles(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, RolesResponse{Roles: roles})
}

func (s *Server) createRole(c echo.Context) error {
	var req RoleCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	c.Set(auditTargetKey, req.Name)
	r, err := s.deps.Meta.CreateRole(c.Request().Context(), meta.Role{Name: req.Name, Description: req.Description, Permissions: req.Permissions})
	if err != nil {
		return err
	}
	c.Set(auditDetailKey, "permissions "+permString(r.Permissions))
	return c.JSON(http.StatusCreated, r)
}

func permString(perms []meta.Permission) string {
	s := make([]string, len(perms))
	for i, p := range perms {
		s[i] = string(p)
	}
	return strings.Join(s, ",")
}

func (s *Server) getRole(c echo.Context) error {
	r, err := s.deps.Meta.GetRole(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (s *Server) updateRole(c echo.Context) error {
	var req RoleUpdateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	r, err := s.deps.Meta.UpdateRole(c.Request().Context(), c.Param("name"), req.Description, req.Permissions)
	if err != nil {
		return err
	}
	c.Set(auditDetailKey, "permissions "+permString(r.Permissions))
	return c.JSON(http.StatusOK, r)
}

func (s *Server) deleteRole(c echo.Context) error {
	if err := s.deps.Meta.DeleteRole(c.Request().Context(), c.Param("name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
