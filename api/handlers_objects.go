package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/storage/meta"
)

// IPGroupsResponse is the body of GET /api/v1/ip-groups.
type IPGroupsResponse struct {
	IPGroups []meta.IPGroup `json:"ip_groups"`
}

// ApplicationsResponse is the body of GET /api/v1/applications.
type ApplicationsResponse struct {
	Applications []meta.Application `json:"applications"`
}

func (s *Server) listIPGroups(c echo.Context) error {
	gs, err := s.deps.Meta.ListIPGroups(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, IPGroupsResponse{IPGroups: gs})
}

func (s *Server) createIPGroup(c echo.Context) error {
	var in meta.IPGroupInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	c.Set(auditTargetKey, in.Name)
	g, err := s.deps.Meta.CreateIPGroup(c.Request().Context(), in)
	if err != nil {
		return err
	}
	c.Set(auditTargetKey, g.ID)
	c.Set(auditDetailKey, fmt.Sprintf("name %q, %d members", g.Name, len(g.Members)))
	return c.JSON(http.StatusCreated, g)
}

func (s *Server) getIPGroup(c echo.Context) error {
	g, err := s.deps.Meta.GetIPGroup(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, g)
}

func (s *Server) updateIPGroup(c echo.Context) error {
	var in meta.IPGroupInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	g, err := s.deps.Meta.UpdateIPGroup(c.Request().Context(), c.Param("id"), in)
	if err != nil {
		return err
	}
	c.Set(auditDetailKey, fmt.Sprintf("name %q, %d members", g.Name, len(g.Members)))
	return c.JSON(http.StatusOK, g)
}

func (s *Server) deleteIPGroup(c echo.Context) error {
	if err := s.deps.Meta.DeleteIPGroup(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listApplications(c echo.Context) error {
	as, err := s.deps.Meta.ListApplications(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ApplicationsResponse{Applications: as})
}

func (s *Server) createApplication(c echo.Context) error {
	var in meta.ApplicationInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	c.Set(auditTargetKey, in.Name)
	a, err := s.deps.Meta.CreateApplication(c.Request().Context(), in)
	if err != nil {
		return err
	}
	c.Set(auditTargetKey, a.ID)
	c.Set(auditDetailKey, fmt.Sprintf("name %q", a.Name))
	return c.JSON(http.StatusCreated, a)
}

func (s *Server) getApplication(c echo.Context) error {
	a, err := s.deps.Meta.GetApplication(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

func (s *Server) updateApplication(c echo.Context) error {
	var in meta.ApplicationInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, err := s.deps.Meta.UpdateApplication(c.Request().Context(), c.Param("id"), in)
	if err != nil {
		return err
	}
	c.Set(auditDetailKey, fmt.Sprintf("name %q", a.Name))
	return c.JSON(http.StatusOK, a)
}

func (s *Server) deleteApplication(c echo.Context) error {
	if err := s.deps.Meta.DeleteApplication(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) getSettings(c echo.Context) error {
	st, err := s.deps.Meta.GetSettings(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

func (s *Server) updateSettings(c echo.Context) error {
	var p meta.SettingsPatch
	if err := decodeJSON(c, &p); err != nil {
		return err
	}
	c.Set(auditTargetKey, "settings")
	c.Set(auditDetailKey, changed(map[string]bool{"top_n": p.TopN != nil, "refresh_interval": p.RefreshInterval != nil,
		"retention": p.Retention != nil, "disk_threshold_percent": p.DiskThresholdPercent != nil,
		"session_idle_timeout": p.SessionIdleTimeout != nil}))
	st, err := s.deps.Meta.UpdateSettings(c.Request().Context(), p, principalOf(c).User.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

// listAudit answers GET /api/v1/audit: a page of the log, newest first,
// filtered by the query parameters; the next page's cursor is in the body.
func (s *Server) listAudit(c echo.Context) error {
	f := meta.AuditFilter{
		Actor:   c.QueryParam("actor"),
		Action:  c.QueryParam("action"),
		Outcome: c.QueryParam("outcome"),
		Before:  c.QueryParam("cursor"),
	}
	switch f.Outcome {
	case "", meta.OutcomeSuccess, meta.OutcomeFailure, meta.OutcomeDenied:
	default:
		return fmt.Errorf("%w: outcome %q: want success, failure or denied", ErrInvalid, f.Outcome)
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%w: limit %q: want a positive integer", ErrInvalid, v)
		}
		f.Limit = n
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := c.QueryParam(t.name); v != "" {
			tm, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return fmt.Errorf("%w: %s %q: want an RFC 3339 time such as 2026-11-03T10:00:00Z", ErrInvalid, t.name, v)
			}
			*t.dst = tm
		}
	}
	page, err := s.deps.Meta.ListAudit(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}
