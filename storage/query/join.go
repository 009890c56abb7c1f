package query

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flowlake/flowlake/storage/schema"
)

// The lease join (docs/query.md, "Hosts from DHCP leases"): flows has
// virtual columns that name, for each row, the DHCP client that held its
// source or destination address at the row's own time, from dhcp_leases.
// They are not stored: a query that uses one loads the leases overlapping
// its time range once into an interval index (leaseIndex), and each row
// group's vectors of them are filled from its address and time vectors
// before the filter and the groups read them like any other column.

// Names of the lease-join columns of flows.
const (
	ColSrcHost    = "src_host"
	ColDstHost    = "dst_host"
	ColSrcHostMAC = "src_host_mac"
	ColDstHostMAC = "dst_host_mac"
	ColSrcClient  = "src_client"
	ColDstClient  = "dst_client"
)

// joinField is the lease value a join column shows.
type joinField uint8

const (
	fieldHost   joinField = iota // hostname, "" when none
	fieldMAC                     // chaddr, null when no lease
	fieldClient                  // the binding's key, "" when none
	numJoinFields
)

// joinCol is one virtual column: which address (side) it resolves and
// which lease value it shows.
type joinCol struct {
	name  string
	side  int // 0 src_addr, 1 dst_addr
	field joinField
	doc   string
}

// joinSides are the address columns the join resolves, by side.
var joinSides = [2]string{"src_addr", "dst_addr"}

var joinCols = []joinCol{
	{ColSrcHost, 0, fieldHost, "Host name of the DHCP client that held src_addr at the row's time (dhcp_leases.hostname); \"\" when no lease held it or the client sent no name."},
	{ColDstHost, 1, fieldHost, "Host name of the DHCP client that held dst_addr at the row's time; \"\" when none."},
	{ColSrcHostMAC, 0, fieldMAC, "MAC (chaddr) of the DHCP client that held src_addr at the row's time; null when no lease held it. Not src_mac, which is the frame's MAC the exporter saw."},
	{ColDstHostMAC, 1, fieldMAC, "MAC (chaddr) of the DHCP client that held dst_addr at the row's time; null when none."},
	{ColSrcClient, 0, fieldClient, "Key of the binding that held src_addr at the row's time: id:<client id> or mac:<chaddr> (dhcp_leases.client); \"\" when none."},
	{ColDstClient, 1, fieldClient, "Key of the binding that held dst_addr at the row's time; \"\" when none."},
}

// JoinColumns lists the lease-join columns of flows, in the order a
// dataset listing shows them after the stored columns.
func JoinColumns() []schema.Column {
	d := joinedFlows()
	return slices.Clone(d.Columns[len(d.Columns)-len(joinCols):])
}

// joinedFlows is flows with the lease-join columns appended after the
// stored ones: its Parquet and Arrow schemas are flows' own.
var joinedFlows = sync.OnceValue(func() *schema.Dataset {
	base, err := schema.Lookup(schema.Flows)
	if err != nil {
		panic("query: flows dataset missing") // unreachable: schema always describes flows
	}
	d := *base
	d.Columns = slices.Clone(base.Columns)
	for _, jc := range joinCols {
		col := schema.Column{Name: jc.name, Physical: "(virtual: dhcp_leases join)", Arrow: arrow.BinaryTypes.String,
			Doc: jc.doc, Origin: "dhcp_leases, at the row's time"}
		if jc.field == fieldMAC {
			col.Arrow, col.Nullable = &arrow.FixedSizeBinaryType{ByteWidth: 6}, true
		}
		d.Columns = append(d.Columns, col)
	}
	return &d
})

// queryDataset is the dataset queries and filters resolve names against:
// flows with its lease-join columns, any other dataset as it is.
func queryDataset(d *schema.Dataset) *schema.Dataset {
	if base, err := schema.Lookup(schema.Flows); err == nil && d == base {
		return joinedFlows()
	}
	return d
}

// virtualCol returns the join column at index i of d, or nil when i is a
// stored column.
func virtualCol(d *schema.Dataset, i int) *joinCol {
	if d != joinedFlows() {
		return nil
	}
	k := i - (len(d.Columns) - len(joinCols))
	if k < 0 {
		return nil
	}
	return &joinCols[k]
}

