package flow

import (
	"net/netip"
	"strings"
	"testing"

	ft "github.com/flowlake/flowlake/ingest/flow/flowtest"
	"github.com/flowlake/flowlake/storage/schema"
)

func TestEnrich(t *testing.T) {
	cfg := EnrichConfig{
		Applications: []Application{
			{Name: "intranet-web", Addresses: []string{"10.10.0.0/16"}, Ports: []string{"80", "443", "8000-8099"}, Protocol: "tcp"},
			{Name: "voip", Addresses: []string{"10.20.0.5-10.20.0.9"}, Protocol: "udp"},
			{Name: "backup", Ports: []string{"10000-10010"}},
			{Name: "v6-app", Addresses: []string{"2001:db8:1::/48"}},
		},
		IPGroups: []IPGroup{
			{Name: "corp", Addresses: []string{"10.0.0.0/8"}},
			{Name: "servers", Addresses: []string{"10.10.0.0/16", "2001:db8:1::/48"}},
			{Name: "db", Addresses: []string{"10.10.5.0-10.10.5.20"}},
			{Name: "overlap", Addresses: []string{"10.10.5.10-10.10.6.10"}},
			{Name: "single", Addresses: []string{"10.10.5.15"}},
		},
		Exporters: []Exporter{{Address: netip.MustParseAddr("192.0.2.1"), Name: "core-rtr", Interfaces: map[uint32]string{3: "ge-0/0/3", 4: "ge-0/0/4"}}},
	}
	e, err := NewEnricher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	row := func(src, dst string, proto uint8, sport, dport uint16) schema.Flow {
		return schema.Flow{SrcAddr: schema.MustParseAddr(src), DstAddr: schema.MustParseAddr(dst), Proto: proto, SrcPort: sport, DstPort: dport, InIf: 3, OutIf: 9, Device: "x"}
	}
	tests := []struct {
		name               string
		device             string
		row                schema.Flow
		app, srcG, dstG    string
		devName, inN, outN string
	}{
		{"user app by server side (dst)", "192.0.2.1", row("10.1.1.1", "10.10.1.1", 6, 50000, 8080), "intranet-web", "corp", "servers", "core-rtr", "ge-0/0/3", ""},
		{"user app by server side (reply, src)", "192.0.2.1", row("10.10.1.1", "10.1.1.1", 6, 443, 50000), "intranet-web", "servers", "corp", "core-rtr", "ge-0/0/3", ""},
		{"user app protocol mismatch falls to default", "192.0.2.2", row("10.1.1.1", "10.10.1.1", 17, 50000, 443), "https", "corp", "servers", "x", "", ""},
		{"port outside user range: default table", "192.0.2.2", row("10.1.1.1", "10.10.1.1", 6, 50000, 22), "ssh", "corp", "servers", "x", "", ""},
		{"address range app", "192.0.2.2", row("10.20.0.7", "8.8.8.8", 17, 5004, 40000), "voip", "corp", "", "x", "", ""},
		{"address range app boundary excluded", "192.0.2.2", row("10.20.0.10", "8.8.8.8", 17, 5004, 40000), "", "corp", "", "x", "", ""},
		{"ports-only app", "192.0.2.2", row("1.1.1.1", "2.2.2.2", 6, 10005, 40000), "backup", "", "", "x", "", ""},
		{"default: lower known port wins", "192.0.2.2", row("1.1.1.1", "2.2.2.2", 17, 123, 53), "dns", "", "", "x", "", ""},
		{"default: protocol name", "192.0.2.2", row("1.1.1.1", "2.2.2.2", 50, 0, 0), "esp", "", "", "x", "", ""},
		{"default: icmp", "192.0.2.2", row("1.1.1.1", "2.2.2.2", 1, 0, 0x0800), "icmp", "", "", "x", "", ""},
		{"unknown ports", "192.0.2.2", row("1.1.1.1", "2.2.2.2", 6, 40001, 40002), "", "", "", "x", "", ""},
		{"longest match: range inside /16", "192.0.2.2", row("10.10.5.3", "10.10.6.5", 6, 50000, 443), "intranet-web", "db", "overlap", "x", "", ""},
		{"longest match: smaller of two overlapping ranges", "192.0.2.2", row("10.10.5.12", "10.10.5.15", 6, 50000, 443), "intranet-web", "db", "single", "x", "", ""},
		{"ipv6 group and app", "192.0.2.2", row("2001:db8:1::5", "2001:db8:2::1", 6, 1, 2), "v6-app", "servers", "", "x", "", ""},
		{"ipv4-mapped device address", "::ffff:192.0.2.1", row("8.8.8.8", "9.9.9.9", 6, 1, 2), "", "", "", "core-rtr", "ge-0/0/3", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows := []schema.Flow{tc.row}
			e.Apply(netip.MustParseAddr(tc.device), rows)
			r := rows[0]
			got := []string{r.App, r.SrcGroup, r.DstGroup, r.Device, r.InIfName, r.OutIfName}
			want := []string{tc.app, tc.srcG, tc.dstG, tc.devName, tc.inN, tc.outN}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("app|src_group|dst_group|device|in_if_name|out_if_name = %q, want %q", got, want)
			}
		})
	}
}

