package tcptrace

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// TestRingKeepsTheLast500 sends 600 data segments on one connection: the
// record keeps the newest 500, oldest first, indexes 1 to 500.
func TestRingKeepsTheLast500(t *testing.T) {
	tr := newTestTracer(t, nil)
	segs := handshake()
	for i := range 597 {
		segs = append(segs, seg{at: ms(30 + i), out: true, flags: psh, seq: lISS + 1 + uint32(i*10), ack: fISS + 1, data: 10})
	}
	feed(t, tr, segs)
	tr.Flush(testStart.Add(time.Hour))
	recs := tr.Take()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	pk := recs[0].Packets
	if len(pk) != 500 {
		t.Fatalf("%d packets kept, want 500", len(pk))
	}
	for i, p := range pk {
		want := segs[100+i]
		if p.Index != uint16(i+1) || p.Seq != want.seq || p.Time != testStart.Add(want.at).UnixMicro() {
			t.Fatalf("packet %d: idx %d seq %d time %d, want idx %d seq %d (segment %d)", i, p.Index, p.Seq, p.Time, i+1, want.seq, 100+i)
		}
	}
	if st := tr.Stats(); st.Overwritten != 100 {
		t.Errorf("%d overwritten, want 100", st.Overwritten)
	}
}

// TestMemoryQuota fills a 1 MiB quota: new connections are refused and
// counted, existing ones keep overwriting their own rings, and the memory
// counted never passes the quota.
func TestMemoryQuota(t *testing.T) {
	tr := newTestTracer(t, func(c *TracerConfig) { c.MemoryQuota = 1 << 20 })
	foreign := netip.MustParseAddr("192.0.2.9")
	var tracked, refused int
	for port := uint16(1); port < 20000; port++ {
		before := tr.Stats()
		s := seg{out: true, flags: syn, seq: 1}
		if err := tr.Decode(LinkRaw, rawFrame(testLocal, foreign, port, 443, s), testStart.Add(ms(int(port)))); err != nil {
			t.Fatal(err)
		}
		// A few data packets each, to grow the rings.
		for i := range 10 {
			d := seg{out: true, flags: psh, seq: 2 + uint32(i), ack: 1, data: 1, win: 100}
			if err := tr.Decode(LinkRaw, rawFrame(testLocal, foreign, port, 443, d), testStart.Add(ms(int(port)))); err != nil {
				t.Fatal(err)
			}
		}
		after := tr.Stats()
		if after.MemoryUsed > 1<<20 {
			t.Fatalf("connection %d: %d bytes counted, over the 1 MiB quota", port, after.MemoryUsed)
		}
		if after.Tracked > before.Tracked {
			tracked++
		} else {
			refused++
		}
		if refused > 100 {
			break
		}
	}
	st := tr.Stats()
	if tracked == 0 || refused == 0 || st.RefusedConns != uint64(refused) {
		t.Fatalf("tracked %d, refused %d (counted %d): want both, counted", tracked, refused, st.RefusedConns)
	}
	// An existing connection keeps tracing: its packets overwrite its ring.
	ow := st.Overwritten
	first := seg{out: true, flags: psh, seq: 100, ack: 1, data: 1, win: 100}
	for range 20 {
		if err := tr.Decode(LinkRaw, rawFrame(testLocal, foreign, 1, 443, first), testStart.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		first.seq++
	}
	if st2 := tr.Stats(); st2.Overwritten <= ow || st2.MemoryUsed > 1<<20 {
		t.Errorf("existing connection: overwritten %d -> %d, memory %d: want overwrites within the quota", ow, st2.Overwritten, st2.MemoryUsed)
	}
	tr.Flush(testStart.Add(time.Hour))
	if got := len(tr.Take()); got != tracked {
		t.Errorf("%d records at shutdown, want the %d tracked connections", got, tracked)
	}
}

// TestCacheMode: abnormal-close writes the RST connection and leaves out
// the normal close (counted); all writes both.
func TestCacheMode(t *testing.T) {
	normal := concat(handshake(), []seg{
		{at: ms(50), out: true, flags: fin, seq: lISS + 1, ack: fISS + 1},
		{at: ms(60), flags: fin, seq: fISS + 1, ack: lISS + 2},
		{at: ms(70), out: true, flags: ack, seq: lISS + 2, ack: fISS + 2},
	})
	reset := []seg{{at: 0, out: true, flags: syn, seq: 9000}, {at: ms(5), flags: rst | ack, seq: 0, ack: 9001}}
	for _, tc := range []struct {
		mode    string
		reasons []string
		skipped uint64
	}{
		{CacheAbnormal, []string{"RR"}, 1},
		{CacheAll, []string{"AN", "RR"}, 0},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			tr := newTestTracer(t, func(c *TracerConfig) { c.CacheMode = tc.mode })
			feed(t, tr, normal)
			tr.Advance(testStart.Add(time.Minute)) // the first closes: ends after CloseWait
			feed(t, tr, func() []seg {             // the same 4-tuple reused later
				out := make([]seg, len(reset))
				for i, s := range reset {
					s.at += 2 * time.Minute
					out[i] = s
				}
				return out
			}())
			tr.Flush(testStart.Add(time.Hour))
			var got []string
			for _, r := range tr.Take() {
				got = append(got, r.Conn.Reason)
			}
			if len(got) != len(tc.reasons) || len(got) > 0 && got[len(got)-1] != tc.reasons[len(tc.reasons)-1] || len(got) == 2 && got[0] != tc.reasons[0] {
				t.Errorf("reasons %q, want %q", got, tc.reasons)
			}
			if st := tr.Stats(); st.Skipped != tc.skipped {
				t.Errorf("%d skipped, want %d", st.Skipped, tc.skipped)
			}
		})
	}
}

