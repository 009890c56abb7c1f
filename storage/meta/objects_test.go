package meta

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseAddressRange(t *testing.T) {
	for _, tt := range []struct {
		in, want, err string
	}{
		{"10.0.0.0/8", "10.0.0.0/8", ""},
		{" 192.0.2.7 ", "192.0.2.7", ""},
		{"192.0.2.7/32", "192.0.2.7", ""},
		{"192.0.2.0-192.0.2.255", "192.0.2.0/24", ""},
		{"192.0.2.10 - 192.0.2.20", "192.0.2.10-192.0.2.20", ""},
		{"2001:db8::/32", "2001:db8::/32", ""},
		{"2001:DB8::1", "2001:db8::1", ""},
		{"2001:db8::1-2001:db8::ff", "2001:db8::1-2001:db8::ff", ""},
		{"::ffff:192.0.2.1", "192.0.2.1", ""},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24", ""},
		{"0.0.0.0/0", "0.0.0.0/0", ""},
		{"::/0", "::/0", ""},
		{"10.0.0.1/8", "", `prefix "10.0.0.1/8": host bits set; the network is 10.0.0.0/8`},
		{"10.0.0.0/33", "", `prefix "10.0.0.0/33": prefix length out of range`},
		{"10.0.0/8", "", `prefix "10.0.0/8"`},
		{"2001:db8::1/32", "", "host bits set; the network is 2001:db8::/32"},
		{"192.0.2.20-192.0.2.10", "", `range "192.0.2.20-192.0.2.10": start is after end`},
		{"192.0.2.1-2001:db8::1", "", "mixes IPv4 and IPv6"},
		{"192.0.2.1-", "", `range "192.0.2.1-": end`},
		{"fe80::1%eth0", "", "zones are not allowed"},
		{"example.com", "", `address "example.com"`},
		{"", "", "empty address"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseAddressRange(tt.in)
			if tt.err != "" {
				if err == nil || !contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.String() != tt.want {
				t.Errorf("String() = %q, want %q", r.String(), tt.want)
			}
			back, err := ParseAddressRange(r.String())
			if err != nil || back != r {
				t.Errorf("round trip: %v, %v", back, err)
			}
		})
	}
}

func TestAddressRangeContains(t *testing.T) {
	r, _ := ParseAddressRange("192.0.2.10-192.0.2.20")
	v6, _ := ParseAddressRange("2001:db8::/64")
	for _, tt := range []struct {
		r    AddressRange
		addr string
		want bool
	}{
		{r, "192.0.2.10", true}, {r, "192.0.2.20", true}, {r, "192.0.2.15", true},
		{r, "192.0.2.9", false}, {r, "192.0.2.21", false},
		{r, "::ffff:192.0.2.15", true}, // the lake's form of IPv4
		{r, "::c000:20f", false},       // IPv4-compatible, not IPv4
		{v6, "2001:db8::ffff", true}, {v6, "2001:db8:0:1::", false}, {v6, "192.0.2.15", false},
	} {
		if got := tt.r.Contains(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("%s contains %s = %v, want %v", tt.r, tt.addr, got, tt.want)
		}
	}
}

func TestPortsAndProtocols(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{"443", "443", ""}, {"8000-8080", "8000-8080", ""}, {" 53 ", "53", ""}, {"0-65535", "0-65535", ""}, {"80-80", "80", ""},
		{"65536", "", "0 to 65535"}, {"http", "", `port "http"`}, {"90-80", "", "start is after end"}, {"1-x", "", `port range "1-x"`},
	} {
		p, err := ParsePortRange(tt.in)
		if tt.err != "" && (err == nil || !contains(err.Error(), tt.err)) || tt.err == "" && (err != nil || p.String() != tt.want) {
			t.Errorf("ParsePortRange(%q) = %v, %v; want %q / %q", tt.in, p, err, tt.want, tt.err)
		}
	}
	for _, tt := range []struct{ in, want, err string }{
		{"", "any", ""}, {"TCP", "tcp", ""}, {"17", "udp", ""}, {"58", "icmpv6", ""}, {"89", "89", ""},
		{"256", "", "protocol \"256\""}, {"ospf", "", "protocol \"ospf\""},
	} {
		p, err := NormalizeProtocol(tt.in)
		if tt.err != "" && (err == nil || !contains(err.Error(), tt.err)) || tt.err == "" && (err != nil || p != tt.want) {
			t.Errorf("NormalizeProtocol(%q) = %q, %v; want %q / %q", tt.in, p, err, tt.want, tt.err)
		}
	}
}

