package tcptrace

import (
	"testing"
	"time"
)

// TestSetupTime checks opened_at (the first SYN), connected_at (the ACK
// that completed the handshake) and setup_time between them, in µs.
func TestSetupTime(t *testing.T) {
	synRetried := concat([]seg{{at: 0, out: true, flags: syn, seq: lISS}}, func() []seg {
		h := handshake()
		for i := range h {
			h[i].at += time.Second // the first SYN went unanswered
		}
		return h
	}())
	midstream := []seg{
		{at: ms(5), out: true, flags: psh, seq: lISS + 1, ack: fISS + 1, data: 10},
		{at: ms(15), flags: ack, seq: fISS + 1, ack: lISS + 11},
	}
	for _, tc := range []struct {
		name                  string
		segs                  []seg
		opened, connected, su int64 // µs after testStart; -1: null
	}{
		{"handshake", handshake(), 0, 20_000, 20_000},
		{"a retried SYN counts from the first", synRetried, 0, 1_020_000, 1_020_000},
		{"no SYN seen: null", midstream, -1, 5_000, -1},
		{"SYN never answered: connected and setup null", []seg{{at: 0, out: true, flags: syn, seq: lISS}}, 0, -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestTracer(t, nil)
			feed(t, tr, tc.segs)
			tr.Flush(testStart.Add(time.Hour))
			recs := tr.Take()
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			c := recs[0].Conn
			at := func(us int64) int64 {
				if us < 0 {
					return 0 // null
				}
				return testStart.UnixMicro() + us
			}
			su := max(tc.su, 0)
			if c.OpenedAt != at(tc.opened) || c.ConnectedAt != at(tc.connected) || c.SetupTime != su {
				t.Errorf("opened_at %d, connected_at %d, setup_time %d; want %d, %d, %d",
					c.OpenedAt, c.ConnectedAt, c.SetupTime, at(tc.opened), at(tc.connected), su)
			}
		})
	}
}

// TestLongHistoryCounted: a history past the 12 letters held inline
// spills into a slice the quota counts, and gives it back at the end.
func TestLongHistoryCounted(t *testing.T) {
	tr := newTestTracer(t, nil)
	var segs []seg
	for i := range 30 { // a SYN with a new sequence each time adds an S
		segs = append(segs, seg{at: ms(i), out: true, flags: syn, seq: lISS + uint32(i)*1000})
	}
	feed(t, tr, segs[:12])
	inline := tr.Stats().MemoryUsed
	feed(t, tr, segs[12:])
	if spilled := tr.Stats().MemoryUsed; spilled <= inline {
		t.Errorf("memory %d with 30 letters, %d with 12: want the spill counted", spilled, inline)
	}
	tr.Flush(testStart.Add(time.Hour))
	recs := tr.Take()
	if len(recs) != 1 || len(recs[0].Conn.History) != 30 {
		t.Fatalf("records %d, history %q: want one with 30 letters", len(recs), recs[0].Conn.History)
	}
	if st := tr.Stats(); st.MemoryUsed != 0 {
		t.Errorf("after flush: %d bytes counted, want 0", st.MemoryUsed)
	}
}
