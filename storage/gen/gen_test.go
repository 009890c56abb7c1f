package gen

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/schema"
)

// testConfig is DefaultConfig over hours hours at the given flow rate.
func testConfig(hours int, fps float64) Config {
	cfg := DefaultConfig()
	cfg.End = cfg.Start.Add(time.Duration(hours) * time.Hour)
	cfg.FlowsPerSecond = fps
	return cfg
}

func collect(t *testing.T, cfg Config) *Collector {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var c Collector
	if err := g.Run(context.Background(), &c); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return &c
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   string // substring of the error; "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"end before start", func(c *Config) { c.End = c.Start.Add(-time.Hour) }, "end"},
		{"no start", func(c *Config) { c.Start = time.Time{} }, "start and end must be set"},
		{"negative rate", func(c *Config) { c.FlowsPerSecond = -1 }, "flows per second"},
		{"too many sites", func(c *Config) { c.Sites = 16 }, "sites 16"},
		{"few hosts", func(c *Config) { c.HostsPerSite = 10 }, "hosts per site"},
		{"ipv6 share", func(c *Config) { c.IPv6Share = 1.5 }, "IPv6 share"},
		{"packets", func(c *Config) { c.TCPPacketsMax = 2 }, "TCP packets max"},
		{"dhcp clients", func(c *Config) { c.DHCPClientsPerSite = c.HostsPerSite }, "DHCP clients"},
		{"interval", func(c *Config) { c.CloudInterval = 0 }, "cloud interval"},
		{"two at once", func(c *Config) { c.Sites, c.EdgesPerSite = 0, 0 }, "edges per site"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.modify(&cfg)
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
			if _, err2 := New(cfg); (err2 == nil) != (err == nil) {
				t.Fatalf("New error %v disagrees with Validate %v", err2, err)
			}
		})
	}
}

// diffRows describes the first difference between two row slices, or
// returns "" when they are equal. Rows are comparable structs, so == is
// exact and much faster than a reflective diff of millions of rows.
func diffRows[T comparable](a, b []T) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("row %d differs (-first +second):\n%s", i, cmp.Diff(a[i], b[i]))
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf("%d rows, then %d rows", len(a), len(b))
	}
	return ""
}

func TestDeterminism(t *testing.T) {
	cfg := testConfig(3, 5)
	a, b := collect(t, cfg), collect(t, cfg)
	cfg.Seed = 2
	o := collect(t, cfg)
	for _, tc := range []struct {
		name       string
		same, diff string
	}{
		{"flows", diffRows(a.FlowRows, b.FlowRows), diffRows(a.FlowRows, o.FlowRows)},
		{"tcp_conns", diffRows(a.TCPConnRows, b.TCPConnRows), diffRows(a.TCPConnRows, o.TCPConnRows)},
		{"tcp_packets", diffRows(a.TCPPacketRows, b.TCPPacketRows), diffRows(a.TCPPacketRows, o.TCPPacketRows)},
		{"dhcp_events", diffRows(a.DHCPRows, b.DHCPRows), diffRows(a.DHCPRows, o.DHCPRows)},
		{"cloud_conn", diffRows(a.CloudRows, b.CloudRows), diffRows(a.CloudRows, o.CloudRows)},
		{"flow_loss", diffRows(a.LossRows, b.LossRows), diffRows(a.LossRows, o.LossRows)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.same != "" {
				t.Errorf("same seed, different rows: %s", tc.same)
			}
			if tc.diff == "" {
				t.Errorf("seeds 1 and 2 produced identical rows")
			}
		})
	}
}

// An hour's flows do not depend on the hours generated before it.
func TestFlowsIndependentOfStart(t *testing.T) {
	cfg := testConfig(3, 5)
	full := collect(t, cfg)
	cfg.Start = cfg.Start.Add(2 * time.Hour)
	last := collect(t, cfg)
	from := schema.Micros(cfg.Start)
	var tail []schema.Flow
	for _, f := range full.FlowRows {
		if f.Time >= from {
			tail = append(tail, f)
		}
	}
	if d := diffRows(tail, last.FlowRows); d != "" {
		t.Errorf("hour 3 alone differs from hour 3 of a longer run: %s", d)
	}
}

