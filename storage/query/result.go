package query

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flowlake/flowlake/storage/schema"
)

// Result is the answer to a query: Arrow record batches (addresses and
// MACs as text, times as UTC timestamps), the cursor of the next page of
// a listing, the plan and what running it cost. Release it when done.
type Result struct {
	Schema  *arrow.Schema
	Records []arrow.RecordBatch
	// Cursor continues a listing; empty when this page is the last.
	Cursor string
	Plan   Plan
	// Warnings name the files whose rows the answer is missing because
	// they are unreadable (damaged or foreign): an answer with warnings is
	// incomplete. Empty for a complete answer.
	Warnings []Warning

	bytes int64       // the records' memory, reserved from the engine's pool
	hold  *resultHold // gives that reservation back
}

// NumRows counts the rows of every record.
func (r *Result) NumRows() int64 {
	var n int64
	for _, rec := range r.Records {
		n += rec.NumRows()
	}
	return n
}

// Release frees the records' memory and gives it back to the engine's
// memory pool.
func (r *Result) Release() {
	for _, rec := range r.Records {
		rec.Release()
	}
	r.Records = nil
	if r.hold != nil {
		r.hold.free()
	}
}

type outKind uint8

const (
	okInt outKind = iota
	okUint
	okFloat
	okString
	okBool
	okTime
)

// outCol is one output column before it becomes Arrow.
type outCol struct {
	kind   outKind
	arrow  arrow.DataType // integer columns keep their dataset type; nil: the kind's default
	ints   []int64
	floats []float64
	strs   []string
	raw    [][]byte // addresses and MACs: compared as bytes, not text
	nulls  []bool   // nil: no nulls
}

func outKindOf(c *colDesc) outKind {
	switch {
	case c.isTime:
		return okTime
	case c.bytes:
		return okString
	case c.isBool:
		return okBool
	case c.unsigned:
		return okUint
	}
	return okInt
}

func (o *outCol) null(i int) bool { return o.nulls != nil && o.nulls[i] }

