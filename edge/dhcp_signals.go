package edge

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// Signal names, as written into dhcp_events.signals and the metrics'
// signal label (docs/ingest-dhcp.md).
const (
	SignalRogueServer   = "rogue_server"
	SignalNakStorm      = "nak_storm"
	SignalDiscoverFlood = "discover_flood"
	SignalDeclineSpike  = "decline_spike"
	SignalPoolHigh      = "pool_high"
	SignalPoolOK        = "pool_ok"
)

// signalNames lists every signal, for metrics.
var signalNames = []string{SignalRogueServer, SignalNakStorm, SignalDiscoverFlood, SignalDeclineSpike, SignalPoolHigh, SignalPoolOK}

// window counts events in a sliding window of whole seconds, in the
// events' own time.
type window struct {
	secs    []int64 // the second each bucket holds
	counts  []int
	total   int
	active  bool // the signal is raised
	thresh  int
	started time.Time // when the current episode was raised
}

func newWindow(w time.Duration, thresh int) *window {
	n := int(w / time.Second)
	return &window{secs: make([]int64, n), counts: make([]int, n), thresh: thresh}
}

// add counts one event at t and reports whether it raised the signal
// (the count reached the threshold while the signal was not raised). The
// signal ends once the count is at half the threshold or below. An event
// older than the window's oldest bucket is counted in the bucket of its
// second's slot (messages arrive about in order).
func (w *window) add(t time.Time) bool {
	w.advance(t)
	s := t.Unix()
	i := int(uint64(s) % uint64(len(w.secs)))
	if w.secs[i] < s {
		w.total -= w.counts[i]
		w.counts[i], w.secs[i] = 0, s
	}
	w.counts[i]++
	w.total++
	if !w.active && w.total >= w.thresh {
		w.active, w.started = true, t
		return true
	}
	return false
}

// advance forgets the buckets that fell out of the window ending at t and
// ends the signal when the count dropped to half the threshold.
func (w *window) advance(t time.Time) {
	oldest := t.Unix() - int64(len(w.secs))
	for i := range w.secs {
		if w.counts[i] > 0 && w.secs[i] <= oldest {
			w.total -= w.counts[i]
			w.counts[i] = 0
		}
	}
	if w.active && w.total <= w.thresh/2 {
		w.active = false
	}
}

// poolState is one watched pool's use.
type poolState struct {
	pool
	used  int
	alarm bool // pool_high raised, not yet pool_ok
}

// signals computes the edge's DHCP signals from the messages in order. It
// is used by the DHCP worker alone, and read by Status under mu.
type signals struct {
	cfg     DHCPSignals
	allowed []netip.Prefix
	trusted map[string]bool

	mu     sync.Mutex
	rates  map[string]*window // kind + "\x00" + interface
	pools  []*poolState
	raised map[string]uint64 // by signal name
}

func newSignals(cfg DHCPConfig) (*signals, error) {
	s := &signals{cfg: cfg.Signals, trusted: map[string]bool{}, rates: map[string]*window{}, raised: map[string]uint64{}}
	for _, a := range cfg.AllowedServers {
		p, err := parseServer(a)
		if err != nil {
			return nil, err
		}
		s.allowed = append(s.allowed, p)
	}
	for _, t := range cfg.Trusted {
		s.trusted[t] = true
	}
	for _, p := range cfg.Pools {
		r, err := p.resolve()
		if err != nil {
			return nil, err
		}
		s.pools = append(s.pools, &poolState{pool: r})
	}
	return s, nil
}

// isReply reports whether r is sent by a server.
func isReply(r *schema.DHCPEvent) bool {
	if r.DHCPv6 {
		return r.MsgType == "ADVERTISE" || r.MsgType == "REPLY" || r.MsgType == "RECONFIGURE"
	}
	return r.Op == 2 && r.SrcPort == 67
}

