package query

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flowlake/flowlake/storage/schema"
)

// DefaultLeaseLookback is how far before a question's time the lease
// questions look for the start of a span (dhcp_leases is partitioned by
// start): a binding renewed without a break for longer than this is found
// only with a longer lookback.
const DefaultLeaseLookback = 30 * 24 * time.Hour

// LeaseQuestion asks dhcp_leases who held an address, or what a client
// held (docs/ingest-dhcp.md, "Questions"). Exactly one of Address, MAC and
// Hostname is set.
type LeaseQuestion struct {
	// Address asks about an IPv4 or IPv6 address.
	Address netip.Addr
	// MAC asks about a client's hardware address.
	MAC schema.MAC
	// Hostname asks about a host name, as the client sent it.
	Hostname string
	// From and To bound the question, [From, To): a span answers when it
	// overlaps the range. For "who held X at T", From is T and To T+1µs.
	From, To time.Time
	// Lookback widens the scan before From for spans that started earlier;
	// 0 means DefaultLeaseLookback.
	Lookback time.Duration
}

// LeaseAnswer is the spans that answer a LeaseQuestion, by start time,
// each binding once (its latest row), and the files the answer misses.
type LeaseAnswer struct {
	Leases   []schema.DHCPLease `json:"leases"`
	Warnings []Warning          `json:"warnings,omitempty"`
}

// ErrLeaseQuestion marks a LeaseQuestion that cannot be asked (no subject,
// two subjects, an empty range).
var ErrLeaseQuestion = errors.New("bad lease question")

// LeasesAt asks who held addr at t.
func (e *Engine) LeasesAt(ctx context.Context, addr netip.Addr, t time.Time, lookback time.Duration) (*LeaseAnswer, error) {
	return e.Leases(ctx, LeaseQuestion{Address: addr, From: t, To: t.Add(time.Microsecond), Lookback: lookback})
}

// Leases answers q from dhcp_leases through the engine: a listing of the
// spans that started in [From-Lookback, To) and end after From, filtered on
// the subject's column (pruned by its statistics and bloom filter), then
// each binding's rows merged (LatestLeases) and checked again against the
// range.
func (e *Engine) Leases(ctx context.Context, q LeaseQuestion) (*LeaseAnswer, error) {
	if q.Lookback == 0 {
		q.Lookback = DefaultLeaseLookback
	}
	subjects := 0
	var pred string
	if q.Address.IsValid() {
		subjects++
		pred = schema.LeaseAddress + " " + q.Address.String()
	}
	if !q.MAC.IsZero() {
		subjects++
		pred = schema.LeaseCHAddr + " " + q.MAC.String()
	}
	if q.Hostname != "" {
		subjects++
		pred = schema.LeaseHostname + " = " + strconv.Quote(q.Hostname)
	}
	switch {
	case subjects != 1:
		return nil, fmt.Errorf("%w: name one of an address, a MAC or a host name (got %d)", ErrLeaseQuestion, subjects)
	case !q.From.Before(q.To):
		return nil, fmt.Errorf("%w: the range [%s, %s) is empty", ErrLeaseQuestion, q.From.Format(time.RFC3339Nano), q.To.Format(time.RFC3339Nano))
	case q.Lookback < 0:
		return nil, fmt.Errorf("%w: negative lookback %s", ErrLeaseQuestion, q.Lookback)
	}
	from, to := q.From.UTC().Truncate(time.Microsecond), q.To.UTC().Truncate(time.Microsecond)
	rows, warnings, err := e.leaseRows(ctx, pred, from.UnixMicro(), to.UnixMicro(), q.Lookback, nil, 0)
	if err != nil {
		return nil, fmt.Errorf("lease question: %w", err)
	}
	ans := &LeaseAnswer{Warnings: warnings}
	f, t := from.UnixMicro(), to.UnixMicro()
	for _, r := range LatestLeases(rows) {
		if r.Time < t && (r.EndTime > f || r.Kind == schema.LeaseKindInform && r.EndTime >= f) {
			ans.Leases = append(ans.Leases, r)
		}
	}
	return ans, nil
}