// boundsSink checks every call: one call per dataset per edge per hour,
// all rows inside that hour and inside [start, end), hours in order.
type boundsSink struct {
	t          *testing.T
	start, end int64
	last       map[string]int64 // dataset/edge → hour of its last non-empty call
	calls      map[string]int
}

func (s *boundsSink) check(dataset, edge string, times []int64) error {
	key := dataset + "/" + edge
	s.calls[key]++
	if len(times) == 0 {
		return nil
	}
	hour := times[0] - times[0]%hourUs
	for _, tm := range times {
		if tm < s.start || tm >= s.end {
			return fmt.Errorf("%s: row at %s outside [start, end)", key, schema.FromMicros(tm))
		}
		if tm-tm%hourUs != hour {
			return fmt.Errorf("%s: rows of hours %s and %s in one call", key, schema.FromMicros(hour), schema.FromMicros(tm))
		}
	}
	if prev, ok := s.last[key]; ok && hour <= prev {
		return fmt.Errorf("%s: hour %s after hour %s", key, schema.FromMicros(hour), schema.FromMicros(prev))
	}
	s.last[key] = hour
	return nil
}

func times[T schema.Row](rows []T) []int64 {
	out := make([]int64, len(rows))
	for i := range rows {
		out[i] = schema.EventTime(&rows[i])
	}
	return out
}

func (s *boundsSink) Flows(e string, r []schema.Flow) error { return s.check("flows", e, times(r)) }
func (s *boundsSink) TCPConns(e string, r []schema.TCPConn) error {
	return s.check("tcp_conns", e, times(r))
}
func (s *boundsSink) TCPPackets(e string, r []schema.TCPPacket) error {
	return s.check("tcp_packets", e, times(r))
}
func (s *boundsSink) DHCPEvents(e string, r []schema.DHCPEvent) error {
	return s.check("dhcp_events", e, times(r))
}
func (s *boundsSink) CloudConns(e string, r []schema.CloudConn) error {
	return s.check("cloud_conn", e, times(r))
}
func (s *boundsSink) FlowLoss(e string, r []schema.FlowLoss) error {
	return s.check("flow_loss", e, times(r))
}

func TestRowsInsideTheirHour(t *testing.T) {
	for _, tc := range []struct {
		name       string
		start, end time.Duration // offsets from the default start
		calls      int           // calls per dataset per edge
	}{
		{"whole hours", 0, 30 * time.Hour, 30},
		{"cut hours", 90 * time.Minute, 5*time.Hour + 10*time.Minute, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(1, 5)
			cfg.Start, cfg.End = cfg.Start.Add(tc.start), cfg.Start.Add(tc.end)
			g, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			s := &boundsSink{t: t, start: schema.Micros(cfg.Start), end: schema.Micros(cfg.End), calls: map[string]int{}, last: map[string]int64{}}
			if err := g.Run(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			if len(s.calls) != 6*len(g.Edges()) {
				t.Errorf("got calls for %d dataset/edge pairs, want %d", len(s.calls), 6*len(g.Edges()))
			}
			for k, n := range s.calls {
				if n != tc.calls {
					t.Errorf("%s: %d calls, want %d", k, n, tc.calls)
				}
			}
		})
	}
}

type failSink struct{ Collector }

func (failSink) DHCPEvents(string, []schema.DHCPEvent) error { return errors.New("disk full") }

func TestRunStops(t *testing.T) {
	g, err := New(testConfig(24, 1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Run(ctx, &Collector{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context = %v, want context.Canceled", err)
	}
	if err := g.Run(context.Background(), &failSink{}); err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "dhcp") {
		t.Errorf("Run with a failing sink = %v, want the wrapped sink error", err)
	}
}
