package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// envSoak sets the soak test's duration (a Go duration, e.g. 10m).
const envSoak = "FLOWLAKE_SOAK"

// soakAnswer is one answer given during the soak, to compare afterwards.
type soakAnswer struct {
	via          string // rest, graphql or cli
	uploads, nfs int    // the filter's bounds: batches acknowledged before the query
	got          string
	at           time.Time // when the answer came
	route        string    // what the engine read (REST answers' plan)
}

// TestSoak runs serve with compaction, rollups and retention every second
// while NetFlow v9 arrives over UDP at its embedded edge and segments are
// uploaded to it, REST and GraphQL clients query it, CLI query processes
// read the same lake, and another process runs `flowlake lake compact`
// again and again. Every answer equals the answer to the same query
// afterwards, the lake ends with every row ingested once (generated, plus
// uploads the core acknowledged, plus rows the edge acknowledged),
// retention deleted the partition older than its limit, and nothing
// anywhere warns of an unreadable file. FLOWLAKE_SOAK sets the duration
// (default 20s).
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
	// An hour older than flows' retention (90 days), for retention to delete.
	expired := time.Now().UTC().Add(-100 * 24 * time.Hour).Truncate(time.Hour)
	if _, errOut, code := runCLI(t, nil, "gen", "--data", dir, "--from", expired.Format(time.RFC3339), "--to", expired.Add(time.Hour).Format(time.RFC3339),
		"--rate", "1", "--seed", "9", "--log-level", "warn"); code != 0 {
		t.Fatalf("gen of an expired hour exited %d: %s", code, errOut)
	}
	// count counts flows in [from, to) matching filter; a filter on a
	// column no rollup has (src_port) reads the raw flows.
	count := func(from, to, filter string) int64 {
		out, errOut, code := runCLI(t, nil, "query", "flows", "--from", from, "--to", to, filter, "--metrics", "count()", "--format", "csv", "--data", dir)
		var n int64
		if _, err := fmt.Sscanf(strings.TrimPrefix(out, "count()\n"), "%d", &n); code != 0 || err != nil {
			t.Fatalf("count: exit %d, %v: %s%s", code, err, out, errOut)
		}
		return n
	}
	const rawFlows = "src_port >= 0"
	expFrom, expTo := expired.Format(time.RFC3339), expired.Add(time.Hour).Format(time.RFC3339)
	if n := count(expFrom, expTo, rawFlows); n == 0 {
		t.Fatal("the expired hour holds no rows: retention would have nothing to do")
	}
	// The queries' range: the generated hours up to after the soak's end,
	// where the uploads and the NetFlow rows are dated.
	from, to := "2026-11-03T10:00:00Z", time.Now().UTC().Add(dur+2*time.Hour).Truncate(time.Hour).Format(time.RFC3339)
	generated := count(from, to, "")

	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nfAddr := udp.LocalAddr().String()
	udp.Close() // serve's edge takes the port next
	env := []string{"FLOWLAKE_JOBS_COMPACT_EVERY=1s", "FLOWLAKE_JOBS_COMPACT_AFTER=0s", "FLOWLAKE_JOBS_ROLLUP_EVERY=1s",
		"FLOWLAKE_JOBS_RETENTION_EVERY=1s", "FLOWLAKE_LAKE_REPLACED_GRACE=2s", "FLOWLAKE_EDGE_BATCH_AGE=100ms", "FLOWLAKE_LOG_LEVEL=info"}
	// The uploads' token is bound to their edge, "soak" (docs/auth.md).
	out, errOut, code := runCLI(t, nil, "user", "add", "--name", "soak-uploads", "--role", "admin", "--token", "--edges", "soak",
		"--json", "--data", dir, "--log-level", "warn")
	var uploader UserAdded
	if err := json.Unmarshal([]byte(out), &uploader); code != 0 || err != nil {
		t.Fatalf("user add --edges soak: exit %d, %v: %s", code, err, errOut)
	}
	srv := startServe(t, dir, append(os.Environ(), env...), "--netflow-listen", nfAddr, "--ipfix-listen", "", "--sflow-listen", "")
	scratch := scratchLake(t)

	var progress soakProgress
	var mu sync.Mutex
	var answers []soakAnswer
	// Each way of asking returns the answer and, for REST, the plan's
	// route (raw flows or a rollup), for a failure's message.
	ask := map[string]func(ctx context.Context, u, n int) (string, string, error){
		"rest": func(ctx context.Context, u, n int) (string, string, error) {
			status, h, body, err := srv.post(ctx, "/api/v1/query", map[string]any{"dataset": "flows", "from": from, "to": to,
				"filter": soakFilter(u, n), "group_by": []string{"device"},
				"metrics": []string{"count()", "sum(bytes)"}, "order_by": []string{"device"}})
			if err != nil || status != 200 {
				return "", "", fmt.Errorf("rest: %d %v: %s", status, err, body)
			}
			var res struct {
				Rows     json.RawMessage `json:"rows"`
				Warnings []any           `json:"warnings"`
				Plan     struct {
					Route string `json:"route"`
				} `json:"plan"`
			}
			if err := json.Unmarshal(body, &res); err != nil || len(res.Warnings) > 0 || h.Get("Flowlake-Warnings") != "" {
				return "", "", fmt.Errorf("rest: %v, warnings %v: %s", err, res.Warnings, body)
			}
			return string(res.Rows), res.Plan.Route, nil
		},
		"graphql": func(ctx context.Context, u, n int) (string, string, error) {
			res, err := srv.graphQL(ctx, fmt.Sprintf(`{ aggregate(from: %q, to: %q, filter: %q, groupBy: ["device", "time/1h"], metrics: ["count()", "sum(packets)"], orderBy: ["device", "time/1h"], limit: 0) { rows { keys values } } }`,
				from, to, soakFilter(u, n)))
			if err != nil {
				return "", "", fmt.Errorf("graphql: %w", err)
			}
			if res["errors"] != nil || res["extensions"] != nil {
				return "", "", fmt.Errorf("graphql: %v", res)
			}
			return toJSON(res["data"]), "", nil
		},
		"cli": func(ctx context.Context, u, n int) (string, string, error) {
			var out, errOut bytes.Buffer
			cmd := mainProcess(ctx, []string{"FLOWLAKE_LOG_LEVEL=warn"}, "query", "flows", "--from", from, "--to", to,
				soakFilter(u, n), "--metrics", "count(),max(bytes),sum(packets)", "--format", "csv", "--data", dir)
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Run(); err != nil || strings.Contains(errOut.String(), "unreadable") || strings.Contains(errOut.String(), "warning") {
				return "", "", fmt.Errorf("cli: %v: %s", err, errOut.String())
			}
			return out.String(), "", nil
		},
	}

	ctx, cancel := context.WithTimeout(t.Context(), dur)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	uploads := *srv
	uploads.token = uploader.Secret
	g.Go(func() error { return soakUploads(gctx, &uploads, scratch, 200*time.Millisecond, &progress) })
	g.Go(func() error { return soakNetFlow(gctx, srv, nfAddr, &progress) })
	// Another process compacts the same lake, live hours included, again
	// and again.
	compactBefore := time.Now().UTC().Add(dur + 3*time.Hour).Format(time.RFC3339)
	compactions := 0
	g.Go(func() error {
		for gctx.Err() == nil {
			var out bytes.Buffer
			cmd := mainProcess(context.Background(), []string{"FLOWLAKE_LAKE_REPLACED_GRACE=2s", "FLOWLAKE_LOG_LEVEL=warn"},
				"lake", "compact", "--before", compactBefore, "--data", dir)
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("lake compact process: %v: %s", err, out.String())
			}
			compactions++
		}
		return nil
	})
	// Clients: two REST, two GraphQL, one running CLI processes.
	for _, via := range []string{"rest", "rest", "graphql", "graphql", "cli"} {
		g.Go(func() error {
			for gctx.Err() == nil {
				u, n := progress.bounds()
				got, route, err := ask[via](gctx, u, n)
				if err != nil {
					if gctx.Err() != nil {
						return nil
					}
					return err
				}
				mu.Lock()
				answers = append(answers, soakAnswer{via: via, uploads: u, nfs: n, got: got, at: time.Now(), route: route})
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}

	// Afterwards: the same questions, on a lake nothing changes any more.
	truth := map[soakAnswer]string{}
	bad := 0
	for _, a := range answers {
		k := soakAnswer{via: a.via, uploads: a.uploads, nfs: a.nfs}
		want, ok := truth[k]
		if !ok {
			var err error
			if want, _, err = ask[a.via](t.Context(), a.uploads, a.nfs); err != nil {
				t.Fatal(err)
			}
			truth[k] = want
		}
		if a.got != want {
			if bad < 5 {
				t.Errorf("%s answer at %s (route %q) with %d upload and %d NetFlow batches during the soak:\n%s\nafterwards:\n%s",
					a.via, a.at.Format(time.RFC3339Nano), a.route, a.uploads, a.nfs, a.got, want)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d answers during the soak differ from the answer afterwards", bad, len(answers))
	}
	edgeAcked, err := srv.metric(t.Context(), edgeRowsMetric)
	if err != nil {
		t.Fatal(err)
	}
	srv.stop()
	p := &progress
	if p.netflow == 0 || p.uploads == 0 {
		t.Errorf("the soak ingested %d NetFlow and %d upload batches: both feeds must have been acknowledged", p.netflow, p.uploads)
	}
	if int64(edgeAcked) != p.nfSent {
		t.Errorf("the edge acknowledged %d rows, %d were sent over UDP", int64(edgeAcked), p.nfSent)
	}
	if got, want := count(from, to, ""), generated+p.uploadRows+int64(edgeAcked); got != want {
		t.Errorf("the lake holds %d flows, %d were ingested (%d generated, %d uploaded, %d acknowledged by the edge)",
			got, want, generated, p.uploadRows, int64(edgeAcked))
	}
	if n := count(expFrom, expTo, rawFlows); n != 0 {
		t.Errorf("retention left %d flows of %s, older than flows' 90-day limit", n, expFrom)
	}
	if out, errOut, code := runCLI(t, nil, "lake", "verify", "--data", dir); code != 0 {
		t.Errorf("lake verify after the soak exited %d: %s%s", code, out, errOut)
	}
	log := srv.stderr.String()
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "unreadable") || strings.Contains(line, "job failed") {
			t.Errorf("serve logged: %s", line)
		}
	}
	jobs := map[string]int{}
	for _, line := range strings.Split(log, "\n") {
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
	t.Logf("soak %s: %d generated rows; %d upload batches (%d rows); %d NetFlow batches (%d rows acknowledged by the edge); %d lake compact processes; answers %v, all equal to the answers afterwards; serve's job runs %v",
		dur, generated, p.uploads, p.uploadRows, p.netflow, int64(edgeAcked), compactions, per, jobs)
}
