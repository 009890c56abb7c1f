package query

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// The reference evaluator answers queries the slow, obvious way: every row
// of every segment read through lake.Read, each predicate and metric
// computed on Go values. The engine's answers must equal it.

// refRow is one row: its values by column, and its place for tie-breaks.
type refRow struct {
	vals []refVal
	seg  string
	pos  int64
}

type refVal struct {
	i    int64
	b    []byte
	null bool
}

// refCache holds every row of the test lake by dataset.
var refCache sync.Map

// refLoad returns every row of a dataset in [from, to).
func refLoad(t *testing.T, l *lake.Lake, d *schema.Dataset, from, to int64) []refRow {
	t.Helper()
	all, ok := refCache.Load(d.Name)
	if !ok {
		all, _ = refCache.LoadOrStore(d.Name, refLoadAll(t, l, d))
	}
	var out []refRow
	for _, r := range all.([]refRow) {
		if tm := r.vals[0].i; tm >= from && tm < to {
			out = append(out, r)
		}
	}
	return out
}

func refLoadAll(t *testing.T, l *lake.Lake, d *schema.Dataset) []refRow {
	ctx := context.Background()
	segs, err := l.Segments(ctx, d.Name, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var out []refRow
	for _, s := range segs {
		rows := readAny(t, l, d, s)
		f, err := l.OpenSegment(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		var starts []int64
		var n int64
		for _, rg := range f.RowGroups() {
			starts = append(starts, n)
			n += rg.NumRows()
		}
		f.Close()
		for i := range rows.Len() {
			rv := reflect.Indirect(rows.Index(i))
			row := refRow{seg: s.Key}
			rg := sort64(starts, int64(i))
			row.pos = int64(rg)<<32 | (int64(i) - starts[rg])
			for c := range rv.NumField() { // the stored columns: the reference has no lease join
				row.vals = append(row.vals, refValue(d.Columns[c], rv.Field(c)))
			}
			out = append(out, row)
		}
	}
	return out
}

func sort64(starts []int64, i int64) int {
	k, _ := slices.BinarySearch(starts, i+1)
	return k - 1
}

func readAny(t *testing.T, l *lake.Lake, d *schema.Dataset, s lake.Segment) reflect.Value {
	ctx := context.Background()
	var rows any
	var err error
	switch d.Name {
	case schema.Flows:
		rows, err = lake.Read[schema.Flow](ctx, l, s)
	case schema.TCPConns:
		rows, err = lake.Read[schema.TCPConn](ctx, l, s)
	case schema.TCPPackets:
		rows, err = lake.Read[schema.TCPPacket](ctx, l, s)
	case schema.DHCPEvents:
		rows, err = lake.Read[schema.DHCPEvent](ctx, l, s)
	case schema.CloudConns:
		rows, err = lake.Read[schema.CloudConn](ctx, l, s)
	case schema.FlowLosses:
		rows, err = lake.Read[schema.FlowLoss](ctx, l, s)
	}
	if err != nil {
		t.Fatal(err)
	}
	return reflect.ValueOf(rows)
}

func refValue(c schema.Column, f reflect.Value) refVal {
	if c.Nullable && f.IsZero() {
		return refVal{null: true}
	}
	switch f.Kind() {
	case reflect.Array:
		b := make([]byte, f.Len())
		reflect.Copy(reflect.ValueOf(b), f)
		return refVal{b: b}
	case reflect.String:
		return refVal{b: []byte(f.String())}
	case reflect.Bool:
		if f.Bool() {
			return refVal{i: 1}
		}
		return refVal{}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return refVal{i: int64(f.Uint())}
	}
	return refVal{i: f.Int()}
}

// refMatch evaluates e on row.
func refMatch(d *schema.Dataset, e Expr, row refRow) bool {
	col := func(name string) (refVal, schema.Column) {
		for i, c := range d.Columns {
			if c.Name == name {
				return row.vals[i], c
			}
		}
		panic("no column " + name)
	}
	switch e := e.(type) {
	case MatchAll:
		return true
	case And:
		for _, t := range e.Terms {
			if !refMatch(d, t, row) {
				return false
			}
		}
		return true
	case Or:
		for _, t := range e.Terms {
			if refMatch(d, t, row) {
				return true
			}
		}
		return false
	case Not:
		return !refMatch(d, e.Term, row)
	case Compare:
		v, c := col(e.Column)
		if v.null {
			return false
		}
		return compareOp(refCompare(c, v, e.Value), e.Op)
	case InSet:
		v, c := col(e.Column)
		for _, x := range e.Values {
			if !v.null && refCompare(c, v, x) == 0 {
				return true
			}
		}
		return false
	case AddrMatch:
		v, _ := col(e.Column)
		if v.null {
			return false
		}
		a := netip.AddrFrom16([16]byte(v.b)).Unmap()
		for _, r := range e.Ranges {
			if a.BitLen() == r.Lo.BitLen() && a.Compare(r.Lo) >= 0 && a.Compare(r.Hi) <= 0 {
				return true
			}
		}
		return false
	case FlagsAll:
		v, _ := col(e.Column)
		return !v.null && uint8(v.i)&e.Mask == e.Mask
	}
	panic(fmt.Sprintf("unknown expression %T", e))
}

func refCompare(c schema.Column, v refVal, x Value) int {
	switch x.Kind {
	case KindString:
		return strings.Compare(string(v.b), x.Str)
	case KindMAC:
		return bytes.Compare(v.b, x.MAC[:])
	case KindUint:
		return cmp.Compare(uint64(v.i), x.Uint)
	case KindBool:
		return cmp.Compare(v.i, int64(b2i(x.Bool)))
	}
	return cmp.Compare(v.i, x.Int)
}

// refFormat formats a value of column c as the engine's CSV does.
func refFormat(c schema.Column, v refVal) string {
	if v.null {
		return ""
	}
	ci, _ := columnInfo(c)
	switch {
	case ci.addr:
		return schema.Addr(v.b).String()
	case ci.kind == KindMAC:
		return net.HardwareAddr(v.b).String()
	case ci.kind == KindString:
		return string(v.b)
	case ci.kind == KindTime:
		return schema.FromMicros(v.i).Format(time.RFC3339Nano)
	case ci.kind == KindBool:
		return strconv.FormatBool(v.i != 0)
	case ci.kind == KindUint:
		return strconv.FormatUint(uint64(v.i), 10)
	}
	return strconv.FormatInt(v.i, 10)
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', 10, 64) }

// refAnswer computes the whole answer of q as CSV-like rows: header first.
func refAnswer(t *testing.T, l *lake.Lake, q Query, now time.Time) [][]string {
	t.Helper()
	c, err := compile(q, now)
	if err != nil {
		t.Fatal(err)
	}
	d := c.d
	var rows []refRow
	for _, r := range refLoad(t, l, d, c.from, c.to) {
		if refMatch(d, c.filter, r) {
			rows = append(rows, r)
		}
	}
	if c.listing {
		return refListing(c, rows)
	}
	return refAggregate(c, rows)
}

func refListing(c *compiled, rows []refRow) [][]string {
	cols := describeColumns(c.d)
	less := func(a, b refRow) int {
		for _, o := range c.order {
			x, y := a.vals[o.col], b.vals[o.col]
			var r int
			switch {
			case x.null || y.null:
				r = cmp.Compare(b2i(x.null), b2i(y.null))
			case cols[o.col].bytes:
				r = bytes.Compare(x.b, y.b)
			case cols[o.col].unsigned:
				r = cmp.Compare(uint64(x.i), uint64(y.i))
			default:
				r = cmp.Compare(x.i, y.i)
			}
			if o.desc {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		if r := cmp.Compare(a.seg, b.seg); r != 0 {
			return r
		}
		return cmp.Compare(a.pos, b.pos)
	}
	slices.SortFunc(rows, less)
	var out [][]string
	var header []string
	for _, i := range c.columns {
		header = append(header, c.d.Columns[i].Name)
	}
	out = append(out, header)
	for _, r := range rows {
		var line []string
		for _, i := range c.columns {
			line = append(line, refFormat(c.d.Columns[i], r.vals[i]))
		}
		out = append(out, line)
	}
	return out
}

// refGroup is one group of the reference aggregate.
type refGroup struct {
	dims []string
	sort []refVal // dims in sortable form
	rows []refRow
}

func refAggregate(c *compiled, rows []refRow) [][]string {
	groups := map[string]*refGroup{}
	var order []*refGroup
	for _, r := range rows {
		var dims []string
		var sortv []refVal
		for _, dim := range c.dims {
			col := c.d.Columns[dim.col]
			v := r.vals[dim.col]
			switch {
			case v.null:
				dims, sortv = append(dims, ""), append(sortv, refVal{null: true})
			case dim.kind == dimTime:
				start := refBucket(dim.bucket, c.loc, v.i)
				dims, sortv = append(dims, schema.FromMicros(start).Format(time.RFC3339Nano)), append(sortv, refVal{i: start})
			case dim.kind == dimNet:
				a := netip.AddrFrom16([16]byte(v.b))
				var p netip.Prefix
				if a.Is4In6() {
					p = netip.PrefixFrom(a.Unmap(), dim.v4).Masked()
				} else {
					p = netip.PrefixFrom(a, dim.v6).Masked()
				}
				m := schema.AddrFrom(p.Addr())
				dims, sortv = append(dims, p.String()), append(sortv, refVal{b: m[:]})
			default:
				dims, sortv = append(dims, refFormat(col, v)), append(sortv, v)
			}
		}
		k := strings.Join(dims, "\x00")
		g := groups[k]
		if g == nil {
			g = &refGroup{dims: dims, sort: sortv}
			groups[k] = g
			order = append(order, g)
		}
		g.rows = append(g.rows, r)
	}
	if len(c.dims) == 0 && len(order) == 0 {
		order = append(order, &refGroup{})
	}
	type outRow struct {
		g       *refGroup
		metrics []refVal // i or float bits
		floats  []float64
		isFloat []bool
	}
	compute := func(g *refGroup) outRow {
		o := outRow{g: g}
		for _, m := range c.metrics {
			var col schema.Column
			if m.col >= 0 {
				col = c.d.Columns[m.col]
			}
			ci, _ := columnInfo(col)
			var vals []refVal
			for _, r := range g.rows {
				if m.col >= 0 && !r.vals[m.col].null {
					vals = append(vals, r.vals[m.col])
				}
			}
			var iv refVal
			var fv float64
			isF := false
			switch m.fn {
			case mCount:
				iv.i = int64(len(g.rows))
			case mSum:
				for _, v := range vals {
					iv.i += v.i
				}
			case mMin, mMax:
				iv.null = len(vals) == 0
				for k, v := range vals {
					better := v.i < iv.i
					if ci.kind == KindUint {
						better = uint64(v.i) < uint64(iv.i)
					}
					if m.fn == mMax {
						better = v.i > iv.i
						if ci.kind == KindUint {
							better = uint64(v.i) > uint64(iv.i)
						}
					}
					if k == 0 || better {
						iv.i = v.i
					}
				}
			case mAvg:
				isF = true
				for _, v := range vals {
					fv += float64(v.i)
				}
				fv /= float64(len(vals))
			case mDistinct, mApproxDistinct:
				set := map[string]bool{}
				for _, v := range vals {
					set[string(v.b)+"|"+strconv.FormatInt(v.i, 10)] = true
				}
				iv.i = int64(len(set))
			case mPercentile:
				isF = true
				xs := make([]int64, len(vals))
				for k, v := range vals {
					xs[k] = v.i
				}
				slices.Sort(xs)
				rank := int(math.Ceil(m.p / 100 * float64(len(xs))))
				fv = float64(xs[max(rank, 1)-1])
			case mBPS, mPPS:
				isF = true
				var sum int64
				for _, v := range vals {
					sum += v.i
				}
				from, to := c.from, c.to
				if c.timeDim >= 0 {
					start := g.sort[c.timeDim].i
					bk := newBucketer(c.dims[c.timeDim].bucket, c.loc)
					from, to = max(from, start), min(to, bk.end(start))
				}
				fv = float64(sum) / (float64(to-from) / 1e6)
				if m.fn == mBPS {
					fv *= 8
				}
			}
			o.metrics = append(o.metrics, iv)
			o.floats = append(o.floats, fv)
			o.isFloat = append(o.isFloat, isF)
		}
		return o
	}
	var outs []outRow
	for _, g := range order {
		outs = append(outs, compute(g))
	}
	cols := describeColumns(c.d)
	slices.SortStableFunc(outs, func(a, b outRow) int {
		for _, k := range c.order {
			var r int
			if k.col < len(c.dims) {
				x, y := a.g.sort[k.col], b.g.sort[k.col]
				dim := c.dims[k.col]
				switch {
				case x.null || y.null:
					r = cmp.Compare(b2i(x.null), b2i(y.null))
				case dim.kind == dimNet || cols[dim.col].bytes && cols[dim.col].width > 0:
					r = bytes.Compare(x.b, y.b)
				case cols[dim.col].bytes:
					r = strings.Compare(string(x.b), string(y.b))
				default:
					r = cmp.Compare(x.i, y.i)
				}
			} else {
				m := k.col - len(c.dims)
				if a.isFloat[m] {
					r = cmp.Compare(a.floats[m], b.floats[m])
				} else {
					r = cmp.Compare(a.metrics[m].i, b.metrics[m].i)
				}
			}
			if k.desc {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return 0
	})
	if c.limit > 0 && len(outs) > c.limit {
		rest := outs[c.limit:]
		outs = outs[:c.limit]
		if c.q.Others {
			other := &refGroup{dims: make([]string, len(c.dims)), sort: make([]refVal, len(c.dims))}
			for k := range other.sort {
				other.sort[k].null = true
			}
			for _, r := range rest {
				other.rows = append(other.rows, r.g.rows...)
			}
			saved := c.timeDim
			c.timeDim = -1 // the others row spans the whole range
			outs = append(outs, compute(other))
			c.timeDim = saved
		}
	}
	header := c.outputNames()
	if c.q.Others {
		header = append(header, "others")
	}
	res := [][]string{header}
	for k, o := range outs {
		line := slices.Clone(o.g.dims)
		for m := range c.metrics {
			switch {
			case o.metrics[m].null:
				line = append(line, "")
			case o.isFloat[m]:
				line = append(line, formatFloat(o.floats[m]))
			case c.metrics[m].fn == mMin || c.metrics[m].fn == mMax:
				line = append(line, refFormat(c.d.Columns[c.metrics[m].col], o.metrics[m]))
			default:
				line = append(line, strconv.FormatInt(o.metrics[m].i, 10))
			}
		}
		if c.q.Others {
			line = append(line, strconv.FormatBool(c.limit > 0 && k == c.limit))
		}
		res = append(res, line)
	}
	return res
}

// refBucket computes a bucket start with the time package alone.
func refBucket(b bucket, loc *time.Location, us int64) int64 {
	t := time.UnixMicro(us).In(loc)
	y, m, d := t.Date()
	switch {
	case b.days == 1:
		return time.Date(y, m, d, 0, 0, 0, 0, loc).UnixMicro()
	case b.days == 7:
		return time.Date(y, m, d-(int(t.Weekday())+6)%7, 0, 0, 0, 0, loc).UnixMicro()
	case b.months > 0:
		return time.Date(y, time.Month((int(m)-1)/b.months*b.months+1), 1, 0, 0, 0, 0, loc).UnixMicro()
	}
	_, off := t.Zone()
	local := us + int64(off)*1e6
	w := b.width.Microseconds()
	return floorDiv(local, w)*w - int64(off)*1e6
}
