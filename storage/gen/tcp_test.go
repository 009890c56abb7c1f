package gen

import (
	"slices"
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
)

func TestTCPTraces(t *testing.T) {
	c := collect(t, testConfig(24, 0.1))
	type key struct {
		edge string
		id   uint64
	}
	conns := map[key]*schema.TCPConn{}
	reasons := map[string]int{}
	sources := map[string]int{}
	setups := 0
	for i := range c.TCPConnRows {
		r := &c.TCPConnRows[i]
		k := key{r.Edge, r.TraceID}
		if conns[k] != nil {
			t.Fatalf("trace id %d used twice on %s", r.TraceID, r.Edge)
		}
		conns[k] = r
		reasons[r.Reason]++
		sources[r.Source]++
		if r.ConnectedAt != 0 && r.ConnectedAt >= r.Time {
			t.Errorf("%s conn %d: connected at %d, not before its close %d", r.Reason, r.TraceID, r.ConnectedAt, r.Time)
		}
		// Setup time: passive connections that connected saw their SYN;
		// device output never has it.
		switch {
		case r.Source == "passive" && r.ConnectedAt != 0:
			setups++
			if r.SetupTime <= 0 || r.OpenedAt != r.ConnectedAt-r.SetupTime || r.SetupTime > 10_000_000 {
				t.Errorf("passive conn %d: opened at %d, connected at %d, setup %d µs", r.TraceID, r.OpenedAt, r.ConnectedAt, r.SetupTime)
			}
		case r.OpenedAt != 0 || r.SetupTime != 0:
			t.Errorf("%s conn %d not connected: opened at %d, setup %d", r.Source, r.TraceID, r.OpenedAt, r.SetupTime)
		}
		if r.Reason == schema.ReasonRetransmitTimeout && r.RetransPackets == 0 {
			t.Errorf("RT conn %d without retransmissions", r.TraceID)
		}
	}
	for _, reason := range schema.TCPReasons() {
		if reasons[reason] == 0 {
			t.Errorf("no %s close in a day (%v)", reason, reasons)
		}
	}
	if reasons[schema.ReasonReceivedReset] < reasons[schema.ReasonPersistTimeout]*5 || reasons[schema.ReasonSentReset] < reasons[schema.ReasonBackupDrop]*5 {
		t.Errorf("resets should dominate rare reasons: %v", reasons)
	}
	if sources["device"] <= sources["passive"] || sources["passive"] == 0 {
		t.Errorf("sources %v: want mostly device, some passive", sources)
	}
	if setups == 0 {
		t.Error("no passive connection with a setup time")
	}
	// Packets: every trace joins a conn of its edge; idx 1..N in time order,
	// before the close; the reason's signature at the end.
	traces := map[key][]schema.TCPPacket{}
	for _, p := range c.TCPPacketRows {
		k := key{p.Edge, p.TraceID}
		if conns[k] == nil {
			t.Fatalf("packet of trace %d on %s joins no tcp_conns row", p.TraceID, p.Edge)
		}
		traces[k] = append(traces[k], p)
	}
	for k, conn := range conns {
		pk := traces[k]
		if len(pk) < 3 || len(pk) > DefaultConfig().TCPPacketsMax {
			t.Fatalf("%s conn %d: %d packets, want 3..%d", conn.Reason, k.id, len(pk), DefaultConfig().TCPPacketsMax)
		}
		slices.SortFunc(pk, func(a, b schema.TCPPacket) int { return int(a.Index) - int(b.Index) })
		for i, p := range pk {
			if int(p.Index) != i+1 {
				t.Fatalf("conn %d: indexes %d.. not contiguous from 1", k.id, p.Index)
			}
			if p.Time > conn.Time || (i > 0 && p.Time < pk[i-1].Time) {
				t.Fatalf("conn %d: packet %d out of time order or after the close", k.id, p.Index)
			}
		}
		last := pk[len(pk)-1]
		switch conn.Reason {
		case schema.ReasonRetransmitTimeout:
			if last.Event != "RS" || pk[len(pk)-2].Event != "RS" || last.Seq != pk[len(pk)-2].Seq {
				t.Errorf("RT conn %d: last packets %+v, want retransmissions of one segment", k.id, last)
			}
		case schema.ReasonReceivedReset:
			if last.Flags&flagRST == 0 || last.Direction != "in" {
				t.Errorf("RR conn %d ends with flags %#x %s, want a received RST", k.id, last.Flags, last.Direction)
			}
		case schema.ReasonSentReset:
			if conn.Source == "passive" && (last.Flags&flagRST == 0 || last.Direction != "out") {
				t.Errorf("passive SR conn %d ends with flags %#x %s, want a sent RST", k.id, last.Flags, last.Direction)
			}
		case schema.ReasonPeerNormalClose, schema.ReasonAppNormalClose:
			if last.State != "CLOSED" && last.State != "TIME_WAIT" {
				t.Errorf("%s conn %d ends in state %s", conn.Reason, k.id, last.State)
			}
		}
		if (last.SocketState == "") != (conn.Source == "passive") {
			t.Errorf("conn %d from %s: socket state %q", k.id, conn.Source, last.SocketState)
		}
	}
}
