package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// lakeQueries are the answers the concurrency tests compare: one a rollup
// can answer, one only raw flows can.
var lakeQueries = [][]string{
	{"query", "flows", "--from", "2026-11-03T10:00:00Z", "--to", "2026-11-03T12:00:00Z", "--by", "device", "--metrics", "count(),sum(bytes)", "--order", "device", "--format", "csv"},
	{"query", "flows", "--from", "2026-11-03T10:00:00Z", "--to", "2026-11-03T12:00:00Z", "--metrics", "count(),max(bytes),sum(packets)", "--format", "csv"},
}

// writeLate publishes n flows in several small segments into the two hours
// of genLake's lake, as late uploads do, so compaction has work again.
func writeLate(t *testing.T, dir string, round, n int) {
	t.Helper()
	cfg := lake.DefaultConfig()
	cfg.Root = dir
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rng := rand.New(rand.NewPCG(uint64(round), 3))
	base := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	for seg := range 6 {
		rows := make([]schema.Flow, n/6)
		for i := range rows {
			rows[i] = schema.Flow{Time: schema.Micros(base) + rng.Int64N(int64(2*time.Hour/time.Microsecond)),
				Device: fmt.Sprintf("late-%d", seg%3), Bytes: uint64(rng.IntN(1500) + 40), Packets: 1,
				SrcAddr: schema.MustParseAddr("198.51.100.7"), DstAddr: schema.MustParseAddr("203.0.113.9"), Proto: 6}
		}
		if _, err := lake.Write(context.Background(), l, "late", rows); err != nil {
			t.Fatal(err)
		}
	}
}

// mainProcess starts the test binary as flowlake with args.
func mainProcess(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), envRunMain+"=1"), env...)
	return cmd
}

// TestLakeCompactProcessesWhileQuerying runs two `flowlake lake compact`
// processes at once on one lake, round after round (late segments arrive
// between rounds), while queries run in this process and in other
// processes: every answer equals the truth taken before the round, no
// answer warns of an unreadable file, and afterwards the lake holds every
// row once (verify finds no row in two live files). Replaced files are
// deleted at once (grace 0), so queries also meet files that vanish under
// their snapshot, and plan again.
func TestLakeCompactProcessesWhileQuerying(t *testing.T) {
	dir := genLake(t)
	env := []string{"FLOWLAKE_LAKE_REPLACED_GRACE=0s", "FLOWLAKE_LOG_LEVEL=warn"}
	ask := func(args []string) (string, error) {
		out, errOut, code := runCLI(t, env, append(args, "--data", dir)...)
		if code != 0 || errOut != "" {
			return out, fmt.Errorf("%s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out, nil
	}
	for round := range 3 {
		writeLate(t, dir, round, 600)
		truth := make([]string, len(lakeQueries))
		for i, q := range lakeQueries {
			var err error
			if truth[i], err = ask(q); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		g, gctx := errgroup.WithContext(ctx)
		var compactors sync.WaitGroup
		for range 2 {
			compactors.Add(1)
			g.Go(func() error {
				defer compactors.Done()
				var out bytes.Buffer
				cmd := mainProcess(gctx, env, "lake", "compact", "--before", "2026-11-04", "--data", dir)
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Run(); err != nil {
					return fmt.Errorf("lake compact process: %v: %s", err, out.String())
				}
				return nil
			})
		}
		answers := 0
		var mu sync.Mutex
		for w := range 3 {
			g.Go(func() error {
				for i := 0; gctx.Err() == nil; i++ {
					q := lakeQueries[(i+w)%len(lakeQueries)]
					var got string
					if w == 2 { // a query process
						var out, errOut bytes.Buffer
						cmd := mainProcess(gctx, env, append(q, "--data", dir)...)
						cmd.Stdout, cmd.Stderr = &out, &errOut
						if err := cmd.Run(); err != nil || strings.Contains(errOut.String(), "unreadable") || strings.Contains(errOut.String(), "warning") {
							if gctx.Err() != nil {
								return nil
							}
							return fmt.Errorf("query process: %v: %s", err, errOut.String())
						}
						got = out.String()
					} else {
						var err error
						if got, err = ask(q); err != nil {
							return err
						}
					}
					if got != truth[(i+w)%len(lakeQueries)] {
						return fmt.Errorf("round %d: answer to %q during compaction:\n%s\nwant:\n%s", round, q, got, truth[(i+w)%len(lakeQueries)])
					}
					mu.Lock()
					answers++
					mu.Unlock()
				}
				return nil
			})
		}
		go func() { compactors.Wait(); cancel() }()
		if err := g.Wait(); err != nil && ctx.Err() == nil {
			t.Fatal(err)
		}
		cancel()
		t.Logf("round %d: %d answers during compaction, all equal to the truth", round, answers)
		for i, q := range lakeQueries {
			got, err := ask(q)
			if err != nil {
				t.Fatal(err)
			}
			if got != truth[i] {
				t.Fatalf("round %d: answer after compaction:\n%s\nwant:\n%s", round, got, truth[i])
			}
		}
	}
	out, errOut, code := runCLI(t, env, "lake", "verify", "--data", dir)
	if code != 0 {
		t.Fatalf("lake verify after concurrent compactions exited %d: %s%s", code, out, errOut)
	}
}
