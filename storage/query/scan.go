package query

import (
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/parquet-go/parquet-go"

	"github.com/flowlake/flowlake/storage/schema"
)

// colDesc says how to decode one dataset column and what its values mean.
// idx is the column's index in the dataset, which the engine's vectors,
// predicates and accumulators go by; leaf is the column chunk holding it
// in the file being decoded. A segment's columns are matched to the
// dataset's by name (lake.SegmentFile.Column): a file written before the
// dataset gained an optional column lacks it, and its columns need not be
// in the dataset's order, so the scan decodes a copy whose leaf is the
// file's (worker.read).
type colDesc struct {
	name     string
	idx      int
	leaf     int
	bytes    bool // addresses, MACs and strings: dictionary ids
	width    int  // 16 addresses, 6 MACs, 0 strings
	unsigned bool
	isBool   bool
	isTime   bool
	optional bool
	info     colInfo
	arrow    arrow.DataType
	virtual  *joinCol // a lease-join column: computed, not decoded
}

func describeColumns(d *schema.Dataset) []colDesc {
	out := make([]colDesc, len(d.Columns))
	for i, c := range d.Columns {
		ci, _ := columnInfo(c)
		cd := colDesc{name: c.Name, idx: i, leaf: i, optional: c.Nullable, info: ci, arrow: c.Arrow}
		switch {
		case ci.addr:
			cd.bytes, cd.width = true, 16
		case ci.kind == KindMAC:
			cd.bytes, cd.width = true, 6
		case ci.kind == KindString:
			cd.bytes = true
		case ci.kind == KindUint:
			cd.unsigned = true
		case ci.kind == KindBool:
			cd.isBool = true
		case ci.kind == KindTime:
			cd.isTime = true
		}
		cd.virtual = virtualCol(d, i)
		out[i] = cd
	}
	return out
}

// dict holds the distinct values of a byte column within one row group;
// a vector refers to them by index.
type dict struct {
	width int      // fixed width, or 0 for strings
	fixed []byte   // width-sized values back to back
	strs  []string // strings
	index map[string]int32
	gen   uint64 // changes with every reset
}

// reset empties d for the next column chunk, keeping its buffers (a nil d
// becomes a new one). Values handed out before are overwritten: keep a
// copy. The generation tells caches built on the previous contents apart.
func (d *dict) reset(width int) *dict {
	if d == nil {
		return &dict{width: width}
	}
	d.width, d.fixed, d.strs, d.gen = width, d.fixed[:0], d.strs[:0], d.gen+1
	d.index = nil
	return d
}

func (d *dict) len() int {
	if d.width > 0 {
		return len(d.fixed) / d.width
	}
	return len(d.strs)
}

// at returns value i as bytes (valid until the dict changes).
func (d *dict) at(i int32) []byte {
	if d.width > 0 {
		return d.fixed[int(i)*d.width : int(i+1)*d.width]
	}
	return unsafe.Slice(unsafe.StringData(d.strs[i]), len(d.strs[i]))
}

// str returns value i as a string.
func (d *dict) str(i int32) string {
	if d.width > 0 {
		return string(d.at(i))
	}
	return d.strs[i]
}

// intern returns the id of v, adding it when new.
func (d *dict) intern(v []byte) int32 {
	if d.index == nil {
		d.index = make(map[string]int32, d.len()+64)
		for i := range int32(d.len()) {
			d.index[d.str(i)] = i
		}
	}
	if id, ok := d.index[string(v)]; ok {
		return id
	}
	id := int32(d.len())
	if d.width > 0 {
		d.fixed = append(d.fixed, v...)
	} else {
		d.strs = append(d.strs, string(v))
	}
	d.index[string(v)] = id
	return id
}

// vector is one column's values for the rows of a row group. Rows outside
// the row ranges being scanned hold stale values and are never selected.
type vector struct {
	ints  []int64 // integer, time and boolean columns
	null  []bool  // integer columns: true where null; nil without nulls
	spare []bool  // null's buffer, kept while a required column leaves null nil
	ids   []int32 // byte columns: index into dict, -1 for null
	dict  *dict
	// coded marks an integer column that only the filter reads, decoded
	// as codes into dvals (-1 for null) instead of values in ints: its
	// predicates decide each distinct value once.
	coded bool
	codes []int32
	dvals []int64
}

// rowRange is a half-open range of rows of a row group.
type rowRange struct{ lo, hi int64 }

// decoder decodes column chunks into vectors, reusing its buffers.
type decoder struct {
	vals  []parquet.Value
	ibuf  []int64
	idbuf []int32
	need  []int
	dints []int64 // an integer chunk's dictionary
	pr    pageReader
	// ownPanics lets readChunk's panics raised in the engine's own code
	// through (fuzzing): recovered, they would be errors the target must
	// accept. Off in production, where every panic becomes an error.
	ownPanics bool
}

