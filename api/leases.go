package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/storage/query"
)

// LeaseAsker answers the lease history questions. *query.Engine
// implements it.
type LeaseAsker interface {
	Leases(ctx context.Context, q query.LeaseQuestion) (*query.LeaseAnswer, error)
}

var _ LeaseAsker = (*query.Engine)(nil)

// LeasesResponse is the answer of GET /api/v1/dhcp/leases: the bindings,
// by start, each once, and the unreadable lake files the answer misses.
type LeasesResponse struct {
	Leases   []query.LeaseView `json:"leases"`
	Warnings []query.Warning   `json:"warnings,omitempty"`
}

// getLeases answers /api/v1/dhcp/leases?address=10.1.2.3&at=2026-11-20T08:15:00Z
// (who held it then), ?address=…&from=…&to=… (its history),
// ?mac=… or ?hostname=… with a range (what it held).
func (s *Server) getLeases(c echo.Context) error {
	if s.deps.Leases == nil {
		return fmt.Errorf("%w: no query engine", ErrUnavailable)
	}
	q, err := query.LeaseArgs{Address: c.QueryParam("address"), MAC: c.QueryParam("mac"), Hostname: c.QueryParam("hostname"),
		At: c.QueryParam("at"), From: c.QueryParam("from"), To: c.QueryParam("to"),
		TimeZone: c.QueryParam("tz"), Lookback: c.QueryParam("lookback")}.Question(s.deps.Now())
	if err != nil {
		return err
	}
	ans, err := s.deps.Leases.Leases(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := LeasesResponse{Leases: make([]query.LeaseView, 0, len(ans.Leases)), Warnings: ans.Warnings}
	for _, l := range ans.Leases {
		out.Leases = append(out.Leases, query.ViewOf(l))
	}
	return c.JSON(http.StatusOK, out)
}
