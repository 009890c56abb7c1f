package dhcp

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/flowlake/flowlake/storage/schema"
)

// LeaseFileError is a lease file that cannot be read: what (Field), where
// (File, Line, Column) and why (Msg).
type LeaseFileError struct {
	File   string
	Line   int
	Column string // the field of the format, e.g. "expire"
	Msg    string
}

func (e *LeaseFileError) Error() string {
	if e.Column != "" {
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// LeaseFile is what a server lease file parser found: the lease events, in
// time order, ready for a LeaseTracker (their msg_type is ACK, RELEASE or
// DECLINE; times are the server's own), and the lines it left out.
type LeaseFile struct {
	Events []schema.DHCPEvent
	// Lines read, blank and comment lines included.
	Lines int
	// Skipped counts the records that carry no event, by why (for
	// example "expired-reclaimed" for a Kea lease its server reclaimed:
	// the tracker ends it at its expiry anyway).
	Skipped map[string]int
	// Unknown lists the lines of a log that are not lease events (numbers).
	Unknown []int
}

func (f *LeaseFile) skip(why string) {
	if f.Skipped == nil {
		f.Skipped = map[string]int{}
	}
	f.Skipped[why]++
}

// sortEvents orders events by time, keeping the file's order for equal
// times (a file appended in write order stays as written).
func (f *LeaseFile) sortEvents() {
	slices.SortStableFunc(f.Events, func(a, b schema.DHCPEvent) int { return cmp.Compare(a.Time, b.Time) })
}

// Kea memfile lease states (Lease::STATE_*).
const (
	keaStateDefault  = 0
	keaStateDeclined = 1
	keaStateReclaim  = 2
	keaStateReleased = 3
)

// keaCSVColumns are the columns Flowlake reads from kea-leases4.csv; the
// header names them, so files of Kea versions with more or fewer columns
// (user_context, pool_id) read the same.
var keaCSVColumns = []string{"address", "hwaddr", "client_id", "valid_lifetime", "expire", "state"}

// ParseKeaCSV reads a Kea memfile lease file for DHCPv4 (kea-leases4.csv).
// Kea appends a row at every change of a lease (and its lease file cleanup,
// LFC, keeps only the last row of each), so each row is an event at its
// client last transmission time, cltt = expire - valid_lifetime:
//
//   - state 0 with a lifetime: ACK (a lease granted or renewed);
//   - state 1 (declined): DECLINE of the address (Kea clears the client's
//     identity, so the span is found by address);
//   - valid_lifetime 0 (Kea deleted the lease: a release): RELEASE, at the
//     later of its cltt and the newest event written before it (the row
//     repeats the lease's last cltt; the file holds no release time);
//   - state 3 (released, kept for lease affinity): RELEASE at its cltt;
//   - state 2 (expired-reclaimed): no event; the lease ends at its expiry.
//
// device names the rows' device column (the server).
func ParseKeaCSV(r io.Reader, file, device string) (*LeaseFile, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	res := &LeaseFile{}
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		return nil, &LeaseFileError{File: file, Line: 1, Msg: fmt.Sprintf("read header: %v", err)}
	}
	res.Lines = 1
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, c := range keaCSVColumns {
		if _, ok := col[c]; !ok {
			return nil, &LeaseFileError{File: file, Line: 1, Msg: fmt.Sprintf("header lacks column %q: not a kea-leases4.csv file (header %q)", c, strings.Join(header, ","))}
		}
	}
	host, hasHost := col["hostname"]
	var prev int64 // the newest event time so far, in file order
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := res.Lines + 1
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			return nil, &LeaseFileError{File: file, Line: line, Msg: err.Error()}
		}
		line, _ := cr.FieldPos(0)
		res.Lines = line
		if len(rec) < len(header) {
			return nil, &LeaseFileError{File: file, Line: line, Msg: fmt.Sprintf("%d fields, the header has %d", len(rec), len(header))}
		}
		fail := func(c, msg string) error { return &LeaseFileError{File: file, Line: line, Column: c, Msg: msg} }
		addr, err := netip.ParseAddr(rec[col["address"]])
		if err != nil || !addr.Is4() {
			return nil, fail("address", fmt.Sprintf("%q is not an IPv4 address", rec[col["address"]]))
		}
		valid, err := strconv.ParseUint(rec[col["valid_lifetime"]], 10, 32)
		if err != nil {
			return nil, fail("valid_lifetime", fmt.Sprintf("%q is not a lifetime in seconds", rec[col["valid_lifetime"]]))
		}
		expire, err := strconv.ParseInt(rec[col["expire"]], 10, 64)
		if err != nil || expire < 0 || expire > Forever/1e6 {
			return nil, fail("expire", fmt.Sprintf("%q is not a time in seconds since the epoch", rec[col["expire"]]))
		}
		state, err := strconv.ParseUint(rec[col["state"]], 10, 32)
		if err != nil {
			return nil, fail("state", fmt.Sprintf("%q is not a lease state", rec[col["state"]]))
		}
		ev := schema.DHCPEvent{Device: device, Op: 2, YIAddr: schema.AddrFrom(addr), ServerID: schema.Addr{}}
		if ev.CHAddr, err = colonMAC(rec[col["hwaddr"]]); err != nil {
			return nil, fail("hwaddr", err.Error())
		}
		if ev.ClientID, err = colonHex(rec[col["client_id"]]); err != nil {
			return nil, fail("client_id", err.Error())
		}
		if hasHost {
			ev.Hostname = unescapeKea(rec[host])
		}
		ev.Time = (expire - int64(valid)) * 1e6 // cltt
		switch {
		case valid == 0:
			// Kea's deletion row repeats the lease's last cltt, not the
			// release time: the release came after the row written before.
			ev.Time = max(ev.Time, prev)
			ev.MsgType, ev.Op, ev.YIAddr, ev.CIAddr = schema.DHCPRelease, 1, schema.Addr{}, ev.YIAddr
		case state == keaStateDefault:
			ev.MsgType, ev.LeaseTime = schema.DHCPAck, uint32(valid)
		case state == keaStateDeclined:
			ev.MsgType, ev.Op, ev.YIAddr, ev.RequestedIP = schema.DHCPDecline, 1, schema.Addr{}, ev.YIAddr
			ev.CHAddr, ev.ClientID = schema.MAC{}, ""
		case state == keaStateReleased:
			ev.MsgType, ev.Op, ev.YIAddr, ev.CIAddr = schema.DHCPRelease, 1, schema.Addr{}, ev.YIAddr
		case state == keaStateReclaim:
			res.skip("expired-reclaimed")
			continue
		default:
			res.skip(fmt.Sprintf("state %d", state))
			continue
		}
		prev = max(prev, ev.Time)
		res.Events = append(res.Events, ev)
	}
	res.sortEvents()
	return res, nil
}

