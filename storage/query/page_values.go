package query

import (
	"encoding/binary"
	"fmt"
	"slices"
	"unsafe"
)

// checkDelta checks a DELTA_BINARY_PACKED header before parquet-go's
// decoder, which trusts it, sees it: the block layout must be valid and
// the value count the page's.
func checkDelta(b []byte, count int64) error {
	var h [3]uint64
	for i := range h {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return fmt.Errorf("delta header: truncated")
		}
		h[i], b = v, b[k:]
	}
	block, mini, total := h[0], h[1], h[2]
	if block == 0 || block%128 != 0 || block > 1<<16 || mini == 0 || block%mini != 0 || (block/mini)%32 != 0 {
		return fmt.Errorf("delta header: blocks of %d values in %d miniblocks", block, mini)
	}
	if total != uint64(count) {
		return fmt.Errorf("delta header: %d values for %d", total, count)
	}
	return nil
}

// levels decodes a page's definition levels (bit width 1) into one byte
// per row.
func (pr *pageReader) levels(b []byte, rows int64) ([]byte, error) {
	lv := slices.Grow(pr.lvls[:0], int(rows))[:rows]
	pr.lvls = lv
	if err := decodeHybrid(lv, b, 1, &pr.pad); err != nil {
		return nil, err
	}
	defs := slices.Grow(pr.defs[:0], int(rows))[:rows]
	pr.defs = defs
	for i, d := range lv {
		if uint32(d) > 1 {
			return nil, fmt.Errorf("definition level %d above 1", d)
		}
		defs[i] = byte(d)
	}
	return defs, nil
}

// indexes decodes count dictionary indexes (a bit width byte, then the
// hybrid encoding) and checks them against a dictionary of size entries.
func (pr *pageReader) indexes(b []byte, count int64, size int) ([]int32, error) {
	if len(b) == 0 {
		if count == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("no dictionary indexes for %d values", count)
	}
	width := uint(b[0])
	idx := slices.Grow(pr.ids[:0], int(count))[:count]
	pr.ids = idx
	if err := decodeHybrid(idx, b[1:], width, &pr.pad); err != nil {
		return nil, fmt.Errorf("dictionary indexes: %w", err)
	}
	if width < 31 && 1<<width <= size {
		return idx, nil // every index a width fits is in range
	}
	for _, id := range idx {
		if id < 0 || int(id) >= size {
			return nil, fmt.Errorf("dictionary index %d out of range [0, %d)", id, size)
		}
	}
	return idx, nil
}

// int64s views PLAIN INT64 values as integers, copying them when they are
// not 8-byte aligned. The view aliases b: it is never kept as scratch.
func (pr *pageReader) int64s(b []byte) []int64 {
	if len(b) == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%8 != 0 {
		vals := slices.Grow(pr.ints[:0], len(b)/8)[:len(b)/8]
		for i := range vals {
			vals[i] = int64(le64(b[8*i:]))
		}
		return vals
	}
	return unsafe.Slice((*int64)(unsafe.Pointer(&b[0])), len(b)/8)
}

// internPlain interns count PLAIN BYTE_ARRAY values (each a 4-byte length
// and its bytes).
func (dc *decoder) internPlain(d *dict, b []byte, count int64) ([]int32, error) {
	out := dc.tmpIDs(int(count))
	for i := range out {
		s, rest, err := plainString(b)
		if err != nil {
			return nil, fmt.Errorf("value %d: %w", i, err)
		}
		out[i], b = d.intern(s), rest
	}
	return out, nil
}

// plainString splits the first PLAIN BYTE_ARRAY value off b.
func plainString(b []byte) (s, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("%d bytes left, want a 4-byte length", len(b))
	}
	n := int(le32(b))
	if n < 0 || 4+n > len(b) {
		return nil, nil, fmt.Errorf("length %d with %d bytes left", n, len(b)-4)
	}
	return b[4 : 4+n], b[4+n:], nil
}

// placeInts writes a page's non-null values into v at row, spreading them
// over the rows defs marks as present.
func placeInts(v *vector, row int64, vals []int64, defs []byte) {
	rows := int64(len(vals))
	if defs != nil {
		rows = int64(len(defs))
	}
	ints := v.ints[row : row+rows]
	if defs == nil {
		copy(ints, vals)
		if v.null != nil {
			clear(v.null[row : row+rows])
		}
		return
	}
	nulls := v.null[row : row+rows]
	j := 0
	for i, d := range defs {
		if d == 0 {
			ints[i], nulls[i] = 0, true
			continue
		}
		ints[i], nulls[i] = vals[j], false
		j++
	}
}

func le32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(le32(b)) | uint64(le32(b[4:]))<<32
}