// rogue reports whether a server reply came from a server not allowed or
// by an untrusted port.
func (s *signals) rogue(r *schema.DHCPEvent) bool {
	if !isReply(r) {
		return false
	}
	if !r.Trusted {
		return true
	}
	if len(s.allowed) == 0 {
		return false
	}
	srv := serverOf(r)
	for _, p := range s.allowed {
		if p.Contains(srv) {
			return false
		}
	}
	return true
}

// observe marks r (trusted, rogue_server, signals) and counts it in the
// rate windows; it returns r's signals.
func (s *signals) observe(r *schema.DHCPEvent) []string {
	r.Trusted = len(s.trusted) == 0 || s.trusted[r.Interface] // no trusted port configured: trust is not judged
	var out []string
	if s.rogue(r) {
		r.RogueServer = true
		out = append(out, SignalRogueServer)
	}
	at := time.UnixMicro(r.Time)
	var kind string
	var thresh int
	switch r.MsgType {
	case schema.DHCPNak:
		kind, thresh = SignalNakStorm, s.cfg.NakStorm
	case schema.DHCPDiscover, "SOLICIT":
		kind, thresh = SignalDiscoverFlood, s.cfg.DiscoverFlood
	case schema.DHCPDecline:
		kind, thresh = SignalDeclineSpike, s.cfg.DeclineSpike
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.rates {
		w.advance(at)
	}
	if kind != "" {
		key := kind + "\x00" + r.Interface
		w := s.rates[key]
		if w == nil {
			w = newWindow(s.cfg.Window, thresh)
			s.rates[key] = w
		}
		if w.add(at) {
			out = append(out, kind)
		}
	}
	for _, n := range out {
		s.raised[n]++
	}
	return out
}

// pools recounts the pools' use from the binding table and returns the
// transitions: pool_high=<subnet> when use reaches High, pool_ok=<subnet>
// when it falls back to Low.
func (s *signals) recount(t *bindingTable) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.pools {
		p.used = t.inPrefix(p.prefix)
		pct := 100 * float64(p.used) / float64(p.size)
		switch {
		case !p.alarm && pct >= p.high:
			p.alarm = true
			out = append(out, SignalPoolHigh+"="+p.prefix.String())
			s.raised[SignalPoolHigh]++
		case p.alarm && pct <= p.low:
			p.alarm = false
			out = append(out, SignalPoolOK+"="+p.prefix.String())
			s.raised[SignalPoolOK]++
		}
	}
	return out
}

// DHCPSignalState is a signal's state for Status.
type DHCPSignalState struct {
	Signal    string    `json:"signal"`
	Interface string    `json:"interface,omitempty"`
	Subnet    string    `json:"subnet,omitempty"`
	Active    bool      `json:"active"`
	Count     int       `json:"count"` // events in the window, or addresses in use
	Threshold int       `json:"threshold,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	// Use is a pool's use in percent of its size.
	Use  float64 `json:"use,omitempty"`
	Size int     `json:"size,omitempty"`
}

// state returns the rate signals and pools, and the signals raised by
// name.
func (s *signals) state() ([]DHCPSignalState, map[string]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []DHCPSignalState
	for k, w := range s.rates {
		kind, iface, _ := strings.Cut(k, "\x00")
		st := DHCPSignalState{Signal: kind, Interface: iface, Active: w.active, Count: w.total, Threshold: w.thresh}
		if w.active {
			st.Since = w.started
		}
		out = append(out, st)
	}
	for _, p := range s.pools {
		out = append(out, DHCPSignalState{Signal: SignalPoolHigh, Subnet: p.prefix.String(), Active: p.alarm, Count: p.used, Size: p.size,
			Use: 100 * float64(p.used) / float64(p.size)})
	}
	slices.SortFunc(out, func(a, b DHCPSignalState) int {
		return strings.Compare(fmt.Sprint(a.Signal, a.Interface, a.Subnet), fmt.Sprint(b.Signal, b.Interface, b.Subnet))
	})
	raised := make(map[string]uint64, len(signalNames))
	for _, n := range signalNames {
		raised[n] = s.raised[n]
	}
	return out, raised
}
