package query

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// leaseBenchStart is the first day of the lease benchmark's 30 days.
var leaseBenchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// leaseBenchLake is 30 days of lease history: 4,000 clients in a /20
// pool, each holding an address for 1–8 hours at a time with a break of up
// to 4 hours between bindings (≈ 400 k spans), written a day per batch
// and compacted, as a running core would hold them.
var leaseBenchLake = sync.OnceValues(func() (*lake.Lake, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "flowlake-lease-bench-")
	if err != nil {
		return nil, err
	}
	lcfg := lake.DefaultConfig()
	lcfg.Root = dir
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(13, 13))
	end := leaseBenchStart.Add(30 * 24 * time.Hour).UnixMicro()
	const clients = 4000
	next := make([]int64, clients)
	for i := range next {
		next[i] = leaseBenchStart.UnixMicro() + rng.Int64N(int64(4*time.Hour/time.Microsecond))
	}
	for day := range 30 {
		dayEnd := leaseBenchStart.Add(time.Duration(day+1) * 24 * time.Hour).UnixMicro()
		var rows []schema.DHCPLease
		for c := range clients {
			for next[c] < dayEnd && next[c] < end {
				start := next[c]
				held := int64(time.Hour/time.Microsecond) * (1 + rng.Int64N(8))
				mac := schema.MAC{2, 0, 0, 0, byte(c >> 8), byte(c)}
				addr := schema.AddrFrom(netip.AddrFrom4([4]byte{10, 16 + byte(c>>8%16), byte(c), byte(rng.IntN(4))}))
				rows = append(rows, schema.DHCPLease{Time: start, Source: schema.LeaseSourceWire, Kind: schema.LeaseKindLease,
					Address: addr, Client: "mac:" + mac.String(), CHAddr: mac, Hostname: fmt.Sprintf("host-%d", c),
					LeaseTime: 3600, LastAck: start + held - int64(30*time.Minute/time.Microsecond), EndTime: start + held,
					EndReason: schema.LeaseExpired, CircuitID: fmt.Sprintf("ge-0/0/%d", c%48)})
				next[c] = start + held + rng.Int64N(int64(4*time.Hour/time.Microsecond))
			}
		}
		if _, err := lake.Write(ctx, l, "edge", rows); err != nil {
			return nil, err
		}
	}
	_, err = l.Compact(ctx, time.UnixMicro(end))
	return l, err
})

// BenchmarkLeasesAt asks "who held address X at time T" over the 30 days
// (the default 30-day lookback plans every hour file before T) and reports
// milliseconds per question, with the engine's default file cache (1024
// open files: the 696 hour files stay open) and with 512, fewer than the
// files, which reopens every file at every question.
//
//	go test ./storage/query -run '^$' -bench LeasesAt -benchtime 50x
func BenchmarkLeasesAt(b *testing.B) {
	for _, files := range []int{0, 512} {
		b.Run(fmt.Sprintf("open_files=%d", files), func(b *testing.B) { benchLeasesAt(b, files) })
	}
}

func benchLeasesAt(b *testing.B, openFiles int) {
	l, err := leaseBenchLake()
	if err != nil {
		b.Fatal(err)
	}
	e := New(l, Config{OpenFiles: openFiles}, nil)
	defer e.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	found := 0
	b.ResetTimer()
	for b.Loop() {
		c := rng.IntN(4000)
		addr := netip.AddrFrom4([4]byte{10, 16 + byte(c>>8%16), byte(c), byte(rng.IntN(4))})
		at := leaseBenchStart.Add(29*24*time.Hour + time.Duration(rng.Int64N(int64(24*time.Hour))))
		ans, err := e.LeasesAt(ctx, addr, at, 0)
		if err != nil {
			b.Fatal(err)
		}
		found += len(ans.Leases)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/question")
	b.ReportMetric(float64(found)/float64(b.N), "spans/question")
}
