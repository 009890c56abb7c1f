package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/api/tunnelcore"
	"github.com/flowlake/flowlake/graph"
	"github.com/flowlake/flowlake/storage/meta"
	wire "github.com/flowlake/flowlake/tunnel"
)

// EdgeCommandDHCPBindings is the remote command that answers an edge's
// DHCP binding table (edge.CommandDHCPBindings on the edge's side).
const EdgeCommandDHCPBindings = "dhcp-bindings"

// EdgeDHCPBindingsArgs are the command's arguments, from the query
// parameters of GET /api/v1/edges/{serial}/dhcp/bindings.
type EdgeDHCPBindingsArgs struct {
	IP    string `json:"ip,omitempty"`
	MAC   string `json:"mac,omitempty"`
	After string `json:"after,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// EdgeDHCPBinding is one row of an edge's binding table (the snooping
// table, docs/ingest-dhcp.md), as the edge answers it.
type EdgeDHCPBinding struct {
	Client    string    `json:"client"`
	MAC       string    `json:"mac,omitempty"`
	ClientID  string    `json:"client_id,omitempty"`
	IP        string    `json:"ip"`
	Hostname  string    `json:"hostname,omitempty"`
	Server    string    `json:"server"`
	Interface string    `json:"interface,omitempty"`
	VLAN      uint16    `json:"vlan,omitempty"`
	GIAddr    string    `json:"giaddr,omitempty"`
	CircuitID string    `json:"circuit_id,omitempty"`
	RemoteID  string    `json:"remote_id,omitempty"`
	DHCPv6    bool      `json:"dhcpv6,omitempty"`
	Start     time.Time `json:"start"`
	Renewed   time.Time `json:"renewed"`
	Expires   time.Time `json:"expires"`
	LeaseTime uint32    `json:"lease_time"`
}

// EdgeDHCPBindingsResponse is the body of GET
// /api/v1/edges/{serial}/dhcp/bindings: a page of the edge's binding
// table by address, how many bindings the question selects, and the
// after of the next page (empty on the last).
type EdgeDHCPBindingsResponse struct {
	Bindings []EdgeDHCPBinding `json:"bindings"`
	Total    int               `json:"total"`
	Next     string            `json:"next,omitempty"`
}

// maxEdgeBindingsLimit is the largest page an edge answers (it bounds
// its answer to what the tunnel carries).
const maxEdgeBindingsLimit = 2000

// edgeDHCPBindingsArgs reads and checks the query parameters.
func edgeDHCPBindingsArgs(c echo.Context) (EdgeDHCPBindingsArgs, error) {
	a := EdgeDHCPBindingsArgs{IP: c.QueryParam("ip"), MAC: c.QueryParam("mac"), After: c.QueryParam("after")}
	for name, v := range map[string]string{"ip": a.IP, "after": a.After} {
		if _, err := netip.ParseAddr(v); v != "" && err != nil {
			return a, fmt.Errorf("%w: %s: %q is not an address", ErrInvalid, name, v)
		}
	}
	if hw, err := net.ParseMAC(a.MAC); a.MAC != "" && (err != nil || len(hw) != 6) {
		return a, fmt.Errorf("%w: mac: %q is not a MAC address", ErrInvalid, a.MAC)
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxEdgeBindingsLimit {
			return a, fmt.Errorf("%w: limit: %q is not a number in 1..%d", ErrInvalid, v, maxEdgeBindingsLimit)
		}
		a.Limit = n
	}
	return a, nil
}

// getEdgeDHCPBindings answers GET /api/v1/edges/{serial}/dhcp/bindings:
// the edge's binding table, asked over its tunnel (404 when the edge holds
// no tunnel to this core, 422 when it refuses: DHCP snooping off).
func (s *Server) getEdgeDHCPBindings(c echo.Context) error {
	args, err := edgeDHCPBindingsArgs(c)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return err
	}
	return s.edgeRequest(c, wire.ServiceCommand, EdgeCommandRequest{Command: EdgeCommandDHCPBindings, Args: raw})
}

// graphEdges adapts the tunnel to graph.EdgeCommander, with the errors
// REST maps to 404 and 422 wrapped as GraphQL's NOT_FOUND and INVALID.
type graphEdges struct{ t Tunnel }

var _ graph.EdgeCommander = graphEdges{}

// EdgeCommand runs command on the edge serial over its tunnel, within
// the same time as REST's edge requests.
func (g graphEdges) EdgeCommand(ctx context.Context, serial, command string, args []byte) ([]byte, error) {
	body, err := json.Marshal(EdgeCommandRequest{Command: command, Args: args})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, statusPullTimeout)
	defer cancel()
	ans, err := g.t.Request(ctx, serial, wire.ServiceCommand, body)
	switch {
	case errors.Is(err, tunnelcore.ErrNoTunnel):
		return nil, fmt.Errorf("%w: edge %q holds no tunnel to this core", meta.ErrNotFound, serial)
	case errors.Is(err, tunnelcore.ErrEdge):
		return nil, fmt.Errorf("%w: %v", graph.ErrInvalid, err)
	case err != nil:
		return nil, fmt.Errorf("%w: edge %q: %v", graph.ErrUnavailable, serial, err)
	case !json.Valid(ans):
		return nil, fmt.Errorf("%w: edge %q answered something that is not JSON", graph.ErrUnavailable, serial)
	}
	return ans, nil
}
