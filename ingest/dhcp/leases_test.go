package dhcp

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/schema"
)

const sec = int64(1_000_000) // µs

var (
	macA = schema.MAC{0x02, 0, 0, 0, 0, 0xa}
	macB = schema.MAC{0x02, 0, 0, 0, 0, 0xb}
	ip1  = schema.MustParseAddr("10.0.0.11")
	ip2  = schema.MustParseAddr("10.0.0.12")
	srv  = schema.MustParseAddr("10.0.0.1")
	t0   = int64(1_800_000_000) * sec
)

// ev builds a dhcp_events row: msg type, seconds after t0, MAC, address
// (yiaddr for server messages, ciaddr for RELEASE/INFORM, requested_ip for
// DECLINE), lease time.
func ev(msg string, at int64, mac schema.MAC, addr schema.Addr, lease uint32, opts ...func(*schema.DHCPEvent)) schema.DHCPEvent {
	e := schema.DHCPEvent{Time: t0 + at*sec, MsgType: msg, CHAddr: mac, Op: 1, Device: "eth0", SrcAddr: srv}
	switch msg {
	case schema.DHCPAck, schema.DHCPNak, schema.DHCPOffer:
		e.Op, e.YIAddr, e.ServerID, e.LeaseTime = 2, addr, srv, lease
		if lease != 0 {
			e.RenewalTime, e.RebindTime = lease/2, lease/8*7
		}
		if msg == schema.DHCPNak {
			e.YIAddr = schema.Addr{}
		}
	case schema.DHCPRelease, schema.DHCPInform:
		e.CIAddr = addr
	case schema.DHCPDecline:
		e.RequestedIP = addr
	}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func withID(id string) func(*schema.DHCPEvent)  { return func(e *schema.DHCPEvent) { e.ClientID = id } }
func withXID(x uint32) func(*schema.DHCPEvent)  { return func(e *schema.DHCPEvent) { e.XID = x } }
func withHost(h string) func(*schema.DHCPEvent) { return func(e *schema.DHCPEvent) { e.Hostname = h } }
func rogue(e *schema.DHCPEvent)                 { e.RogueServer = true }
func relayed(e *schema.DHCPEvent) {
	e.GIAddr, e.CircuitID, e.RemoteID = schema.MustParseAddr("10.9.0.1"), "ge-0/0/7", "sw-7"
}

// span is the expected row: start and end in seconds after t0.
func lease(mac schema.MAC, addr schema.Addr, start, lastAck, end int64, renewals uint32, reason string, leaseSecs uint32) schema.DHCPLease {
	r := schema.DHCPLease{
		Time: t0 + start*sec, Edge: "e1", Device: "eth0", Source: schema.LeaseSourceWire, Kind: schema.LeaseKindLease,
		Address: addr, Client: ClientKey("", mac), CHAddr: mac, ServerID: srv, LeaseTime: leaseSecs,
		LastAck: t0 + lastAck*sec, Renewals: renewals, EndTime: t0 + end*sec, EndReason: reason,
	}
	if leaseSecs != 0 {
		r.RenewalTime, r.RebindTime = leaseSecs/2, leaseSecs/8*7
	}
	return r
}

func TestLeaseTracker(t *testing.T) {
	withIDRow := func(r schema.DHCPLease, id string) schema.DHCPLease {
		r.ClientID, r.Client = id, ClientKey(id, r.CHAddr)
		return r
	}
	relayedRow := func(r schema.DHCPLease) schema.DHCPLease {
		r.GIAddr, r.CircuitID, r.RemoteID = schema.MustParseAddr("10.9.0.1"), "ge-0/0/7", "sw-7"
		return r
	}
	hosted := func(r schema.DHCPLease, h string) schema.DHCPLease { r.Hostname = h; return r }
	inform := schema.DHCPLease{Time: t0 + 5*sec, Edge: "e1", Device: "eth0", Source: schema.LeaseSourceWire,
		Kind: schema.LeaseKindInform, Address: ip2, Client: ClientKey("", macB), CHAddr: macB, LastAck: t0 + 5*sec, EndTime: t0 + 5*sec}

	tests := []struct {
		name   string
		events []schema.DHCPEvent
		now    int64 // Advance to t0+now seconds after the events; 0: no Advance
		ended  []schema.DHCPLease
		open   []schema.DHCPLease
		check  func(*testing.T, LeaseCounters)
	}{
		{
			name:   "ACK starts a span, still open",
			events: []schema.DHCPEvent{ev(schema.DHCPDiscover, 0, macA, schema.Addr{}, 0), ev(schema.DHCPOffer, 0, macA, ip1, 3600), ev(schema.DHCPRequest, 1, macA, schema.Addr{}, 0), ev(schema.DHCPAck, 1, macA, ip1, 3600)},
			open:   []schema.DHCPLease{lease(macA, ip1, 1, 1, 3601, 0, schema.LeaseOpen, 3600)},
			check: func(t *testing.T, c LeaseCounters) {
				if c.Started != 1 || c.Ignored != 3 || c.Events != 4 {
					t.Errorf("counters %+v", c)
				}
			},
		},
		{
			name:   "renewals merge into one span",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 100), ev(schema.DHCPAck, 50, macA, ip1, 100), ev(schema.DHCPAck, 100, macA, ip1, 200)},
			open:   []schema.DHCPLease{lease(macA, ip1, 0, 100, 300, 2, schema.LeaseOpen, 200)},
		},
		{
			name: "a relay's copy of the ACK is no renewal and keeps the server side's option 82",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 100, withXID(7), relayed),
				ev(schema.DHCPAck, 0, macA, ip1, 100, withXID(7), func(e *schema.DHCPEvent) { e.GIAddr = schema.MustParseAddr("10.9.0.1") }),
				ev(schema.DHCPAck, 50, macA, ip1, 100, withXID(7))},
			open: []schema.DHCPLease{relayedRow(lease(macA, ip1, 0, 50, 150, 1, schema.LeaseOpen, 100))},
			check: func(t *testing.T, c LeaseCounters) {
				if c.Copies != 1 || c.Renewed != 1 {
					t.Errorf("copies %d renewals %d, want 1 and 1 (the same xid 50 s later is a renewal)", c.Copies, c.Renewed)
				}
			},
		},
		{
			name:   "RELEASE ends the span",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 100), ev(schema.DHCPRelease, 30, macA, ip1, 0)},
			ended:  []schema.DHCPLease{lease(macA, ip1, 0, 0, 30, 0, schema.LeaseReleased, 100)},
		},
		{
			name:   "DECLINE ends the span",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 100), ev(schema.DHCPDecline, 1, macA, ip1, 0)},
			ended:  []schema.DHCPLease{lease(macA, ip1, 0, 0, 1, 0, schema.LeaseDeclined, 100)},
		},
		{
			name:   "NAK ends the span",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 100), ev(schema.DHCPNak, 40, macA, schema.Addr{}, 0)},
			ended:  []schema.DHCPLease{lease(macA, ip1, 0, 0, 40, 0, schema.LeaseNaked, 100)},
		},
		{
			name:   "expiry ends the span at last ACK plus lease time, on the next event",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 100), ev(schema.DHCPAck, 60, macA, ip1, 100), ev(schema.DHCPDiscover, 500, macB, schema.Addr{}, 0)},
			ended:  []schema.DHCPLease{lease(macA, ip1, 0, 60, 160, 1, schema.LeaseExpired, 100)},
		},
		{
			name:   "expiry through Advance with no event",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 100)},
			now:    100,
			ended:  []schema.DHCPLease{lease(macA, ip1, 0, 0, 100, 0, schema.LeaseExpired, 100)},
		},
		{
			name:   "another client's ACK for the address supersedes",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 1000), ev(schema.DHCPAck, 20, macB, ip1, 1000)},
			ended:  []schema.DHCPLease{lease(macA, ip1, 0, 0, 20, 0, schema.LeaseSuperseded, 1000)},
			open:   []schema.DHCPLease{lease(macB, ip1, 20, 20, 1020, 0, schema.LeaseOpen, 1000)},
		},
		{
			name:   "the same client's ACK for another address moves it",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 1000), ev(schema.DHCPAck, 20, macA, ip2, 1000)},
			ended:  []schema.DHCPLease{lease(macA, ip1, 0, 0, 20, 0, schema.LeaseMoved, 1000)},
			open:   []schema.DHCPLease{lease(macA, ip2, 20, 20, 1020, 0, schema.LeaseOpen, 1000)},
		},
		{
			name:   "keyed by client id, not MAC: a new NIC with the same id renews",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 100, withID("01aa")), ev(schema.DHCPAck, 50, macB, ip1, 100, withID("01aa"))},
			open: []schema.DHCPLease{func() schema.DHCPLease {
				r := withIDRow(lease(macA, ip1, 0, 50, 150, 1, schema.LeaseOpen, 100), "01aa")
				return r
			}()},
		},
		{
			name:   "RELEASE without the client id finds the span by MAC",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 100, withID("01aa")), ev(schema.DHCPRelease, 10, macA, ip1, 0)},
			ended:  []schema.DHCPLease{withIDRow(lease(macA, ip1, 0, 0, 10, 0, schema.LeaseReleased, 100), "01aa")},
		},
		{
			name:   "INFORM recorded without a lease",
			events: []schema.DHCPEvent{ev(schema.DHCPInform, 5, macB, ip2, 0), ev(schema.DHCPAck, 5, macB, schema.Addr{}, 0)},
			ended:  []schema.DHCPLease{inform},
			check: func(t *testing.T, c LeaseCounters) {
				if c.Informs != 1 || c.NoAddress != 1 || c.Started != 0 {
					t.Errorf("counters %+v", c)
				}
			},
		},
		{
			name:   "relayed ACK keeps giaddr, circuit id and remote id; a unicast renewal keeps them",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 100, relayed), ev(schema.DHCPAck, 50, macA, ip1, 100)},
			open:   []schema.DHCPLease{relayedRow(lease(macA, ip1, 0, 50, 150, 1, schema.LeaseOpen, 100))},
		},
		{
			name:   "hostname: the last one seen",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 100, withHost("old")), ev(schema.DHCPAck, 50, macA, ip1, 100, withHost("laptop-42")), ev(schema.DHCPAck, 60, macA, ip1, 100)},
			open:   []schema.DHCPLease{hosted(lease(macA, ip1, 0, 60, 160, 2, schema.LeaseOpen, 100), "laptop-42")},
		},
		{
			name:   "a rogue server's ACK and NAK change nothing, and are counted",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 100), ev(schema.DHCPAck, 5, macB, ip1, 100, rogue), ev(schema.DHCPNak, 6, macA, schema.Addr{}, 0, rogue)},
			open:   []schema.DHCPLease{lease(macA, ip1, 0, 0, 100, 0, schema.LeaseOpen, 100)},
			check: func(t *testing.T, c LeaseCounters) {
				if c.Rogue != 2 {
					t.Errorf("rogue = %d, want 2", c.Rogue)
				}
			},
		},
		{
			name:   "RELEASE of an unknown client is counted, not a span",
			events: []schema.DHCPEvent{ev(schema.DHCPRelease, 0, macA, ip1, 0)},
			check: func(t *testing.T, c LeaseCounters) {
				if c.Unmatched != 1 {
					t.Errorf("unmatched = %d, want 1", c.Unmatched)
				}
			},
		},
		{
			name:   "an event older than the last is counted and left out",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 10, macA, ip1, 100), ev(schema.DHCPRelease, 5, macA, ip1, 0)},
			open:   []schema.DHCPLease{lease(macA, ip1, 10, 10, 110, 0, schema.LeaseOpen, 100)},
			check: func(t *testing.T, c LeaseCounters) {
				if c.OutOfOrder != 1 {
					t.Errorf("out of order = %d, want 1", c.OutOfOrder)
				}
			},
		},
		{
			name:   "an infinite lease is open until forever",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 0xffffffff)},
			now:    1 << 30,
			open: []schema.DHCPLease{func() schema.DHCPLease {
				r := lease(macA, ip1, 0, 0, 0, 0, schema.LeaseOpen, 0xffffffff)
				r.EndTime = Forever
				return r
			}()},
		},
		{
			name: "a span renewed after a RELEASE of an older span is not expired by the stale entry",
			events: []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 100), ev(schema.DHCPRelease, 10, macA, ip1, 0),
				ev(schema.DHCPAck, 20, macA, ip1, 1000)},
			now:   200,
			ended: []schema.DHCPLease{lease(macA, ip1, 0, 0, 10, 0, schema.LeaseReleased, 100)},
			open:  []schema.DHCPLease{lease(macA, ip1, 20, 20, 1020, 0, schema.LeaseOpen, 1000)},
		},
		{
			name: "DHCPv6 REPLY starts, RELEASE ends",
			events: []schema.DHCPEvent{
				{Time: t0, DHCPv6: true, MsgType: "REPLY", Op: 2, ClientID: "000300010200000000aa", CHAddr: macA, YIAddr: schema.MustParseAddr("2001:db8::11"), LeaseTime: 100, SrcAddr: schema.MustParseAddr("fe80::1"), Device: "eth0"},
				{Time: t0 + 9*sec, DHCPv6: true, MsgType: "RELEASE", Op: 1, ClientID: "000300010200000000aa", CHAddr: macA, Device: "eth0"},
			},
			ended: []schema.DHCPLease{{Time: t0, Edge: "e1", Device: "eth0", Source: schema.LeaseSourceWire, Kind: schema.LeaseKindLease, DHCPv6: true,
				Address: schema.MustParseAddr("2001:db8::11"), Client: "id:000300010200000000aa", ClientID: "000300010200000000aa", CHAddr: macA,
				ServerID: schema.MustParseAddr("fe80::1"), LeaseTime: 100, LastAck: t0, EndTime: t0 + 9*sec, EndReason: schema.LeaseReleased}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewLeaseTracker(schema.LeaseSourceWire, "e1")
			var got []schema.DHCPLease
			for i := range tc.events {
				got = tr.Observe(&tc.events[i], got)
			}
			if tc.now != 0 {
				got = tr.Advance(t0+tc.now*sec, got)
			}
			if diff := cmp.Diff(tc.ended, got); diff != "" {
				t.Errorf("ended rows (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.open, nilIfEmpty(tr.Open())); diff != "" {
				t.Errorf("open rows (-want +got):\n%s", diff)
			}
			if tr.Len() != len(tc.open) {
				t.Errorf("Len() = %d, want %d", tr.Len(), len(tc.open))
			}
			if tc.check != nil {
				tc.check(t, tr.Counters)
			}
		})
	}
}

