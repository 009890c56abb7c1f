package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flowlake/flowlake/graph/model"
)

// EdgeCommander runs a remote command on an edge over its management
// tunnel and returns the edge's JSON answer. The server adapts its tunnel
// end to it (graph does not import the tunnel): an edge without a tunnel
// here is an error wrapping meta.ErrNotFound, an edge's refusal one
// wrapping ErrInvalid, no tunnel at all one wrapping ErrUnavailable.
type EdgeCommander interface {
	EdgeCommand(ctx context.Context, serial, command string, args []byte) ([]byte, error)
}

// edgeDHCPBindingsCommand is the edge's remote command answering its
// binding table (edge.CommandDHCPBindings).
const edgeDHCPBindingsCommand = "dhcp-bindings"

// maxEdgeBindingsLimit is the largest page an edge answers;
// defaultEdgeBindingsLimit the page it answers without a limit.
const (
	maxEdgeBindingsLimit     = 2000
	defaultEdgeBindingsLimit = 500
)

// edgeBindingsArgs are the command's arguments (edge.DHCPBindingsQuery).
type edgeBindingsArgs struct {
	IP    string `json:"ip,omitempty"`
	MAC   string `json:"mac,omitempty"`
	After string `json:"after,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// edgeBindingsAnswer is the command's answer (edge.DHCPBindingsAnswer).
type edgeBindingsAnswer struct {
	Bindings []struct {
		Client    string    `json:"client"`
		MAC       string    `json:"mac"`
		ClientID  string    `json:"client_id"`
		IP        string    `json:"ip"`
		Hostname  string    `json:"hostname"`
		Server    string    `json:"server"`
		Interface string    `json:"interface"`
		VLAN      uint16    `json:"vlan"`
		GIAddr    string    `json:"giaddr"`
		CircuitID string    `json:"circuit_id"`
		RemoteID  string    `json:"remote_id"`
		DHCPv6    bool      `json:"dhcpv6"`
		Start     time.Time `json:"start"`
		Renewed   time.Time `json:"renewed"`
		Expires   time.Time `json:"expires"`
		LeaseTime uint32    `json:"lease_time"`
	} `json:"bindings"`
	Total int    `json:"total"`
	Next  string `json:"next"`
}

// edgeDHCPBindings asks the edge serial for its binding table.
func (r *Resolver) edgeDHCPBindings(ctx context.Context, serial string, args edgeBindingsArgs) (*model.EdgeDhcpBindings, error) {
	if r.deps.Edges == nil {
		return nil, fmt.Errorf("%w: this core runs no tunnel", ErrUnavailable)
	}
	if args.Limit < 0 || args.Limit > maxEdgeBindingsLimit {
		return nil, fmt.Errorf("%w: limit %d is outside 1..%d", ErrInvalid, args.Limit, maxEdgeBindingsLimit)
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	body, err := r.deps.Edges.EdgeCommand(ctx, serial, edgeDHCPBindingsCommand, raw)
	if err != nil {
		return nil, err
	}
	var ans edgeBindingsAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("edge %s answered a binding table that does not decode: %w", serial, err)
	}
	out := &model.EdgeDhcpBindings{Bindings: make([]*model.EdgeDhcpBinding, 0, len(ans.Bindings)), Total: ans.Total, Next: nonEmpty(ans.Next)}
	for _, b := range ans.Bindings {
		out.Bindings = append(out.Bindings, &model.EdgeDhcpBinding{
			Client: b.Client, Mac: nonEmpty(b.MAC), ClientID: nonEmpty(b.ClientID), IP: b.IP, Hostname: nonEmpty(b.Hostname),
			Server: nonEmpty(b.Server), Interface: nonEmpty(b.Interface), Vlan: int(b.VLAN), Relay: nonEmpty(b.GIAddr),
			CircuitID: nonEmpty(b.CircuitID), RemoteID: nonEmpty(b.RemoteID), Dhcpv6: b.DHCPv6,
			Start: b.Start, Renewed: b.Renewed, Expires: b.Expires, LeaseTime: int64(b.LeaseTime),
		})
	}
	return out, nil
}

// nonEmpty is nil for "", else a pointer to s.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
