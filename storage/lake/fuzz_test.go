package lake

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// segmentBytes returns a valid encoded segment of n random rows of T.
func segmentBytes[T schema.Row](t testing.TB, n int) []byte {
	t.Helper()
	l := testLake(t)
	rows := randomRows[T](rand.New(rand.NewPCG(7, 8)), n, time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC), time.Hour)
	segs, err := Write(context.Background(), l, "fuzz", rows)
	if err != nil {
		t.Fatal(err)
	}
	return readObject(t, l, segs[0].Key)
}

// FuzzValidate feeds arbitrary bytes to the segment reader the core runs on
// uploads and verify runs on files: it must return an error, never panic or
// hang, and accept only what is really a segment.
func FuzzValidate(f *testing.F) {
	f.Add(segmentBytes[schema.Flow](f, 20))
	f.Add(segmentBytes[schema.DHCPEvent](f, 5))
	f.Add(segmentBytes[schema.CloudConn](f, 3))
	f.Add([]byte("PAR1PAR1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Validate(context.Background(), bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		if _, lerr := schema.Lookup(info.Dataset); lerr != nil || info.Rows < 0 {
			t.Fatalf("accepted a segment with dataset %q and %d rows", info.Dataset, info.Rows)
		}
	})
}
