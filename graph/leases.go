package graph

import (
	"github.com/flowlake/flowlake/graph/model"
	"github.com/flowlake/flowlake/storage/schema"
)

// leaseSpan converts a dhcp_leases row to its GraphQL type; absent values
// are null.
func leaseSpan(r schema.DHCPLease) *model.LeaseSpan {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	s := &model.LeaseSpan{
		Start: schema.FromMicros(r.Time), End: schema.FromMicros(r.EndTime), EndReason: r.EndReason, Kind: r.Kind,
		Address: r.Address.String(), Client: r.Client, Mac: opt(r.CHAddr.String()), ClientID: opt(r.ClientID),
		Hostname: opt(r.Hostname), Server: opt(r.ServerID.String()), Relay: opt(r.GIAddr.String()),
		CircuitID: opt(r.CircuitID), RemoteID: opt(r.RemoteID), LastAck: schema.FromMicros(r.LastAck),
		Renewals: int64(r.Renewals), Source: r.Source, Device: r.Device,
	}
	if r.LeaseTime != 0 {
		lt := int64(r.LeaseTime)
		s.LeaseTime = &lt
	}
	return s
}
