package query

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzSpillRead: a spill file's partition read back into a grouper either
// merges its groups or fails with an error, never a panic, whatever its
// bytes (a file truncated or damaged on disk). Seeds in
// testdata/fuzz/FuzzSpillRead: a valid section, one cut short, a bad
// min/max marker, an oversized key length.
func FuzzSpillRead(f *testing.F) {
	valid := binary.AppendUvarint(nil, 3)
	valid = append(valid, "abc"...)
	valid = binary.AppendVarint(valid, 7)              // count()
	valid = binary.AppendVarint(valid, 1500)           // sum(bytes)
	valid = binary.AppendVarint(append(valid, 1), 3)   // min(packets)
	valid = binary.LittleEndian.AppendUint64(valid, 0) // avg(bytes): sum
	valid = binary.AppendVarint(valid, 0)              //   and count
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(append(append([]byte{}, valid[:6]...), 9))
	f.Add(binary.AppendUvarint(nil, 1<<40))
	c, err := compile(Query{Dataset: "flows", From: "-3h", GroupBy: []string{"src_port"}, Metrics: []string{"count()", "sum(bytes)", "min(packets)", "avg(bytes)"}}, fixtureNow)
	if err != nil {
		f.Fatal(err)
	}
	cols := describeColumns(c.d)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "run")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		run := &spillRun{f: file}
		for p := 1; p <= aggParts; p++ {
			run.off[p] = int64(len(data))
		}
		g := newGrouper(c, cols, &budget{})
		err = newSpiller(dir, 1<<30).read(run, 0, g)
		if err != nil && errors.Is(err, ErrMemoryBudget) {
			t.Fatalf("a damaged file read as a budget refusal: %v", err)
		}
		if err == nil && len(data) > 0 && len(g.keys) == 0 {
			t.Fatalf("%d bytes read without a group and without an error", len(data))
		}
	})
}
