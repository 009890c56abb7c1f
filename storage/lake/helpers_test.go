package lake

import (
	"cmp"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// testLake opens a lake in a fresh temporary directory.
func testLake(t testing.TB, mutate ...func(*Config)) *Lake {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Root = t.TempDir()
	cfg.RowGroupRows = 4096
	for _, m := range mutate {
		m(&cfg)
	}
	l, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// randomRows fills n rows of T with random values of every column: IPv4 and
// IPv6 addresses, zero (null) optional columns a third of the time, and
// times spread over span from start.
func randomRows[T schema.Row](rng *rand.Rand, n int, start time.Time, span time.Duration) []T {
	rows := make([]T, n)
	for i := range rows {
		v := reflect.ValueOf(&rows[i]).Elem()
		for f := range v.NumField() {
			fillRandom(rng, v.Field(f))
		}
		v.Field(0).SetInt(schema.Micros(start) + rng.Int64N(int64(span/time.Microsecond)))
	}
	return rows
}

func fillRandom(rng *rand.Rand, v reflect.Value) {
	if rng.IntN(3) == 0 {
		return // zero value: null in optional columns
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString([]string{"a", "edge-1", "GigabitEthernet1/0/1", "финансы", "x y"}[rng.IntN(5)])
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(rng.Uint64() >> (64 - v.Type().Bits()))
	case reflect.Int64:
		v.SetInt(rng.Int64N(1 << 50))
	case reflect.Array:
		switch v.Len() {
		case 16:
			var a schema.Addr
			if rng.IntN(2) == 0 {
				a = schema.MustParseAddr("10.1.2.3")
				a[15] = byte(rng.IntN(255) + 1)
			} else {
				a = schema.MustParseAddr("2001:db8::1")
				a[14], a[15] = byte(rng.IntN(256)), byte(rng.IntN(255)+1)
			}
			v.Set(reflect.ValueOf(a))
		case 6:
			v.Set(reflect.ValueOf(schema.MAC{0x00, 0x11, 0x22, byte(rng.IntN(256)), byte(rng.IntN(256)), 1}))
		}
	}
}

// byTime orders rows by their time column.
func byTime[T schema.Row](a, b T) int { return cmp.Compare(schema.EventTime(&a), schema.EventTime(&b)) }
