package lake

import (
	"encoding/binary"
	"fmt"
	"math"
)

// thriftWalker checks one thrift compact-protocol struct without decoding
// it: every container's element count and every binary's length must fit in
// the bytes left (each element takes at least one byte), type ids must be
// known, nesting is capped at maxThriftDepth, field ids must increase within
// a struct, and the lists' estimated decoded size is capped at
// maxThriftDecode. visit, if set, sees every field of every struct with its
// path of field ids (list elements add nothing to the path): integers and
// bools with their value, containers with their element count.
type thriftWalker struct {
	b     []byte
	pos   int
	where string
	cost  int64
	path  []int16
	visit func(path []int16, typ byte, v int64) error
}

func (w *thriftWalker) fail(at int, format string, args ...any) error {
	return fmt.Errorf("%w: %s offset %d: %s", ErrCorrupt, w.where, at, fmt.Sprintf(format, args...))
}

func (w *thriftWalker) truncated(at int, what string) error {
	return fmt.Errorf("%w: %s offset %d: %w in %s", ErrCorrupt, w.where, at, errTruncated, what)
}

func (w *thriftWalker) left() int { return len(w.b) - w.pos }

// walk checks that w.b is exactly one struct.
func (w *thriftWalker) walk() error {
	if err := w.structure(0); err != nil {
		return err
	}
	if w.left() != 0 {
		return w.fail(w.pos, "%d trailing bytes after the struct", w.left())
	}
	return nil
}

func (w *thriftWalker) uvarint(what string) (uint64, error) {
	v, n := binary.Uvarint(w.b[w.pos:])
	if n == 0 {
		return 0, w.truncated(w.pos, what)
	}
	if n < 0 {
		return 0, w.fail(w.pos, "%s varint overflows 64 bits", what)
	}
	w.pos += n
	return v, nil
}

func (w *thriftWalker) varint(what string, lo, hi int64) (int64, error) {
	at := w.pos
	v, n := binary.Varint(w.b[w.pos:])
	if n == 0 {
		return 0, w.truncated(at, what)
	}
	if n < 0 || v < lo || v > hi {
		return 0, w.fail(at, "%s out of range", what)
	}
	w.pos += n
	return v, nil
}

func (w *thriftWalker) structure(depth int) error {
	if depth > maxThriftDepth {
		return w.fail(w.pos, "containers nested deeper than %d", maxThriftDepth)
	}
	var id int64
	for {
		at := w.pos
		if w.left() == 0 {
			return w.truncated(at, "a struct")
		}
		b := w.b[w.pos]
		w.pos++
		if b == ttStop {
			return nil
		}
		next := id + int64(b>>4)
		if b>>4 == 0 {
			v, err := w.varint("field id", math.MinInt16, math.MaxInt16)
			if err != nil {
				return err
			}
			next = v
		}
		if next <= id || next > math.MaxInt16 {
			return w.fail(at, "field id %d after %d: ids must increase", next, id)
		}
		id = next
		w.path = append(w.path, int16(id))
		err := w.value(at, b&0x0f, depth, true)
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
	}
}