// compare orders rows i and j of o; nulls last.
func (o *outCol) compare(i, j int) int {
	ni, nj := o.null(i), o.null(j)
	switch {
	case ni || nj:
		return cmp.Compare(b2i(ni), b2i(nj))
	case o.kind == okFloat:
		return cmp.Compare(o.floats[i], o.floats[j])
	case o.raw != nil:
		return bytes.Compare(o.raw[i], o.raw[j])
	case o.kind == okString:
		return strings.Compare(o.strs[i], o.strs[j])
	case o.kind == okUint:
		return cmp.Compare(uint64(o.ints[i]), uint64(o.ints[j]))
	}
	return cmp.Compare(o.ints[i], o.ints[j])
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// arrowType is the column's Arrow type.
func (o *outCol) arrowType() arrow.DataType {
	if o.arrow != nil && o.kind != okString && o.kind != okFloat {
		return o.arrow
	}
	switch o.kind {
	case okUint:
		return arrow.PrimitiveTypes.Uint64
	case okFloat:
		return arrow.PrimitiveTypes.Float64
	case okString:
		return arrow.BinaryTypes.String
	case okBool:
		return arrow.FixedWidthTypes.Boolean
	case okTime:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	}
	return arrow.PrimitiveTypes.Int64
}

// build appends rows of o, in order, to an Arrow array.
func (o *outCol) build(mem memory.Allocator, rows []int) arrow.Array {
	b := array.NewBuilder(mem, o.arrowType())
	defer b.Release()
	b.Reserve(len(rows))
	for _, i := range rows {
		if o.null(i) {
			b.AppendNull()
			continue
		}
		switch b := b.(type) {
		case *array.StringBuilder:
			b.Append(o.strs[i])
		case *array.Float64Builder:
			b.Append(o.floats[i])
		case *array.BooleanBuilder:
			b.Append(o.ints[i] != 0)
		case *array.TimestampBuilder:
			b.Append(arrow.Timestamp(o.ints[i]))
		case *array.Int64Builder:
			b.Append(o.ints[i])
		case *array.Int32Builder:
			b.Append(int32(o.ints[i]))
		case *array.Uint64Builder:
			b.Append(uint64(o.ints[i]))
		case *array.Uint32Builder:
			b.Append(uint32(o.ints[i]))
		case *array.Uint16Builder:
			b.Append(uint16(o.ints[i]))
		case *array.Uint8Builder:
			b.Append(uint8(o.ints[i]))
		}
	}
	return b.NewArray()
}

// textOf formats a byte value of column c.
func textOf(c *colDesc, b []byte) string {
	switch c.width {
	case 16:
		return schema.Addr(b).String()
	case 6:
		return net.HardwareAddr(b).String()
	}
	return string(b)
}

// finishAggregate turns the merged groups into the result's columns,
// ordered, limited, with the others row when asked.
func (c *compiled) finishAggregate(g *grouper, cols []colDesc, mem memory.Allocator) (*arrow.Schema, []arrow.RecordBatch) {
	n := len(g.keys)
	if len(c.dims) == 0 && n == 0 {
		// No matching row: an aggregate without dimensions still answers
		// one row (count 0).
		for _, a := range g.accs {
			a.grow(1)
		}
		g.keys = append(g.keys, "")
		n = 1
	}
	outs, rows := c.orderGroups(g, cols)
	if c.limit > 0 && len(rows) > c.limit {
		rest := rows[c.limit:]
		rows = rows[:c.limit]
		if c.q.Others {
			src := make([]int32, len(rest))
			for i, r := range rest {
				src[i] = int32(r)
			}
			other := int32(n)
			for d := range c.dims {
				appendNull(&outs[d])
			}
			for i, a := range g.accs {
				a.grow(n + 1)
				a.fold(other, src)
				m := c.metricColumn(i, a, []int32{other}, nil)
				appendRow(&outs[len(c.dims)+i], &m)
			}
			rows = append(rows, n)
		}
	}
	names := c.outputNames()
	var fields []arrow.Field
	var arrays []arrow.Array
	for i := range outs {
		arr := outs[i].build(mem, rows)
		arrays = append(arrays, arr)
		fields = append(fields, arrow.Field{Name: names[i], Type: arr.DataType(), Nullable: true})
	}
	if c.q.Others {
		isOther := outCol{kind: okBool}
		for _, r := range rows {
			isOther.ints = append(isOther.ints, int64(b2i(r == n)))
		}
		all := make([]int, len(rows))
		for i := range all {
			all[i] = i
		}
		arr := isOther.build(mem, all)
		arrays = append(arrays, arr)
		fields = append(fields, arrow.Field{Name: "others", Type: arr.DataType()})
	}
	sc := arrow.NewSchema(fields, nil)
	rec := array.NewRecordBatch(sc, arrays, int64(len(rows)))
	for _, a := range arrays {
		a.Release()
	}
	if c.built != nil {
		c.built() // tests: the columns and the records are both held here
		runtime.KeepAlive(outs)
	}
	return sc, []arrow.RecordBatch{rec}
}

// orderGroups decodes g's groups into the answer's columns and returns
// them with the groups' order.
func (c *compiled) orderGroups(g *grouper, cols []colDesc) ([]outCol, []int) {
	n := len(g.keys)
	all := make([]int32, n)
	for i := range all {
		all[i] = int32(i)
	}
	outs := c.dimColumns(g, cols)
	for i, a := range g.accs {
		outs = append(outs, c.metricColumn(i, a, all, outs))
	}
	rows := make([]int, n)
	for i := range rows {
		rows[i] = i
	}
	// Every dimension is a sort key, so no two groups tie: an unstable
	// sort gives a stable answer.
	sortRows := slices.SortFunc[[]int]
	if c.q.unordered && c.limit == 0 {
		sortRows = func([]int, func(int, int) int) {}
	}
	sortRows(rows, func(i, j int) int {
		for _, k := range c.order {
			r := outs[k.col].compare(i, j)
			if k.desc {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return 0
	})
	return outs, rows
}

func appendNull(o *outCol) {
	n := max(len(o.ints), len(o.floats), len(o.strs))
	if o.nulls == nil {
		o.nulls = make([]bool, n)
	}
	o.ints = append(o.ints, 0)
	o.floats = append(o.floats, 0)
	o.strs = append(o.strs, "")
	if o.raw != nil {
		o.raw = append(o.raw, nil)
	}
	o.nulls = append(o.nulls, true)
}

func appendRow(o, m *outCol) {
	n := max(len(o.ints), len(o.floats), len(o.strs))
	if o.nulls == nil && m.null(0) {
		o.nulls = make([]bool, n)
	}
	if len(m.ints) > 0 {
		o.ints = append(o.ints, m.ints[0])
	}
	if len(m.floats) > 0 {
		o.floats = append(o.floats, m.floats[0])
	}
	if o.nulls != nil {
		o.nulls = append(o.nulls, m.null(0))
	}
}

// dimColumns decodes the groups' keys into one column per dimension.
func (c *compiled) dimColumns(g *grouper, cols []colDesc) []outCol {
	isBytes := make([]bool, len(c.dims))
	outs := make([]outCol, len(c.dims))
	for d, dim := range c.dims {
		cd := &cols[dim.col]
		isBytes[d] = dim.kind == dimNet || cd.bytes
		switch {
		case dim.kind == dimTime:
			outs[d].kind = okTime
		case isBytes[d]:
			outs[d].kind = okString
			if dim.kind == dimNet || cd.width > 0 {
				outs[d].raw = make([][]byte, 0, len(g.keys))
			}
		default:
			outs[d].kind, outs[d].arrow = outKindOf(cd), cd.arrow
		}
		outs[d].nulls = make([]bool, 0, len(g.keys))
	}
	for _, key := range g.keys {
		vals := decodeKey(key, isBytes)
		for d, dim := range c.dims {
			o := &outs[d]
			v := vals[d]
			o.nulls = append(o.nulls, v == nil)
			switch {
			case v == nil:
				o.ints, o.strs = append(o.ints, 0), append(o.strs, "")
				if o.raw != nil {
					o.raw = append(o.raw, nil)
				}
			case dim.kind == dimNet:
				a := netip.AddrFrom16([16]byte(v))
				bits := dim.v6
				if a.Is4In6() {
					a, bits = a.Unmap(), dim.v4
				}
				o.strs = append(o.strs, netip.PrefixFrom(a, bits).String())
				o.raw = append(o.raw, v)
			case isBytes[d]:
				o.strs = append(o.strs, textOf(&cols[dim.col], v))
				if o.raw != nil {
					o.raw = append(o.raw, v)
				}
			default:
				o.ints = append(o.ints, int64(binary.BigEndian.Uint64(v)))
			}
		}
	}
	return outs
}

// metricColumn computes metric i for groups; rates divide by the group's
// time: its bucket (clipped to the query range) or the whole range.
func (c *compiled) metricColumn(i int, a acc, groups []int32, dims []outCol) outCol {
	m := c.metrics[i]
	o := a.out(groups)
	if m.fn != mBPS && m.fn != mPPS {
		return o
	}
	r := outCol{kind: okFloat}
	var bk *bucketer
	if c.timeDim >= 0 {
		bk = newBucketer(c.dims[c.timeDim].bucket, c.loc)
	}
	for k, gi := range groups {
		from, to := c.from, c.to
		if bk != nil && dims != nil && !dims[c.timeDim].null(int(gi)) {
			start := dims[c.timeDim].ints[gi]
			from, to = max(from, start), min(to, bk.end(start))
		}
		secs := float64(to-from) / float64(time.Second/time.Microsecond)
		x := float64(uint64(o.ints[k]))
		if m.fn == mBPS {
			x *= 8
		}
		r.floats = append(r.floats, x/max(secs, 1e-6))
	}
	return r
}
