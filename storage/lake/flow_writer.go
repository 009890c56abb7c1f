package lake

import (
	"io"

	"github.com/flowlake/flowlake/storage/schema"
)

// flowWriter writes one flows segment through the column-at-a-time
// encoder: rows go into a flowColumns, each full row group is encoded and
// written, and close writes the page index and footer.
type flowWriter struct {
	p         *pqWriter
	c         *flowColumns
	tpl       *pqTemplate
	bloomBits uint
	gather    []schema.Flow
	sink      int64 // keeps touch's loads from being optimised away
}

func newFlowWriter(w io.Writer, cfg Config) (*flowWriter, error) {
	tpl, err := flowTemplate()
	if err != nil {
		return nil, err
	}
	return &flowWriter{p: newPQWriter(w), c: getFlowColumns(cfg.RowGroupRows), tpl: tpl, bloomBits: cfg.BloomBitsPerValue}, nil
}

// add appends rows, which must be sorted and follow earlier rows.
func (fw *flowWriter) add(rows []schema.Flow) error {
	fw.c.newCall()
	return fw.addBlocks(rows)
}

// addBlocks appends rows of the current call, a block at a time.
func (fw *flowWriter) addBlocks(rows []schema.Flow) error {
	for len(rows) > 0 {
		// A block at a time: addRows reads the block once per column.
		n := min(len(rows), fw.c.max-fw.c.rows, gatherBlock)
		fw.c.addRows(rows[:n])
		rows = rows[n:]
		if fw.c.full() {
			fw.flush()
		}
	}
	return fw.p.err
}

// addOrdered appends rows[order.index(i)] for i in [start, end). Rows are
// copied into time order a small block at a time before they are split
// into columns: the copies of a block's rows miss the cache in parallel,
// where reading each row's fields straight from the caller's slice waits
// for one row at a time (measured: the block copy is faster than reading
// in place, with or without software prefetch). While a block is copied,
// the next block's rows are loaded (touch): plain loads whose misses
// overlap better than the copies' (a few percent of the writer's CPU).
func (fw *flowWriter) addOrdered(rows []schema.Flow, order permutation, start, end int) error {
	if fw.gather == nil {
		fw.gather = make([]schema.Flow, gatherBlock)
	}
	// The block copies hold the caller's strings: their addresses stay
	// valid for the whole call.
	fw.c.newCall()
	fw.touch(rows, order[start:min(end, start+gatherBlock)])
	for i := start; i < end; {
		n := min(end-i, gatherBlock)
		// Load the next block's rows into the cache while copying this
		// one's: the loads are independent and miss in parallel.
		fw.touch(rows, order[min(end, i+n):min(end, i+n+gatherBlock)])
		block := fw.gather[:n]
		for k := range block {
			block[k] = rows[order[i+k]&indexMask]
		}
		i += n
		if err := fw.addBlocks(block); err != nil {
			return err
		}
	}
	return fw.p.err
}

// gatherBlock is the rows addOrdered copies at a time: 60 KiB, which stays
// in the core's L2 cache.
const gatherBlock = 256

func (fw *flowWriter) flush() {
	fw.c.write(fw.p, fw.bloomBits)
	fw.c.reset()
}

// endRowGroup ends the row group being filled, if it holds rows: a
// clustered run ends its last row group, so no row group mixes two runs.
func (fw *flowWriter) endRowGroup() error {
	if fw.c.rows > 0 {
		fw.flush()
	}
	return fw.p.err
}

// close writes the last row group, the page index and the footer with the
// key-value metadata kv, and releases the writer's buffers.
func (fw *flowWriter) close(kv map[string]string) error {
	if fw.c.rows > 0 {
		fw.flush()
	}
	err := fw.p.close(fw.tpl, kv)
	fw.release()
	return err
}

// release returns the writer's buffers to their pools; it may be called
// more than once.
func (fw *flowWriter) release() {
	if fw.c != nil {
		putFlowColumns(fw.c)
		fw.c = nil
	}
	fw.p.release()
}

// touch reads a word in every 64 bytes of the rows order lists, so that
// all their cache lines are on their way in.
func (fw *flowWriter) touch(rows []schema.Flow, order permutation) {
	var x int64
	for _, o := range order {
		r := &rows[o&indexMask]
		x += r.Time + int64(r.DstAddr[0]) + int64(r.SrcAS) + int64(len(r.App)) + int64(len(r.DstGroup))
	}
	fw.sink += x
}
