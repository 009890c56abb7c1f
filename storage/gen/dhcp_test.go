package gen

import (
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
)

func TestDHCPLifecycles(t *testing.T) {
	c := collect(t, testConfig(7*24, 0.01))
	type key struct {
		mac schema.MAC
		xid uint32
	}
	seen := map[key]map[string]int64{} // message type → first time
	types := map[string]int{}
	var rogue, relayed, opt253, renewals, rebinds int
	for i := range c.DHCPRows {
		e := &c.DHCPRows[i]
		types[e.MsgType]++
		k := key{e.CHAddr, e.XID}
		if seen[k] == nil {
			seen[k] = map[string]int64{}
		}
		if _, ok := seen[k][e.MsgType]; !ok || e.Time < seen[k][e.MsgType] {
			seen[k][e.MsgType] = e.Time
		}
		if e.RogueServer {
			rogue++
			if e.Trusted || e.Op != 2 {
				t.Errorf("rogue message %s on a trusted port or not a reply", e.MsgType)
			}
		}
		if !e.GIAddr.IsZero() {
			relayed++
			if e.Hops != 1 || e.CircuitID == "" || e.RemoteID == "" {
				t.Fatalf("relayed %s without hops=1 and option 82: %+v", e.MsgType, e)
			}
		} else if e.CircuitID != "" {
			t.Fatalf("option 82 on a message that no relay forwarded: %+v", e)
		}
		if e.Option253 != "" {
			opt253++
		}
		if e.MsgType == schema.DHCPRequest && !e.CIAddr.IsZero() {
			if e.DstAddr == broadcast4 {
				rebinds++
			} else {
				renewals++
			}
		}
		// Options only on the messages that carry them.
		switch e.MsgType {
		case schema.DHCPOffer, schema.DHCPAck:
			if e.ServerID.IsZero() || (e.LeaseTime == 0) != (e.CIAddr != e.YIAddr && e.YIAddr.IsZero()) {
				t.Fatalf("%s without server id or with an inconsistent lease: %+v", e.MsgType, e)
			}
		case schema.DHCPDiscover:
			if !e.ServerID.IsZero() || e.LeaseTime != 0 || e.ParamList == "" {
				t.Fatalf("DISCOVER with server options or without a parameter list: %+v", e)
			}
		case schema.DHCPDecline:
			if e.RequestedIP.IsZero() || e.ServerID.IsZero() {
				t.Fatalf("DECLINE without requested IP or server id: %+v", e)
			}
		case schema.DHCPRelease:
			if e.CIAddr.IsZero() {
				t.Fatalf("RELEASE without ciaddr: %+v", e)
			}
		}
	}
	// Every ACK of a REQUEST in SELECTING state (server id set) follows a
	// DISCOVER and an OFFER of the same xid and client.
	newLeases := 0
	for i := range c.DHCPRows {
		e := &c.DHCPRows[i]
		if e.MsgType != schema.DHCPRequest || e.ServerID.IsZero() {
			continue
		}
		m := seen[key{e.CHAddr, e.XID}]
		ack, ok := m[schema.DHCPAck]
		if !ok {
			continue // cut by the end of the range
		}
		newLeases++
		d, okD := m[schema.DHCPDiscover]
		o, okO := m[schema.DHCPOffer]
		if !okD || !okO || d > o || o > e.Time || e.Time > ack {
			t.Fatalf("new lease of %s xid %x: DISCOVER %v OFFER %v REQUEST %d ACK %d out of order", e.CHAddr, e.XID, d, o, e.Time, ack)
		}
	}
	for _, typ := range []string{"DISCOVER", "OFFER", "REQUEST", "ACK", "NAK", "DECLINE", "RELEASE", "INFORM"} {
		if types[typ] == 0 {
			t.Errorf("no %s in a week (%v)", typ, types)
		}
	}
	for _, tc := range []struct {
		name string
		n    int
	}{{"new leases", newLeases}, {"renewals", renewals}, {"rebinds", rebinds}, {"relayed", relayed}, {"option 253", opt253}, {"rogue server replies", rogue}} {
		if tc.n == 0 {
			t.Errorf("no %s in a week at defaults", tc.name)
		}
	}
	t.Logf("%v; %d new leases, %d renewals, %d rebinds, %d rogue", types, newLeases, renewals, rebinds, rogue)
}
