package edge

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// Binding is one row of the edge's DHCP binding table (the snooping
// table): which client holds which address, since when, until when, and
// where it was seen. It is keyed by the client: its client identifier
// (option 61, or the DHCPv6 DUID) when it sent one, else its MAC.
type Binding struct {
	Client   string     `json:"client"`
	MAC      string     `json:"mac,omitempty"`
	ClientID string     `json:"client_id,omitempty"`
	IP       netip.Addr `json:"ip"`
	Hostname string     `json:"hostname,omitempty"`
	// Server is the server that acknowledged the lease (option 54, else
	// the reply's IP source).
	Server    netip.Addr `json:"server"`
	Interface string     `json:"interface,omitempty"`
	VLAN      uint16     `json:"vlan,omitempty"`
	// GIAddr, CircuitID and RemoteID are the relay agent's, when relayed.
	GIAddr    netip.Addr `json:"giaddr,omitzero"`
	CircuitID string     `json:"circuit_id,omitempty"`
	RemoteID  string     `json:"remote_id,omitempty"`
	DHCPv6    bool       `json:"dhcpv6,omitempty"`
	// Start is the first ACK of this binding (same client, same address);
	// Renewed the last; Expires is Renewed plus the lease time.
	Start     time.Time `json:"start"`
	Renewed   time.Time `json:"renewed"`
	Expires   time.Time `json:"expires"`
	LeaseTime uint32    `json:"lease_time"`
}

// bindingsVersion is the version of the bindings file's format.
const bindingsVersion = 1

// bindingsDoc is the bindings file: JSON, written atomically.
type bindingsDoc struct {
	Version  int       `json:"version"`
	SavedAt  time.Time `json:"saved_at"`
	Bindings []Binding `json:"bindings"`
	// Spans are the lease history's open spans (dhcp_leases OPEN rows),
	// so renewals after a restart extend them; absent in files written
	// before the edge derived the history.
	Spans []schema.DHCPLease `json:"spans,omitempty"`
}

// bindingTable is the current binding table, updated by the DHCP worker
// and read by the status endpoint. Safe for concurrent use.
type bindingTable struct {
	path string

	mu       sync.Mutex
	byClient map[string]*Binding
	byIP     map[netip.Addr]string // address → client
	// ids remembers the client identifier each MAC last sent: servers
	// need not echo option 61 (RFC 6842 came late), so a reply is keyed
	// by the identifier its client sent.
	ids   map[schema.MAC]string
	dirty bool
}

// maxClientIDs bounds ids; past it, the entries of MACs without a
// binding are forgotten (a DISCOVER flood with random MACs).
const maxClientIDs = 200_000

func newBindingTable(path string) *bindingTable {
	return &bindingTable{path: path, byClient: map[string]*Binding{}, byIP: map[netip.Addr]string{}, ids: map[schema.MAC]string{}}
}

// clientKey returns the key of the client that sent or is answered by r:
// its client identifier, else its MAC.
func clientKey(r *schema.DHCPEvent) string {
	if r.ClientID != "" {
		return "id:" + r.ClientID
	}
	return "mac:" + r.CHAddr.String()
}

// learn remembers the client identifier a client message carries, and
// fills it into a reply that lacks it. It returns r's client key.
func (t *bindingTable) learn(r *schema.DHCPEvent) string {
	if r.DHCPv6 || r.CHAddr.IsZero() {
		return clientKey(r)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case r.Op == 1:
		if t.ids[r.CHAddr] != r.ClientID {
			if len(t.ids) >= maxClientIDs {
				for m := range t.ids {
					if _, ok := t.byClient["id:"+t.ids[m]]; !ok {
						delete(t.ids, m)
					}
				}
			}
			t.ids[r.CHAddr] = r.ClientID
		}
	case r.ClientID == "":
		if id := t.ids[r.CHAddr]; id != "" {
			return "id:" + id
		}
	}
	return clientKey(r)
}

// ackEnd is what ended a binding, for the caller's accounting.
type bindingEnd string

// The reasons a binding ends.
const (
	endRelease bindingEnd = "release"
	endDecline bindingEnd = "decline"
	endNak     bindingEnd = "nak"
	endExpiry  bindingEnd = "expiry"
	endMoved   bindingEnd = "moved" // another client was acknowledged the address
)

// apply updates the table from one trusted message of the client key
// (learn), returning the bindings it ended (by reason).
func (t *bindingTable) apply(r *schema.DHCPEvent, key string, at time.Time) map[bindingEnd]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	ended := map[bindingEnd]int{}
	switch {
	case r.MsgType == schema.DHCPAck && !r.DHCPv6 || r.DHCPv6 && r.MsgType == "REPLY":
		ip := r.YIAddr.Netip()
		if !ip.IsValid() || r.LeaseTime == 0 && !r.DHCPv6 {
			return ended // an ACK to an INFORM: no lease
		}
		if r.DHCPv6 && r.LeaseTime == 0 {
			if t.remove(key, ip) { // a REPLY releasing the address
				ended[endRelease]++
			}
			return ended
		}
		if other, ok := t.byIP[ip]; ok && other != key {
			t.remove(other, ip)
			ended[endMoved]++
		}
		b := t.byClient[key]
		if b == nil || b.IP != ip {
			if b != nil {
				delete(t.byIP, b.IP)
			}
			b = &Binding{Client: key, Start: at}
			t.byClient[key] = b
		}
		b.IP, b.Renewed, b.LeaseTime = ip, at, r.LeaseTime
		b.Expires = at.Add(time.Duration(r.LeaseTime) * time.Second)
		b.MAC, b.ClientID, b.DHCPv6 = r.CHAddr.String(), r.ClientID, r.DHCPv6
		if r.Hostname != "" {
			b.Hostname = r.Hostname
		} else if r.ClientFQDN != "" {
			b.Hostname = r.ClientFQDN
		}
		b.Server = serverOf(r)
		b.Interface, b.VLAN = r.Interface, r.VLAN
		// A relay strips option 82 from what it forwards to the client:
		// the server's copy of the ACK keeps the circuit and remote ids.
		if gi := r.GIAddr.Netip(); gi != b.GIAddr || r.CircuitID != "" || r.RemoteID != "" {
			b.GIAddr, b.CircuitID, b.RemoteID = gi, r.CircuitID, r.RemoteID
		}
		t.byIP[ip] = key
		t.dirty = true
	case r.MsgType == schema.DHCPRelease || r.DHCPv6 && r.MsgType == "RELEASE":
		if t.remove(key, netip.Addr{}) {
			ended[endRelease]++
		}
	case r.MsgType == schema.DHCPDecline || r.DHCPv6 && r.MsgType == "DECLINE":
		ip := r.RequestedIP.Netip()
		if other, ok := t.byIP[ip]; ok && t.remove(other, ip) {
			ended[endDecline]++
		} else if t.remove(key, netip.Addr{}) {
			ended[endDecline]++
		}
	case r.MsgType == schema.DHCPNak && !r.DHCPv6:
		if t.remove(key, netip.Addr{}) {
			ended[endNak]++
		}
	}
	return ended
}

