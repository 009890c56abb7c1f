package dhcp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/schema"
)

const leaseSamples = "testdata/leases"

// spansOf runs events through a tracker and ends with Advance(now): every
// span, ended or open, in the order they ended, then the open ones.
func spansOf(t *testing.T, source string, f *LeaseFile, now int64) ([]schema.DHCPLease, LeaseCounters) {
	t.Helper()
	tr := NewLeaseTracker(source, "import")
	var out []schema.DHCPLease
	for i := range f.Events {
		out = tr.Observe(&f.Events[i], out)
	}
	out = tr.Advance(now, out)
	return append(out, tr.Open()...), tr.Counters
}

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(leaseSamples, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// short builds an expected span with only what these tests compare.
type short struct {
	Addr, Client, Host, Reason string
	Start, LastAck, End        int64 // seconds
	Renewals                   uint32
	Giaddr, Circuit, Remote    string
}

func shorten(rows []schema.DHCPLease) []short {
	var out []short
	for _, r := range rows {
		out = append(out, short{Addr: r.Address.String(), Client: r.Client, Host: r.Hostname, Reason: r.EndReason,
			Start: r.Time / 1e6, LastAck: r.LastAck / 1e6, End: r.EndTime / 1e6, Renewals: r.Renewals,
			Giaddr: r.GIAddr.String(), Circuit: r.CircuitID, Remote: r.RemoteID})
	}
	return out
}

func TestParseKeaCSV(t *testing.T) {
	f, err := ParseKeaCSV(bytes.NewReader(readSample(t, "kea-leases4.csv")), "kea-leases4.csv", "kea1")
	if err != nil {
		t.Fatal(err)
	}
	if f.Lines != 8 || f.Skipped["expired-reclaimed"] != 1 || len(f.Events) != 6 {
		t.Errorf("lines %d, skipped %v, events %d; want 8, 1 expired-reclaimed, 6", f.Lines, f.Skipped, len(f.Events))
	}
	spans, c := spansOf(t, schema.LeaseSourceKeaCSV, f, 1_800_010_000*1e6)
	want := []short{
		{Addr: "10.0.0.12", Client: "id:0102000000000b", Host: "laptop-42", Reason: schema.LeaseReleased, Start: 1_800_000_100, LastAck: 1_800_000_100, End: 1_800_001_800},
		{Addr: "10.0.0.13", Client: "mac:02:00:00:00:00:0c", Host: "printer, 2nd floor", Reason: schema.LeaseDeclined, Start: 1_800_002_000, LastAck: 1_800_002_000, End: 1_800_002_001},
		{Addr: "10.0.0.11", Client: "mac:02:00:00:00:00:0a", Reason: schema.LeaseExpired, Start: 1_800_000_000, LastAck: 1_800_001_800, End: 1_800_005_400, Renewals: 1},
	}
	if diff := cmp.Diff(want, shorten(spans)); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
	if c.Unmatched != 0 || c.OutOfOrder != 0 {
		t.Errorf("counters %+v", c)
	}
}

func TestParseKeaLegal(t *testing.T) {
	f, err := ParseKeaLegal(bytes.NewReader(readSample(t, "kea-legal4.txt")), "kea-legal4.txt", "kea1", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{5}, f.Unknown); diff != "" {
		t.Errorf("unknown lines (-want +got):\n%s", diff)
	}
	spans, _ := spansOf(t, schema.LeaseSourceKeaLegal, f, 1_800_003_000*1e6)
	want := []short{
		{Addr: "10.0.0.12", Client: "id:0102000000000b", Reason: schema.LeaseReleased, Start: 1_800_000_100, LastAck: 1_800_000_100, End: 1_800_002_000},
		{Addr: "10.0.0.13", Client: "mac:02:00:00:00:00:0c", Reason: schema.LeaseDeclined, Start: 1_800_002_700, LastAck: 1_800_002_700, End: 1_800_002_701},
		{Addr: "10.0.0.11", Client: "mac:02:00:00:00:00:0a", Reason: schema.LeaseReleased, Start: 1_800_000_000, LastAck: 1_800_001_800, End: 1_800_003_900, Renewals: 1,
			Giaddr: "10.9.0.1", Circuit: "ge-0/0/7", Remote: "87f67977ef"},
		{Addr: "2001:db8:1::11", Client: "id:0003000102000000000e", Reason: schema.LeaseOpen, Start: 1_800_003_600, LastAck: 1_800_003_600, End: 1_800_003_600 + 713, Giaddr: "3001::1", Remote: "010203040a0b0c0d0e0f"},
	}
	// The v6 lease starts after now: Advance(now) left it open.
	if diff := cmp.Diff(want, shorten(spans)); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
}

func TestParseDnsmasqSnapshots(t *testing.T) {
	at := int64(1_800_000_000) * 1e6
	f, err := ParseDnsmasq(bytes.NewReader(readSample(t, "dnsmasq.leases")), "dnsmasq.leases", "dnsmasq1", at+123)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Events) != 4 || f.Skipped["expired"] != 1 {
		t.Fatalf("events %d, skipped %v; want 4 and 1 expired", len(f.Events), f.Skipped)
	}
	tr := NewLeaseTracker(schema.LeaseSourceDnsmasq, "import")
	for _, ev := range DnsmasqDiff(nil, f, at) {
		tr.Observe(&ev, nil)
	}
	first := tr.Open()
	if diff := cmp.Diff([]short{ // Open orders by start, then client
		{Addr: "2001:db8::11", Client: "id:0003000102000000000e", Host: "phone", Reason: schema.LeaseOpen, Start: 1_800_000_000, LastAck: 1_800_000_000, End: 1_800_003_600},
		{Addr: "10.0.0.12", Client: "id:0102000000000b", Host: "laptop-42", Reason: schema.LeaseOpen, Start: 1_800_000_000, LastAck: 1_800_000_000, End: 1_800_003_700},
		{Addr: "10.0.0.11", Client: "mac:02:00:00:00:00:0a", Reason: schema.LeaseOpen, Start: 1_800_000_000, LastAck: 1_800_000_000, End: 1_800_003_600},
		{Addr: "10.0.0.13", Client: "mac:02:00:00:00:00:0c", Host: "printer", Reason: schema.LeaseOpen, Start: 1_800_000_000, LastAck: 1_800_000_000, End: Forever / 1e6},
	}, shorten(first)); diff != "" {
		t.Errorf("first snapshot (-want +got):\n%s", diff)
	}

	// A second snapshot, a restarted tracker resumed from the first's
	// open rows: .11 renewed, .12 gone (released), .13 unchanged, the
	// v6 lease unchanged.
	second := "1800005400 02:00:00:00:00:0a 10.0.0.11 * *\n0 02:00:00:00:00:0c 10.0.0.13 printer *\nduid 00:01\n1800003600 235 2001:db8::11 phone 00:03:00:01:02:00:00:00:00:0e\n"
	at2 := at + 1800*1e6
	f2, err := ParseDnsmasq(strings.NewReader(second), "dnsmasq.leases", "dnsmasq1", at2)
	if err != nil {
		t.Fatal(err)
	}
	tr2 := NewLeaseTracker(schema.LeaseSourceDnsmasq, "import")
	tr2.Resume(first)
	var ended []schema.DHCPLease
	evs := DnsmasqDiff(first, f2, at2)
	if len(evs) != 2 {
		t.Errorf("diff has %d events, want 2 (the renewal and the release): %+v", len(evs), evs)
	}
	for _, ev := range evs {
		ended = tr2.Observe(&ev, ended)
	}
	if diff := cmp.Diff([]short{
		{Addr: "10.0.0.12", Client: "id:0102000000000b", Host: "laptop-42", Reason: schema.LeaseReleased, Start: 1_800_000_000, LastAck: 1_800_000_000, End: 1_800_001_800},
	}, shorten(ended)); diff != "" {
		t.Errorf("ended by the second snapshot (-want +got):\n%s", diff)
	}
	got := shorten(tr2.Open())
	if len(got) != 3 || got[1].Renewals != 1 || got[1].End != 1_800_005_400 || got[0].Renewals != 0 || got[2].Renewals != 0 {
		t.Errorf("after the second snapshot: %+v", got)
	}
}

