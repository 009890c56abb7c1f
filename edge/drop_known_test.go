package edge

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
)

// FuzzLoadTraceIndex reads arbitrary bytes as a remote edge's trace index
// (a file a crash may have cut anywhere): never a panic nor an error,
// whole records read, a cut record cut off; a connection then added is
// read back with every other. Seeds: testdata/fuzz/FuzzLoadTraceIndex and below.
func FuzzLoadTraceIndex(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 16))
	f.Add(make([]byte, 23)) // one record and a cut one
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), traceIndexFile)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		x, err := loadTraceIndex(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(x.ids) > len(b)/16 {
			t.Fatalf("%d ids from %d bytes", len(x.ids), len(b))
		}
		if err := x.add([]schema.TCPConn{{TraceID: 0xfeedface, Time: 42}}); err != nil {
			t.Fatal(err)
		}
		y, err := loadTraceIndex(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := y.ids[0xfeedface]; !ok || len(y.ids) != len(x.ids) {
			t.Fatalf("read back %d ids, want %d with the one added", len(y.ids), len(x.ids))
		}
	})
}