func TestEnrichConfigErrors(t *testing.T) {
	tests := []struct {
		name     string
		cfg      EnrichConfig
		contains string
	}{
		{"app without name", EnrichConfig{Applications: []Application{{Ports: []string{"1"}}}}, "name is empty"},
		{"app matching everything", EnrichConfig{Applications: []Application{{Name: "all"}}}, "matches every flow"},
		{"bad port range", EnrichConfig{Applications: []Application{{Name: "a", Ports: []string{"90-80"}}}}, "port range"},
		{"bad protocol", EnrichConfig{Applications: []Application{{Name: "a", Protocol: "tcpx"}}}, "protocol"},
		{"bad prefix", EnrichConfig{IPGroups: []IPGroup{{Name: "g", Addresses: []string{"10.0.0.0/33"}}}}, "prefix"},
		{"reversed range", EnrichConfig{IPGroups: []IPGroup{{Name: "g", Addresses: []string{"10.0.0.9-10.0.0.1"}}}}, "after the last"},
		{"mixed family range", EnrichConfig{IPGroups: []IPGroup{{Name: "g", Addresses: []string{"10.0.0.1-::1"}}}}, "mixes"},
		{"group without addresses", EnrichConfig{IPGroups: []IPGroup{{Name: "g"}}}, "no addresses"},
		{"duplicate exporter", EnrichConfig{Exporters: []Exporter{{Address: netip.MustParseAddr("192.0.2.1")}, {Address: netip.MustParseAddr("::ffff:192.0.2.1")}}}, "listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewEnricher(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %v, want one containing %q", err, tc.contains)
			}
		})
	}
}

// TestRangeTableAgainstLinearScan checks the longest-match table against a
// direct scan over many overlapping ranges.
func TestRangeTableAgainstLinearScan(t *testing.T) {
	var entries []tableEntry
	specs := []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25", "10.1.2.100-10.1.3.5", "10.1.2.200", "10.255.255.255", "0.0.0.0/0", "::/0", "2001:db8::/32", "2001:db8::5-2001:db8::9"}
	for i, s := range specs {
		r, err := parseAddrSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, tableEntry{r: r, val: int32(i)})
	}
	tbl := buildRangeTable(entries)
	probe := []string{"10.0.0.1", "10.1.0.1", "10.1.2.1", "10.1.2.99", "10.1.2.100", "10.1.2.127", "10.1.2.128", "10.1.2.200", "10.1.2.201", "10.1.3.5", "10.1.3.6", "10.255.255.255", "11.0.0.0", "0.0.0.0", "255.255.255.255", "2001:db8::4", "2001:db8::7", "2001:db9::", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}
	for _, p := range probe {
		a := u128Of(schema.MustParseAddr(p))
		want, best := int32(-1), u128{^uint64(0), ^uint64(0)}
		for _, e := range entries {
			if e.r.lo.cmp(a) <= 0 && a.cmp(e.r.hi) <= 0 {
				if size := e.r.hi.sub(e.r.lo); want < 0 || size.cmp(best) < 0 {
					want, best = e.val, size
				}
			}
		}
		if got := tbl.lookup(schema.MustParseAddr(p)); got != want {
			t.Errorf("%s: got %d, want %d", p, got, want)
		}
	}
}

func TestDecoderAppliesEnricher(t *testing.T) {
	d := mustDecoder(t, DefaultConfig())
	e, err := NewEnricher(EnrichConfig{Exporters: []Exporter{{Address: exporterA.Addr(), Name: "edge-router"}}})
	if err != nil {
		t.Fatal(err)
	}
	msg := ft.IPFIXMessage(exportT, 0, 1, ft.Set(2, ipfixTmpl), ft.Set(256, ipfixRec([4]byte{1, 1, 1, 1}, [4]byte{2, 2, 2, 2}, 40000, 443, 6, 1, 1, startMs, 0, 0)))
	rows, _ := decodeAll(t, d, exporterA, msg)
	d.SetEnricher(e)
	more, _ := decodeAll(t, d, exporterA, msg)
	if rows[0].Device != "192.0.2.1" || rows[0].App != "" {
		t.Errorf("before SetEnricher: device %q app %q", rows[0].Device, rows[0].App)
	}
	if more[0].Device != "edge-router" || more[0].App != "https" {
		t.Errorf("after SetEnricher: device %q app %q", more[0].Device, more[0].App)
	}
}
