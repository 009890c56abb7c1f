package lake

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 2, 100, 5000} {
		for _, bits := range []int{1, 11, 24, 40, 63} {
			p := make([]uint64, n)
			for i := range p {
				p[i] = rng.Uint64() >> (64 - bits)
			}
			want := slices.Clone(p)
			slices.Sort(want)
			radixSort(p, bits)
			if !slices.Equal(p, want) {
				t.Fatalf("n=%d bits=%d: not sorted", n, bits)
			}
		}
	}
}
