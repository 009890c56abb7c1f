package tunnel

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestOrder: the primary first, backups by domain, ports descending.
func TestOrder(t *testing.T) {
	got, err := Order(Server{Domain: "z.example", Ports: []uint16{443, 19443}},
		[]Server{{Domain: "c.example", Ports: []uint16{1, 3, 2}}, {Domain: "b.example"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Endpoint{{"z.example", 19443, 0}, {"z.example", 443, 0}, {"b.example", 19443, 1},
		{"c.example", 3, 2}, {"c.example", 2, 2}, {"c.example", 1, 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	nine := make([]Server, 9)
	for _, tc := range []struct {
		name    string
		primary Server
		backups []Server
		want    string
	}{
		{"no primary", Server{}, nil, "primary server: domain"},
		{"nine backups", Server{Domain: "a"}, nine, "at most 8"},
		{"four ports", Server{Domain: "a", Ports: []uint16{1, 2, 3, 4}}, nil, "at most 3"},
		{"twice", Server{Domain: "a"}, []Server{{Domain: "a"}}, "listed twice"},
		{"odd domain", Server{Domain: "a b"}, nil, "not allowed"},
		{"repeated port", Server{Domain: "a", Ports: []uint16{5, 5}}, nil, "repeated"},
	} {
		if _, err := Order(tc.primary, tc.backups); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestTimingRanges: the documents' ranges, 10–600 s.
func TestTimingRanges(t *testing.T) {
	if err := DefaultTiming().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Timing{
		{Keepalive: 9 * time.Second, KeepaliveCount: 3, Ping: time.Minute},
		{Keepalive: 601 * time.Second, KeepaliveCount: 3, Ping: time.Minute},
		{Keepalive: time.Minute, KeepaliveCount: 3, Ping: 5 * time.Second},
		{Keepalive: time.Minute, KeepaliveCount: 0, Ping: time.Minute},
		{Keepalive: 10500 * time.Millisecond, KeepaliveCount: 3, Ping: time.Minute},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}
