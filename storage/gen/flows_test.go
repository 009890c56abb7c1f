package gen

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// flowStats accumulates what the flow tests check, without keeping rows.
type flowStats struct {
	Collector                // the other datasets, kept
	byHour    [7][24]float64 // flows per weekday (0 = Monday) and hour
	srcBytes  map[schema.Addr]uint64
	v4, v6    int
	nextHop   [2]int // null, set
	srcMAC    [2]int
	apps      map[string]int
	bad       []string // first violations
	flows     int
	sampled   int
}

func (s *flowStats) fail(msg string, f *schema.Flow) {
	if len(s.bad) < 5 {
		s.bad = append(s.bad, msg+": "+f.SrcAddr.String()+" → "+f.DstAddr.String()+" "+f.App)
	}
}

func (s *flowStats) Flows(_ string, rows []schema.Flow) error {
	for i := range rows {
		f := &rows[i]
		s.flows++
		t := schema.FromMicros(f.Time)
		s.byHour[(int(t.Weekday())+6)%7][t.Hour()]++
		s.srcBytes[f.SrcAddr] += f.Bytes
		if f.SrcAddr.Netip().Is4() {
			s.v4++
		} else {
			s.v6++
		}
		s.nextHop[boolInt(!f.NextHop.IsZero())]++
		s.srcMAC[boolInt(!f.SrcMAC.IsZero())]++
		s.apps[f.App]++
		if f.SamplingRate > 1 {
			s.sampled++
		}
		switch {
		case f.DurationMS > 86400e3:
			s.fail("flow longer than a day", f)
		case f.Packets == 0 || f.Bytes < 40*f.Packets || f.Bytes > 1500*f.Packets:
			s.fail("bytes/packets outside 40..1500", f)
		case f.Packets%uint64(f.SamplingRate) != 0:
			s.fail("packets not multiplied by the sampling rate", f)
		case f.Proto != 6 && f.TCPFlags != 0:
			s.fail("TCP flags on a non-TCP flow", f)
		case f.Proto == 6 && f.TCPFlags == 0:
			s.fail("TCP flow without flags", f)
		case f.App == "":
			s.fail("no app", f)
		case f.Edge == "" || f.Device == "" || f.InIfName == "" || f.OutIfName == "":
			s.fail("missing edge, device or interface name", f)
		case (f.SrcGroup == "") == (f.DstGroup == "") && f.SrcGroup == "":
			s.fail("neither side internal", f)
		}
	}
	return nil
}

func weekOfFlows(t *testing.T) *flowStats {
	t.Helper()
	cfg := DefaultConfig()
	cfg.FlowsPerSecond = 2
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &flowStats{srcBytes: map[schema.Addr]uint64{}, apps: map[string]int{}}
	if err := g.Run(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFlowsRealism(t *testing.T) {
	s := weekOfFlows(t)
	if len(s.bad) > 0 {
		t.Errorf("invalid flows: %q", s.bad)
	}
	week := 7 * 24 * 3600 * 2.0
	if f := float64(s.flows); f < 0.9*week || f > 1.1*week {
		t.Errorf("%d flows in a week at 2/s, want about %.0f", s.flows, week)
	}
	var weekday, weekend, afternoon, night float64
	for d := range 7 {
		for h := range 24 {
			if d < 5 {
				weekday += s.byHour[d][h]
				afternoon += s.byHour[d][14]
				night += s.byHour[d][4]
			} else {
				weekend += s.byHour[d][h]
			}
		}
	}
	afternoon, night = afternoon/24, night/24
	// Sort sources by bytes: the top 1 % must carry a large share.
	var all []uint64
	var total uint64
	for _, b := range s.srcBytes {
		all = append(all, b)
		total += b
	}
	slices.Sort(all)
	slices.Reverse(all)
	var top uint64
	for _, b := range all[:len(all)/100] {
		top += b
	}
	v6 := float64(s.v6) / float64(s.flows)
	for _, tc := range []struct {
		name   string
		got    float64
		lo, hi float64
	}{
		{"14:00 / 04:00 weekday ratio", afternoon / night, 3.5, 7},
		{"weekend / weekday daily ratio", (weekend / 2) / (weekday / 5), 0.3, 0.5},
		{"top 1 % sources' share of bytes", float64(top) / float64(total), 0.3, 0.95},
		{"IPv6 share", v6, 0.08, 0.16},
		{"next_hop null share", float64(s.nextHop[0]) / float64(s.flows), 0.2, 0.9},
		{"src_mac null share", float64(s.srcMAC[0]) / float64(s.flows), 0.1, 0.9},
		{"https share", float64(s.apps["https"]) / float64(s.flows), 0.3, 0.6},
		{"dns share", float64(s.apps["dns"]) / float64(s.flows), 0.1, 0.3},
		{"sampled share", float64(s.sampled) / float64(s.flows), 0.05, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got < tc.lo || tc.got > tc.hi {
				t.Errorf("%s = %.3f, want in [%.2f, %.2f]", tc.name, tc.got, tc.lo, tc.hi)
			}
		})
	}
	for _, app := range []string{"https", "quic", "dns", "http", "ssh", "smtp", "rdp", "ntp", "icmp", "icmpv6", "smb", "sip", "rtp"} {
		if s.apps[app] == 0 {
			t.Errorf("no %s flows in a week", app)
		}
	}
	t.Logf("%d flows, 14h/4h %.2f, weekend/weekday %.2f, top1%% %.2f, v6 %.3f", s.flows, afternoon/night, (weekend/2)/(weekday/5), float64(top)/float64(total), v6)
}

// Clients use their OS's ephemeral ports; well-known services keep theirs.
func TestFlowPorts(t *testing.T) {
	c := collect(t, testConfig(2, 20))
	for i := range c.FlowRows {
		f := &c.FlowRows[i]
		if f.App == "https" && f.Proto == 6 && f.DstPort == 443 && f.SrcGroup != "" && f.SrcGroup != "servers" {
			if f.SrcPort < 32768 {
				t.Fatalf("client https flow from port %d, want an ephemeral port", f.SrcPort)
			}
		}
		if f.App == "dns" && f.DstPort != 53 && f.SrcPort != 53 {
			t.Fatalf("dns flow on ports %d → %d", f.SrcPort, f.DstPort)
		}
		if f.Time >= schema.Micros(DefaultConfig().Start.Add(2*time.Hour)) {
			t.Fatalf("flow after the end")
		}
	}
}
