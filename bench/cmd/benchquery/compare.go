package main

import (
	"fmt"
	"slices"
	"strings"
)

// sameAnswer checks two engines' answers row by row: in order, or as
// multisets for listings (rows that tie on the listing's order may come in
// any order).
func sameAnswer(q *benchQuery, nameA string, a answer, nameB string, b answer) error {
	if q.shape == shapeListing {
		a, b = sortedRows(a), sortedRows(b)
	}
	if len(a) == 0 {
		return fmt.Errorf("%s: %s returned no rows: a benchmark over nothing compares nothing", q.id, nameA)
	}
	for i := range max(len(a), len(b)) {
		var ra, rb []string
		if i < len(a) {
			ra = a[i]
		}
		if i < len(b) {
			rb = b[i]
		}
		if !slices.Equal(ra, rb) {
			return fmt.Errorf("%s: answers differ at row %d of %d/%d:\n  %-8s %q\n  %-8s %q", q.id, i, len(a), len(b), nameA, ra, nameB, rb)
		}
	}
	return nil
}

func sortedRows(a answer) answer {
	c := slices.Clone(a)
	slices.SortFunc(c, func(x, y []string) int { return slices.Compare(x, y) })
	return c
}

// sameAsNfdump checks nfdump's answer against Flowlake's. Full answers
// (series, every group, listings) must be equal as multisets. A top N must
// have the same values in the same order; its keys must be the same except
// where groups tie on the N-th value, which nfdump breaks its own way.
func sameAsNfdump(q *benchQuery, fl, nf answer) error {
	if q.nfProject != nil {
		p := make(answer, len(fl))
		for i, r := range fl {
			p[i] = q.nfProject(r)
		}
		fl = p
	}
	if q.shape != shapeTopN {
		sq := *q
		sq.shape = shapeListing
		return sameAnswer(&sq, "flowlake", fl, "nfdump", nf)
	}
	if len(fl) != len(nf) {
		return fmt.Errorf("%s: flowlake has %d rows, nfdump %d:\n  flowlake %q\n  nfdump   %q", q.id, len(fl), len(nf), fl, nf)
	}
	if len(fl) == 0 {
		return fmt.Errorf("%s: no rows", q.id)
	}
	last := func(r []string) string { return r[len(r)-1] }
	key := func(r []string) string { return strings.Join(r[:len(r)-1], ",") }
	cut := last(fl[len(fl)-1])
	flv := map[string]string{}
	for i := range fl {
		if last(fl[i]) != last(nf[i]) {
			return fmt.Errorf("%s: value %d differs: flowlake %q, nfdump %q", q.id, i, fl[i], nf[i])
		}
		flv[key(fl[i])] = last(fl[i])
	}
	nfv := map[string]string{}
	for _, r := range nf {
		nfv[key(r)] = last(r)
		if v, ok := flv[key(r)]; ok && v != last(r) {
			return fmt.Errorf("%s: %s has %s in flowlake, %s in nfdump", q.id, key(r), v, last(r))
		}
		if _, ok := flv[key(r)]; !ok && last(r) != cut {
			return fmt.Errorf("%s: nfdump ranks %q, flowlake does not (and it does not tie at the cut-off %s)", q.id, r, cut)
		}
	}
	for _, r := range fl {
		if _, ok := nfv[key(r)]; !ok && last(r) != cut {
			return fmt.Errorf("%s: flowlake ranks %q, nfdump does not (and it does not tie at the cut-off %s)", q.id, r, cut)
		}
	}
	return nil
}