// unescapeKea undoes Kea's CSV escaping of commas in text fields ("&#x2c").
func unescapeKea(s string) string { return strings.ReplaceAll(s, "&#x2c", ",") }

// colonHex turns Kea's and dnsmasq's colon-separated hex ("01:08:00:2b")
// into the plain lower-case hex dhcp_events uses; "" and "*" are absent.
func colonHex(s string) (string, error) {
	if s == "" || s == "*" {
		return "", nil
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	if err != nil {
		return "", fmt.Errorf("%q is not colon-separated hex", s)
	}
	return hex.EncodeToString(b), nil
}

// colonMAC parses a 6-byte hardware address; "" is the zero MAC. Longer
// hardware addresses keep their first 6 bytes, as chaddr does.
func colonMAC(s string) (schema.MAC, error) {
	if s == "" {
		return schema.MAC{}, nil
	}
	h, err := colonHex(s)
	if err != nil {
		return schema.MAC{}, err
	}
	b, _ := hex.DecodeString(h)
	if len(b) < 6 {
		return schema.MAC{}, fmt.Errorf("%q is not a 6-byte hardware address", s)
	}
	return schema.MAC(b[:6]), nil
}

// ParseDnsmasq reads a dnsmasq lease file (dhcp-leasefile, by default
// /var/lib/misc/dnsmasq.leases) as a snapshot taken at at (µs; the file's
// modification time is what `flowlake dhcp import` uses). dnsmasq rewrites
// the whole file at every change, keeping only current leases, and stores
// no start time: each line is an ACK seen at the snapshot, lasting until
// its expiry (0: infinite). The spans of successive snapshots merge in a
// LeaseTracker resumed from the lake; DnsmasqReleases ends those that
// vanished. Lines of expired leases (expiry ≤ at) carry no event. DHCPv6
// lines (after the "duid" line) carry the IAID before the address and the
// client DUID last.
func ParseDnsmasq(r io.Reader, file, device string, at int64) (*LeaseFile, error) {
	at -= at % 1e6 // whole seconds, as the file's expiries: an unchanged lease compares equal
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	res := &LeaseFile{}
	v6 := false
	for sc.Scan() {
		res.Lines++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		fail := func(c, msg string) error { return &LeaseFileError{File: file, Line: res.Lines, Column: c, Msg: msg} }
		if f[0] == "duid" {
			v6 = true
			continue
		}
		if len(f) != 5 {
			return nil, fail("", fmt.Sprintf("%d fields, want 5 (expiry, MAC or IAID, address, hostname, client id)", len(f)))
		}
		expiry, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || expiry < 0 || expiry > Forever/1e6 {
			return nil, fail("expiry", fmt.Sprintf("%q is not a time in seconds since the epoch", f[0]))
		}
		addr, err := netip.ParseAddr(f[2])
		if err != nil || addr.Is4() == v6 {
			fam := "IPv4"
			if v6 {
				fam = "IPv6"
			}
			return nil, fail("address", fmt.Sprintf("%q is not an %s address", f[2], fam))
		}
		ev := schema.DHCPEvent{Time: at, Device: device, Op: 2, MsgType: schema.DHCPAck, YIAddr: schema.AddrFrom(addr), DHCPv6: v6}
		if v6 {
			ev.MsgType = "REPLY"
			if _, err := strconv.ParseUint(f[1], 10, 32); err != nil {
				return nil, fail("iaid", fmt.Sprintf("%q is not an IAID", f[1]))
			}
		} else {
			mac := f[1]
			if i := strings.IndexByte(mac, '-'); i == 2 { // "<htype>-<addr>" for non-Ethernet hardware
				mac = mac[3:]
			}
			if ev.CHAddr, err = colonMAC(mac); err != nil {
				return nil, fail("mac", err.Error())
			}
		}
		if f[3] != "*" {
			ev.Hostname = f[3]
		}
		if ev.ClientID, err = colonHex(f[4]); err != nil {
			return nil, fail("client_id", err.Error())
		}
		switch {
		case expiry == 0:
			ev.LeaseTime = infiniteLease
		case expiry*1e6 <= at:
			res.skip("expired")
			continue
		default:
			ev.LeaseTime = uint32(min(expiry-at/1e6, infiniteLease-1))
		}
		res.Events = append(res.Events, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, &LeaseFileError{File: file, Line: res.Lines + 1, Msg: err.Error()}
	}
	return res, nil
}

// DnsmasqDiff returns the events a snapshot adds to the spans open
// before it (OPEN rows from the lake, same device): an ACK for each lease
// that is new or whose expiry moved (a renewal), none for a lease the
// snapshot shows unchanged, and a RELEASE at at for each open span the
// snapshot no longer holds while it had not expired (dnsmasq drops a lease
// from its file when the client releases it or it is deleted). Spans that
// expired before at are left to the tracker, which ends them EXPIRED.
func DnsmasqDiff(open []schema.DHCPLease, snap *LeaseFile, at int64) []schema.DHCPEvent {
	type binding struct {
		client string
		addr   schema.Addr
	}
	was := map[binding]int64{}
	for _, r := range open {
		if r.EndReason == schema.LeaseOpen {
			was[binding{r.Client, r.Address}] = r.EndTime
		}
	}
	held := map[binding]bool{}
	var out []schema.DHCPEvent
	for _, ev := range snap.Events {
		b := binding{ClientKey(ev.ClientID, ev.CHAddr), ev.YIAddr}
		held[b] = true
		if end, ok := was[b]; ok && end == expiryOf(ev.Time, ev.LeaseTime) {
			continue
		}
		out = append(out, ev)
	}
	for _, r := range open {
		if r.EndReason != schema.LeaseOpen || r.EndTime <= at || held[binding{r.Client, r.Address}] {
			continue
		}
		out = append(out, schema.DHCPEvent{Time: at, Device: r.Device, Op: 1, MsgType: schema.DHCPRelease, CHAddr: r.CHAddr,
			ClientID: r.ClientID, CIAddr: r.Address, DHCPv6: r.DHCPv6})
	}
	return out
}
