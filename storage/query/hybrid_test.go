package query

import (
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/rle"
)

// TestDecodeHybrid checks the hybrid decoder against parquet-go's encoder
// and that it refuses runs past the declared values.
func TestDecodeHybrid(t *testing.T) {
	for _, width := range []uint{0, 1, 3, 8, 13, 17, 32} {
		var vals []int32
		for i := range 1000 {
			v := int32(i * 7919)
			if i%100 < 30 {
				v = 5 // runs, which the encoder writes run-length
			}
			if width < 32 {
				v &= 1<<width - 1
			}
			vals = append(vals, v)
		}
		enc, err := (&rle.Encoding{BitWidth: int(width)}).EncodeInt32(nil, vals)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]int32, len(vals))
		var pad []byte
		if err := decodeHybrid(got, enc, width, &pad); err != nil {
			t.Fatalf("width %d: %v", width, err)
		}
		if !slices.Equal(got, vals) {
			t.Fatalf("width %d: decoded differently", width)
		}
	}
	// A page of 5 values whose last bit-packed group is padded to 8.
	var pad []byte
	got := make([]int32, 5)
	if err := decodeHybrid(got, []byte{1<<1 | 1, 0b10001000, 0b11000110, 0b11111010}, 3, &pad); err != nil {
		t.Fatal(err)
	}
	if want := []int32{0, 1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("padded group decoded to %v, want %v", got, want)
	}
	for _, tc := range []struct {
		name  string
		src   []byte
		n     int
		width uint
		err   string
	}{
		{"run longer than the page", []byte{20 << 1, 1}, 5, 1, "run of 20 values with 5 left"},
		{"bit-packed past the page", []byte{3<<1 | 1, 0xff, 0xff, 0xff}, 8, 1, "bit-packed run of 3 groups with 8 values left"},
		{"truncated bit-packed run", []byte{1<<1 | 1, 0xff}, 8, 3, "1 bytes left, want 3"},
		{"no run value", []byte{4 << 1}, 4, 8, "0 bytes left, want 1"},
		{"no header", nil, 4, 8, "truncated or overlong"},
		{"width above 32", []byte{2}, 1, 33, "bit width 33"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pad []byte
			err := decodeHybrid(make([]int32, tc.n), tc.src, tc.width, &pad)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one saying %q", err, tc.err)
			}
		})
	}
}
