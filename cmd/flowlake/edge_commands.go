package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/flowlake/flowlake/edge"
)

// edgeCommand answers the remote commands the core sends `flowlake edge`
// over its tunnel beyond the tunnel's own (state, reconnect):
// dhcp-bindings answers the DHCP binding table (args an
// edge.DHCPBindingsQuery, answer an edge.DHCPBindingsAnswer), which the
// core serves as GET /api/v1/edges/{serial}/dhcp/bindings and GraphQL's
// edgeDhcpBindings.
func edgeCommand(e *edge.Edge) func(ctx context.Context, name string, args json.RawMessage) ([]byte, error) {
	return func(_ context.Context, name string, args json.RawMessage) ([]byte, error) {
		switch name {
		case edge.CommandDHCPBindings:
			var q edge.DHCPBindingsQuery
			if len(bytes.TrimSpace(args)) > 0 && !bytes.Equal(bytes.TrimSpace(args), []byte("null")) {
				dec := json.NewDecoder(bytes.NewReader(args))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&q); err != nil {
					return nil, fmt.Errorf("%s: args: %w", name, err)
				}
			}
			ans, err := e.QueryDHCPBindings(q)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return json.Marshal(ans)
		}
		return nil, fmt.Errorf("unknown command %q (this edge runs: state, reconnect, %s)", name, edge.CommandDHCPBindings)
	}
}