func nilIfEmpty(rows []schema.DHCPLease) []schema.DHCPLease {
	if len(rows) == 0 {
		return nil
	}
	return rows
}

// TestLeaseTrackerResume carries the open spans over a restart: the
// renewal after it extends the span instead of starting a second one.
func TestLeaseTrackerResume(t *testing.T) {
	a := NewLeaseTracker(schema.LeaseSourceWire, "e1")
	e := ev(schema.DHCPAck, 0, macA, ip1, 100)
	a.Observe(&e, nil)
	b := NewLeaseTracker(schema.LeaseSourceWire, "e1")
	if n := b.Resume(append(a.Open(), lease(macB, ip2, 0, 0, 5, 0, schema.LeaseReleased, 100))); n != 1 {
		t.Fatalf("resumed %d spans, want 1 (the RELEASE row is not open)", n)
	}
	r := ev(schema.DHCPAck, 50, macA, ip1, 100)
	if out := b.Observe(&r, nil); len(out) != 0 {
		t.Fatalf("a renewal after resume ended %v", out)
	}
	want := []schema.DHCPLease{lease(macA, ip1, 0, 50, 150, 1, schema.LeaseOpen, 100)}
	if diff := cmp.Diff(want, b.Open()); diff != "" {
		t.Errorf("open rows after resume (-want +got):\n%s", diff)
	}
}

