package dhcp

import (
	"cmp"
	"container/heap"
	"slices"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// Forever is the end_time of an OPEN span whose lease never expires
// (lease time 0xffffffff, or an ACK without option 51): 9999-12-31
// 23:59:59 UTC, a time every tool can print.
var Forever = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).UnixMicro()

// infiniteLease is option 51's "infinity" (RFC 2131 §3.3).
const infiniteLease = 0xffffffff

// LeaseCounters count what a LeaseTracker did with the events it was fed,
// so that nothing it leaves out goes uncounted.
type LeaseCounters struct {
	// Events fed to Observe.
	Events uint64
	// Started spans (the first ACK of a binding).
	Started uint64
	// Renewed: ACKs merged into an open span of the same binding.
	Renewed uint64
	// Copies: relayed ACKs of the same transaction as a span's last one,
	// moments later (the relay's copy to the client): merged without
	// counting a renewal.
	Copies uint64
	// Ended spans, by end reason (schema.LeaseReleased …).
	Ended map[string]uint64
	// Informs recorded (kind inform).
	Informs uint64
	// OutOfOrder: events older than the newest one already fed; left out.
	OutOfOrder uint64
	// Unmatched: RELEASE, DECLINE or NAK for a client with no open span.
	Unmatched uint64
	// Rogue: ACKs flagged rogue_server, never applied to the history.
	Rogue uint64
	// NoAddress: ACKs without an assigned address (replies to INFORM, v6
	// replies without IA_NA): no lease to start.
	NoAddress uint64
	// Ignored: every other message (DISCOVER, OFFER, REQUEST, …): they
	// start no span and end none.
	Ignored uint64
}

// LeaseTracker turns dhcp_events rows, fed in time order, into dhcp_leases
// spans: per client (client id, else MAC) an ACK starts a span or extends
// the open one for the same address (renewals merge into one span); a
// RELEASE, DECLINE or NAK, the lease running out, another client's ACK for
// the same address, or the same client's ACK for another address ends it.
// A client's INFORM is recorded as a row of kind inform, without a lease.
//
// It is a pure state machine: no goroutines, no clock (time is the
// events'), not safe for concurrent use. The edge feeds it from capture,
// `flowlake dhcp import` from server lease files. Spans still open are
// read with Open (written as OPEN rows) and carried over a restart with
// Resume.
type LeaseTracker struct {
	source, edge string
	open         map[string]*span // by client key
	byAddr       map[schema.Addr]string
	byMAC        map[schema.MAC]string // the last span's key of a MAC, for messages without the client id
	expiry       expiryHeap
	last         int64
	seq          uint64              // stamps every expiry entry; a span keeps its latest
	changed      map[string]struct{} // open spans started or renewed since the last Changed
	// Counters count every event by what it did.
	Counters LeaseCounters
}

type span struct {
	row schema.DHCPLease
	gen uint64 // the tracker's seq at the last change of row.EndTime; stale heap entries are skipped
	xid uint32 // transaction id of the last ACK merged, to know a copy of it
}

// copyWindow is how close to the last ACK of a span a relayed ACK of the
// same transaction is a copy of it (the relay's copy to the client)
// rather than a renewal.
const copyWindow = 2 * time.Second

// NewLeaseTracker returns an empty tracker whose rows carry source
// (schema.LeaseSourceWire, …) and edge.
func NewLeaseTracker(source, edge string) *LeaseTracker {
	return &LeaseTracker{
		source: source, edge: edge,
		open: map[string]*span{}, byAddr: map[schema.Addr]string{}, byMAC: map[schema.MAC]string{},
		changed:  map[string]struct{}{},
		Counters: LeaseCounters{Ended: map[string]uint64{}},
	}
}

// ClientKey is the key of a client's bindings in dhcp_leases.client:
// "id:<hex>" when the message carries a client identifier (a DUID for
// DHCPv6), else "mac:<chaddr>".
func ClientKey(clientID string, chaddr schema.MAC) string {
	if clientID != "" {
		return "id:" + clientID
	}
	return "mac:" + chaddr.String()
}

