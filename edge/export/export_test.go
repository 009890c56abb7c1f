package export

import (
	"net/netip"
	"testing"
	"time"

	"github.com/flowlake/flowlake/ingest/flow"
	"github.com/flowlake/flowlake/storage/schema"
)

func testRows(n int, at time.Time) []schema.Flow {
	rows := make([]schema.Flow, n)
	for i := range rows {
		src, dst := schema.MustParseAddr("10.1.2.3"), schema.MustParseAddr("198.51.100.7")
		proto := uint8(6)
		if i%3 == 1 {
			src, dst, proto = schema.MustParseAddr("2001:db8::1"), schema.MustParseAddr("2001:db8::2"), 17
		}
		rows[i] = schema.Flow{
			Time: schema.Micros(at) + int64(i)*1000, DurationMS: 1500, SrcAddr: src, DstAddr: dst,
			SrcPort: uint16(40000 + i), DstPort: 443, Proto: proto, TCPFlags: 0x1b, ToS: 8, InIf: 3, OutIf: 7,
			SrcAS: 64500, DstAS: 15169, VLAN: 10, Bytes: uint64(1000 * (i + 1)), Packets: uint64(10 * (i + 1)), SamplingRate: 1,
		}
		if i%5 == 0 {
			rows[i].SamplingRate = 10
		}
	}
	return rows
}

// TestRoundTripThroughDecoder encodes rows in every format and decodes
// the datagrams with ingest/flow, as the edge does.
func TestRoundTripThroughDecoder(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	rows := testRows(200, now.Add(-time.Minute))
	for _, format := range []Format{NetFlow9, IPFIX, SFlow5} {
		t.Run(format.String(), func(t *testing.T) {
			x := New(Config{Format: format, Domain: 7}, now.Add(-time.Hour))
			dgs := x.Encode(nil, rows, now)
			dgs = x.Encode(dgs, rows[:3], now) // a second call continues the sequence
			dec, err := flow.New(flow.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			var b flow.Batch
			for i, d := range dgs {
				if len(d) > 1400 {
					t.Errorf("datagram %d has %d bytes", i, len(d))
				}
				if err := dec.Decode(netip.MustParseAddrPort("192.0.2.1:2055"), d, now, &b); err != nil {
					t.Fatalf("datagram %d: %v", i, err)
				}
			}
			c := dec.Counters().Snapshot()
			if b.Len() != len(rows)+3 || c.TemplateMisses != 0 || c.SequenceGaps != 0 || c.TotalErrors() != 0 {
				t.Fatalf("%d rows from %d datagrams, counters %+v", b.Len(), len(dgs), c)
			}
			for i, got := range b.Rows[:len(rows)] {
				want := rows[i]
				if got.SrcAddr != want.SrcAddr || got.DstAddr != want.DstAddr || got.SrcPort != want.SrcPort ||
					got.DstPort != want.DstPort || got.Proto != want.Proto {
					t.Fatalf("row %d: got %+v\nwant %+v", i, got, want)
				}
				switch format {
				case IPFIX:
					if got.Time != want.Time || got.DurationMS != want.DurationMS || got.Bytes != want.Bytes || got.Packets != want.Packets ||
						got.SamplingRate != want.SamplingRate || got.SrcAS != want.SrcAS || got.VLAN != want.VLAN || got.TCPFlags != want.TCPFlags {
						t.Fatalf("row %d: got %+v\nwant %+v", i, got, want)
					}
				case NetFlow9: // times through sysUpTime and whole export seconds
					if d := got.Time - want.Time; d < -1_000_000 || d > 1_000_000 || got.Bytes != want.Bytes || got.Packets != want.Packets {
						t.Fatalf("row %d: got %+v\nwant %+v", i, got, want)
					}
				case SFlow5: // one sampled packet standing for the flow
					if got.Packets != want.Packets || got.Bytes != want.Bytes || got.VLAN != want.VLAN {
						t.Fatalf("row %d: got %+v\nwant %+v", i, got, want)
					}
				}
			}
		})
	}
}
