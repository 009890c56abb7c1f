package query

import (
	"math/big"
	"strings"
	"testing"
	"time"
)

// fuzzNow is "now" for FuzzParseTime.
var fuzzNow = time.Date(2026, 11, 20, 8, 30, 15, 123456789, time.UTC)

// FuzzParseTime: no input panics; a relative offset lands exactly that far
// before now (never after: no wrap-around); "now" is now; any other time
// that parses prints in RFC 3339 and parses back to the same microsecond.
// Seeds: testdata/fuzz/FuzzParseTime.
func FuzzParseTime(f *testing.F) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, loc := range []*time.Location{time.UTC, ny} {
			got, err := parseTime(s, fuzzNow, loc)
			if err != nil {
				if err.Error() == "" {
					t.Fatalf("%q: empty error", s)
				}
				continue
			}
			if m := relTimeRE.FindStringSubmatch(strings.TrimSpace(s)); m != nil {
				n, _ := new(big.Int).SetString(m[1], 10)
				unit := map[string]int64{"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m[2]]
				want := new(big.Int).Mul(n, big.NewInt(unit*1e6))
				want.Sub(big.NewInt(fuzzNow.UnixMicro()), want)
				if !want.IsInt64() || want.Int64() != got {
					t.Fatalf("%q: %d µs, want %s (now minus the offset)", s, got, want)
				}
				continue
			}
			if strings.TrimSpace(s) == "now" {
				if got != fuzzNow.UnixMicro() {
					t.Fatalf("%q: %d, want now %d", s, got, fuzzNow.UnixMicro())
				}
				continue
			}
			text := time.UnixMicro(got).UTC().Format(time.RFC3339Nano)
			back, err := parseTime(text, fuzzNow, loc)
			if err != nil || back != got {
				t.Fatalf("%q: %d µs prints %q, which reads back as %d, %v", s, got, text, back, err)
			}
		}
	})
}

// FuzzParseBucket: no time bucket panics the query compiler (group_by
// "time/<bucket>"); a bucket that parses has a canonical name that parses
// back to it, and places every time t in [start, end) of its bucket, in
// UTC and across DST changes, with start in its own bucket.
// Seeds: testdata/fuzz/FuzzParseBucket.
func FuzzParseBucket(f *testing.F) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	const span = int64(200 * 365 * 24 * time.Hour / time.Microsecond)
	f.Fuzz(func(t *testing.T, s string, offset int64) {
		_, cerr := compile(Query{Dataset: "flows", From: "-1h", GroupBy: []string{"time/" + s}}, fuzzNow)
		b, err := parseBucket(s)
		if err != nil {
			if cerr == nil {
				t.Fatalf("%q: parseBucket refuses (%v), the query compiles", s, err)
			}
			return
		}
		if cerr != nil {
			t.Fatalf("%q: parses, but the query does not compile: %v", s, cerr)
		}
		if b2, err := parseBucket(b.String()); err != nil || b2 != b {
			t.Fatalf("%q: canonical %q reads back as %+v, %v; want %+v", s, b.String(), b2, err, b)
		}
		if b.width != 0 && (b.width <= 0 || b.width > 12*time.Hour || (24*time.Hour)%b.width != 0) {
			t.Fatalf("%q: width %v does not divide a day", s, b.width)
		}
		ts := base + offset%span // within a century either side of 2026
		for _, loc := range []*time.Location{time.UTC, ny} {
			k := newBucketer(b, loc)
			start := k.start(ts)
			end := k.end(start)
			if start > ts || ts >= end {
				t.Fatalf("%q in %s: %d is not in its bucket [%d, %d)", s, loc, ts, start, end)
			}
			if again := newBucketer(b, loc).start(start); again != start {
				t.Fatalf("%q in %s: the bucket of %d starts at %d, and the bucket of that at %d", s, loc, ts, start, again)
			}
		}
	})
}