// joinPlan is what a compiled query needs from the join.
type joinPlan struct {
	sides   [2]bool // which addresses it resolves
	addrCol [2]int  // dataset index of src_addr, dst_addr
}

// setJoin notes the join a query needs, and adds the columns its virtual
// columns are computed from (time and the side's address) to the set
// that reads them: the filter's, or the output's.
func (c *compiled) setJoin(filter, output map[int]bool) {
	c.join = nil
	for _, set := range []map[int]bool{filter, output} {
		for k := range set {
			jc := virtualCol(c.d, k)
			if jc == nil {
				continue
			}
			if c.join == nil {
				c.join = &joinPlan{}
				for s, name := range joinSides {
					c.join.addrCol[s], _ = c.column("", name)
				}
			}
			c.join.sides[jc.side] = true
			set[0], set[c.join.addrCol[jc.side]] = true, true
		}
	}
}

// LeaseJoin is what the lease join of a query did (Plan.Join).
type LeaseJoin struct {
	// Sides are the address columns resolved: src_addr, dst_addr.
	Sides []string `json:"sides"`
	// LeasesFrom is how far back spans were looked for: the query's start
	// minus Config.LeaseLookback.
	LeasesFrom time.Time `json:"leases_from"`
	// Leases and Addresses count the bindings indexed and their addresses.
	Leases    int `json:"leases"`
	Addresses int `json:"addresses"`
	// IndexBytes is the index's memory, charged to the query's budget.
	IndexBytes int64 `json:"index_bytes"`
	// RowsWithoutSrcLease and RowsWithoutDstLease count the matched rows
	// whose address no lease held at the row's time (their host columns
	// are "", their MAC null).
	RowsWithoutSrcLease int64 `json:"rows_without_src_lease"`
	RowsWithoutDstLease int64 `json:"rows_without_dst_lease"`
}

// leaseIndex holds the lease spans overlapping a query's range, by address
// then start: a row's lease is found by one map lookup per distinct address
// of its row group and a binary search per row.
type leaseIndex struct {
	addrs   map[schema.Addr][2]int32 // [lo, hi) into the spans
	low     [1 << 16 / 64]uint64     // the addresses' last two bytes: most others are ruled out without the map
	start   []int64
	end     []int64
	maxEnd  []int64 // the largest end of the address's spans up to here
	vals    [numJoinFields][]int32
	dicts   [numJoinFields]*dict
	missing [numJoinFields]int32 // value id of a row without a lease
	bytes   int64
}

// find returns the span of addrs range [lo, hi) that holds t — of those
// that do, the one that started last — or -1.
func (x *leaseIndex) find(lo, hi int32, t int64) int32 {
	// The last span that started at or before t.
	i, j := lo, hi
	for i < j {
		m := int32(uint32(i+j) >> 1)
		if x.start[m] <= t {
			i = m + 1
		} else {
			j = m
		}
	}
	for k := i - 1; k >= lo && x.maxEnd[k] > t; k-- {
		if x.end[k] > t {
			return k
		}
	}
	return -1
}

// leaseRowBytes is what one dhcp_leases row costs while the index is
// built (the row, its strings, the Arrow answer it came in).
const leaseRowBytes = int64(unsafe.Sizeof(schema.DHCPLease{})) + 160

// leaseColumns are the dhcp_leases columns the join reads.
var leaseColumns = []string{"time", schema.LeaseAddress, schema.LeaseClient, schema.LeaseCHAddr, schema.LeaseHostname,
	schema.LeaseEndTime, schema.LeaseEndReason, "last_ack", "kind"}

// loadLeaseIndex reads the lease spans that overlap [from, to) — started
// within Config.LeaseLookback before from, ended after it — and indexes
// them. limit (bytes, 0 for none) bounds the rows it holds while it reads
// and the index it keeps: beyond it the join fails with ErrMemoryBudget.
func (e *Engine) loadLeaseIndex(ctx context.Context, from, to, limit int64) (*leaseIndex, []Warning, error) {
	rows, warnings, err := e.leaseRows(ctx, fmt.Sprintf("kind = %q", schema.LeaseKindLease), from, to, e.cfg.LeaseLookback, leaseColumns, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("lease join: %w", err)
	}
	x := buildLeaseIndex(LatestLeases(rows), from)
	if limit > 0 && x.bytes > limit {
		return nil, nil, fmt.Errorf("%w: lease join: an index of %d spans needs about %d MiB, more than the query's budget of %d MiB; narrow the time range",
			ErrMemoryBudget, len(x.start), x.bytes>>20, limit>>20)
	}
	return x, warnings, nil
}