func TestIPGroupsCRUD(t *testing.T) {
	s, clk := openTest(t)
	ctx := t.Context()
	for _, tt := range []struct {
		name string
		in   IPGroupInput
		err  error
		msg  string
	}{
		{"ok", IPGroupInput{Name: "finance", Members: []string{"10.1.0.0/16", "10.1.0.0/16", "2001:db8:1::/48", "192.0.2.10-192.0.2.20"}}, nil, ""},
		{"unicode name", IPGroupInput{Name: " 财务部 ", Members: []string{"10.2.0.0/16"}}, nil, ""},
		{"duplicate", IPGroupInput{Name: "finance", Members: []string{"10.9.0.0/16"}}, ErrConflict, `create ip group "finance"`},
		{"host bits", IPGroupInput{Name: "x", Members: []string{"10.0.0.0/8", "10.1.2.3/16"}}, ErrInvalid, `members[1]: prefix "10.1.2.3/16": host bits set; the network is 10.1.0.0/16`},
		{"no members", IPGroupInput{Name: "x"}, ErrInvalid, "members: empty"},
		{"no name", IPGroupInput{Name: "  ", Members: []string{"10.0.0.0/8"}}, ErrInvalid, "ip group name"},
		{"control char", IPGroupInput{Name: "a\nb", Members: []string{"10.0.0.0/8"}}, ErrInvalid, "control characters"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateIPGroup(ctx, tt.in)
			wantErr(t, err, tt.err, tt.msg)
		})
	}
	groups, err := s.ListIPGroups(ctx)
	if err != nil || len(groups) != 2 {
		t.Fatalf("ListIPGroups = %v, %v", groups, err)
	}
	fin := groups[0]
	if diff := cmp.Diff([]string{"10.1.0.0/16", "2001:db8:1::/48", "192.0.2.10-192.0.2.20"}, fin.Members); diff != "" || fin.Name != "finance" {
		t.Errorf("finance members (-want +got):\n%s", diff)
	}
	if groups[1].Name != "财务部" {
		t.Errorf("name not trimmed: %q", groups[1].Name)
	}
	clk.Advance(time.Minute)
	upd, err := s.UpdateIPGroup(ctx, fin.ID, IPGroupInput{Name: "finance-hq", Description: "HQ", Members: []string{"10.1.1.0/24"}})
	if err != nil || upd.Name != "finance-hq" || !upd.UpdatedAt.Equal(clk.Now()) || !upd.CreatedAt.Equal(fin.CreatedAt) || len(upd.Members) != 1 {
		t.Errorf("UpdateIPGroup = %+v, %v", upd, err)
	}
	got, err := s.GetIPGroup(ctx, fin.ID)
	if diff := cmp.Diff(upd, got); diff != "" || err != nil {
		t.Errorf("GetIPGroup (-updated +got) %v:\n%s", err, diff)
	}
	_, err = s.UpdateIPGroup(ctx, fin.ID, IPGroupInput{Name: "财务部", Members: []string{"10.0.0.0/8"}})
	wantErr(t, err, ErrConflict, "")
	_, err = s.UpdateIPGroup(ctx, "ghost", IPGroupInput{Name: "g", Members: []string{"10.0.0.0/8"}})
	wantErr(t, err, ErrNotFound, "ip group")
	_, err = s.UpdateIPGroup(ctx, fin.ID, IPGroupInput{Name: "g", Members: []string{"10.0.0.300"}})
	wantErr(t, err, ErrInvalid, "10.0.0.300")
	wantErr(t, s.DeleteIPGroup(ctx, fin.ID), nil, "")
	wantErr(t, s.DeleteIPGroup(ctx, fin.ID), ErrNotFound, "")
	_, err = s.GetIPGroup(ctx, fin.ID)
	wantErr(t, err, ErrNotFound, "")
}

