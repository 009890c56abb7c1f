package tcptrace

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/schema"
)

// TestLeaveOut: connections known already and repeats within the result
// are left out with their packets (each kept once by trace_id and idx);
// the count says how many connections went.
func TestLeaveOut(t *testing.T) {
	conn := func(id uint64) schema.TCPConn { return schema.TCPConn{TraceID: id} }
	pkt := func(id uint64, idx uint16) schema.TCPPacket { return schema.TCPPacket{TraceID: id, Index: idx} }
	type ids struct {
		Conns []uint64
		Pkts  [][2]uint64
	}
	of := func(r *Result) ids {
		var out ids
		for _, c := range r.Conns {
			out.Conns = append(out.Conns, c.TraceID)
		}
		for _, p := range r.Packets {
			out.Pkts = append(out.Pkts, [2]uint64{p.TraceID, uint64(p.Index)})
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		in      Result
		known   map[uint64]bool
		want    ids
		removed int
	}{
		{"nothing known", Result{Conns: []schema.TCPConn{conn(1), conn(2)}, Packets: []schema.TCPPacket{pkt(1, 1), pkt(2, 1)}}, nil,
			ids{[]uint64{1, 2}, [][2]uint64{{1, 1}, {2, 1}}}, 0},
		{"known left out with its packets", Result{Conns: []schema.TCPConn{conn(1), conn(2)}, Packets: []schema.TCPPacket{pkt(1, 1), pkt(1, 2), pkt(2, 1)}},
			map[uint64]bool{1: true}, ids{[]uint64{2}, [][2]uint64{{2, 1}}}, 1},
		{"a dump pasted twice", Result{Conns: []schema.TCPConn{conn(1), conn(2), conn(1), conn(2)},
			Packets: []schema.TCPPacket{pkt(1, 1), pkt(1, 2), pkt(2, 1), pkt(1, 1), pkt(1, 2), pkt(2, 1)}}, nil,
			ids{[]uint64{1, 2}, [][2]uint64{{1, 1}, {1, 2}, {2, 1}}}, 2},
		{"known and repeated", Result{Conns: []schema.TCPConn{conn(3), conn(3)}, Packets: []schema.TCPPacket{pkt(3, 1), pkt(3, 1)}},
			map[uint64]bool{3: true}, ids{}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.in
			n := r.LeaveOut(func(id uint64) bool { return tc.known[id] })
			if diff := cmp.Diff(tc.want, of(&r)); diff != "" || n != tc.removed {
				t.Errorf("left %d out, want %d; kept (-want +got):\n%s", n, tc.removed, diff)
			}
		})
	}
}
