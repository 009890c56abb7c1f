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

// validSeed is a seed Validate must accept, with its dataset and rows.
type validSeed struct {
	data    []byte
	dataset string
	rows    int64
}

// FuzzValidate feeds arbitrary bytes to the segment reader the core runs on
// uploads and verify runs on files: it must return an error wrapping
// ErrCorrupt, never panic or hang, and accept only what is really a
// segment. The reader recovers parquet-go's panics on hostile bytes into
// errors, so a recovered panic raised in Flowlake's own code (a bug, not
// bad input) fails the target, and the valid seeds must be accepted with
// their row counts: a target that accepts any error cannot pass vacuously.
func FuzzValidate(f *testing.F) {
	valid := []validSeed{
		{segmentBytes[schema.Flow](f, 20), schema.Flows, 20},
		{segmentBytes[schema.DHCPEvent](f, 5), schema.DHCPEvents, 5},
		{segmentBytes[schema.CloudConn](f, 3), schema.CloudConns, 3},
	}
	for _, s := range valid {
		f.Add(s.data)
	}
	f.Add([]byte("PAR1PAR1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Validate(context.Background(), bytes.NewReader(data), int64(len(data)))
		var dp *decoderPanic
		if errors.As(err, &dp) && dp.inOwnCode() {
			t.Fatalf("panic in Flowlake's code, recovered as an error: %v\n%s", dp.value, dp.stack)
		}
		for _, s := range valid {
			if bytes.Equal(data, s.data) && (err != nil || info.Dataset != s.dataset || info.Rows != s.rows) {
				t.Fatalf("valid %s segment of %d rows: got %+v, %v", s.dataset, s.rows, info, err)
			}
		}
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