// TestLeaseFileErrors: a bad field names the file, line and field; a
// file of another format is refused by its header.
func TestLeaseFileErrors(t *testing.T) {
	kea := func(s string) error {
		_, err := ParseKeaCSV(strings.NewReader(s), "l.csv", "")
		return err
	}
	legal := func(s string) error {
		_, err := ParseKeaLegal(strings.NewReader(s), "l.txt", "", time.UTC)
		return err
	}
	dnsmasq := func(s string) error {
		_, err := ParseDnsmasq(strings.NewReader(s), "d.leases", "", 0)
		return err
	}
	const h = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n"
	tests := []struct {
		name  string
		parse func(string) error
		in    string
		want  string
	}{
		{"kea header", kea, "a,b,c\n1,2,3\n", `l.csv:1: header lacks column "address"`},
		{"kea address", kea, h + "10.0.0.300,,,1,2,1,0,0,,0,\n", `l.csv:2: address: "10.0.0.300" is not an IPv4 address`},
		{"kea lifetime", kea, h + "10.0.0.1,,,x,2,1,0,0,,0,\n", `l.csv:2: valid_lifetime: "x"`},
		{"kea expire", kea, h + "10.0.0.1,,,1,-5,1,0,0,,0,\n", `l.csv:2: expire: "-5"`},
		{"kea hwaddr", kea, h + "10.0.0.1,zz:00,,1,2,1,0,0,,0,\n", `l.csv:2: hwaddr: "zz:00" is not colon-separated hex`},
		{"kea short hwaddr", kea, h + "10.0.0.1,00:01,,1,2,1,0,0,,0,\n", `l.csv:2: hwaddr: "00:01" is not a 6-byte hardware address`},
		{"kea fields", kea, h + "10.0.0.1,,\n", `l.csv:2: 3 fields, the header has 11`},
		{"legal zone", legal, "2027-01-15 08:00:00 XYZ Address: 10.0.0.1 has been assigned for 1 hrs 0 mins 0 secs to a device with hardware address: hwtype=1 02:00:00:00:00:0a\n", `l.txt:1: timestamp: zone "XYZ" is not a zone of UTC`},
		{"legal duration", legal, "2027-01-15 08:00:00 UTC Address: 10.0.0.1 has been assigned for ever to a device with hardware address: hwtype=1 02:00:00:00:00:0a\n", `l.txt:1: duration: "ever" is not a lease duration`},
		{"legal address", legal, "2027-01-15 08:00:00 UTC Address: 10.0.0.x has been released from a device with hardware address: hwtype=1 02:00:00:00:00:0a\n", `l.txt:1: address: "10.0.0.x"`},
		{"dnsmasq fields", dnsmasq, "1 2 3\n", `d.leases:1: 3 fields, want 5`},
		{"dnsmasq expiry", dnsmasq, "x 02:00:00:00:00:0a 10.0.0.1 * *\n", `d.leases:1: expiry: "x"`},
		{"dnsmasq family", dnsmasq, "5 02:00:00:00:00:0a 2001:db8::1 * *\n", `d.leases:1: address: "2001:db8::1" is not an IPv4 address`},
		{"dnsmasq client id", dnsmasq, "5 02:00:00:00:00:0a 10.0.0.1 * 0g\n", `d.leases:1: client_id: "0g"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.in)
			var le *LeaseFileError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *LeaseFileError", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n got %q\nwant prefix %q", err, tc.want)
			}
		})
	}
}
