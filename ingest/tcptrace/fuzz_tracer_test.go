package tcptrace

import (
	"encoding/binary"
	"testing"
	"time"
)

// frames packs frames as the fuzz input FuzzTracer reads: a link type byte
// (0: raw IP, 1: Ethernet), then each frame after its 2-byte length.
func frames(link byte, fs ...[]byte) []byte {
	out := []byte{link}
	for _, f := range fs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(f)))
		out = append(out, f...)
	}
	return out
}

// FuzzTracer feeds arbitrary frames through Decode into a tracer with a
// small ring and quota: it must never panic, never count more memory than
// the quota, write every record's packets in order, and hold nothing after
// Flush. Seeds: scripted connections (added here) and
// testdata/fuzz/FuzzTracer.
func FuzzTracer(f *testing.F) {
	build := func(segs []seg) []byte {
		var fs [][]byte
		for _, s := range segs {
			src, dst, sp, dp := testForeign, testLocal, uint16(80), uint16(40000)
			if s.out {
				src, dst, sp, dp = testLocal, testForeign, 40000, 80
			}
			fs = append(fs, rawFrame(src, dst, sp, dp, s))
		}
		return frames(0, fs...)
	}
	f.Add(build(handshake()))
	f.Add(build(concat(handshake(), []seg{{at: ms(50), flags: rst, seq: fISS + 1}})))
	f.Add(build(concat(handshake(), []seg{
		{out: true, flags: psh, seq: lISS + 1, ack: fISS + 1, data: 100},
		{out: true, flags: psh, seq: lISS + 1, ack: fISS + 1, data: 100},
		{out: true, flags: fin, seq: lISS + 101, ack: fISS + 1},
		{flags: fin, seq: fISS + 1, ack: lISS + 102},
	})))
	eth := append([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0, 0, 42, 0x08, 0}, rawFrame(testLocal, testForeign, 1, 2, seg{flags: syn})...)
	f.Add(frames(1, eth))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		link := LinkRaw
		if in[0]&1 == 1 {
			link = LinkEthernet
		}
		cfg := DefaultTracerConfig()
		cfg.CacheMode, cfg.MaxPackets, cfg.MemoryQuota, cfg.Probes = CacheAll, 3, 1<<20, 2
		tr, err := NewTracer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		in = in[1:]
		ts := testStart
		for len(in) >= 2 {
			n := int(binary.BigEndian.Uint16(in))
			in = in[2:]
			n = min(n, len(in))
			_ = tr.Decode(link, in[:n], ts)
			in = in[n:]
			ts = ts.Add(700 * time.Millisecond)
			if m := tr.Stats().MemoryUsed; m > cfg.MemoryQuota || m < 0 {
				t.Fatalf("%d bytes counted against a quota of %d", m, cfg.MemoryQuota)
			}
		}
		tr.Flush(ts.Add(3 * time.Hour))
		for _, r := range tr.Take() {
			if len(r.Packets) > cfg.MaxPackets {
				t.Fatalf("%d packets kept, ring of %d", len(r.Packets), cfg.MaxPackets)
			}
			for i, p := range r.Packets {
				if int(p.Index) != i+1 || p.TraceID != r.Conn.TraceID || i > 0 && p.Time < r.Packets[i-1].Time {
					t.Fatalf("packet %d out of order or unjoined: %+v", i, p)
				}
			}
		}
		if st := tr.Stats(); st.Tracked != 0 || st.MemoryUsed != 0 {
			t.Fatalf("after flush: %d tracked, %d bytes", st.Tracked, st.MemoryUsed)
		}
	})
}
