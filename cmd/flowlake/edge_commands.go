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
// edgeDhcpBindings; flush-spool ships the spool now (no args, answer an
// edge.FlushAnswer); restart-receiver rebinds the flow listeners, or the
// ones its args (an edge.RestartQuery: kind, addr) name (answer an
// edge.RestartAnswer). Arguments with unknown fields are refused.
func edgeCommand(e *edge.Edge) func(ctx context.Context, name string, args json.RawMessage) ([]byte, error) {
	return func(ctx context.Context, name string, args json.RawMessage) ([]byte, error) {
		var ans any
		var err error
		switch name {
		case edge.CommandDHCPBindings:
			var q edge.DHCPBindingsQuery
			if err := decodeCommandArgs(name, args, &q); err != nil {
				return nil, err
			}
			ans, err = e.QueryDHCPBindings(q)
		case edge.CommandFlushSpool:
			var q struct{}
			if err := decodeCommandArgs(name, args, &q); err != nil {
				return nil, err
			}
			ans, err = e.FlushSpool(ctx)
		case edge.CommandRestartReceiver:
			var q edge.RestartQuery
			if err := decodeCommandArgs(name, args, &q); err != nil {
				return nil, err
			}
			ans, err = e.RestartReceivers(ctx, q)
		default:
			return nil, fmt.Errorf("unknown command %q (this edge runs: state, reconnect, %s, %s, %s)", name,
				edge.CommandDHCPBindings, edge.CommandFlushSpool, edge.CommandRestartReceiver)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return json.Marshal(ans)
	}
}

// decodeCommandArgs decodes a remote command's JSON arguments into v;
// absent or null arguments leave v as it is.
func decodeCommandArgs(name string, args json.RawMessage, v any) error {
	if len(bytes.TrimSpace(args)) == 0 || bytes.Equal(bytes.TrimSpace(args), []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: args: %w", name, err)
	}
	return nil
}