// Observe feeds one event and appends to out the rows it completes: spans
// it ended (and the spans that expired before it) and INFORM rows. Events
// must come in time order; an older one is counted in OutOfOrder and left
// out.
func (t *LeaseTracker) Observe(ev *schema.DHCPEvent, out []schema.DHCPLease) []schema.DHCPLease {
	t.Counters.Events++
	if ev.Time < t.last {
		t.Counters.OutOfOrder++
		return out
	}
	out = t.Advance(ev.Time, out)
	key := ClientKey(ev.ClientID, ev.CHAddr)
	switch ev.MsgType {
	case schema.DHCPAck, "REPLY":
		if ev.DHCPv6 != (ev.MsgType == "REPLY") {
			t.Counters.Ignored++
			return out
		}
		return t.ack(ev, key, out)
	case schema.DHCPRelease, schema.DHCPDecline, schema.DHCPNak:
		return t.end(ev, key, ev.MsgType, out)
	case schema.DHCPInform:
		if ev.DHCPv6 || ev.CIAddr.IsZero() {
			t.Counters.Ignored++
			return out
		}
		t.Counters.Informs++
		row := t.newRow(ev, key)
		row.Kind = schema.LeaseKindInform
		row.Address = ev.CIAddr
		row.EndTime = ev.Time
		return append(out, row)
	}
	t.Counters.Ignored++
	return out
}

// Advance ends the spans whose lease ran out at or before now (µs) and
// appends them, EXPIRED at their expiry, in expiry order. Call it with the
// current time when no event comes (a quiet network still expires leases).
func (t *LeaseTracker) Advance(now int64, out []schema.DHCPLease) []schema.DHCPLease {
	t.last = max(t.last, now)
	for len(t.expiry) > 0 && t.expiry[0].at <= now {
		e := heap.Pop(&t.expiry).(expiryEntry)
		s, ok := t.open[e.key]
		if !ok || s.gen != e.gen {
			continue // ended or renewed since
		}
		out = t.close(e.key, s, e.at, schema.LeaseExpired, out)
	}
	return out
}

// Open returns the spans still held, as OPEN rows (end_time the promised
// expiry), ordered by start then client: what a writer stores at the end
// of a batch and a restarted tracker gets back through Resume.
func (t *LeaseTracker) Open() []schema.DHCPLease {
	rows := make([]schema.DHCPLease, 0, len(t.open))
	for _, s := range t.open {
		rows = append(rows, s.row)
	}
	slices.SortFunc(rows, func(a, b schema.DHCPLease) int {
		return cmp.Or(cmp.Compare(a.Time, b.Time), cmp.Compare(a.Client, b.Client))
	})
	return rows
}

// Changed returns the open spans started or renewed since the last call
// (or since the tracker was made), as OPEN rows ordered like Open, and
// forgets them: what a writer that keeps running (the edge) stores at the
// end of each batch, so a span is written again only when it changed. A
// span that ended in between is not among them: Observe and Advance
// returned its ended row.
func (t *LeaseTracker) Changed() []schema.DHCPLease {
	rows := make([]schema.DHCPLease, 0, len(t.changed))
	for k := range t.changed {
		if s, ok := t.open[k]; ok {
			rows = append(rows, s.row)
		}
	}
	clear(t.changed)
	slices.SortFunc(rows, func(a, b schema.DHCPLease) int {
		return cmp.Or(cmp.Compare(a.Time, b.Time), cmp.Compare(a.Client, b.Client))
	})
	return rows
}

// Len is the number of open spans (the binding table's size).
func (t *LeaseTracker) Len() int { return len(t.open) }

// Resume puts OPEN rows (from Open, before a restart) back as open spans,
// so renewals after the restart extend them rather than start new spans.
// Rows of another kind or end reason are skipped; a row for a client or
// address already open replaces nothing and is skipped too. It returns how
// many spans it resumed.
func (t *LeaseTracker) Resume(rows []schema.DHCPLease) int {
	n := 0
	for _, r := range rows {
		if r.Kind != schema.LeaseKindLease || r.EndReason != schema.LeaseOpen {
			continue
		}
		if _, ok := t.open[r.Client]; ok {
			continue
		}
		if _, ok := t.byAddr[r.Address]; ok {
			continue
		}
		t.add(r)
		n++
	}
	return n
}

