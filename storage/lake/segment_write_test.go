package lake

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRadixSort sorts permutation keys as timeOrder builds them: a time
// offset above the row index, indexes ascending.
func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 2, 100, 5000} {
		for _, timeBits := range []int{0, 1, 11, 24, 39} {
			p := make([]uint64, n)
			for i := range p {
				var off uint64
				if timeBits > 0 {
					off = rng.Uint64() >> (64 - timeBits)
				}
				p[i] = off<<indexBits | uint64(i)
			}
			want := slices.Clone(p)
			slices.Sort(want)
			radixSort(p, indexBits+timeBits)
			if !slices.Equal(p, want) {
				t.Fatalf("n=%d timeBits=%d: not sorted", n, timeBits)
			}
		}
	}
}
