package lake

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// The crash test re-runs this test binary as a writer process that the
// test SIGKILLs at random moments.
const crashWriterEnv = "FLOWLAKE_CRASH_WRITER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashWriterEnv); dir != "" {
		if err := crashWriter(dir); err != nil {
			fmt.Fprintln(os.Stderr, "crash writer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashWriter writes batches of flows whose Bytes column carries a unique
// sequence number, printing "ack FIRST LAST" once a batch is durable, and
// compacts now and then, until it is killed.
func crashWriter(dir string) error {
	first, err := strconv.ParseUint(os.Getenv("FLOWLAKE_CRASH_SEQ"), 10, 64)
	if err != nil {
		return err
	}
	cfg := DefaultConfig()
	cfg.Root = dir
	cfg.RowGroupRows = 1024
	cfg.CompactRows = 1500 // several outputs per compaction run
	l, err := Open(cfg, nil)
	if err != nil {
		return err
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(first, 99))
	base := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	seq := first
	for batch := 0; ; batch++ {
		rows := make([]schema.Flow, 200+rng.IntN(600))
		for i := range rows {
			// Three hours: most batches split into several segments.
			rows[i] = schema.Flow{Time: schema.Micros(base) + rng.Int64N(int64(3*time.Hour/time.Microsecond)),
				Bytes: seq, SrcAddr: schema.MustParseAddr("192.0.2.1"), App: "crash"}
			seq++
		}
		if _, err := Write(ctx, l, "crash", rows); err != nil {
			return err
		}
		fmt.Printf("ack %d %d\n", seq-uint64(len(rows)), seq-1)
		if batch%4 == 3 {
			if _, err := l.Compact(ctx, base.Add(24*time.Hour)); err != nil {
				return err
			}
			fmt.Println("compacted")
		}
	}
}

func TestCrashLosesNoAcknowledgedRow(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("crash test runs writer processes; skipped with -short outside CI")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	acked := map[uint64]bool{}
	next := uint64(1)
	compactions := 0
	const rounds = 8
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashWriterEnv+"="+dir, "FLOWLAKE_CRASH_SEQ="+strconv.FormatUint(next, 10))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Kill after a random number of acknowledgements, at a random
		// moment after the last one: inside Write, inside a compaction or
		// between them.
		want := 1 + rng.IntN(8)
		got := 0
		for line := range lines {
			var a, b uint64
			if _, err := fmt.Sscanf(line, "ack %d %d", &a, &b); err == nil {
				for s := a; s <= b; s++ {
					acked[s] = true
				}
				next = max(next, b+1)
				got++
			} else if line == "compacted" {
				compactions++
			}
			if got == want {
				time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
				break
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for range lines { // drain what was printed before the kill
		}
		_ = cmd.Wait()
		if got < want {
			t.Fatalf("round %d: writer exited after %d acks: %s", round, got, stderr.String())
		}
		next += 1 << 20 // rows of the killed batch may be on disk: never reuse their numbers
		checkCrashLake(t, dir, acked)
	}
	t.Logf("%d rounds, %d acknowledged rows, %d compactions", rounds, len(acked), compactions)
}

// checkCrashLake opens the lake as a fresh process would and checks that no
// partial file is visible, every file reads, and every acknowledged row is
// there exactly once.
func checkCrashLake(t *testing.T, dir string, acked map[uint64]bool) {
	t.Helper()
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.Root = dir
	l, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	problems, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("visible files that are not whole segments after a crash: %+v", problems)
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && p != dir && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")) {
			return filepath.SkipDir // hidden from readers, like _locks
		}
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") && !strings.HasPrefix(d.Name(), "_") &&
			!strings.HasSuffix(d.Name(), segmentExt) {
			t.Errorf("stray visible file %s", p)
		}
		return nil
	})
	seen := map[uint64]int{}
	segs, err := l.Segments(ctx, schema.Flows, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		rows, err := Read[schema.Flow](ctx, l, s)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			seen[r.Bytes]++
		}
	}
	for s, n := range seen {
		if n > 1 {
			t.Fatalf("row %d appears %d times", s, n)
		}
	}
	for s := range acked {
		if seen[s] != 1 {
			t.Fatalf("acknowledged row %d lost", s)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
