package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// BenchmarkDashboard serves a dashboard query — a day of hourly traffic
// per application, answered from the hourly rollup — to 32 concurrent clients
// over HTTP, and reports requests/s and latency percentiles, then the same
// query through the engine alone, so the difference is the API's overhead.
//
//	go test ./api -run '^$' -bench Dashboard -benchtime 2000x
func BenchmarkDashboard(b *testing.B) {
	ctx := context.Background()
	cfg := gen.DefaultConfig()
	cfg.Start = time.Date(2026, 1, 7, 0, 0, 0, 0, time.UTC)
	cfg.End = cfg.Start.Add(24 * time.Hour)
	cfg.FlowsPerSecond = 10
	c, err := gen.Collect(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	lcfg := lake.DefaultConfig()
	lcfg.Root = b.TempDir()
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := lake.Write(ctx, l, "edge", c.FlowRows); err != nil {
		b.Fatal(err)
	}
	engine := query.New(l, query.Config{}, nil)
	if _, err := engine.MaintainRollups(ctx); err != nil {
		b.Fatal(err)
	}
	st := openStore(b)
	srv, err := New(DefaultConfig(), Deps{Datasets: l, Meta: st, Query: engine})
	if err != nil {
		b.Fatal(err)
	}
	u, err := st.CreateUser(ctx, meta.NewUser{Name: "dash", Role: meta.RoleAnalyst})
	if err != nil {
		b.Fatal(err)
	}
	_, token, err := st.CreateToken(ctx, meta.NewToken{UserID: u.ID, Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	q := query.Query{Dataset: "flows", From: cfg.Start.Format(time.RFC3339), To: cfg.End.Format(time.RFC3339),
		GroupBy: []string{"time/1h", "app"}, Metrics: []string{"bps()", "pps()"}}
	body := fmt.Sprintf(`{"dataset":"flows","from":%q,"to":%q,"group_by":["time/1h","app"],"metrics":["bps()","pps()"]}`, q.From, q.To)
	res, err := engine.Run(ctx, q)
	if err != nil {
		b.Fatal(err)
	}
	if res.Plan.Route[:6] != "rollup" {
		b.Fatalf("the dashboard query reads %s, want a rollup", res.Plan.Route)
	}
	res.Release()

	const clients = 32
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	lat := make([]time.Duration, b.N)
	var next int64
	var mu sync.Mutex
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodPost, ts.URL+PathQuery, bytes.NewReader([]byte(body)))
				req.Header.Set("Authorization", "Bearer "+token)
				r, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
				if r.StatusCode != 200 {
					b.Errorf("status %d", r.StatusCode)
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()

	// The overhead: the engine alone and the same query over HTTP, one at
	// a time and interleaved, so both see the same machine; the overhead is
	// the median of the pairwise differences.
	n := min(b.N, 1000)
	alone := make([]time.Duration, n)
	single := make([]time.Duration, n)
	diff := make([]time.Duration, n)
	for i := range n {
		t0 := time.Now()
		r, err := engine.Run(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		r.Release()
		alone[i] = time.Since(t0)
		t0 = time.Now()
		req, _ := http.NewRequest(http.MethodPost, ts.URL+PathQuery, bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		single[i] = time.Since(t0)
		diff[i] = single[i] - alone[i]
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(ms(pct(lat, 50)), "p50-ms")
	b.ReportMetric(ms(pct(lat, 99)), "p99-ms")
	b.ReportMetric(ms(pct(alone, 50)), "engine-p50-ms")
	b.ReportMetric(ms(pct(single, 50)), "http-serial-p50-ms")
	b.ReportMetric(ms(pct(diff, 50)), "overhead-p50-ms")
	b.ReportMetric(0, "ns/op")
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