// remove deletes the client's binding (only if it holds ip, when ip is
// valid); t.mu is held.
func (t *bindingTable) remove(key string, ip netip.Addr) bool {
	b, ok := t.byClient[key]
	if !ok || ip.IsValid() && b.IP != ip {
		return false
	}
	delete(t.byClient, key)
	if t.byIP[b.IP] == key {
		delete(t.byIP, b.IP)
	}
	t.dirty = true
	return true
}

// expire removes the bindings whose lease ended before now and returns
// how many.
func (t *bindingTable) expire(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, b := range t.byClient {
		if b.Expires.Before(now) {
			t.remove(k, netip.Addr{})
			n++
		}
	}
	return n
}

// list returns the bindings sorted by address.
func (t *bindingTable) list() []Binding {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Binding, 0, len(t.byClient))
	for _, b := range t.byClient {
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b Binding) int {
		return cmp.Or(a.IP.Compare(b.IP), cmp.Compare(a.Client, b.Client))
	})
	return out
}

// size returns the number of bindings.
func (t *bindingTable) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byClient)
}

// inPrefix counts the bindings whose address is in p.
func (t *bindingTable) inPrefix(p netip.Prefix) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for ip := range t.byIP {
		if p.Contains(ip) {
			n++
		}
	}
	return n
}

// load reads the bindings file, if any: the table, and the lease
// history's open spans it returns.
func (t *bindingTable) load() (int, []schema.DHCPLease, error) {
	if t.path == "" {
		return 0, nil, nil
	}
	b, err := os.ReadFile(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("read dhcp bindings: %w", err)
	}
	doc, err := readBindingsDoc(b)
	if err != nil {
		return 0, nil, fmt.Errorf("dhcp bindings file %s: %w", t.path, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, bd := range doc.Bindings {
		t.byClient[bd.Client] = &bd
		t.byIP[bd.IP] = bd.Client
	}
	return len(doc.Bindings), doc.Spans, nil
}

// ReadBindings parses a bindings file (what the edge saves in
// edge.dhcp.bindings_file).
func ReadBindings(b []byte) ([]Binding, error) {
	doc, err := readBindingsDoc(b)
	if err != nil {
		return nil, err
	}
	return doc.Bindings, nil
}

func readBindingsDoc(b []byte) (bindingsDoc, error) {
	var doc bindingsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return doc, fmt.Errorf("parse: %w", err)
	}
	if doc.Version != bindingsVersion {
		return doc, fmt.Errorf("version %d, this edge reads version %d", doc.Version, bindingsVersion)
	}
	for i, bd := range doc.Bindings {
		if bd.Client == "" || !bd.IP.IsValid() {
			return doc, fmt.Errorf("binding %d: no client or address", i)
		}
	}
	for i, sp := range doc.Spans {
		if sp.Client == "" || sp.Address.IsZero() || sp.EndReason != schema.LeaseOpen {
			return doc, fmt.Errorf("lease span %d: no client or address, or not open", i)
		}
	}
	return doc, nil
}

// save writes the table and the lease history's open spans (read from
// spans only then) when the table changed since the last save (always
// when force), atomically (temporary file, fsync, rename).
func (t *bindingTable) save(now time.Time, force bool, spans func() []schema.DHCPLease) error {
	if t.path == "" {
		return nil
	}
	t.mu.Lock()
	if !t.dirty && !force {
		t.mu.Unlock()
		return nil
	}
	t.dirty = false
	t.mu.Unlock()
	doc := bindingsDoc{Version: bindingsVersion, SavedAt: now.UTC(), Bindings: t.list(), Spans: spans()}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode dhcp bindings: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(t.path), 0o755); err != nil {
		return fmt.Errorf("dhcp bindings directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(t.path), ".dhcp_bindings-*")
	if err != nil {
		return fmt.Errorf("save dhcp bindings: %w", err)
	}
	_, err = tmp.Write(b)
	err = errors.Join(err, tmp.Sync(), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), t.path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		t.mu.Lock()
		t.dirty = true
		t.mu.Unlock()
		return fmt.Errorf("save dhcp bindings %s: %w", t.path, err)
	}
	return nil
}

// serverOf returns the server of a reply: option 54, else the IP source.
func serverOf(r *schema.DHCPEvent) netip.Addr {
	if a := r.ServerID.Netip(); a.IsValid() {
		return a
	}
	return r.SrcAddr.Netip()
}