// TestOnlyNewConnection: a connection whose SYN was not seen is ignored
// and its packets counted; one with its SYN is traced.
func TestOnlyNewConnection(t *testing.T) {
	tr := newTestTracer(t, func(c *TracerConfig) { c.OnlyNew = true })
	feed(t, tr, []seg{
		{at: 0, out: true, flags: psh, seq: 1, ack: 1, data: 10},
		{at: ms(1), flags: ack, seq: 1, ack: 11},
	})
	if st := tr.Stats(); st.Tracked != 0 || st.NotNew != 2 {
		t.Fatalf("midstream: %d tracked, %d not-new packets, want 0 and 2", st.Tracked, st.NotNew)
	}
	tr.Flush(testStart.Add(time.Minute))
	if got := tr.Take(); len(got) != 0 {
		t.Fatalf("midstream connection written: %+v", got)
	}
	feed(t, tr, handshake())
	tr.Flush(testStart.Add(time.Minute))
	if got := tr.Take(); len(got) != 1 || got[0].Conn.End != "open" {
		t.Fatalf("new connection: %+v, want one record written as open", got)
	}
}

// TestFilter: connections the filter leaves out are counted, not traced.
func TestFilter(t *testing.T) {
	tr := newTestTracer(t, func(c *TracerConfig) {
		c.Filter = func(local, foreign Endpoint) bool { return foreign.Port == 443 }
	})
	feed(t, tr, handshake()) // foreign port 80
	if st := tr.Stats(); st.Tracked != 0 || st.Filtered != 3 {
		t.Fatalf("%d tracked, %d filtered, want 0 and 3", st.Tracked, st.Filtered)
	}
}

// TestNotLocal: with local prefixes set, a connection between two foreign
// hosts is not traced, and counted.
func TestNotLocal(t *testing.T) {
	tr := newTestTracer(t, func(c *TracerConfig) { c.Local = []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12")} })
	feed(t, tr, handshake())
	if st := tr.Stats(); st.Tracked != 0 || st.NotLocal != 3 {
		t.Fatalf("%d tracked, %d not local, want 0 and 3", st.Tracked, st.NotLocal)
	}
}

// TestBadFrames: truncated frames, bogus header lengths and fragments are
// counted by kind and returned as errors, never a panic.
func TestBadFrames(t *testing.T) {
	good := rawFrame(testLocal, testForeign, 1, 2, seg{flags: syn, seq: 1, win: 10})
	frag := append([]byte(nil), good...)
	frag[6] = 0x20 // more fragments
	badIHL := append([]byte(nil), good...)
	badIHL[0] = 0x43
	badOff := append([]byte(nil), good...)
	badOff[20+12] = 0xf0 // data offset 60 in a 20-byte segment
	udp := append([]byte(nil), good...)
	udp[9] = 17
	cases := []struct {
		name  string
		frame []byte
		want  error
		count func(Stats) uint64
	}{
		{"truncated tcp", good[:30], ErrTruncated, func(s Stats) uint64 { return s.Truncated }},
		{"empty", nil, ErrTruncated, func(s Stats) uint64 { return s.Truncated }},
		{"fragment", frag, ErrFragment, func(s Stats) uint64 { return s.Fragments }},
		{"ipv4 header length 12", badIHL, ErrBadHeader, func(s Stats) uint64 { return s.BadHeader }},
		{"tcp data offset past the segment", badOff, ErrBadHeader, func(s Stats) uint64 { return s.BadHeader }},
		{"udp", udp, ErrNotTCP, func(s Stats) uint64 { return s.NotTCP }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestTracer(t, nil)
			err := tr.Decode(LinkRaw, tc.frame, testStart)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if n := tc.count(tr.Stats()); n != 1 {
				t.Errorf("counted %d, want 1", n)
			}
		})
	}
}
