package api

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/storage/meta"
)

// PathEdgeAdmissions is the tunnel's allow-list of edge serials
// (docs/tunnel.md).
const PathEdgeAdmissions = "/api/v1/edges/admissions"

// EdgeAdmissionStore manages the tunnel's allow-list.
type EdgeAdmissionStore interface {
	AdmitEdge(ctx context.Context, serial, by string) (string, error)
	ListAdmissions(ctx context.Context) ([]meta.Admission, error)
	RevokeAdmission(ctx context.Context, serial string) error
	IssueUnbindCode(ctx context.Context, serial string, ttl time.Duration) (string, error)
}

// AdmissionsResponse is the body of GET /api/v1/edges/admissions.
type AdmissionsResponse struct {
	Admissions []meta.Admission `json:"admissions"`
}

// AdmitRequest is the body of POST /api/v1/edges/admissions.
type AdmitRequest struct {
	Serial string `json:"serial"`
}

// AdmitResponse carries the edge's one-time enrolment secret, shown once.
type AdmitResponse struct {
	Serial string `json:"serial"`
	Enroll string `json:"enroll"`
}

// UnbindCodeRequest is the body of POST …/admissions/{serial}/unbind-code.
type UnbindCodeRequest struct {
	// TTLSeconds is how long the code is valid: 60 to 604800, default 900.
	TTLSeconds int `json:"ttl_seconds,omitempty"`
}

// UnbindCodeResponse carries the unbinding code, shown once.
type UnbindCodeResponse struct {
	Serial  string    `json:"serial"`
	Code    string    `json:"code"`
	Expires time.Time `json:"expires"`
}

func (s *Server) listAdmissions(c echo.Context) error {
	adm, err := s.deps.Meta.ListAdmissions(c.Request().Context())
	if err != nil {
		return err
	}
	if adm == nil {
		adm = []meta.Admission{}
	}
	return c.JSON(http.StatusOK, AdmissionsResponse{Admissions: adm})
}

func (s *Server) admitEdge(c echo.Context) error {
	var req AdmitRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	c.Set(auditTargetKey, req.Serial)
	enroll, err := s.deps.Meta.AdmitEdge(c.Request().Context(), req.Serial, principalOf(c).User.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, AdmitResponse{Serial: req.Serial, Enroll: enroll})
}

func (s *Server) revokeAdmission(c echo.Context) error {
	c.Set(auditTargetKey, c.Param("id"))
	if err := s.deps.Meta.RevokeAdmission(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) issueUnbindCode(c echo.Context) error {
	var req UnbindCodeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	serial := c.Param("id")
	c.Set(auditTargetKey, serial)
	if req.TTLSeconds == 0 {
		req.TTLSeconds = 900
	}
	if req.TTLSeconds < 60 || req.TTLSeconds > 7*24*3600 {
		return echo.NewHTTPError(http.StatusBadRequest, "ttl_seconds: want 60 to 604800")
	}
	ttl := time.Duration(req.TTLSeconds) * time.Second
	code, err := s.deps.Meta.IssueUnbindCode(c.Request().Context(), serial, ttl)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, UnbindCodeResponse{Serial: serial, Code: code, Expires: time.Now().Add(ttl).UTC().Truncate(time.Second)})
}
