package lake

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/schema"
)

func TestRetain(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 12, 30, 0, 0, time.UTC)
	day := 24 * time.Hour
	// One small segment per listed hour, ages relative to now.
	seed := func(t *testing.T, l *Lake) {
		for _, h := range []time.Duration{72 * time.Hour, 49 * time.Hour, 48 * time.Hour, 47 * time.Hour, 2 * time.Hour} {
			hour := now.Add(-h).Truncate(time.Hour)
			rows := []schema.Flow{{Time: schema.Micros(hour) + 1, Bytes: 100}, {Time: schema.Micros(hour) + 2, Bytes: 200}}
			if _, err := Write(ctx, l, "edge", rows); err != nil {
				t.Fatal(err)
			}
			dhcp := []schema.DHCPEvent{{Time: schema.Micros(hour) + 5, MsgType: schema.DHCPAck}}
			if _, err := Write(ctx, l, "edge", dhcp); err != nil {
				t.Fatal(err)
			}
		}
	}
	part := func(ds string, ago time.Duration) string { return partitionKey(ds, now.Add(-ago).Truncate(time.Hour)) }
	for _, tc := range []struct {
		name   string
		policy RetentionPolicy
		want   []string
	}{
		{"nothing configured", RetentionPolicy{}, nil},
		{
			// flows kept 2 days: the partition ending exactly at now-48h goes,
			// the one ending after it stays; dhcp_events untouched.
			"max age per dataset",
			RetentionPolicy{MaxAge: map[string]time.Duration{schema.Flows: 2 * day}},
			[]string{part(schema.Flows, 72*time.Hour), part(schema.Flows, 49*time.Hour)},
		},
		{
			"disk threshold deletes oldest first across datasets",
			RetentionPolicy{MaxBytes: 1},
			[]string{
				part(schema.DHCPEvents, 72*time.Hour), part(schema.Flows, 72*time.Hour),
				part(schema.DHCPEvents, 49*time.Hour), part(schema.Flows, 49*time.Hour),
				part(schema.DHCPEvents, 48*time.Hour), part(schema.Flows, 48*time.Hour),
				part(schema.DHCPEvents, 47*time.Hour), part(schema.Flows, 47*time.Hour),
				part(schema.DHCPEvents, 2*time.Hour), part(schema.Flows, 2*time.Hour),
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLake(t)
			seed(t, l)
			res, err := l.Retain(ctx, tc.policy, now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, res.Deleted); diff != "" {
				t.Errorf("deleted partitions (-want +got):\n%s", diff)
			}
			if res.Files != len(tc.want) {
				t.Errorf("deleted %d files, want %d", res.Files, len(tc.want))
			}
			// What remains on disk is exactly the rest.
			objs, err := l.backend.List(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(objs), 10-len(tc.want); got != want {
				t.Errorf("%d files remain, want %d", got, want)
			}
		})
	}
}

func TestRetainThresholdStopsBelowLimit(t *testing.T) {
	ctx := context.Background()
	l := testLake(t)
	hour := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var sizes []int64
	for i := range 4 {
		h := hour.Add(time.Duration(i) * time.Hour)
		segs, err := Write(ctx, l, "edge", []schema.Flow{{Time: schema.Micros(h), Bytes: uint64(i)}})
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, segs[0].Bytes)
	}
	// Allow all but a little more than one file: exactly the oldest two go.
	limit := sizes[0] + sizes[1] + sizes[2] + sizes[3] - sizes[0] - 1
	res, err := l.Retain(ctx, RetentionPolicy{MaxBytes: limit}, hour.Add(5*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{partitionKey(schema.Flows, hour), partitionKey(schema.Flows, hour.Add(time.Hour))}
	if diff := cmp.Diff(want, res.Deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
}