// buildLeaseIndex indexes the spans of rows (each binding once) that end
// after from.
func buildLeaseIndex(rows []schema.DHCPLease, from int64) *leaseIndex {
	rows = slices.DeleteFunc(rows, func(r schema.DHCPLease) bool {
		return r.Kind != schema.LeaseKindLease || r.EndTime <= from || r.EndTime <= r.Time
	})
	// Sort positions, not the rows: a row is a few hundred bytes.
	order := make([]int32, len(rows))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(i, j int32) int {
		a, b := &rows[i], &rows[j]
		return cmp.Or(bytes.Compare(a.Address[:], b.Address[:]), cmp.Compare(a.Time, b.Time), cmp.Compare(a.EndTime, b.EndTime))
	})
	n := len(rows)
	x := &leaseIndex{addrs: map[schema.Addr][2]int32{}, start: make([]int64, n), end: make([]int64, n), maxEnd: make([]int64, n)}
	x.dicts[fieldHost] = (*dict)(nil).reset(0)
	x.dicts[fieldClient] = (*dict)(nil).reset(0)
	x.dicts[fieldMAC] = (*dict)(nil).reset(6)
	x.missing[fieldHost] = x.dicts[fieldHost].intern(nil)
	x.missing[fieldClient] = x.dicts[fieldClient].intern(nil)
	x.missing[fieldMAC] = -1
	for f := range x.vals {
		x.vals[f] = make([]int32, n)
	}
	lo := 0
	for i, k := range order {
		r := &rows[k]
		x.low[lowKey(r.Address)/64] |= 1 << (lowKey(r.Address) % 64)
		if prev := &rows[order[max(i-1, 0)]]; i > 0 && r.Address != prev.Address {
			x.addrs[prev.Address] = [2]int32{int32(lo), int32(i)}
			lo = i
		}
		x.start[i], x.end[i] = r.Time, r.EndTime
		x.maxEnd[i] = r.EndTime
		if i > lo {
			x.maxEnd[i] = max(x.maxEnd[i-1], r.EndTime)
		}
		x.vals[fieldHost][i] = x.dicts[fieldHost].intern([]byte(r.Hostname))
		x.vals[fieldClient][i] = x.dicts[fieldClient].intern([]byte(r.Client))
		x.vals[fieldMAC][i] = x.dicts[fieldMAC].intern(r.CHAddr[:])
	}
	if n > 0 {
		x.addrs[rows[order[n-1]].Address] = [2]int32{int32(lo), int32(n)}
	}
	x.bytes = int64(n)*(3*8+3*4) + mapBytes(len(x.addrs), 16+8)
	for _, d := range x.dicts {
		x.bytes += int64(len(d.fixed)) + mapBytes(d.len(), 24)
		for _, s := range d.strs {
			x.bytes += 16 + allocSize(len(s))
		}
	}
	return x
}

// lowKey is an address's last two bytes.
func lowKey(a schema.Addr) uint32 { return uint32(a[14])<<8 | uint32(a[15]) }

// joiner is one worker's join state: each side's lease per row of the
// current row group, and per address-dictionary entry its spans.
type joiner struct {
	x     *leaseIndex
	plan  *joinPlan
	seq   int64    // the row group being scanned
	done  [2]int64 // seq whose leases side s holds
	lease [2][]int32
	spans [2][][2]int32
	dict  [2]*dict
	gen   [2]uint64
	miss  [2]int64 // matched rows without a lease, by side
}

