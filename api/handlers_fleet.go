package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/api/tunnelcore"
	wire "github.com/flowlake/flowlake/tunnel"
)

// PathEdges lists the edges holding a tunnel to this core.
const PathEdges = "/api/v1/edges"

// Tunnel is the core's tunnel end as the API sees it.
// *tunnelcore.Server implements it.
type Tunnel interface {
	Edges() []tunnelcore.EdgeInfo
	Request(ctx context.Context, serial, service string, body []byte) ([]byte, error)
	// Watch returns the changes of the edges' tunnels until ctx ends
	// (GraphQL's edgeStateChanged).
	Watch(ctx context.Context) <-chan tunnelcore.EdgeEvent
}

var _ Tunnel = (*tunnelcore.Server)(nil)

// ConnectedEdge is one entry of GET /api/v1/edges: an edge with a tunnel
// to this core, the state it answered the status pull with (its
// cloud_conn row) and its collector's version, rates, spool and drops,
// or why it did not answer.
type ConnectedEdge struct {
	Serial string    `json:"serial"`
	Since  time.Time `json:"since"`
	// LastSeen is when the core last received a message of the edge
	// (keepalives and pings keep it recent on an idle tunnel).
	LastSeen   time.Time       `json:"last_seen"`
	State      json.RawMessage `json:"state,omitempty"`
	StateError string          `json:"state_error,omitempty"`
	// Version … UploadFailures are the edge's collector as it reported
	// it; absent for an edge whose process runs the tunnel alone.
	Version   string     `json:"version,omitempty"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	// Rates are measured by the edge between status pulls (the first
	// since it started): rows_per_second over window_seconds.
	Rates          *wire.Rates       `json:"rates,omitempty"`
	SpoolSegments  *int              `json:"spool_segments,omitempty"`
	SpoolBytes     *int64            `json:"spool_bytes,omitempty"`
	Drops          map[string]uint64 `json:"drops,omitempty"`
	DropsTotal     *uint64           `json:"drops_total,omitempty"`
	UploadFailures *uint64           `json:"upload_failures,omitempty"`
}

// EdgesResponse is the body of GET /api/v1/edges.
type EdgesResponse struct {
	Edges []ConnectedEdge `json:"edges"`
}

// statusPullTimeout bounds each edge's answer to a status pull.
const statusPullTimeout = 5 * time.Second

// maxPullsAtOnce bounds the status pulls of one fleet listing running at
// once: a core holding thousands of tunnels does not start a goroutine
// and a request per edge at the same instant.
const maxPullsAtOnce = 64

// listEdges answers GET /api/v1/edges.
func (s *Server) listEdges(c echo.Context) error {
	return c.JSON(http.StatusOK, EdgesResponse{Edges: s.fleet(c.Request().Context())})
}

// fleet lists the edges holding a tunnel to this core, by serial, each
// with its status pulled over its tunnel (64 at a time, each within 5 s).
func (s *Server) fleet(ctx context.Context) []ConnectedEdge {
	if s.deps.Tunnel == nil {
		return []ConnectedEdge{}
	}
	infos := s.deps.Tunnel.Edges()
	out := make([]ConnectedEdge, len(infos))
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxPullsAtOnce)
	for i, info := range infos {
		out[i] = ConnectedEdge{Serial: info.Serial, Since: info.Since, LastSeen: info.LastSeen}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			pctx, cancel := context.WithTimeout(ctx, statusPullTimeout)
			defer cancel()
			body, err := s.deps.Tunnel.Request(pctx, info.Serial, wire.ServiceStatus, nil)
			if err != nil {
				out[i].StateError = err.Error()
				return
			}
			ans, err := wire.DecodeStatus(body)
			if err != nil {
				out[i].StateError = "the edge answered a status that is not valid: " + err.Error()
				return
			}
			out[i].State = ans.State
			if e := ans.Edge; e != nil {
				started := e.StartedAt
				out[i].Version, out[i].StartedAt, out[i].Rates = e.Version, &started, &e.Rates
				out[i].SpoolSegments, out[i].SpoolBytes, out[i].Drops = &e.SpoolSegments, &e.SpoolBytes, e.Drops
				out[i].DropsTotal, out[i].UploadFailures = &e.DropsTotal, &e.UploadFailures
			}
		}()
	}
	wg.Wait()
	sort.Slice(out, func(a, b int) bool { return out[a].Serial < out[b].Serial })
	return out
}

// EdgeConfigRequest is the body of POST /api/v1/edges/{serial}/config:
// the settings an edge applies without a restart (absent: unchanged).
type EdgeConfigRequest struct {
	// DHCPDomain replaces the edge's primary server domain as DHCP
	// option 253 does; a different one makes it reconnect.
	DHCPDomain *string `json:"dhcp_domain,omitempty"`
}

// EdgeCommandRequest is the body of POST /api/v1/edges/{serial}/commands.
type EdgeCommandRequest struct {
	// Command is "state", "reconnect" or one the edge's process adds.
	Command string          `json:"command"`
	Args    json.RawMessage `json:"args,omitempty"`
}

// edgeRequest sends body to the edge's service over its tunnel and
// answers the edge's JSON answer: 404 when the edge holds no tunnel here,
// 422 when the edge refused.
func (s *Server) edgeRequest(c echo.Context, service string, body any) error {
	serial := c.Param("id")
	c.Set(auditTargetKey, serial)
	if s.deps.Tunnel == nil {
		return fmt.Errorf("%w: this core runs no tunnel", ErrUnavailable)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), statusPullTimeout)
	defer cancel()
	ans, err := s.deps.Tunnel.Request(ctx, serial, service, raw)
	switch {
	case errors.Is(err, tunnelcore.ErrNoTunnel):
		return fmt.Errorf("%w: edge %q holds no tunnel to this core", ErrNotFound, serial)
	case errors.Is(err, tunnelcore.ErrEdge):
		c.Set(auditDetailKey, err.Error())
		return echo.NewHTTPError(http.StatusUnprocessableEntity, err.Error())
	case err != nil:
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	case !json.Valid(ans):
		return echo.NewHTTPError(http.StatusBadGateway, "the edge answered something that is not JSON")
	}
	return c.JSONBlob(http.StatusOK, ans)
}

// pushEdgeConfig answers POST /api/v1/edges/{serial}/config.
func (s *Server) pushEdgeConfig(c echo.Context) error {
	var req EdgeConfigRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	return s.edgeRequest(c, wire.ServiceConfig, req)
}

// runEdgeCommand answers POST /api/v1/edges/{serial}/commands.
func (s *Server) runEdgeCommand(c echo.Context) error {
	var req EdgeCommandRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Command == "" {
		return fmt.Errorf("%w: command: required", ErrInvalid)
	}
	return s.edgeRequest(c, wire.ServiceCommand, req)
}