// leaseRows lists the dhcp_leases rows a question over [from, to) (µs)
// needs, filtered on pred ("" for every address): the rows of spans that
// started in [from-lookback, to) and end after from, and — so that each
// binding's latest row is among them (LatestLeases) — the ended rows of
// the bindings those include OPEN, even when they end before from: a span
// written OPEN with its promised expiry and released early ends there,
// not at the promise. columns nil lists every column; limit (bytes, 0 for
// none) bounds the rows held, beyond it ErrMemoryBudget.
func (e *Engine) leaseRows(ctx context.Context, pred string, from, to int64, lookback time.Duration, columns []string, limit int64) ([]schema.DHCPLease, []Warning, error) {
	and := func(s string) string {
		if pred == "" {
			return s
		}
		return pred + " and " + s
	}
	fromText := schema.FromMicros(from).Format(time.RFC3339Nano)
	var (
		rows     []schema.DHCPLease
		warnings []Warning
	)
	list := func(q Query) error {
		q.Dataset, q.Columns, q.Limit = schema.DHCPLeases, columns, MaxPageSize
		for {
			res, err := e.Run(ctx, q)
			if err != nil {
				return fmt.Errorf("read dhcp_leases: %w", err)
			}
			rows, err = appendLeases(rows, res)
			warnings = append(warnings, res.Warnings...)
			cursor := res.Cursor
			res.Release()
			if err != nil {
				return err
			}
			if need := int64(len(rows)) * leaseRowBytes; limit > 0 && need > limit {
				return fmt.Errorf("%w: %d or more dhcp_leases spans overlap the time range and need about %d MiB, more than the query's budget of %d MiB; narrow the time range",
					ErrMemoryBudget, len(rows), need>>20, limit>>20)
			}
			if cursor == "" {
				return nil
			}
			q.Cursor = cursor
		}
	}
	err := list(Query{From: schema.FromMicros(from).Add(-lookback).Format(time.RFC3339Nano), To: schema.FromMicros(to).Format(time.RFC3339Nano),
		Filter: and(schema.LeaseEndTime + " > " + fromText)})
	if err != nil {
		return nil, nil, err
	}
	// The OPEN rows of spans that started before from may have been
	// ended, before from, by a later row.
	minStart, clients := int64(math.MaxInt64), map[string]bool{}
	for _, r := range rows {
		if r.EndReason == schema.LeaseOpen && r.Time < from {
			clients[r.Client] = true
			minStart = min(minStart, r.Time)
		}
	}
	keys := slices.Sorted(maps.Keys(clients))
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), leaseClientsPerQuery)]
		keys = keys[len(chunk):]
		quoted := make([]string, len(chunk))
		for i, k := range chunk {
			quoted[i] = strconv.Quote(k)
		}
		err := list(Query{From: schema.FromMicros(minStart).Format(time.RFC3339Nano), To: schema.FromMicros(from + 1).Format(time.RFC3339Nano),
			Filter: and(fmt.Sprintf("%s != %q and %s <= %s and %s in [%s]", schema.LeaseEndReason, schema.LeaseOpen,
				schema.LeaseEndTime, fromText, schema.LeaseClient, strings.Join(quoted, " ")))})
		if err != nil {
			return nil, nil, err
		}
	}
	return rows, warnings, nil
}

// leaseClientsPerQuery bounds the clients one query of leaseRows names.
const leaseClientsPerQuery = 2000

// LatestLeases keeps one row per binding — same client, address, start
// and kind — the one that saw the binding last: an ended row over an OPEN
// one, else the later end, else the later last ACK. A span written OPEN at
// the end of one batch and written again, renewed or ended, by a later one
// is then one row. The result is ordered by start, then client.
func LatestLeases(rows []schema.DHCPLease) []schema.DHCPLease {
	type key struct {
		client, kind string
		addr         schema.Addr
		start        int64
	}
	best := map[key]int{}
	var out []schema.DHCPLease
	for _, r := range rows {
		k := key{r.Client, r.Kind, r.Address, r.Time}
		i, ok := best[k]
		if !ok {
			best[k] = len(out)
			out = append(out, r)
			continue
		}
		if newer(r, out[i]) {
			out[i] = r
		}
	}
	slices.SortFunc(out, func(a, b schema.DHCPLease) int {
		return cmp.Or(cmp.Compare(a.Time, b.Time), cmp.Compare(a.Client, b.Client), cmp.Compare(a.Address.String(), b.Address.String()))
	})
	return out
}

