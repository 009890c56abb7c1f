package lake

import (
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/schema"
)

func TestRoundTrip(t *testing.T) {
	t.Run(schema.Flows, roundTrip[schema.Flow])
	t.Run(schema.TCPConns, roundTrip[schema.TCPConn])
	t.Run(schema.TCPPackets, roundTrip[schema.TCPPacket])
	t.Run(schema.DHCPEvents, roundTrip[schema.DHCPEvent])
	t.Run(schema.CloudConns, roundTrip[schema.CloudConn])
	t.Run(schema.FlowLosses, roundTrip[schema.FlowLoss])
}

// roundTrip writes random rows spanning three hour boundaries and reads
// them back: the same rows, sorted by time, one segment per hour.
func roundTrip[T schema.Row](t *testing.T) {
	ctx := context.Background()
	l := testLake(t)
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 11, 20, 22, 30, 0, 0, time.UTC)
	rows := randomRows[T](rng, 10000, start, 3*time.Hour)
	want := slices.Clone(rows)
	segs, err := Write(ctx, l, "edge-1", rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 4 {
		t.Fatalf("got %d segments, want 4 (22:30 to 01:30 spans four hours)", len(segs))
	}
	d := schema.DatasetOf[T]()
	listed, err := l.Segments(ctx, d.Name, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(segs, listed); diff != "" {
		t.Fatalf("catalog differs from written segments (-written +catalog):\n%s", diff)
	}
	var got []T
	for _, s := range segs {
		if hourOf(schema.Micros(s.MinTime)) != s.Hour || hourOf(schema.Micros(s.MaxTime)) != s.Hour {
			t.Errorf("segment %s holds rows outside its hour", s.Key)
		}
		part, err := Read[T](ctx, l, s)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, part...)
	}
	slices.SortStableFunc(want, byTime[T])
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("rows differ after round trip (-want +got):\n%s", cmp.Diff(want, got))
	}
	// A second lake opened on the same root sees the same segments.
	l2, err := Open(l.Config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	reopened, err := l2.Segments(ctx, d.Name, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(segs, reopened, cmpSegments); diff != "" {
		t.Fatalf("reopened catalog differs (-written +reopened):\n%s", diff)
	}
}

// cmpSegments compares times by instant (a reopened catalog has no
// monotonic clock readings and may carry another location).
var cmpSegments = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