func TestApplicationsCRUD(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	for _, tt := range []struct {
		name string
		in   ApplicationInput
		err  error
		msg  string
	}{
		{"ok", ApplicationInput{Name: "erp", Protocol: "TCP", Addresses: []string{"10.0.5.10", "10.0.5.11"}, Ports: []string{"443", "8000-8080", "443"}}, nil, ""},
		{"ports only", ApplicationInput{Name: "dns", Protocol: "17", Ports: []string{"53"}}, nil, ""},
		{"addresses only", ApplicationInput{Name: "mail", Addresses: []string{"2001:db8::25"}}, nil, ""},
		{"nothing", ApplicationInput{Name: "void", Protocol: "tcp"}, ErrInvalid, "give addresses, ports or both"},
		{"bad port", ApplicationInput{Name: "x", Ports: []string{"70000"}}, ErrInvalid, `ports[0]: port "70000"`},
		{"bad address", ApplicationInput{Name: "x", Addresses: []string{"10.0.0.0/33"}}, ErrInvalid, "addresses[0]"},
		{"bad protocol", ApplicationInput{Name: "x", Protocol: "carrier-pigeon", Ports: []string{"1"}}, ErrInvalid, "protocol"},
		{"icmp ports", ApplicationInput{Name: "x", Protocol: "icmp", Ports: []string{"1"}}, ErrInvalid, "protocol icmp has no ports"},
		{"duplicate", ApplicationInput{Name: "erp", Ports: []string{"1"}}, ErrConflict, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateApplication(ctx, tt.in)
			wantErr(t, err, tt.err, tt.msg)
		})
	}
	apps, err := s.ListApplications(ctx)
	if err != nil || len(apps) != 3 {
		t.Fatalf("ListApplications = %v, %v", apps, err)
	}
	erp := apps[1]
	want := Application{ID: erp.ID, Name: "erp", Protocol: "tcp", Addresses: []string{"10.0.5.10", "10.0.5.11"},
		Ports: []string{"443", "8000-8080"}, CreatedAt: erp.CreatedAt, UpdatedAt: erp.UpdatedAt}
	if diff := cmp.Diff(want, erp); diff != "" {
		t.Errorf("erp (-want +got):\n%s", diff)
	}
	if apps[0].Protocol != "udp" || apps[2].Protocol != "any" || len(apps[2].Ports) != 0 {
		t.Errorf("normalised protocols: %+v", apps)
	}
	upd, err := s.UpdateApplication(ctx, erp.ID, ApplicationInput{Name: "erp", Protocol: "udp", Ports: []string{"5000"}})
	if err != nil || upd.Protocol != "udp" || len(upd.Addresses) != 0 {
		t.Errorf("UpdateApplication = %+v, %v", upd, err)
	}
	if got, err := s.GetApplication(ctx, erp.ID); err != nil || !cmp.Equal(got, upd) {
		t.Errorf("GetApplication = %+v, %v", got, err)
	}
	_, err = s.UpdateApplication(ctx, "ghost", ApplicationInput{Name: "g", Ports: []string{"1"}})
	wantErr(t, err, ErrNotFound, "")
	_, err = s.UpdateApplication(ctx, erp.ID, ApplicationInput{Name: "dns", Ports: []string{"1"}})
	wantErr(t, err, ErrConflict, "")
	wantErr(t, s.DeleteApplication(ctx, erp.ID), nil, "")
	wantErr(t, s.DeleteApplication(ctx, erp.ID), ErrNotFound, "")
}