// newer reports whether a saw its binding later than b.
func newer(a, b schema.DHCPLease) bool {
	ao, bo := a.EndReason == schema.LeaseOpen, b.EndReason == schema.LeaseOpen
	if ao != bo {
		return !ao
	}
	if a.LastAck != b.LastAck {
		return a.LastAck > b.LastAck
	}
	return a.EndTime > b.EndTime
}

// leaseFields maps each dhcp_leases column to its DHCPLease field index.
var leaseFields = func() map[string]int {
	m := map[string]int{}
	t := reflect.TypeFor[schema.DHCPLease]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("parquet"), ",")
		m[name] = i
	}
	return m
}()

// appendLeases converts a listing of dhcp_leases (addresses and MACs as
// text, times as timestamps) back into rows.
func appendLeases(rows []schema.DHCPLease, res *Result) ([]schema.DHCPLease, error) {
	for _, rec := range res.Records {
		n := int(rec.NumRows())
		base := len(rows)
		rows = append(rows, make([]schema.DHCPLease, n)...)
		for c := range int(rec.NumCols()) {
			name := rec.ColumnName(c)
			fi, ok := leaseFields[name]
			if !ok {
				continue
			}
			col := rec.Column(c)
			for i := range n {
				if col.IsNull(i) {
					continue
				}
				f := reflect.ValueOf(&rows[base+i]).Elem().Field(fi)
				if err := setLeaseField(f, col, i); err != nil {
					return rows, fmt.Errorf("dhcp_leases column %s row %d: %w", name, i, err)
				}
			}
		}
	}
	return rows, nil
}

func setLeaseField(f reflect.Value, col arrow.Array, i int) error {
	switch a := col.(type) {
	case *array.String:
		s := a.Value(i)
		switch f.Type() {
		case reflect.TypeFor[schema.Addr]():
			v, err := schema.ParseAddr(s)
			if err != nil {
				return err
			}
			f.Set(reflect.ValueOf(v))
		case reflect.TypeFor[schema.MAC]():
			v, err := schema.ParseMAC(s)
			if err != nil {
				return err
			}
			f.Set(reflect.ValueOf(v))
		default:
			f.SetString(s)
		}
	case *array.Timestamp:
		f.SetInt(int64(a.Value(i)))
	case *array.Boolean:
		f.SetBool(a.Value(i))
	case *array.Uint8:
		f.SetUint(uint64(a.Value(i)))
	case *array.Uint16:
		f.SetUint(uint64(a.Value(i)))
	case *array.Uint32:
		f.SetUint(uint64(a.Value(i)))
	case *array.Uint64:
		f.SetUint(a.Value(i))
	case *array.Int64:
		f.SetInt(a.Value(i))
	default:
		return fmt.Errorf("unexpected Arrow type %s", col.DataType())
	}
	return nil
}

// ParseTime reads a time as queries take it — RFC 3339, a date or
// "2006-01-02T15:04" in loc, "now", or an offset from now ("-24h", "-7d")
// — for the lease questions' --at, --from and --to.
func ParseTime(s string, now time.Time, loc *time.Location) (time.Time, error) {
	us, err := parseTime(s, now, loc)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMicro(us).UTC(), nil
}

// LeaseView is a dhcp_leases row as the CLI's JSON and the REST API show
// it: addresses and MACs as text, times as RFC 3339, absent values left
// out.
type LeaseView struct {
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	EndReason   string    `json:"end_reason,omitempty"`
	Kind        string    `json:"kind"`
	Address     string    `json:"address"`
	MAC         string    `json:"mac,omitempty"`
	ClientID    string    `json:"client_id,omitempty"`
	Client      string    `json:"client"`
	Hostname    string    `json:"hostname,omitempty"`
	Server      string    `json:"server,omitempty"`
	Relay       string    `json:"relay,omitempty"`
	CircuitID   string    `json:"circuit_id,omitempty"`
	RemoteID    string    `json:"remote_id,omitempty"`
	LeaseTime   uint32    `json:"lease_time,omitempty"`
	LastAck     time.Time `json:"last_ack"`
	Renewals    uint32    `json:"renewals"`
	Source      string    `json:"source"`
	Device      string    `json:"device,omitempty"`
	Edge        string    `json:"edge,omitempty"`
	Interface   string    `json:"interface,omitempty"`
	VLAN        uint16    `json:"vlan,omitempty"`
	DHCPv6      bool      `json:"dhcpv6,omitempty"`
	RenewalTime uint32    `json:"renewal_time,omitempty"`
	RebindTime  uint32    `json:"rebinding_time,omitempty"`
}