func (t *LeaseTracker) newRow(ev *schema.DHCPEvent, key string) schema.DHCPLease {
	row := schema.DHCPLease{
		Time: ev.Time, Edge: t.edge, Device: ev.Device, Source: t.source, Kind: schema.LeaseKindLease,
		DHCPv6: ev.DHCPv6, Client: key, ClientID: ev.ClientID, CHAddr: ev.CHAddr, LastAck: ev.Time,
		GIAddr: ev.GIAddr, CircuitID: ev.CircuitID, RemoteID: ev.RemoteID, Interface: ev.Interface, VLAN: ev.VLAN,
	}
	row.Hostname = hostOf(ev)
	row.ServerID = ev.ServerID
	if row.ServerID.IsZero() && ev.Op == 2 {
		row.ServerID = ev.SrcAddr
	}
	return row
}

func hostOf(ev *schema.DHCPEvent) string {
	if ev.Hostname != "" {
		return ev.Hostname
	}
	return ev.ClientFQDN
}

// lookup finds the open span of a message's client: by its key, else (a
// message without the client id the binding was made with) by its MAC.
func (t *LeaseTracker) lookup(ev *schema.DHCPEvent, key string) (string, *span) {
	if s, ok := t.open[key]; ok {
		return key, s
	}
	if ev.CHAddr.IsZero() {
		if ev.ClientID != "" {
			return "", nil
		}
		// No identity at all (a server's record of a declined address):
		// the span that holds the address.
		for _, a := range [...]schema.Addr{ev.CIAddr, ev.RequestedIP} {
			if k, ok := t.byAddr[a]; ok && !a.IsZero() {
				return k, t.open[k]
			}
		}
		return "", nil
	}
	if k, ok := t.byMAC[ev.CHAddr]; ok {
		if s, ok := t.open[k]; ok && s.row.CHAddr == ev.CHAddr {
			return k, s
		}
	}
	return "", nil
}

func (t *LeaseTracker) ack(ev *schema.DHCPEvent, key string, out []schema.DHCPLease) []schema.DHCPLease {
	if ev.RogueServer {
		t.Counters.Rogue++
		return out
	}
	if ev.YIAddr.IsZero() {
		t.Counters.NoAddress++
		return out
	}
	if k, s := t.lookup(ev, key); s != nil {
		if s.row.Address == ev.YIAddr {
			if t.isCopy(s, ev) {
				t.copyOf(s, ev)
				return out
			}
			t.renew(k, s, ev)
			return out
		}
		out = t.close(k, s, ev.Time, schema.LeaseMoved, out)
	}
	if k, ok := t.byAddr[ev.YIAddr]; ok {
		out = t.close(k, t.open[k], ev.Time, schema.LeaseSuperseded, out)
	}
	row := t.newRow(ev, key)
	row.Address = ev.YIAddr
	row.LeaseTime, row.RenewalTime, row.RebindTime = ev.LeaseTime, ev.RenewalTime, ev.RebindTime
	row.EndTime = expiryOf(ev.Time, ev.LeaseTime)
	row.EndReason = schema.LeaseOpen
	t.Counters.Started++
	t.add(row)
	t.open[key].xid = ev.XID
	t.changed[key] = struct{}{}
	return out
}

// expiryOf is the end a lease of secs seconds granted at at promises.
func expiryOf(at int64, secs uint32) int64 {
	if secs == 0 || secs == infiniteLease {
		return Forever
	}
	return min(at+int64(secs)*int64(time.Second/time.Microsecond), Forever)
}

