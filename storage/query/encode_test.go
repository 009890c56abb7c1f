package query

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
)

// TestAppendJSONString: the fast path quotes exactly as encoding/json.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "https", "10.0.0.1", "2001:db8::1", "a\"b", `back\slash`, "tab\there", "<html>", "ünï", "\x00", "R&D"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

// TestRadixSort64 sorts like slices.Sort.
func TestRadixSort64(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256, 5000, 100_000} {
		xs := make([]uint64, n)
		x := uint64(88172645463325252)
		for i := range xs {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			xs[i] = x
			if i%3 == 0 {
				xs[i] &= 0xffff_0000_0000_ffff // shared digits are skipped
			}
		}
		want := slices.Clone(xs)
		slices.Sort(want)
		got, _ := radixSort64(xs, nil)
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d: radix sort differs", n)
		}
	}
}

// TestSplitList keeps commas inside parentheses and drops empty items.
func TestSplitList(t *testing.T) {
	for in, want := range map[string][]string{
		"":                                     nil,
		"src_addr":                             {"src_addr"},
		" sum(bytes), count() ,":               {"sum(bytes)", "count()"},
		"percentile(packets, 99.9),p95(bytes)": {"percentile(packets, 99.9)", "p95(bytes)"},
		"a,,b":                                 {"a", "b"},
	} {
		if got := SplitList(in); !slices.Equal(got, want) {
			t.Errorf("SplitList(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAppendFloat pins the float notation: plain decimals, exponents
// only outside [1e-6, 1e21), null for what JSON cannot carry.
func TestAppendFloat(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"}, {2197380078, "2197380078"}, {-2197380078, "-2197380078"}, {0.5, "0.5"},
		{1e20, "100000000000000000000"}, {1e21, "1e+21"}, {1e-6, "0.000001"}, {1e-7, "1e-07"},
		{4882955.728888889, "4882955.728888889"}, {math.NaN(), "null"}, {math.Inf(-1), "null"},
	} {
		if got := string(AppendFloat(nil, tc.in)); got != tc.want {
			t.Errorf("AppendFloat(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