// resolve fills side s's lease of every row of b's ranges, once per row
// group.
func (j *joiner) resolve(s int, b *batch) {
	if j.done[s] == j.seq {
		return
	}
	j.done[s] = j.seq
	av, tv := b.vecs[j.plan.addrCol[s]], b.vecs[0]
	if d := av.dict; d != j.dict[s] || d.gen != j.gen[s] || len(j.spans[s]) != d.len() {
		j.dict[s], j.gen[s] = d, d.gen
		sp := j.spans[s][:0]
		var a schema.Addr
		for i := range int32(d.len()) {
			copy(a[:], d.at(i))
			if k := lowKey(a); j.x.low[k/64]&(1<<(k%64)) == 0 {
				sp = append(sp, [2]int32{}) // no span
				continue
			}
			sp = append(sp, j.x.addrs[a]) // absent: [0, 0), no span
		}
		j.spans[s] = sp
	}
	lease := grow(j.lease[s], b.n)
	j.lease[s] = lease
	spans := j.spans[s]
	for _, rr := range b.ranges {
		for r := rr.lo; r < rr.hi; r++ {
			id := av.ids[r]
			if id < 0 {
				lease[r] = -1
				continue
			}
			sp := spans[id]
			if sp[0] == sp[1] {
				lease[r] = -1
				continue
			}
			lease[r] = j.x.find(sp[0], sp[1], tv.ints[r])
		}
	}
}

// fill computes join column jc of b's rows into v.
func (j *joiner) fill(jc *joinCol, b *batch, v *vector) {
	j.resolve(jc.side, b)
	lease := j.lease[jc.side]
	vals, missing := j.x.vals[jc.field], j.x.missing[jc.field]
	v.ids = grow(v.ids, b.n)
	v.dict = j.x.dicts[jc.field]
	for _, rr := range b.ranges {
		for r := rr.lo; r < rr.hi; r++ {
			if l := lease[r]; l >= 0 {
				v.ids[r] = vals[l]
			} else {
				v.ids[r] = missing
			}
		}
	}
}

// count adds the selected rows without a lease, for each side resolved.
func (j *joiner) count(sel []int32) {
	for s := range j.lease {
		if !j.plan.sides[s] || j.done[s] != j.seq {
			continue
		}
		lease := j.lease[s]
		for _, r := range sel {
			if lease[r] < 0 {
				j.miss[s]++
			}
		}
	}
}

// memory is the worker's join buffers, in bytes.
func (j *joiner) memory() int64 {
	var n int64
	for s := range j.lease {
		n += int64(cap(j.lease[s]))*4 + int64(cap(j.spans[s]))*8
	}
	return n
}

// leaseImplied returns what the filter's top-level equality terms on join
// columns imply on the address columns, given the index x: src_host =
// "laptop-42" holds only on rows whose src_addr is an address some span
// named laptop-42 held in the range. The terms stay in the filter; the
// implied address sets let statistics, bloom filters and the page index
// prune, as for `src ip`. Terms that "" (no lease) can satisfy imply
// nothing.
func (c *compiled) leaseImplied(x *leaseIndex) Expr {
	terms := []Expr{c.filter}
	if a, ok := c.filter.(And); ok {
		terms = a.Terms
	}
	var out []Expr
	for _, t := range terms {
		var column string
		var vals []Value
		switch t := t.(type) {
		case Compare:
			if t.Op != OpEq {
				continue
			}
			column, vals = t.Column, []Value{t.Value}
		case InSet:
			column, vals = t.Column, t.Values
		default:
			continue
		}
		i, err := c.column("", column)
		if err != nil {
			continue
		}
		jc := virtualCol(c.d, i)
		if jc == nil {
			continue
		}
		d := x.dicts[jc.field]
		want := map[int32]bool{}
		ok := true
		for _, v := range vals {
			b := literalBytes(v)
			if jc.field != fieldMAC && len(b) == 0 {
				ok = false // "" is also every row without a lease
				break
			}
			if id, found := d.index[string(b)]; found {
				want[id] = true
			}
		}
		if !ok {
			continue
		}
		var ranges []AddrRange
		for a, sp := range x.addrs {
			for k := sp[0]; k < sp[1]; k++ {
				if want[x.vals[jc.field][k]] {
					if ip := a.Netip(); ip.IsValid() {
						ranges = append(ranges, AddrRange{Lo: ip, Hi: ip})
					}
					break
				}
			}
		}
		out = append(out, AddrMatch{Column: joinSides[jc.side], Ranges: normalizeRanges(ranges)})
	}
	if len(out) == 0 {
		return nil
	}
	return newAnd(out...)
}
