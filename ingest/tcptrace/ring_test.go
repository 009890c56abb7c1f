package tcptrace

import (
	"encoding/base64"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// TestRingWrapsVariableRecords holds one connection's ring at its first
// 384 bytes (the quota is filled by other connections) and sends it
// packets of random sizes, so the ring wraps with records of every size:
// the packets kept must be the newest ones, in order, each with its own
// frame, and fill the buffer as far as whole records allow.
func TestRingWrapsVariableRecords(t *testing.T) {
	for seed := range uint64(20) {
		rnd := rand.New(rand.NewPCG(seed, 1))
		tr := newTestTracer(t, func(c *TracerConfig) { c.MemoryQuota = 1 << 20 })
		feed(t, tr, handshake()[:1]) // the connection under test, with its first ring
		foreign := netip.MustParseAddr("192.0.2.99")
		for port := uint16(1); tr.Stats().RefusedConns == 0; port++ {
			if err := tr.Decode(LinkRaw, rawFrame(testLocal, foreign, port, 443, seg{flags: syn, seq: 1}), testStart); err != nil {
				t.Fatal(err)
			}
		}
		var sent []seg
		seq := uint32(lISS + 1)
		for i := range 300 {
			s := seg{at: ms(1 + i), out: true, flags: psh, seq: seq, ack: fISS + 1, data: rnd.IntN(120)}
			seq += uint32(s.data)
			sent = append(sent, s)
		}
		feed(t, tr, sent)
		tr.Flush(testStart.Add(time.Hour))
		var got *Record
		for _, r := range tr.Take() {
			if r.Conn.ForeignPort == 80 {
				got = &r
			}
		}
		if got == nil {
			t.Fatalf("seed %d: no record of the connection under test", seed)
		}
		kept := got.Packets
		if len(kept) < 2 || len(kept) > len(sent) {
			t.Fatalf("seed %d: %d packets kept", seed, len(kept))
		}
		used := uint32(0)
		tail := sent[len(sent)-len(kept):]
		for i, p := range kept {
			want := tail[i]
			frame, err := base64.StdEncoding.DecodeString(p.Frame)
			if err != nil {
				t.Fatal(err)
			}
			if p.Seq != want.seq || int(p.DataLen) != want.data || len(frame) != min(40+want.data, 128) || int(p.Index) != i+1 {
				t.Fatalf("seed %d: kept packet %d: idx %d seq %d len %d frame %d bytes, want seq %d len %d (the newest %d in order)",
					seed, i, p.Index, p.Seq, p.DataLen, len(frame), want.seq, want.data, len(kept))
			}
			if frame[20+13] != psh || frame[39] != 0 && want.data == 0 {
				t.Fatalf("seed %d: kept packet %d: frame %x is not the packet's", seed, i, frame)
			}
			used += recSize(len(frame))
		}
		// The next older packet would not have fitted beside them: at
		// most one full-size record's room is lost where the writing
		// wrapped.
		older := sent[len(sent)-len(kept)-1]
		if used+recSize(min(40+older.data, 128)) <= initialRing-recSize(128) {
			t.Errorf("seed %d: %d bytes kept of %d, the next older packet (%d bytes) would fit: the ring keeps too few",
				seed, used, initialRing, recSize(min(40+older.data, 128)))
		}
		if used > initialRing {
			t.Errorf("seed %d: %d bytes of records in a %d-byte ring", seed, used, initialRing)
		}
	}
}
