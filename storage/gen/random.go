package gen

import (
	"math"
	"math/rand/v2"
)

// Dataset stream ids: each dataset draws from its own PCG stream so that
// adding rows to one never shifts another.
const (
	streamTopology uint64 = iota + 1
	streamFlows
	streamTCP
	streamDHCP
	streamCloud
	streamLoss
)

// mix is SplitMix64's finaliser: a cheap, well-spread hash of a 64-bit word.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// rng is a PCG stream with the few fast draws the generator needs. It is
// used by value inside the per-edge generators; the *rand.Rand shares the
// PCG state and serves the rarer normal draws.
type rng struct {
	pcg *rand.PCG
	r   *rand.Rand
}

// newRNG derives an independent stream from the seed and the given keys
// (edge index, dataset, hour, …).
func newRNG(seed int64, keys ...uint64) rng {
	h := mix(uint64(seed))
	for _, k := range keys {
		h = mix(h ^ k)
	}
	p := rand.NewPCG(h, mix(h^0x5851f42d4c957f2d))
	return rng{pcg: p, r: rand.New(p)}
}

// reseed re-derives the stream in place, reusing its allocations.
func (g *rng) reseed(seed int64, keys ...uint64) {
	h := mix(uint64(seed))
	for _, k := range keys {
		h = mix(h ^ k)
	}
	g.pcg.Seed(h, mix(h^0x5851f42d4c957f2d))
}

func (g *rng) u64() uint64 { return g.pcg.Uint64() }

// float returns a uniform value in [0, 1).
func (g *rng) float() float64 { return float64(g.pcg.Uint64()>>11) * 0x1p-53 }

// intn returns a uniform value in [0, n) for 0 < n < 2^32.
func (g *rng) intn(n int) int { return int(((g.pcg.Uint64() >> 32) * uint64(n)) >> 32) }

// between returns a uniform value in [lo, hi].
func (g *rng) between(lo, hi int) int { return lo + g.intn(hi-lo+1) }

// chance reports true with probability p.
func (g *rng) chance(p float64) bool { return g.float() < p }

func (g *rng) norm() float64 { return g.r.NormFloat64() }

// lognormal draws exp(N(mu, sigma²)): the shape of flow sizes and
// durations.
func (g *rng) lognormal(mu, sigma float64) float64 { return math.Exp(mu + sigma*g.norm()) }

// expo draws an exponential value with the given mean.
func (g *rng) expo(mean float64) float64 { return -mean * math.Log(1-g.float()) }

// pareto draws a Pareto(xm, alpha) value: the elephants of a heavy tail.
func (g *rng) pareto(xm, alpha float64) float64 {
	return xm / math.Pow(1-g.float(), 1/alpha)
}

// poisson draws a Poisson count: Knuth's product method for small means,
// a rounded normal approximation for large ones.
func (g *rng) poisson(mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean < 30 {
		l, k, p := math.Exp(-mean), 0, 1.0
		for {
			p *= g.float()
			if p <= l {
				return k
			}
			k++
		}
	}
	n := math.Round(mean + math.Sqrt(mean)*g.norm())
	if n < 0 {
		return 0
	}
	return int(n)
}

// alias is Vose's alias table: O(1) sampling of a fixed discrete
// distribution with a single 64-bit draw.
type alias struct {
	thr []uint32 // keep i when the low 32 bits are below thr[i]
	alt []uint32
}

// newAlias builds the table for non-negative weights with a positive sum.
func newAlias(w []float64) alias {
	n := len(w)
	a := alias{thr: make([]uint32, n), alt: make([]uint32, n)}
	var sum float64
	for _, x := range w {
		sum += x
	}
	p := make([]float64, n)
	small := make([]int, 0, n)
	large := make([]int, 0, n)
	for i, x := range w {
		p[i] = x * float64(n) / sum
		if p[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		a.thr[s] = uint32(p[s] * (1 << 32))
		a.alt[s] = uint32(l)
		p[l] -= 1 - p[s]
		if p[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range large {
		a.thr[i], a.alt[i] = math.MaxUint32, uint32(i)
	}
	for _, i := range small { // rounding leftovers
		a.thr[i], a.alt[i] = math.MaxUint32, uint32(i)
	}
	return a
}

// pick draws an index.
func (a *alias) pick(g *rng) int {
	u := g.u64()
	i := int(((u >> 32) * uint64(len(a.thr))) >> 32)
	if uint32(u) < a.thr[i] {
		return i
	}
	return int(a.alt[i])
}

// zipfWeights returns n weights 1/(rank^s) assigned to a random permutation
// of the indexes, so popularity is heavy-tailed but not tied to address
// order.
func zipfWeights(g *rng, n int, s float64) []float64 {
	w := make([]float64, n)
	perm := g.r.Perm(n)
	for rank, i := range perm {
		w[i] = 1 / math.Pow(float64(rank+1), s)
	}
	return w
}
