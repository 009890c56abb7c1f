package flow

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/flowlake/flowlake/storage/schema"
)

// u128 is an address as a 128-bit number (IPv4 as IPv4-mapped IPv6), so
// ranges of both families sort and compare alike.
type u128 struct{ hi, lo uint64 }

func u128Of(a schema.Addr) u128 {
	return u128{binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])}
}

func (a u128) cmp(b u128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

func (a u128) sub(b u128) u128 {
	lo := a.lo - b.lo
	borrow := uint64(0)
	if a.lo < b.lo {
		borrow = 1
	}
	return u128{a.hi - b.hi - borrow, lo}
}

func (a u128) inc() (u128, bool) {
	if a.lo == ^uint64(0) {
		if a.hi == ^uint64(0) {
			return u128{}, false
		}
		return u128{a.hi + 1, 0}, true
	}
	return u128{a.hi, a.lo + 1}, true
}

// addrRange is an inclusive address range.
type addrRange struct{ lo, hi u128 }

// parseAddrSpec parses "10.0.0.0/8", "2001:db8::/32", "192.0.2.7" or
// "192.0.2.10-192.0.2.20" into a range.
func parseAddrSpec(s string) (addrRange, error) {
	s = strings.TrimSpace(s)
	if a, b, ok := strings.Cut(s, "-"); ok {
		lo, err1 := netip.ParseAddr(strings.TrimSpace(a))
		hi, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil {
			return addrRange{}, fmt.Errorf("address range %q: want FIRST-LAST with two addresses", s)
		}
		if lo.Is4() != hi.Is4() {
			return addrRange{}, fmt.Errorf("address range %q mixes IPv4 and IPv6", s)
		}
		r := addrRange{u128Of(schema.AddrFrom(lo)), u128Of(schema.AddrFrom(hi))}
		if r.lo.cmp(r.hi) > 0 {
			return addrRange{}, fmt.Errorf("address range %q: first address is after the last", s)
		}
		return r, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return addrRange{}, fmt.Errorf("prefix %q: %w", s, err)
		}
		p = canonPrefix(p)
		lo := u128Of(schema.AddrFrom(p.Addr()))
		host := 128 - p.Bits()
		var mask u128
		switch {
		case host >= 64:
			mask = u128{^uint64(0) >> (128 - host), ^uint64(0)}
		case host > 0:
			mask = u128{0, ^uint64(0) >> (64 - host)}
		}
		return addrRange{lo, u128{lo.hi | mask.hi, lo.lo | mask.lo}}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return addrRange{}, fmt.Errorf("address %q: want an address, PREFIX/LEN or FIRST-LAST", s)
	}
	v := u128Of(schema.AddrFrom(a))
	return addrRange{v, v}, nil
}

// rangeTable maps addresses to a value index: the value of the smallest
// range containing the address (longest match), -1 when none. It is a
// sorted list of disjoint intervals, searched by binary search.
type rangeTable struct {
	starts []u128
	ends   []u128
	vals   []int32
}

// tableEntry is one range and its value before building.
type tableEntry struct {
	r   addrRange
	val int32
}

// buildRangeTable builds the longest-match table. Entries are painted from
// the largest range to the smallest onto the elementary intervals their
// bounds define, so a smaller range overrides a larger one it overlaps;
// equal sizes keep the earlier entry.
func buildRangeTable(entries []tableEntry) rangeTable {
	if len(entries) == 0 {
		return rangeTable{}
	}
	var bounds []u128
	for _, e := range entries {
		bounds = append(bounds, e.r.lo)
		if next, ok := e.r.hi.inc(); ok {
			bounds = append(bounds, next)
		}
	}
	slices.SortFunc(bounds, u128.cmp)
	bounds = slices.CompactFunc(bounds, func(a, b u128) bool { return a == b })
	winner := make([]int32, len(bounds))
	for i := range winner {
		winner[i] = -1
	}
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return entries[b].r.hi.sub(entries[b].r.lo).cmp(entries[a].r.hi.sub(entries[a].r.lo))
	})
	// Among equal sizes, the earlier entry must win: paint later ones first.
	for i := 0; i < len(order); {
		j := i
		size := entries[order[i]].r.hi.sub(entries[order[i]].r.lo)
		for j < len(order) && entries[order[j]].r.hi.sub(entries[order[j]].r.lo) == size {
			j++
		}
		slices.Reverse(order[i:j])
		i = j
	}
	for _, k := range order {
		e := entries[k]
		i, _ := slices.BinarySearchFunc(bounds, e.r.lo, u128.cmp)
		for ; i < len(bounds) && bounds[i].cmp(e.r.hi) <= 0; i++ {
			winner[i] = e.val
		}
	}
	var t rangeTable
	for i, b := range bounds {
		if winner[i] < 0 {
			continue
		}
		end := u128{^uint64(0), ^uint64(0)}
		if i+1 < len(bounds) {
			end = bounds[i+1].sub(u128{0, 1})
		}
		if n := len(t.vals); n > 0 && t.vals[n-1] == winner[i] {
			if prev, ok := t.ends[n-1].inc(); ok && prev == b {
				t.ends[n-1] = end
				continue
			}
		}
		t.starts = append(t.starts, b)
		t.ends = append(t.ends, end)
		t.vals = append(t.vals, winner[i])
	}
	return t
}

// lookup returns the value for a, or -1.
func (t *rangeTable) lookup(a schema.Addr) int32 {
	if len(t.starts) == 0 {
		return -1
	}
	v := u128Of(a)
	// Last interval starting at or before v (comparisons inlined: this is
	// on every row's path).
	lo, hi := 0, len(t.starts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s := t.starts[m]; s.hi < v.hi || s.hi == v.hi && s.lo <= v.lo {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return -1
	}
	if e := t.ends[lo-1]; e.hi < v.hi || e.hi == v.hi && e.lo < v.lo {
		return -1
	}
	return t.vals[lo-1]
}