// value walks one value of type typ starting at w.pos; at is where its field
// header or container element starts, for messages.
func (w *thriftWalker) value(at int, typ byte, depth int, field bool) error {
	var v int64
	var err error
	switch typ {
	case ttTrue, ttFalse:
		if field { // a bool field's value is its type
			v = int64(2 - typ)
			break
		}
		if w.left() < 1 {
			return w.truncated(at, "a bool")
		}
		w.pos++
	case ttByte:
		if w.left() < 1 {
			return w.truncated(at, "a byte")
		}
		v = int64(int8(w.b[w.pos]))
		w.pos++
	case ttI16:
		v, err = w.varint("i16", math.MinInt16, math.MaxInt16)
	case ttI32:
		v, err = w.varint("i32", math.MinInt32, math.MaxInt32)
	case ttI64:
		v, err = w.varint("i64", math.MinInt64, math.MaxInt64)
	case ttDouble:
		if w.left() < 8 {
			return w.truncated(at, "a double")
		}
		w.pos += 8
	case ttBinary:
		var n uint64
		if n, err = w.uvarint("binary length"); err == nil {
			if n > uint64(w.left()) {
				return w.fail(at, "binary of %d bytes exceeds the %d bytes left", n, w.left())
			}
			w.pos += int(n)
			v = int64(n)
		}
	case ttList, ttSet, ttMap, ttStruct:
		if depth >= maxThriftDepth {
			return w.fail(at, "containers nested deeper than %d", maxThriftDepth)
		}
		if typ == ttStruct {
			if field && w.visit != nil {
				if err := w.visit(w.path, typ, 0); err != nil {
					return w.fail(at, "%v", err)
				}
			}
			return w.structure(depth + 1)
		}
		return w.container(at, typ, depth+1, field)
	default:
		return w.fail(at, "unknown thrift type id %d", typ)
	}
	if err != nil {
		return err
	}
	if field && w.visit != nil {
		if err := w.visit(w.path, typ, v); err != nil {
			return w.fail(at, "%v", err)
		}
	}
	return nil
}

// container walks a list, set or map whose header starts at w.pos.
func (w *thriftWalker) container(at int, typ byte, depth int, field bool) error {
	var n uint64
	var kt, vt byte // element types; kt is unused by lists and sets
	if typ == ttMap {
		var err error
		if n, err = w.uvarint("map size"); err != nil {
			return err
		}
		if n > 0 {
			if w.left() < 1 {
				return w.truncated(at, "a map header")
			}
			kt, vt = w.b[w.pos]>>4, w.b[w.pos]&0x0f
			w.pos++
		}
	} else {
		if w.left() < 1 {
			return w.truncated(at, "a list header")
		}
		h := w.b[w.pos]
		w.pos++
		n, vt = uint64(h>>4), h&0x0f
		if n == 15 {
			var err error
			if n, err = w.uvarint("list size"); err != nil {
				return err
			}
		}
	}
	kind := "list"
	switch typ {
	case ttSet:
		kind = "set"
	case ttMap:
		kind = "map"
	}
	if n > 0 {
		if typ == ttMap && (kt < ttTrue || kt > ttStruct) {
			return w.fail(at, "%s of unknown key type id %d", kind, kt)
		}
		if vt < ttTrue || vt > ttStruct {
			return w.fail(at, "%s of unknown element type id %d", kind, vt)
		}
	}
	per := minThriftBytes(vt)
	if typ == ttMap {
		per += minThriftBytes(kt)
	}
	if n > uint64(w.left()/per) {
		return w.fail(at, "%s of %d elements exceeds the %d bytes left", kind, n, w.left())
	}
	w.cost += int64(n) * decodedThriftBytes(vt)
	if typ == ttMap {
		w.cost += int64(n) * decodedThriftBytes(kt)
	}
	if w.cost > maxThriftDecode {
		return w.fail(at, "%s of %d elements brings the estimated decoded size to %d bytes, over the limit of %d",
			kind, n, w.cost, maxThriftDecode)
	}
	if field && w.visit != nil {
		if err := w.visit(w.path, typ, int64(n)); err != nil {
			return w.fail(at, "%v", err)
		}
	}
	for range n {
		if typ == ttMap {
			if err := w.value(w.pos, kt, depth, false); err != nil {
				return err
			}
		}
		if err := w.value(w.pos, vt, depth, false); err != nil {
			return err
		}
	}
	return nil
}

// minThriftBytes is the fewest bytes a container element of type t takes.
func minThriftBytes(t byte) int {
	if t == ttDouble {
		return 8
	}
	return 1
}

// decodedThriftBytes bounds what parquet-go allocates per container element
// of type t: a struct element is a Go struct of up to 560 bytes
// (format.ColumnChunk), plus what OpenFile builds per column chunk.
func decodedThriftBytes(t byte) int64 {
	switch t {
	case ttStruct:
		return 1 << 10
	case ttBinary, ttList, ttSet, ttMap:
		return 24
	}
	return 8
}