// readColumn decodes the rows of ranges of column c of row group rgi of f
// into v, sized for n rows. It returns the bytes and the number of the
// pages it read.
// With coded, an integer column whose chunk the engine reads itself is
// decoded as dictionary codes (vector.coded).
func (dc *decoder) readColumn(f *parquet.File, rgi int, c *colDesc, n int64, ranges []rowRange, v *vector, coded bool) (read int64, pages int, err error) {
	read, pages, err = dc.readChunk(f, rgi, c, n, ranges, v, coded)
	if !errors.Is(err, errSlowPath) {
		return read, pages, err
	}
	return dc.readPages(f.RowGroups()[rgi], c, n, ranges, v)
}

// readPages is readColumn through parquet-go's page reader, for chunks
// the engine's own reader does not handle (booleans, other codecs and
// encodings).
func (dc *decoder) readPages(rg parquet.RowGroup, c *colDesc, n int64, ranges []rowRange, v *vector) (read int64, pages int, err error) {
	chunk := rg.ColumnChunks()[c.leaf]
	if c.bytes {
		v.ids = grow(v.ids, n)
		v.dict = v.dict.reset(c.width)
	} else {
		v.coded = false
		v.ints = grow(v.ints, n)
		v.null = nil // a pooled vector may have served an optional column
		if c.optional {
			v.null = grow(v.spare, n)
			v.spare = v.null
		}
	}
	pr := chunk.Pages()
	defer pr.Close()
	var (
		pdict parquet.Dictionary // the chunk's dictionary, once decoded
		dints []int64
	)
	for _, r := range ranges {
		if err := pr.SeekToRow(r.lo); err != nil {
			return read, pages, fmt.Errorf("column %s: seek to row %d: %w", c.name, r.lo, err)
		}
		for row := r.lo; row < r.hi; {
			p, err := pr.ReadPage()
			if errors.Is(err, io.EOF) {
				return read, pages, fmt.Errorf("column %s: pages end at row %d of %d", c.name, row, n)
			}
			if err != nil {
				return read, pages, fmt.Errorf("column %s: read page at row %d: %w", c.name, row, err)
			}
			rows := p.NumRows()
			if row+rows > n {
				parquet.Release(p)
				return read, pages, fmt.Errorf("column %s: page at row %d has %d rows, row group has %d", c.name, row, rows, n)
			}
			read += p.Size()
			if d := p.Dictionary(); d != nil && d != pdict {
				pdict = d
				if c.bytes {
					if v.dict.len() > 0 {
						parquet.Release(p)
						return read, pages, fmt.Errorf("column %s: a second dictionary in one column chunk", c.name)
					}
					loadDict(v.dict, d)
				} else {
					dints = dictInts(c, d, dints[:0])
				}
			}
			err = dc.decodePage(c, p, row, v, dints)
			parquet.Release(p)
			if err != nil {
				return read, pages, err
			}
			pages++
			row += rows
		}
	}
	return read, pages, nil
}

// fillNull makes v a column of n nulls: an optional column the file was
// written without. It sets the null marks of a pooled vector like a
// decoded optional column does (ids -1; codes -1; null over the spare
// buffer), so no state of a column it served before shows through.
func fillNull(c *colDesc, n int64, v *vector, coded bool) {
	if c.bytes {
		v.ids = grow(v.ids, n)
		for i := range v.ids {
			v.ids[i] = -1
		}
		v.dict = v.dict.reset(c.width)
		return
	}
	v.coded = coded
	if coded {
		v.null = nil
		v.codes, v.dvals = grow(v.codes, n), v.dvals[:0]
		for i := range v.codes {
			v.codes[i] = -1
		}
		return
	}
	v.ints = grow(v.ints, n)
	clear(v.ints)
	v.null = grow(v.spare, n)
	v.spare = v.null
	for i := range v.null {
		v.null[i] = true
	}
}

func grow[T any](s []T, n int64) []T {
	if int64(cap(s)) < n {
		return make([]T, n)
	}
	return s[:n]
}

// loadDict copies a parquet dictionary into d: ids stay the same.
func loadDict(d *dict, pd parquet.Dictionary) {
	data := pd.Page().Data()
	if d.width > 0 {
		b, _ := data.FixedLenByteArray()
		d.fixed = append(d.fixed[:0], b...)
		return
	}
	b, offs := data.ByteArray()
	d.strs = d.strs[:0]
	for i := 0; i+1 < len(offs); i++ {
		d.strs = append(d.strs, string(b[offs[i]:offs[i+1]]))
	}
}

// dictInts decodes an integer dictionary.
func dictInts(c *colDesc, pd parquet.Dictionary, out []int64) []int64 {
	data := pd.Page().Data()
	switch pd.Type().Kind() {
	case parquet.Int32:
		for _, x := range data.Int32() {
			out = append(out, widen32(x, c.unsigned))
		}
	case parquet.Int64:
		out = append(out, data.Int64()...)
	}
	return out
}

func widen32(x int32, unsigned bool) int64 {
	if unsigned {
		return int64(uint32(x))
	}
	return int64(x)
}

