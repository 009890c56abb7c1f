package edge

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestQueryDHCPBindings asks a replayed edge's binding table what the
// core's dhcp-bindings command asks: all of it, a page at a time, one
// address, one MAC; bad input is an error naming the field.
func TestQueryDHCPBindings(t *testing.T) {
	var msgs []replayMsg
	macs := []net.HardwareAddr{{2, 0, 0, 0, 0, 0xa1}, {2, 0, 0, 0, 0, 0xa2}, {2, 0, 0, 0, 0, 0xa3}}
	for i, mac := range macs {
		msgs = append(msgs, dora(time.Duration(i)*time.Second, byte(20+i), mac, "10.0.0."+string(rune('5'+i)), "10.0.0.1")...)
	}
	_, e := replay(t, replayConfig(t, writeReplay(t, msgs)))
	ips := func(a *DHCPBindingsAnswer) string {
		var s []string
		for _, b := range a.Bindings {
			s = append(s, b.IP.String()+"="+b.MAC)
		}
		return strings.Join(s, " ")
	}
	tests := []struct {
		name  string
		q     DHCPBindingsQuery
		want  string
		total int
		next  string
		err   string
	}{
		{name: "all", q: DHCPBindingsQuery{}, want: "10.0.0.5=02:00:00:00:00:a1 10.0.0.6=02:00:00:00:00:a2 10.0.0.7=02:00:00:00:00:a3", total: 3},
		{name: "first page", q: DHCPBindingsQuery{Limit: 2}, want: "10.0.0.5=02:00:00:00:00:a1 10.0.0.6=02:00:00:00:00:a2", total: 3, next: "10.0.0.6"},
		{name: "second page", q: DHCPBindingsQuery{Limit: 2, After: "10.0.0.6"}, want: "10.0.0.7=02:00:00:00:00:a3", total: 3},
		{name: "one address", q: DHCPBindingsQuery{IP: "10.0.0.6"}, want: "10.0.0.6=02:00:00:00:00:a2", total: 1},
		{name: "one MAC, upper case", q: DHCPBindingsQuery{MAC: "02:00:00:00:00:A3"}, want: "10.0.0.7=02:00:00:00:00:a3", total: 1},
		{name: "nobody", q: DHCPBindingsQuery{IP: "10.0.0.99"}, want: "", total: 0},
		{name: "bad ip", q: DHCPBindingsQuery{IP: "10.0.0"}, err: `ip: "10.0.0" is not an address`},
		{name: "bad mac", q: DHCPBindingsQuery{MAC: "zz"}, err: `mac: "zz" is not a MAC address`},
		{name: "bad after", q: DHCPBindingsQuery{After: "x"}, err: `after: "x" is not an address`},
		{name: "limit too large", q: DHCPBindingsQuery{Limit: MaxBindingsLimit + 1}, err: "limit: 2001 is outside 0..2000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := e.QueryDHCPBindings(tc.q)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ips(a)); diff != "" {
				t.Errorf("bindings (-want +got):\n%s", diff)
			}
			if a.Total != tc.total || a.Next != tc.next || a.Bindings == nil {
				t.Errorf("total %d next %q (bindings nil: %v), want %d %q", a.Total, a.Next, a.Bindings == nil, tc.total, tc.next)
			}
		})
	}
	off, err := New(testConfig(t), Deps{Lake: openLake(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := off.QueryDHCPBindings(DHCPBindingsQuery{}); err != ErrDHCPOff {
		t.Errorf("an edge without DHCP snooping: %v, want ErrDHCPOff", err)
	}
}
