package query

import (
	"bytes"
	"cmp"
	"container/heap"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// sortVal is one sort-key value of a listed row: integers, or the raw
// bytes of byte columns (addresses then order numerically).
type sortVal struct {
	I    int64  `json:"i,omitempty"`
	B    []byte `json:"b,omitempty"`
	Null bool   `json:"n,omitempty"`
}

// cursor is the position after the last row of a page: its sort key and,
// to break ties, its segment and row.
type cursor struct {
	Keys []sortVal `json:"k"`
	Seg  string    `json:"s"`
	Pos  int64     `json:"p"`
}

func (c *cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, keys int) (*cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("not a cursor this engine returned (bad encoding)")
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || len(c.Keys) != keys {
		return nil, errors.New("not a cursor of this query (use the cursor with the same order_by)")
	}
	return &c, nil
}

// listRow is a candidate row of a listing.
type listRow struct {
	cur  cursor
	vals []cell
}

// cell is one output value.
type cell struct {
	i    int64
	s    string
	null bool
}

// lister keeps one worker's best rows of a listing: a bounded max-heap by
// sort order (streaming TopN), so memory stays at one page however many
// rows match.
type lister struct {
	c          *compiled
	cols       []colDesc
	budget     *budget
	rows       []*listRow
	limit      int
	candidates int64 // rows past the cursor that matched
	charged    int64
	probe      listRow
}

func newLister(c *compiled, cols []colDesc, b *budget) *lister {
	return &lister{c: c, cols: cols, budget: b, limit: c.limit}
}

func (l *lister) less(a, b *cursor) int {
	for k, o := range l.c.order {
		x, y := a.Keys[k], b.Keys[k]
		var r int
		switch {
		case x.Null || y.Null:
			r = cmp.Compare(b2i(x.Null), b2i(y.Null))
		case l.cols[o.col].bytes:
			r = bytes.Compare(x.B, y.B)
		case l.cols[o.col].unsigned:
			r = cmp.Compare(uint64(x.I), uint64(y.I))
		default:
			r = cmp.Compare(x.I, y.I)
		}
		if o.desc {
			r = -r
		}
		if r != 0 {
			return r
		}
	}
	if r := cmp.Compare(a.Seg, b.Seg); r != 0 {
		return r
	}
	return cmp.Compare(a.Pos, b.Pos)
}

// heap.Interface: the worst row on top.
func (l *lister) Len() int           { return len(l.rows) }
func (l *lister) Less(i, j int) bool { return l.less(&l.rows[i].cur, &l.rows[j].cur) > 0 }
func (l *lister) Swap(i, j int)      { l.rows[i], l.rows[j] = l.rows[j], l.rows[i] }
func (l *lister) Push(x any)         { l.rows = append(l.rows, x.(*listRow)) }
func (l *lister) Pop() any {
	x := l.rows[len(l.rows)-1]
	l.rows = l.rows[:len(l.rows)-1]
	return x
}

// canSkip reports whether no row of u can enter a full page ordered by
// time first.
func (l *lister) canSkip(u *unit) bool {
	if len(l.rows) < l.limit || l.c.order[0].col != 0 {
		return false
	}
	worst := l.rows[0].cur.Keys[0].I
	if l.c.order[0].desc {
		return u.tmax < worst
	}
	return u.tmin > worst
}

// add offers the selected rows of b.
func (l *lister) add(b *batch, u *unit, sel []int32) error {
	pos := int64(u.rg) << 32
	for _, r := range sel {
		p := &l.probe.cur
		p.Keys = p.Keys[:0]
		for _, o := range l.c.order {
			p.Keys = append(p.Keys, l.sortValue(b, o.col, r))
		}
		p.Seg, p.Pos = u.file.Segment.Key, pos|int64(r)
		if l.c.cursor != nil && l.less(p, l.c.cursor) <= 0 {
			continue
		}
		l.candidates++
		if len(l.rows) == l.limit {
			if l.less(p, &l.rows[0].cur) >= 0 {
				continue
			}
			heap.Pop(l)
		}
		row := &listRow{cur: cursor{Keys: slices.Clone(p.Keys), Seg: p.Seg, Pos: p.Pos}}
		for i := range row.cur.Keys {
			// The dictionary the bytes point into is reused by the next
			// row group.
			row.cur.Keys[i].B = bytes.Clone(row.cur.Keys[i].B)
		}
		for k, ci := range l.c.columns {
			if k == 0 {
				row.vals = make([]cell, 0, len(l.c.columns))
			}
			row.vals = append(row.vals, l.cellOf(b, ci, r))
		}
		heap.Push(l, row)
	}
	mem := int64(len(l.rows)) * int64(64+56*len(l.c.columns)+40*len(l.c.order))
	delta := mem - l.charged
	l.charged = mem
	return l.budget.charge(delta)
}

func (l *lister) sortValue(b *batch, col int, r int32) sortVal {
	v := b.vecs[col]
	if l.cols[col].bytes {
		id := v.ids[r]
		if id < 0 {
			return sortVal{Null: true}
		}
		return sortVal{B: v.dict.at(id)}
	}
	if v.null != nil && v.null[r] {
		return sortVal{Null: true}
	}
	return sortVal{I: v.ints[r]}
}

func (l *lister) cellOf(b *batch, col int, r int32) cell {
	v := b.vecs[col]
	c := &l.cols[col]
	if c.bytes {
		id := v.ids[r]
		if id < 0 {
			return cell{null: true}
		}
		return cell{s: textOf(c, v.dict.at(id))}
	}
	if v.null != nil && v.null[r] {
		return cell{null: true}
	}
	return cell{i: v.ints[r]}
}

// merge adds another worker's rows.
func (l *lister) merge(o *lister) {
	l.candidates += o.candidates
	for _, row := range o.rows {
		if len(l.rows) == l.limit {
			if l.less(&row.cur, &l.rows[0].cur) >= 0 {
				continue
			}
			heap.Pop(l)
		}
		heap.Push(l, row)
	}
}

// finish sorts the page and builds its record and the next cursor. more
// says rows may exist beyond what was seen (skipped row groups).
func (l *lister) finish(mem memory.Allocator, more bool) (*arrow.Schema, []arrow.RecordBatch, string) {
	rows := slices.Clone(l.rows)
	slices.SortFunc(rows, func(a, b *listRow) int { return l.less(&a.cur, &b.cur) })
	var fields []arrow.Field
	var arrays []arrow.Array
	for k, ci := range l.c.columns {
		c := &l.cols[ci]
		o := outCol{kind: outKindOf(c), arrow: c.arrow, nulls: make([]bool, len(rows))}
		for i, row := range rows {
			v := row.vals[k]
			o.ints, o.strs = append(o.ints, v.i), append(o.strs, v.s)
			o.nulls[i] = v.null
		}
		idx := make([]int, len(rows))
		for i := range idx {
			idx[i] = i
		}
		arr := o.build(mem, idx)
		arrays = append(arrays, arr)
		fields = append(fields, arrow.Field{Name: c.name, Type: arr.DataType(), Nullable: true})
	}
	sc := arrow.NewSchema(fields, nil)
	rec := array.NewRecordBatch(sc, arrays, int64(len(rows)))
	for _, a := range arrays {
		a.Release()
	}
	next := ""
	if len(rows) == l.limit && (l.candidates > int64(l.limit) || more) {
		next = rows[len(rows)-1].cur.encode()
	}
	return sc, []arrow.RecordBatch{rec}, next
}