// decodePage writes the values of page p, which starts at row, into v.
func (dc *decoder) decodePage(c *colDesc, p parquet.Page, row int64, v *vector, dints []int64) error {
	rows := p.NumRows()
	defs := p.DefinitionLevels()
	if c.isBool {
		return dc.decodeValues(c, p, row, v)
	}
	if len(defs) > 0 && int64(len(defs)) != rows {
		return fmt.Errorf("column %s: page at row %d has %d definition levels for %d rows", c.name, row, len(defs), rows)
	}
	data := p.Data()
	nonNull := rows
	if len(defs) > 0 {
		nonNull = 0
		for _, d := range defs {
			nonNull += int64(d)
		}
	}
	indexed := p.Dictionary() != nil
	if c.bytes {
		ids := v.ids[row : row+rows]
		var src []int32
		switch {
		case indexed:
			src = data.Int32()
		case c.width > 0:
			b, w := data.FixedLenByteArray()
			if w != c.width {
				return fmt.Errorf("column %s: page at row %d has %d-byte values, want %d", c.name, row, w, c.width)
			}
			src = dc.internFixed(v.dict, b, w)
		default:
			b, offs := data.ByteArray()
			src = dc.internVar(v.dict, b, offs)
		}
		if int64(len(src)) != nonNull {
			return fmt.Errorf("column %s: page at row %d has %d values for %d non-null rows", c.name, row, len(src), nonNull)
		}
		if indexed {
			nd := int32(v.dict.len())
			for _, id := range src {
				if id < 0 || id >= nd {
					return fmt.Errorf("column %s: page at row %d: dictionary index %d out of range [0, %d)", c.name, row, id, nd)
				}
			}
		}
		spreadInt32(ids, src, defs)
		return nil
	}
	var vals []int64
	switch {
	case indexed:
		idx := data.Int32()
		if int64(len(idx)) != nonNull {
			return fmt.Errorf("column %s: page at row %d has %d values for %d non-null rows", c.name, row, len(idx), nonNull)
		}
		vals = dc.tmpInts(len(idx))
		for i, id := range idx {
			if id < 0 || int(id) >= len(dints) {
				return fmt.Errorf("column %s: page at row %d: dictionary index %d out of range [0, %d)", c.name, row, id, len(dints))
			}
			vals[i] = dints[id]
		}
	case p.Type().Kind() == parquet.Int32:
		src := data.Int32()
		vals = dc.tmpInts(len(src))
		if c.unsigned {
			for i, x := range src {
				vals[i] = int64(uint32(x))
			}
		} else {
			for i, x := range src {
				vals[i] = int64(x)
			}
		}
	case p.Type().Kind() == parquet.Int64:
		vals = data.Int64()
	default:
		return fmt.Errorf("column %s: unexpected physical type %v", c.name, p.Type())
	}
	if int64(len(vals)) != nonNull {
		return fmt.Errorf("column %s: page at row %d has %d values for %d non-null rows", c.name, row, len(vals), nonNull)
	}
	if len(defs) == 0 {
		defs = nil
	}
	placeInts(v, row, vals, defs)
	return nil
}

// decodeValues is the slow, general path through parquet.Value (booleans).
func (dc *decoder) decodeValues(c *colDesc, p parquet.Page, row int64, v *vector) error {
	rows := p.NumRows()
	dc.vals = grow(dc.vals, rows)
	n, err := p.Values().ReadValues(dc.vals)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("column %s: page at row %d: %w", c.name, row, err)
	}
	if int64(n) != rows {
		return fmt.Errorf("column %s: page at row %d has %d values for %d rows", c.name, row, n, rows)
	}
	for i, x := range dc.vals[:n] {
		isNull := x.IsNull()
		var val int64
		if !isNull && x.Boolean() {
			val = 1
		}
		v.ints[row+int64(i)] = val
		if v.null != nil {
			v.null[row+int64(i)] = isNull
		}
	}
	return nil
}

// tmpInts returns the decoder's scratch buffer of n integers.
func (dc *decoder) tmpInts(n int) []int64 {
	dc.ibuf = grow(dc.ibuf, int64(n))
	return dc.ibuf
}

func (dc *decoder) tmpIDs(n int) []int32 {
	dc.idbuf = grow(dc.idbuf, int64(n))
	return dc.idbuf
}

func (dc *decoder) internFixed(d *dict, b []byte, w int) []int32 {
	out := dc.tmpIDs(len(b) / w)
	for i := range out {
		out[i] = d.intern(b[i*w : (i+1)*w])
	}
	return out
}

func (dc *decoder) internVar(d *dict, b []byte, offs []uint32) []int32 {
	if len(offs) == 0 {
		return nil
	}
	out := dc.tmpIDs(len(offs) - 1)
	for i := range out {
		out[i] = d.intern(b[offs[i]:offs[i+1]])
	}
	return out
}

// spreadInt32 writes src into dst, placing -1 where defs marks a null.
func spreadInt32(dst, src []int32, defs []byte) {
	if len(defs) == 0 {
		copy(dst, src)
		return
	}
	j := 0
	for i, d := range defs {
		if d == 0 {
			dst[i] = -1
			continue
		}
		dst[i] = src[j]
		j++
	}
}
