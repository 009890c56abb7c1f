package lake

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

func BenchmarkTmpWrite(b *testing.B) {
	l := testLake(b, func(c *Config) { c.RowGroupRows = 256 << 10 })
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 11, 20, 22, 0, 0, 0, time.UTC)
	rows := randomRows[schema.Flow](rng, 1<<20, start, 50*time.Minute)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Write(context.Background(), l, "e", rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