// ViewOf converts a row to its LeaseView.
func ViewOf(r schema.DHCPLease) LeaseView {
	return LeaseView{
		Start: schema.FromMicros(r.Time), End: schema.FromMicros(r.EndTime), EndReason: r.EndReason, Kind: r.Kind,
		Address: r.Address.String(), MAC: r.CHAddr.String(), ClientID: r.ClientID, Client: r.Client, Hostname: r.Hostname,
		Server: r.ServerID.String(), Relay: r.GIAddr.String(), CircuitID: r.CircuitID, RemoteID: r.RemoteID,
		LeaseTime: r.LeaseTime, LastAck: schema.FromMicros(r.LastAck), Renewals: r.Renewals, Source: r.Source,
		Device: r.Device, Edge: r.Edge, Interface: r.Interface, VLAN: r.VLAN, DHCPv6: r.DHCPv6,
		RenewalTime: r.RenewalTime, RebindTime: r.RebindTime,
	}
}

// LeaseArgs is a lease question as text, as REST parameters and GraphQL
// arguments carry it: one subject (Address, MAC or Hostname), then At for
// one moment or From/To for a range (default the last 24 hours), times as
// queries take them in TimeZone, and Lookback as "30d", "12h" or "90m".
type LeaseArgs struct {
	Address, MAC, Hostname string
	At, From, To           string
	TimeZone, Lookback     string
}

// Question parses the arguments at now; every error wraps
// ErrLeaseQuestion and names the argument.
func (a LeaseArgs) Question(now time.Time) (LeaseQuestion, error) {
	var q LeaseQuestion
	bad := func(arg string, err error) error { return fmt.Errorf("%w: %s: %v", ErrLeaseQuestion, arg, err) }
	loc := time.UTC
	var err error
	if a.TimeZone != "" {
		if loc, err = time.LoadLocation(a.TimeZone); err != nil {
			return q, bad("time zone", fmt.Errorf("unknown zone %q", a.TimeZone))
		}
	}
	if a.Address != "" {
		ip, err := netip.ParseAddr(a.Address)
		if err != nil || ip.Zone() != "" {
			return q, bad("address", fmt.Errorf("%q is not an IP address", a.Address))
		}
		q.Address = ip.Unmap()
	}
	if a.MAC != "" {
		if q.MAC, err = schema.ParseMAC(a.MAC); err != nil {
			return q, bad("mac", err)
		}
	}
	q.Hostname = a.Hostname
	switch {
	case a.At != "" && (a.From != "" || a.To != ""):
		return q, fmt.Errorf("%w: give at, or from and to, not both", ErrLeaseQuestion)
	case a.At != "":
		if q.From, err = ParseTime(a.At, now, loc); err != nil {
			return q, bad("at", err)
		}
		q.To = q.From.Add(time.Microsecond)
	default:
		from, to := cmp.Or(a.From, "-24h"), cmp.Or(a.To, "now")
		if q.From, err = ParseTime(from, now, loc); err != nil {
			return q, bad("from", err)
		}
		if q.To, err = ParseTime(to, now, loc); err != nil {
			return q, bad("to", err)
		}
	}
	if a.Lookback != "" {
		if q.Lookback, err = ParseLookback(a.Lookback); err != nil {
			return q, bad("lookback", err)
		}
	}
	return q, nil
}

// ParseLookback reads a lookback: a number of days ("30d") or weeks
// ("2w"), or a Go duration ("36h", "90m"); positive, at most 10 years.
func ParseLookback(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		d = time.Duration(min(max(days, -1), 3700)) * 24 * time.Hour
	} else if n, ok := strings.CutSuffix(s, "w"); ok {
		weeks, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number of weeks", s)
		}
		d = time.Duration(min(max(weeks, -1), 530)) * 7 * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a duration (30d, 2w, 36h)", s)
		}
	}
	if d <= 0 || d > 3650*24*time.Hour {
		return 0, fmt.Errorf("%q: want more than 0 and at most 10 years", s)
	}
	return d, nil
}
