package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flowlake/flowlake/edge/capture"
	"github.com/flowlake/flowlake/ingest/dhcp"
)

// DHCPBindingsPath is where `flowlake edge` serves the DHCP binding table
// as JSON (a list of Binding).
const DHCPBindingsPath = "/dhcp/bindings"

// DHCPStatus is the state of DHCP snooping in Status.
type DHCPStatus struct {
	// Capture holds each interface's (or the replayed file's) frames and
	// kernel counters; KernelDrops sums the kernel's drops.
	Capture     []capture.Stats `json:"capture"`
	KernelDrops uint64          `json:"kernel_drops"`
	// Replay is the replayed file, and ReplayDone whether it was read to
	// its end.
	Replay     string `json:"replay,omitempty"`
	ReplayDone bool   `json:"replay_done,omitempty"`
	Frames     uint64 `json:"frames"`
	NotDHCP    uint64 `json:"not_dhcp"`
	QueueDrops uint64 `json:"queue_drops"`
	Decoded    uint64 `json:"decoded"`
	// Rejected counts malformed messages by reason; each is in
	// QuarantineFile unless counted in QuarantineLost.
	Rejected         map[string]uint64 `json:"rejected"`
	Quarantined      uint64            `json:"quarantined"`
	QuarantineLost   uint64            `json:"quarantine_lost"`
	QuarantineFile   string            `json:"quarantine_file,omitempty"`
	RowsWritten      uint64            `json:"rows_written"`
	RowsLost         uint64            `json:"rows_lost"`
	OffersNotTracked uint64            `json:"offers_not_tracked"`
	// LeaseRowsWritten and LeaseRowsLost count the dhcp_leases rows (the
	// lease history) written and lost; LeaseOutOfOrder the events it left
	// out as older than one already taken.
	LeaseRowsWritten uint64 `json:"lease_rows_written"`
	LeaseRowsLost    uint64 `json:"lease_rows_lost"`
	LeaseOutOfOrder  uint64 `json:"lease_out_of_order"`
	// Bindings is the size of the binding table, BindingsFile where it is
	// kept, BindingsEnded the bindings ended by reason (release, decline,
	// nak, expiry, moved).
	Bindings          int               `json:"bindings"`
	BindingsFile      string            `json:"bindings_file,omitempty"`
	BindingsEnded     map[string]uint64 `json:"bindings_ended"`
	BindingSaveErrors uint64            `json:"binding_save_errors"`
	// Signals are the rate signals per interface and the pools' use;
	// SignalsRaised counts the signals raised by name since the start.
	Signals       []DHCPSignalState `json:"signals"`
	SignalsRaised map[string]uint64 `json:"signals_raised"`
}

// dhcpStatus returns the DHCP part of Status.
func (d *dhcpSnoop) status() *DHCPStatus {
	st := &DHCPStatus{
		Capture: d.cap.Stats(), Replay: d.cfg.Pcap,
		Frames: d.stats.Frames.Load(), NotDHCP: d.stats.NotDHCP.Load(), QueueDrops: d.stats.QueueDrops.Load(),
		Decoded: d.stats.Decoded.Load(), Rejected: map[string]uint64{},
		Quarantined: d.stats.Quarantined.Load(), QuarantineLost: d.stats.QuarantineLost.Load(), QuarantineFile: d.quar.path,
		RowsWritten: d.stats.RowsWritten.Load(), RowsLost: d.stats.RowsLost.Load(), OffersNotTracked: d.stats.OffersNotTracked.Load(),
		LeaseRowsWritten: d.stats.LeaseRowsWritten.Load(), LeaseRowsLost: d.stats.LeaseRowsLost.Load(), LeaseOutOfOrder: d.stats.LeaseOutOfOrder.Load(),
		Bindings: d.table.size(), BindingsFile: d.table.path, BindingsEnded: map[string]uint64{},
		BindingSaveErrors: d.stats.BindingSaveErrors.Load(),
	}
	for _, c := range st.Capture {
		st.KernelDrops += c.KernelDrops
	}
	if d.replay {
		select {
		case <-d.cap.Done():
			st.ReplayDone = true
		default:
		}
	}
	for _, r := range dhcp.Reasons() {
		st.Rejected[r.String()] = d.stats.Rejected[r].Load()
	}
	for _, why := range []bindingEnd{endRelease, endDecline, endNak, endExpiry, endMoved} {
		st.BindingsEnded[string(why)] = 0
		if c, ok := d.ended.Load(why); ok {
			st.BindingsEnded[string(why)] = c.(*atomic.Uint64).Load()
		}
	}
	st.Signals, st.SignalsRaised = d.sig.state()
	return st
}

// DHCPBindings returns the current DHCP binding table, sorted by address
// (nil when DHCP snooping is off).
func (e *Edge) DHCPBindings() []Binding {
	if e.dhcp == nil {
		return nil
	}
	return e.dhcp.table.list()
}

// DHCPStats returns the DHCP snooping counters (nil when it is off).
func (e *Edge) DHCPStats() *DHCPStats {
	if e.dhcp == nil {
		return nil
	}
	return &e.dhcp.stats
}

