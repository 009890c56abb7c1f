package query

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// The test lake: three busy hours of generated telemetry of every dataset,
// written by two sources into small row groups, so queries cross
// partitions, files and row groups.
var (
	fixtureOnce sync.Once
	fixtureLake *lake.Lake
	fixtureErr  error
)

// fixtureStart is the first hour of the test lake (a Wednesday).
var fixtureStart = time.Date(2026, 1, 7, 12, 0, 0, 0, time.UTC)

// fixtureNow is "now" for relative times in tests: the end of the data.
var fixtureNow = fixtureStart.Add(3 * time.Hour)

func testLake(t testing.TB) *lake.Lake {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureLake, fixtureErr = buildFixture()
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureLake
}

func buildFixture() (*lake.Lake, error) {
	ctx := context.Background()
	cfg := gen.DefaultConfig()
	cfg.Start, cfg.End = fixtureStart, fixtureNow
	cfg.FlowsPerSecond = 2
	cfg.Sites = 2
	c, err := gen.Collect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	lcfg := lake.DefaultConfig()
	lcfg.Root = fixtureDir
	lcfg.RowGroupRows = 3000
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		return nil, err
	}
	if err := writeHalves(ctx, l, c.FlowRows); err != nil {
		return nil, err
	}
	if err := writeHalves(ctx, l, c.TCPConnRows); err != nil {
		return nil, err
	}
	if err := writeHalves(ctx, l, c.TCPPacketRows); err != nil {
		return nil, err
	}
	if err := writeHalves(ctx, l, c.DHCPRows); err != nil {
		return nil, err
	}
	if err := writeHalves(ctx, l, c.CloudRows); err != nil {
		return nil, err
	}
	if _, err := New(l, Config{}, nil).MaintainRollups(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// writeHalves writes rows as two sources, alternating rows.
func writeHalves[T schema.Row](ctx context.Context, l *lake.Lake, rows []T) error {
	var a, b []T
	for i, r := range rows {
		if i%2 == 0 {
			a = append(a, r)
		} else {
			b = append(b, r)
		}
	}
	if _, err := lake.Write(ctx, l, "edge-a", a); err != nil {
		return err
	}
	_, err := lake.Write(ctx, l, "edge-b", b)
	return err
}