// isCopy tells a relayed ACK's second copy (the server's ACK to the
// relay, then the relay's to the client, both with giaddr) from a
// renewal: the same transaction, the same relay, within copyWindow. An
// unrelayed renewal never is one, even with the transaction id reused
// (busybox udhcpc renews with it).
func (t *LeaseTracker) isCopy(s *span, ev *schema.DHCPEvent) bool {
	return ev.XID == s.xid && !ev.GIAddr.IsZero() && (s.row.GIAddr.IsZero() || ev.GIAddr == s.row.GIAddr) &&
		ev.Time-s.row.LastAck < int64(copyWindow/time.Microsecond)
}

// copyOf merges a copy of the span's last ACK (the same transaction seen
// again moments later): not a renewal; it fills only what the first copy
// lacked (a relay strips option 82 from the copy it forwards to the
// client, so whichever copy carries it provides it).
func (t *LeaseTracker) copyOf(s *span, ev *schema.DHCPEvent) {
	t.Counters.Copies++
	r := &s.row
	if r.GIAddr.IsZero() {
		r.GIAddr = ev.GIAddr
	}
	if r.CircuitID == "" {
		r.CircuitID = ev.CircuitID
	}
	if r.RemoteID == "" {
		r.RemoteID = ev.RemoteID
	}
	if r.Hostname == "" {
		r.Hostname = hostOf(ev)
	}
}

func (t *LeaseTracker) renew(key string, s *span, ev *schema.DHCPEvent) {
	t.Counters.Renewed++
	s.xid = ev.XID
	r := &s.row
	r.LastAck = ev.Time
	r.Renewals++
	r.LeaseTime, r.RenewalTime, r.RebindTime = ev.LeaseTime, ev.RenewalTime, ev.RebindTime
	if h := hostOf(ev); h != "" {
		r.Hostname = h
	}
	if r.ClientID == "" {
		r.ClientID = ev.ClientID
	}
	if !ev.GIAddr.IsZero() { // a renewal goes unicast to the server: the relay fields of the first ACK stay
		r.GIAddr, r.CircuitID, r.RemoteID = ev.GIAddr, ev.CircuitID, ev.RemoteID
	}
	if !ev.ServerID.IsZero() {
		r.ServerID = ev.ServerID
	}
	r.EndTime = expiryOf(ev.Time, ev.LeaseTime)
	t.push(key, s)
	t.changed[key] = struct{}{}
}

func (t *LeaseTracker) end(ev *schema.DHCPEvent, key, reason string, out []schema.DHCPLease) []schema.DHCPLease {
	if reason == schema.DHCPNak && ev.RogueServer {
		t.Counters.Rogue++
		return out
	}
	k, s := t.lookup(ev, key)
	if s == nil {
		t.Counters.Unmatched++
		return out
	}
	return t.close(k, s, ev.Time, reason, out)
}

func (t *LeaseTracker) add(row schema.DHCPLease) {
	s := &span{row: row}
	t.open[row.Client] = s
	t.byAddr[row.Address] = row.Client
	if !row.CHAddr.IsZero() {
		t.byMAC[row.CHAddr] = row.Client
	}
	t.push(row.Client, s)
}

func (t *LeaseTracker) push(key string, s *span) {
	t.seq++
	s.gen = t.seq
	if s.row.EndTime < Forever {
		heap.Push(&t.expiry, expiryEntry{at: s.row.EndTime, key: key, gen: s.gen})
	}
}

// close ends the open span of key at at for reason and appends it.
func (t *LeaseTracker) close(key string, s *span, at int64, reason string, out []schema.DHCPLease) []schema.DHCPLease {
	delete(t.open, key)
	delete(t.changed, key)
	if t.byAddr[s.row.Address] == key {
		delete(t.byAddr, s.row.Address)
	}
	if t.byMAC[s.row.CHAddr] == key {
		delete(t.byMAC, s.row.CHAddr)
	}
	row := s.row
	row.EndTime = min(at, row.EndTime)
	row.EndReason = reason
	t.Counters.Ended[reason]++
	return append(out, row)
}

type expiryEntry struct {
	at  int64
	key string
	gen uint64
}

// expiryHeap orders open spans by promised expiry (container/heap).
type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