// TestLeaseTrackerChanged: Changed returns each open span started or
// renewed since the last call, once; a span that ended in between is not
// among them (its ended row came from Observe), an untouched one neither.
func TestLeaseTrackerChanged(t *testing.T) {
	tr := NewLeaseTracker(schema.LeaseSourceWire, "e1")
	feed := func(evs ...schema.DHCPEvent) {
		for i := range evs {
			tr.Observe(&evs[i], nil)
		}
	}
	keys := func(rows []schema.DHCPLease) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r.Client+"@"+r.Address.String()+"/"+r.EndReason)
		}
		return out
	}
	steps := []struct {
		name string
		evs  []schema.DHCPEvent
		want []string
	}{
		{"two starts", []schema.DHCPEvent{ev(schema.DHCPAck, 0, macA, ip1, 100), ev(schema.DHCPAck, 1, macB, ip2, 100)},
			[]string{"mac:02:00:00:00:00:0a@10.0.0.11/OPEN", "mac:02:00:00:00:00:0b@10.0.0.12/OPEN"}},
		{"nothing new", nil, nil},
		{"A renews", []schema.DHCPEvent{ev(schema.DHCPAck, 10, macA, ip1, 100)}, []string{"mac:02:00:00:00:00:0a@10.0.0.11/OPEN"}},
		{"B renews then releases", []schema.DHCPEvent{ev(schema.DHCPAck, 20, macB, ip2, 100), ev(schema.DHCPRelease, 21, macB, ip2, 0)}, nil},
	}
	for _, st := range steps {
		feed(st.evs...)
		if diff := cmp.Diff(st.want, keys(tr.Changed())); diff != "" {
			t.Errorf("%s: Changed (-want +got):\n%s", st.name, diff)
		}
	}
}
