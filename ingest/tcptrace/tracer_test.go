package tcptrace

import (
	"net/netip"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func concat(parts ...[]seg) []seg {
	var out []seg
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func newTestTracer(t *testing.T, mod func(*TracerConfig)) *Tracer {
	t.Helper()
	cfg := DefaultTracerConfig()
	cfg.Local = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cfg.CacheMode = CacheAll
	cfg.Edge, cfg.Device = "e1", "eth0"
	if mod != nil {
		mod(&cfg)
	}
	tr, err := NewTracer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestTracerReasons feeds scripted connections, frame by frame through
// Decode, and checks the reason, Zeek's conn_state and history, how the
// record ended, and that each connection gives exactly one record.
func TestTracerReasons(t *testing.T) {
	data := []seg{
		{at: ms(30), out: true, flags: psh, seq: lISS + 1, ack: fISS + 1, data: 100},
		{at: ms(40), flags: ack, seq: fISS + 1, ack: lISS + 101},
	}
	cases := []struct {
		name                   string
		segs                   []seg
		reason, state, history string
		end                    string
		retrans                uint32
	}{
		{name: "local FIN first: AN", segs: concat(handshake(), data, []seg{
			{at: ms(50), out: true, flags: fin, seq: lISS + 101, ack: fISS + 1},
			{at: ms(60), flags: fin, seq: fISS + 1, ack: lISS + 102},
			{at: ms(70), out: true, flags: ack, seq: lISS + 102, ack: fISS + 2},
		}), reason: "AN", state: "SF", history: "ShADaFf", end: "closed"},
		{name: "foreign FIN first: PN", segs: concat(handshake(), data, []seg{
			{at: ms(50), flags: fin, seq: fISS + 1, ack: lISS + 101},
			{at: ms(60), out: true, flags: fin, seq: lISS + 101, ack: fISS + 2},
			{at: ms(70), flags: ack, seq: fISS + 2, ack: lISS + 102},
		}), reason: "PN", state: "SF", history: "ShADafF", end: "closed"},
		{name: "retransmitted FINs: still one record", segs: concat(handshake(), data, []seg{
			{at: ms(50), out: true, flags: fin, seq: lISS + 101, ack: fISS + 1},
			{at: ms(250), out: true, flags: fin, seq: lISS + 101, ack: fISS + 1},
			{at: ms(260), flags: fin, seq: fISS + 1, ack: lISS + 102},
			{at: ms(270), out: true, flags: ack, seq: lISS + 102, ack: fISS + 2},
			{at: ms(470), flags: fin, seq: fISS + 1, ack: lISS + 102},
			{at: ms(480), out: true, flags: ack, seq: lISS + 102, ack: fISS + 2},
		}), reason: "AN", state: "SF", history: "ShADaFf", end: "closed", retrans: 2},
		{name: "RST from the foreign side: RR", segs: concat(handshake(), data, []seg{
			{at: ms(50), flags: rst, seq: fISS + 1},
		}), reason: "RR", state: "RSTR", history: "ShADar", end: "closed"},
		{name: "RST from the local side: SR", segs: concat(handshake(), data, []seg{
			{at: ms(50), out: true, flags: rst | ack, seq: lISS + 101, ack: fISS + 1},
		}), reason: "SR", state: "RSTO", history: "ShADaR", end: "closed"},
		{name: "unacknowledged data retransmitted with back-off, then silence: RT", segs: concat(handshake(), []seg{
			{at: ms(30), out: true, flags: psh, seq: lISS + 1, ack: fISS + 1, data: 100},
			{at: ms(230), out: true, flags: psh, seq: lISS + 1, ack: fISS + 1, data: 100},
			{at: ms(630), out: true, flags: psh, seq: lISS + 1, ack: fISS + 1, data: 100},
			{at: ms(1430), out: true, flags: psh, seq: lISS + 1, ack: fISS + 1, data: 100},
			{at: ms(3030), out: true, flags: psh, seq: lISS + 1, ack: fISS + 1, data: 100},
		}), reason: "RT", state: "S1", history: "ShADT", end: "timeout", retrans: 4},
		{name: "keepalives unanswered, then the prober resets: KT", segs: concat(handshake(), data, []seg{
			{at: 10 * time.Second, out: true, flags: ack, seq: lISS + 100, ack: fISS + 1},
			{at: 11 * time.Second, out: true, flags: ack, seq: lISS + 100, ack: fISS + 1},
			{at: 12 * time.Second, out: true, flags: ack, seq: lISS + 100, ack: fISS + 1},
			{at: 13 * time.Second, out: true, flags: rst | ack, seq: lISS + 101, ack: fISS + 1},
		}), reason: "KT", state: "RSTO", history: "ShADaR", end: "closed"},
		{name: "answered keepalives then a normal close: AN", segs: concat(handshake(), data, []seg{
			{at: 10 * time.Second, out: true, flags: ack, seq: lISS + 100, ack: fISS + 1},
			{at: 10*time.Second + ms(5), flags: ack, seq: fISS + 1, ack: lISS + 101},
			{at: 11 * time.Second, out: true, flags: ack, seq: lISS + 100, ack: fISS + 1},
			{at: 11*time.Second + ms(5), flags: ack, seq: fISS + 1, ack: lISS + 101},
			{at: 12 * time.Second, out: true, flags: ack, seq: lISS + 100, ack: fISS + 1},
			{at: 12*time.Second + ms(5), flags: ack, seq: fISS + 1, ack: lISS + 101},
			{at: 13 * time.Second, out: true, flags: fin, seq: lISS + 101, ack: fISS + 1},
			{at: 13*time.Second + ms(5), flags: fin, seq: fISS + 1, ack: lISS + 102},
			{at: 13*time.Second + ms(10), out: true, flags: ack, seq: lISS + 102, ack: fISS + 2},
		}), reason: "AN", state: "SF", history: "ShADaFf", end: "closed"},
		{name: "zero window, probes answered, then unanswered: PT", segs: concat(handshake(), []seg{
			{at: ms(30), out: true, flags: psh, seq: lISS + 1, ack: fISS + 1, data: 100},
			{at: ms(40), flags: ack, seq: fISS + 1, ack: lISS + 101, zero: true},
			{at: 1 * time.Second, out: true, flags: ack, seq: lISS + 100, ack: fISS + 1},
			{at: 1*time.Second + ms(5), flags: ack, seq: fISS + 1, ack: lISS + 101, zero: true},
			{at: 3 * time.Second, out: true, flags: ack, seq: lISS + 100, ack: fISS + 1},
			{at: 7 * time.Second, out: true, flags: ack, seq: lISS + 100, ack: fISS + 1},
			{at: 15 * time.Second, out: true, flags: ack, seq: lISS + 100, ack: fISS + 1},
		}), reason: "PT", state: "S1", history: "ShADaw", end: "timeout"},
		{name: "local FIN leaving the foreign data unacknowledged: AA", segs: concat(handshake(), []seg{
			{at: ms(30), flags: psh, seq: fISS + 1, ack: lISS + 1, data: 200},
			{at: ms(40), out: true, flags: fin, seq: lISS + 1, ack: fISS + 1},
			{at: ms(50), flags: fin, seq: fISS + 201, ack: lISS + 2},
			{at: ms(60), out: true, flags: rst, seq: lISS + 2},
		}), reason: "AA", state: "RSTO", history: "ShAdFfR", end: "closed"},
		{name: "an exact duplicate segment is a retransmission", segs: concat(handshake(), []seg{
			{at: ms(30), out: true, flags: psh, seq: lISS + 1, ack: fISS + 1, data: 100, ipid: 7},
			{at: ms(31), out: true, flags: psh, seq: lISS + 1, ack: fISS + 1, data: 100, ipid: 7},
			{at: ms(40), flags: ack, seq: fISS + 1, ack: lISS + 101},
			{at: ms(50), flags: rst, seq: fISS + 1},
		}), reason: "RR", state: "RSTR", history: "ShADTar", end: "closed", retrans: 1},
		{name: "missed handshake: one record, not one per packet", segs: []seg{
			{at: 0, out: true, flags: psh, seq: lISS + 1, ack: fISS + 1, data: 10},
			{at: ms(10), flags: ack, seq: fISS + 1, ack: lISS + 11},
			{at: ms(20), out: true, flags: psh, seq: lISS + 11, ack: fISS + 1, data: 10},
			{at: ms(30), flags: fin, seq: fISS + 1, ack: lISS + 21},
			{at: ms(40), out: true, flags: fin, seq: lISS + 21, ack: fISS + 2},
			{at: ms(50), flags: ack, seq: fISS + 2, ack: lISS + 22},
		}, reason: "PN", state: "SF", history: "DafF", end: "closed"},
		{name: "SYN unanswered: no reason, S0", segs: []seg{
			{at: 0, out: true, flags: syn, seq: lISS},
			{at: time.Second, out: true, flags: syn, seq: lISS},
			{at: 3 * time.Second, out: true, flags: syn, seq: lISS},
		}, reason: "", state: "S0", history: "S", end: "timeout", retrans: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestTracer(t, nil)
			feed(t, tr, tc.segs)
			tr.Flush(testStart.Add(10 * time.Minute))
			recs := tr.Take()
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1: %+v", len(recs), recs)
			}
			c := recs[0].Conn
			if c.Reason != tc.reason || c.ConnState != tc.state || c.History != tc.history || c.End != tc.end {
				t.Errorf("reason %q conn_state %q history %q end %q, want %q %q %q %q",
					c.Reason, c.ConnState, c.History, c.End, tc.reason, tc.state, tc.history, tc.end)
			}
			if c.RetransPackets != tc.retrans {
				t.Errorf("retrans_packets %d, want %d", c.RetransPackets, tc.retrans)
			}
			if c.LocalAddr != schema.AddrFrom(testLocal) || c.LocalPort != 40000 || c.ForeignPort != 80 {
				t.Errorf("local %s:%d foreign port %d, want %s:40000 and 80", c.LocalAddr, c.LocalPort, c.ForeignPort, testLocal)
			}
			if got := len(recs[0].Packets); got != len(tc.segs) {
				t.Errorf("%d packets kept, want %d", got, len(tc.segs))
			}
			if st := tr.Stats(); st.Tracked != 0 || st.MemoryUsed != 0 {
				t.Errorf("after flush: %d tracked, %d bytes counted, want none", st.Tracked, st.MemoryUsed)
			}
		})
	}
}
