package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// envSoak sets the soak test's duration (a Go duration, e.g. 10m).
const envSoak = "FLOWLAKE_SOAK"

// soakBase is the in_if of the first uploaded batch: batch b's rows have
// in_if soakBase+b, above every generated interface, so a query filtered
// on in_if < soakBase+k reads the generated rows and batches 0..k-1.
const soakBase = 100000

// soakAnswer is one answer given during the soak, to compare afterwards.
type soakAnswer struct {
	via   string // rest, graphql or cli
	batch int    // the filter's bound: batches below it were acknowledged before the query
	got   string
}

// TestSoak runs serve with compaction, rollups and retention every second
// while segments are uploaded to it, REST and GraphQL clients query it,
// CLI query processes read the same lake, and other processes run
// `flowlake lake compact` again and again. Every answer equals the answer
// to the same query afterwards, the lake ends with every row ingested once,
// and nothing anywhere warns of an unreadable file. FLOWLAKE_SOAK sets the
// duration (default 20s).
func TestSoak(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("soak test: skipped with -short outside CI")
	}
	dur := 20 * time.Second
	if v := os.Getenv(envSoak); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", envSoak, v, err)
		}
		dur = d
	}
	dir := genLake(t)
	env := []string{"FLOWLAKE_JOBS_COMPACT_EVERY=1s", "FLOWLAKE_JOBS_COMPACT_AFTER=0s", "FLOWLAKE_JOBS_ROLLUP_EVERY=1s",
		"FLOWLAKE_JOBS_RETENTION_EVERY=1s", "FLOWLAKE_LAKE_REPLACED_GRACE=2s", "FLOWLAKE_LOG_LEVEL=info",
		"FLOWLAKE_SERVE_INGEST_MAX_AGE=87600h"} // the generated history is fixed in 2026-11; uploads must not age out of the window
	const from, to = "2026-11-03T10:00:00Z", "2026-11-03T12:00:00Z"
	countAll := func() int64 {
		out, errOut, code := runCLI(t, nil, "query", "flows", "--from", from, "--to", to, "--metrics", "count()", "--format", "csv", "--data", dir)
		var n int64
		if _, err := fmt.Sscanf(strings.TrimPrefix(out, "count()\n"), "%d", &n); code != 0 || err != nil {
			t.Fatalf("count: exit %d, %v: %s%s", code, err, out, errOut)
		}
		return n
	}
	ingested := countAll()
	srv := startServe(t, dir, append(os.Environ(), env...))
	scratch := t.TempDir()

	var mu sync.Mutex
	acked := 0 // batches 0..acked-1 are published
	var answers []soakAnswer
	var uploadedRows int64
	ask := map[string]func(ctx context.Context, batch int) (string, error){
		"rest": func(ctx context.Context, batch int) (string, error) {
			status, h, body, err := srv.post(ctx, "/api/v1/query", map[string]any{"dataset": "flows", "from": from, "to": to,
				"filter": fmt.Sprintf("in_if < %d", soakBase+batch), "group_by": []string{"device"},
				"metrics": []string{"count()", "sum(bytes)"}, "order_by": []string{"device"}})
			if err != nil || status != 200 {
				return "", fmt.Errorf("rest: %d %v: %s", status, err, body)
			}
			var res struct {
				Rows     json.RawMessage `json:"rows"`
				Warnings []any           `json:"warnings"`
			}
			if err := json.Unmarshal(body, &res); err != nil || len(res.Warnings) > 0 || h.Get("Flowlake-Warnings") != "" {
				return "", fmt.Errorf("rest: %v, warnings %v: %s", err, res.Warnings, body)
			}
			return string(res.Rows), nil
		},
		"graphql": func(ctx context.Context, batch int) (string, error) {
			res, err := srv.graphQL(ctx, fmt.Sprintf(`{ aggregate(from: %q, to: %q, filter: "in_if < %d", groupBy: ["device", "time/1h"], metrics: ["count()", "sum(packets)"], orderBy: ["device", "time/1h"], limit: 0) { rows { keys values } } }`,
				from, to, soakBase+batch))
			if err != nil {
				return "", fmt.Errorf("graphql: %w", err)
			}
			if res["errors"] != nil || res["extensions"] != nil {
				return "", fmt.Errorf("graphql: %v", res)
			}
			return toJSON(res["data"]), nil
		},
		"cli": func(ctx context.Context, batch int) (string, error) {
			var out, errOut bytes.Buffer
			cmd := mainProcess(ctx, []string{"FLOWLAKE_LOG_LEVEL=warn"}, "query", "flows", "--from", from, "--to", to,
				fmt.Sprintf("in_if < %d", soakBase+batch), "--metrics", "count(),max(bytes),sum(packets)", "--format", "csv", "--data", dir)
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Run(); err != nil || strings.Contains(errOut.String(), "unreadable") || strings.Contains(errOut.String(), "warning") {
				return "", fmt.Errorf("cli: %v: %s", err, errOut.String())
			}
			return out.String(), nil
		},
	}

	ctx, cancel := context.WithTimeout(t.Context(), dur)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	// Uploads: a segment of 200 rows every few ms, alternating hours.
	g.Go(func() error {
		cfg := lake.DefaultConfig()
		cfg.Root = scratch
		l, err := lake.Open(cfg, nil)
		if err != nil {
			return err
		}
		defer l.Close()
		rng := rand.New(rand.NewPCG(5, 6))
		for b := 0; gctx.Err() == nil; b++ {
			hour := time.Date(2026, 11, 3, 10+b%2, 0, 0, 0, time.UTC)
			rows := make([]schema.Flow, 200)
			for i := range rows {
				rows[i] = schema.Flow{Time: schema.Micros(hour) + rng.Int64N(int64(time.Hour/time.Microsecond)), InIf: uint32(soakBase + b),
					Device: fmt.Sprintf("soak-%d", b%4), Bytes: uint64(40 + rng.IntN(1500)), Packets: uint64(1 + rng.IntN(9)),
					SrcAddr: schema.MustParseAddr("198.51.100.7"), DstAddr: schema.MustParseAddr("203.0.113.9"), Proto: 17}
			}
			segs, err := lake.Write(context.Background(), l, "admin", rows) // the uploader's token may write for the edge named like its user
			if err != nil || len(segs) != 1 {
				return fmt.Errorf("scratch segment: %v (%d segments)", err, len(segs))
			}
			data, err := os.ReadFile(filepath.Join(scratch, filepath.FromSlash(segs[0].Key)))
			if err != nil {
				return err
			}
			status, body, err := srv.put(context.Background(), "/api/v1/ingest/segments/"+lake.SegmentID(segs[0]), data)
			if err != nil || status != 201 {
				return fmt.Errorf("upload batch %d: %d %v: %s", b, status, err, body)
			}
			mu.Lock()
			acked = b + 1
			uploadedRows += int64(len(rows))
			mu.Unlock()
		}
		return nil
	})
	// Another process compacts the same lake again and again.
	g.Go(func() error {
		for gctx.Err() == nil {
			var out bytes.Buffer
			cmd := mainProcess(context.Background(), []string{"FLOWLAKE_LAKE_REPLACED_GRACE=2s", "FLOWLAKE_LOG_LEVEL=warn"},
				"lake", "compact", "--before", "2026-11-04", "--data", dir)
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("lake compact process: %v: %s", err, out.String())
			}
		}
		return nil
	})
	// Clients: two REST, two GraphQL, one running CLI processes.
	for _, via := range []string{"rest", "rest", "graphql", "graphql", "cli"} {
		g.Go(func() error {
			for gctx.Err() == nil {
				mu.Lock()
				batch := acked
				mu.Unlock()
				got, err := ask[via](gctx, batch)
				if err != nil {
					if gctx.Err() != nil {
						return nil
					}
					return err
				}
				mu.Lock()
				answers = append(answers, soakAnswer{via: via, batch: batch, got: got})
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}

	// Afterwards: the same questions, on a lake nothing changes any more.
	truth := map[[2]any]string{}
	bad := 0
	for _, a := range answers {
		k := [2]any{a.via, a.batch}
		want, ok := truth[k]
		if !ok {
			var err error
			if want, err = ask[a.via](t.Context(), a.batch); err != nil {
				t.Fatal(err)
			}
			truth[k] = want
		}
		if a.got != want && bad < 5 {
			bad++
			t.Errorf("%s answer with batches < %d during the soak:\n%s\nafterwards:\n%s", a.via, a.batch, a.got, want)
		}
	}
	srv.stop()
	if got, want := countAll(), ingested+uploadedRows; got != want {
		t.Errorf("the lake holds %d flows, %d were ingested (%d generated, %d uploaded)", got, want, ingested, uploadedRows)
	}
	if out, errOut, code := runCLI(t, nil, "lake", "verify", "--data", dir); code != 0 {
		t.Errorf("lake verify after the soak exited %d: %s%s", code, out, errOut)
	}
	if log := srv.stderr.String(); strings.Contains(log, "unreadable") || strings.Contains(log, "job failed") {
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, "unreadable") || strings.Contains(line, "job failed") {
				t.Errorf("serve logged: %s", line)
			}
		}
	}
	jobs := map[string]int{}
	for _, line := range strings.Split(srv.stderr.String(), "\n") {
		for _, job := range []string{"compaction", "rollups", "retention"} {
			if strings.Contains(line, "job done") && strings.Contains(line, "job="+job) {
				jobs[job]++
			}
		}
	}
	if jobs["compaction"] == 0 || jobs["rollups"] == 0 || jobs["retention"] == 0 {
		t.Errorf("serve's jobs did not all run: %v", jobs)
	}
	per := map[string]int{}
	for _, a := range answers {
		per[a.via]++
	}
	t.Logf("soak %s: %d batches uploaded (%d rows), answers %v, all equal to the answers afterwards; serve's job runs %v", dur, acked, uploadedRows, per, jobs)
}
