package query

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go/format"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/lake/laketest"
	"github.com/flowlake/flowlake/storage/schema"
)

// readAllChunks reads every column of every row group of a segment's bytes
// through the engine's own page reader (readChunk), as the engine opens
// segments, and returns the rows of the row groups read. Chunks the reader
// leaves to parquet-go (errSlowPath: booleans) are skipped. readChunk
// turns parquet-go's panics on damaged input into errors, as in
// production, but lets a panic in the engine's own code through.
func readAllChunks(data []byte) (rows int64, err error) {
	pf, dataset, err := lake.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return 0, fmt.Errorf("open: %w", err)
	}
	d, err := schema.Lookup(dataset)
	if err != nil {
		return 0, fmt.Errorf("lake.OpenFile accepted dataset %q: %w", dataset, err)
	}
	cols := describeColumns(d)
	// As the engine maps them (worker.read): the file's own column chunks,
	// which need not be in the dataset's order; columns it lacks are null.
	leaves, err := lake.FileColumns(d, pf)
	if err != nil {
		return 0, fmt.Errorf("lake.OpenFile accepted columns lake.FileColumns refuses: %w", err)
	}
	for i := range cols {
		cols[i].leaf = leaves[i]
	}
	dc := decoder{ownPanics: true}
	var errs []error
	for rgi, rg := range pf.RowGroups() {
		n := rg.NumRows()
		if n > 1<<16 {
			errs = append(errs, fmt.Errorf("row group %d: %d rows: not read", rgi, n))
			continue // vectors of that many rows: the fuzzer's memory, not a bug
		}
		for i := range cols {
			var v vector
			if cols[i].leaf < 0 {
				fillNull(&cols[i], n, &v, i%2 == 0)
				continue
			}
			if _, _, err := dc.readChunk(pf, rgi, &cols[i], n, []rowRange{{0, n}}, &v, i%2 == 0); err != nil && !errors.Is(err, errSlowPath) {
				errs = append(errs, fmt.Errorf("row group %d: %w", rgi, err))
			}
		}
		rows += n
	}
	return rows, errors.Join(errs...)
}

// FuzzReadChunk feeds arbitrary files to the engine's page reader, opened
// as the engine opens segments: every column of every row group must
// decode or fail with an error. A panic in the engine's own code — an
// index out of range in decodeHybrid, say — is not recovered into an
// error the target would accept: it fails the target. (parquet-go's
// panics on damaged input, which the engine recovers, stay errors.) The seeds (testdata/fuzz/FuzzReadChunk,
// kept in step with the lake's writer by TestFuzzSeeds) are small flows
// and dhcp_events segments.
func FuzzReadChunk(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		readAllChunks(data) // errors are fine; panics are not
	})
}

// seedSegment is a segment the current writer makes, with its rows.
type seedSegment struct {
	data []byte
	rows int64
}

// readChunkSeeds writes small segments of generated flows and DHCP events
// (and an older writer's tcp_conns segment)
// with the lake's writer: flows in two row groups, dictionary-encoded
// addresses, bytes and packets, delta-encoded times.
func readChunkSeeds(t testing.TB) map[string]seedSegment {
	t.Helper()
	ctx := context.Background()
	cfg := gen.DefaultConfig()
	cfg.Start = time.Date(2026, 1, 7, 12, 0, 0, 0, time.UTC)
	cfg.End = cfg.Start.Add(5 * time.Minute)
	cfg.FlowsPerSecond, cfg.Sites = 2, 1
	c, err := gen.Collect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]seedSegment{}
	write := func(name string, rows int, w func(*lake.Lake) error) {
		lcfg := lake.DefaultConfig()
		lcfg.Root = t.TempDir()
		lcfg.RowGroupRows = 1024 // the least the lake takes
		l, err := lake.Open(lcfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := w(l); err != nil {
			t.Fatal(err)
		}
		var files []string
		filepath.WalkDir(lcfg.Root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(path, ".parquet") {
				files = append(files, path)
			}
			return err
		})
		if len(files) != 1 {
			t.Fatalf("%s: %d segments written, want 1", name, len(files))
		}
		data, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		out[name] = seedSegment{data: data, rows: int64(rows)}
	}
	write("flows-segment", len(c.FlowRows), func(l *lake.Lake) error {
		_, err := lake.Write(ctx, l, "seed", c.FlowRows)
		return err
	})
	write("dhcp-segment", len(c.DHCPRows), func(l *lake.Lake) error {
		_, err := lake.Write(ctx, l, "seed", c.DHCPRows)
		return err
	})
	// A segment of an older writer: tcp_conns before opened_at and
	// setup_time, its columns mapped by name (docs/lake-format.md,
	// "Schema evolution").
	older, err := laketest.OlderSegment("seed", c.TCPConnRows, schema.TCPOpenedAt, schema.TCPSetupTime)
	if err != nil {
		t.Fatal(err)
	}
	out["tcp-conns-older-segment"] = seedSegment{data: older, rows: int64(len(c.TCPConnRows))}
	return out
}

// TestFuzzSeeds keeps testdata/fuzz/FuzzReadChunk in step with the lake's
// writer (rewritten with -update), and checks that every seed is read
// whole — every row of every row group, no error — and that the flows
// seed holds what the reader must handle: several row groups, and
// dictionary-encoded bytes and packets.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReadChunk")
	for name, seed := range readChunkSeeds(t) {
		path := filepath.Join(dir, name)
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(seed.data)) + ")\n"
		if *update {
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestFuzzSeeds -update)", err)
		}
		if string(got) != content {
			t.Errorf("%s is stale: the writer changed (run go test -run TestFuzzSeeds -update)", path)
		}
		rows, err := readAllChunks(seed.data)
		if err != nil || rows != seed.rows {
			t.Errorf("%s: read %d rows, err %v; want all %d rows and no error", name, rows, err, seed.rows)
		}
		pf, _, err := lake.OpenFile(bytes.NewReader(seed.data), int64(len(seed.data)))
		if err != nil {
			t.Fatal(err)
		}
		md := pf.Metadata()
		t.Logf("%s: %d bytes, %d rows in %d row groups", name, len(seed.data), seed.rows, len(md.RowGroups))
		if name != "flows-segment" {
			continue
		}
		if len(md.RowGroups) < 2 {
			t.Errorf("%s: %d row groups, want several", name, len(md.RowGroups))
		}
		for _, col := range md.RowGroups[0].Columns {
			p := strings.Join(col.MetaData.PathInSchema, ".")
			if (p == "bytes" || p == "packets") && !hasEncoding(col.MetaData.Encoding, format.RLEDictionary) {
				t.Errorf("%s: column %s is not dictionary-encoded (%v): the seed misses the writer's encoding", name, p, col.MetaData.Encoding)
			}
		}
	}
}

func hasEncoding(es []format.Encoding, e format.Encoding) bool {
	for _, x := range es {
		if x == e {
			return true
		}
	}
	return false
}