// DHCPReplayDone is closed once a replayed capture (edge.dhcp.pcap) was
// read to its end; every message of it is then queued for the worker,
// and Stop writes them. It is nil when there is no replay.
func (e *Edge) DHCPReplayDone() <-chan struct{} {
	if e.dhcp == nil || !e.dhcp.replay {
		return nil
	}
	return e.dhcp.cap.Done()
}

// FetchDHCPBindings reads the binding table an edge serves at base (such
// as http://127.0.0.1:6061), waiting at most 10 s.
func FetchDHCPBindings(ctx context.Context, base string) ([]Binding, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+DHCPBindingsPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("edge dhcp bindings: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("edge dhcp bindings: %s", resp.Status)
	}
	var out []Binding
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("edge dhcp bindings: %w", err)
	}
	return out, nil
}

// CommandDHCPBindings is the remote command (over the management tunnel)
// that answers the binding table: args a DHCPBindingsQuery, answer a
// DHCPBindingsAnswer.
const CommandDHCPBindings = "dhcp-bindings"

// Limits of one DHCPBindingsQuery's answer: it travels over the tunnel,
// whose answers are bounded (1 MiB), so a large table is read a page at a
// time (After).
const (
	DefaultBindingsLimit = 500
	MaxBindingsLimit     = 2000
	maxBindingsBytes     = 900 << 10
)

// DHCPBindingsQuery selects bindings of the table: those of one address
// or one MAC, or a page of all of them, by address.
type DHCPBindingsQuery struct {
	// IP keeps the binding of this address; MAC those of this client
	// hardware address. Both empty: every binding.
	IP  string `json:"ip,omitempty"`
	MAC string `json:"mac,omitempty"`
	// After starts the page after this address (the previous page's
	// Next).
	After string `json:"after,omitempty"`
	// Limit is the page size: default DefaultBindingsLimit, at most
	// MaxBindingsLimit.
	Limit int `json:"limit,omitempty"`
}

// DHCPBindingsAnswer is a page of the binding table.
type DHCPBindingsAnswer struct {
	Bindings []Binding `json:"bindings"`
	// Total is the number of bindings the query selects, over all pages.
	Total int `json:"total"`
	// Next is the After of the next page; empty on the last.
	Next string `json:"next,omitempty"`
}

// ErrDHCPOff is returned for a bindings query to an edge without DHCP
// snooping.
var ErrDHCPOff = errors.New("DHCP snooping is off on this edge (edge.dhcp.interfaces or edge.dhcp.pcap)")

// QueryDHCPBindings answers q from the current binding table. A bad
// address, MAC or limit is an error naming the field.
func (e *Edge) QueryDHCPBindings(q DHCPBindingsQuery) (*DHCPBindingsAnswer, error) {
	if e.dhcp == nil {
		return nil, ErrDHCPOff
	}
	var ip, after netip.Addr
	var err error
	if q.IP != "" {
		if ip, err = netip.ParseAddr(q.IP); err != nil {
			return nil, fmt.Errorf("ip: %q is not an address", q.IP)
		}
	}
	if q.After != "" {
		if after, err = netip.ParseAddr(q.After); err != nil {
			return nil, fmt.Errorf("after: %q is not an address", q.After)
		}
	}
	var mac string
	if q.MAC != "" {
		hw, err := net.ParseMAC(q.MAC)
		if err != nil || len(hw) != 6 {
			return nil, fmt.Errorf("mac: %q is not a MAC address", q.MAC)
		}
		mac = hw.String()
	}
	switch {
	case q.Limit < 0 || q.Limit > MaxBindingsLimit:
		return nil, fmt.Errorf("limit: %d is outside 0..%d", q.Limit, MaxBindingsLimit)
	case q.Limit == 0:
		q.Limit = DefaultBindingsLimit
	}
	var sel []Binding
	for _, b := range e.dhcp.table.list() { // by address
		if (!ip.IsValid() || b.IP == ip) && (mac == "" || b.MAC == mac) {
			sel = append(sel, b)
		}
	}
	start := 0
	if after.IsValid() {
		start, _ = slices.BinarySearchFunc(sel, after, func(b Binding, a netip.Addr) int {
			if b.IP.Compare(a) <= 0 {
				return -1
			}
			return 1
		})
	}
	ans := &DHCPBindingsAnswer{Bindings: sel[start:min(start+q.Limit, len(sel))], Total: len(sel)}
	// The answer must fit the tunnel's: a page of long host names and
	// relay ids is cut shorter.
	for len(ans.Bindings) > 1 {
		raw, err := json.Marshal(ans.Bindings)
		if err != nil {
			return nil, fmt.Errorf("encode dhcp bindings: %w", err)
		}
		if len(raw) <= maxBindingsBytes {
			break
		}
		ans.Bindings = ans.Bindings[:len(ans.Bindings)/2]
	}
	if n := len(ans.Bindings); n > 0 && start+n < len(sel) {
		ans.Next = ans.Bindings[n-1].IP.String()
	}
	if ans.Bindings == nil {
		ans.Bindings = []Binding{}
	}
	return ans, nil
}
