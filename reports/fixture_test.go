package reports

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// The test lake: generated telemetry of every dataset for 10:00–14:00 UTC of
// Wednesday 2026-01-07 (the report period is 12:00–14:00, its previous
// period 10:00–12:00) and for 12:00–14:00 one week earlier (the baseline's
// history), with rollups built.
var (
	fixtureOnce sync.Once
	fixtureEng  *query.Engine
	fixtureLake *lake.Lake
	fixtureErr  error
	fixtureDir  string
)

var (
	fixtureFrom = time.Date(2026, 1, 7, 10, 0, 0, 0, time.UTC)
	fixtureTo   = fixtureFrom.Add(4 * time.Hour)
	weekBefore  = fixtureFrom.Add(-7*24*time.Hour + 2*time.Hour)
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flowlake-reports-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	if fixtureEng != nil {
		fixtureEng.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// testEngine returns the engine over the test lake.
func testEngine(t testing.TB) *query.Engine {
	t.Helper()
	fixtureOnce.Do(func() { fixtureEng, fixtureErr = buildFixture() })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureEng
}

func buildFixture() (*query.Engine, error) {
	ctx := context.Background()
	lcfg := lake.DefaultConfig()
	lcfg.Root = fixtureDir
	lcfg.RowGroupRows = 5000
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		return nil, err
	}
	for _, r := range [][2]time.Time{{weekBefore, weekBefore.Add(2 * time.Hour)}, {fixtureFrom, fixtureTo}} {
		cfg := gen.DefaultConfig()
		cfg.Start, cfg.End = r[0], r[1]
		cfg.FlowsPerSecond = 1
		cfg.Sites = 2
		cfg.TCPClosesPerHour = 60
		c, err := gen.Collect(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if err := write(ctx, l, c.FlowRows); err != nil {
			return nil, err
		}
		if err := write(ctx, l, c.TCPConnRows); err != nil {
			return nil, err
		}
		if err := write(ctx, l, c.TCPPacketRows); err != nil {
			return nil, err
		}
		if err := write(ctx, l, c.DHCPRows); err != nil {
			return nil, err
		}
		if err := write(ctx, l, c.CloudRows); err != nil {
			return nil, err
		}
		if err := write(ctx, l, c.LossRows); err != nil {
			return nil, err
		}
	}
	eng := query.New(l, query.Config{}, nil)
	if _, err := eng.MaintainRollups(ctx); err != nil {
		return nil, err
	}
	fixtureLake = l
	return eng, nil
}

func write[T schema.Row](ctx context.Context, l *lake.Lake, rows []T) error {
	if len(rows) == 0 {
		return nil
	}
	_, err := lake.Write(ctx, l, "gen", rows)
	return err
}

// testPeriod is the report period of the test lake and its previous one.
func testPeriod(t testing.TB) Period {
	t.Helper()
	p, err := ParsePeriod(Custom, "2026-01-07T12:00:00Z..2026-01-07T14:00:00Z", "UTC", fixtureTo)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
