package lake

import (
	"encoding/binary"
	"sync"

	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/encoding/plain"
	"github.com/parquet-go/parquet-go/format"

	"github.com/flowlake/flowlake/storage/schema"
)

// flowPageRows is the rows of a data page of a flows segment: every column
// breaks its pages at the same rows, so the column and offset indexes of
// all columns line up.
const flowPageRows = 32 << 10

// flowDictColumns is the number of dictionary-encoded flows columns.
const flowDictColumns = 23

// flowColumns builds one row group of flows column by column: rows are
// added one at a time straight from the caller's slice (in time order,
// through the sort permutation), each value going into its column's array
// or dictionary; the row group is then encoded column after column. This
// replaces parquet-go's row-to-column transposition and its per-value
// dictionary maps, which cost most of the writer's time (docs/benchmarks.md).
type flowColumns struct {
	rows, max int // rows held, rows a row group may hold

	time, bytes, packets []int64
	dur, srcPort         []int32

	edge, device, inIfName, outIfName, app, srcGroup, dstGroup strDict
	srcAddr, dstAddr, nextHop                                  dictCol[addrKey]
	dstPort, proto, tcpFlags, tos, inIf, outIf                 u32Dict
	srcAS, dstAS, vlan, direction, sampling                    u32Dict
	srcMAC, dstMAC                                             dictCol[macKey]

	buf   encBufs
	modes []indexMode // by dictionary column, kept across row groups
}

// flowColumnPools keeps flowColumns by row-group size: one holds ~100 bytes
// per row of its row group.
var flowColumnPools sync.Map // int → *sync.Pool

func getFlowColumns(rowGroupRows int) *flowColumns {
	p, _ := flowColumnPools.LoadOrStore(rowGroupRows, &sync.Pool{})
	c, ok := p.(*sync.Pool).Get().(*flowColumns)
	if ok {
		c.reset()
	} else {
		c = newFlowColumns(rowGroupRows)
	}
	// Every file chooses its index modes afresh: the same rows always give
	// the same file.
	c.modes = newIndexModes(flowDictColumns)
	return c
}

func putFlowColumns(c *flowColumns) {
	p, _ := flowColumnPools.LoadOrStore(c.max, &sync.Pool{})
	p.(*sync.Pool).Put(c)
}

// flowColumnsStart is the rows a new flowColumns has room for: small
// segments (an edge's batch) should not pay for a full row group.
const flowColumnsStart = 8 << 10

func newFlowColumns(max int) *flowColumns {
	c := &flowColumns{max: max}
	for _, d := range c.strCols() {
		d.init()
	}
	for _, d := range c.addrCols() {
		d.init()
	}
	for _, d := range []*u32Dict{&c.proto, &c.tcpFlags, &c.tos, &c.direction} {
		d.init(8)
	}
	for _, d := range []*u32Dict{&c.dstPort, &c.vlan} {
		d.init(16)
	}
	for _, d := range []*u32Dict{&c.inIf, &c.outIf, &c.srcAS, &c.dstAS, &c.sampling} {
		d.init(32)
	}
	c.srcMAC.init()
	c.dstMAC.init()
	c.grow(min(max, flowColumnsStart))
	return c
}

// grow makes room for n rows in every column.
func (c *flowColumns) grow(n int) {
	c.time = growTo(c.time, n)
	c.bytes = growTo(c.bytes, n)
	c.packets = growTo(c.packets, n)
	c.dur = growTo(c.dur, n)
	c.srcPort = growTo(c.srcPort, n)
	for _, d := range c.strCols() {
		d.ids = growTo(d.ids, n)
	}
	for _, d := range c.addrCols() {
		d.ids = growTo(d.ids, n)
	}
	for _, d := range c.u32Cols() {
		d.ids = growTo(d.ids, n)
	}
	c.srcMAC.ids = growTo(c.srcMAC.ids, n)
	c.dstMAC.ids = growTo(c.dstMAC.ids, n)
}

func growTo[E any](s []E, n int) []E {
	if len(s) >= n {
		return s
	}
	t := make([]E, n)
	copy(t, s)
	return t
}

func (c *flowColumns) strCols() []*strDict {
	return []*strDict{&c.edge, &c.device, &c.inIfName, &c.outIfName, &c.app, &c.srcGroup, &c.dstGroup}
}

func (c *flowColumns) addrCols() []*dictCol[addrKey] {
	return []*dictCol[addrKey]{&c.srcAddr, &c.dstAddr, &c.nextHop}
}

func (c *flowColumns) u32Cols() []*u32Dict {
	return []*u32Dict{&c.dstPort, &c.proto, &c.tcpFlags, &c.tos, &c.inIf, &c.outIf,
		&c.srcAS, &c.dstAS, &c.vlan, &c.direction, &c.sampling}
}

// reset empties the row group.
func (c *flowColumns) reset() {
	c.rows = 0
	for _, d := range c.strCols() {
		d.reset()
	}
	for _, d := range c.addrCols() {
		d.reset()
	}
	for _, d := range c.u32Cols() {
		d.reset()
	}
	c.srcMAC.reset()
	c.dstMAC.reset()
}

// full reports whether the row group holds as many rows as it may.
func (c *flowColumns) full() bool { return c.rows == c.max }

// add appends one row; the row group must not be full.
func (c *flowColumns) add(r *schema.Flow) {
	i := c.rows
	if i == len(c.time) {
		c.grow(min(2*i, c.max))
	}
	c.rows++
	c.time[i] = r.Time
	c.dur[i] = int32(r.DurationMS)
	c.edge.ids[i] = c.edge.lookup(r.Edge)
	c.device.ids[i] = c.device.lookup(r.Device)
	c.srcAddr.ids[i] = c.srcAddr.id(addrKey(r.SrcAddr))
	c.dstAddr.ids[i] = c.dstAddr.id(addrKey(r.DstAddr))
	c.srcPort[i] = int32(r.SrcPort)
	c.dstPort.ids[i] = c.dstPort.lookup(uint32(r.DstPort))
	c.proto.ids[i] = c.proto.lookup(uint32(r.Proto))
	c.tcpFlags.ids[i] = c.tcpFlags.lookup(uint32(r.TCPFlags))
	c.tos.ids[i] = c.tos.lookup(uint32(r.ToS))
	c.inIf.ids[i] = c.inIf.lookup(uint32(r.InIf))
	c.outIf.ids[i] = c.outIf.lookup(uint32(r.OutIf))
	c.inIfName.ids[i] = c.inIfName.lookup(r.InIfName)
	c.outIfName.ids[i] = c.outIfName.lookup(r.OutIfName)
	c.srcAS.ids[i] = c.srcAS.lookup(uint32(r.SrcAS))
	c.dstAS.ids[i] = c.dstAS.lookup(uint32(r.DstAS))
	if r.NextHop.IsZero() { // optional columns store the zero value as null
		c.nextHop.ids[i] = -1
	} else {
		c.nextHop.ids[i] = c.nextHop.id(addrKey(r.NextHop))
	}
	c.vlan.ids[i] = c.vlan.lookup(uint32(r.VLAN))
	if r.SrcMAC.IsZero() {
		c.srcMAC.ids[i] = -1
	} else {
		c.srcMAC.ids[i] = c.srcMAC.id(macKey(r.SrcMAC))
	}
	if r.DstMAC.IsZero() {
		c.dstMAC.ids[i] = -1
	} else {
		c.dstMAC.ids[i] = c.dstMAC.id(macKey(r.DstMAC))
	}
	c.direction.ids[i] = c.direction.lookup(uint32(r.Direction))
	c.bytes[i] = int64(r.Bytes)
	c.packets[i] = int64(r.Packets)
	c.sampling.ids[i] = c.sampling.lookup(uint32(r.SamplingRate))
	c.app.ids[i] = c.app.lookup(r.App)
	c.srcGroup.ids[i] = c.srcGroup.lookup(r.SrcGroup)
	c.dstGroup.ids[i] = c.dstGroup.lookup(r.DstGroup)
}

// write encodes the row group into p, columns in schema order; address
// columns get bloom filters of bloomBits bits per distinct value.
func (c *flowColumns) write(p *pqWriter, bloomBits uint) {
	n := c.rows
	b := &c.buf
	p.beginRowGroup(int64(n), 28)
	c.int64Col(p, schema.ColTime, c.time[:n], true, false)
	c.int32Col(p, "duration_ms", c.dur[:n])
	c.edge.write(p, b, &c.modes[0], schema.ColEdge, format.ByteArray, n, flowPageRows, false, 0)
	c.device.write(p, b, &c.modes[1], schema.ColDevice, format.ByteArray, n, flowPageRows, false, 0)
	c.srcAddr.write(p, b, &c.modes[2], schema.FlowSrcAddr, format.FixedLenByteArray, n, flowPageRows, false, bloomBits)
	c.dstAddr.write(p, b, &c.modes[3], schema.FlowDstAddr, format.FixedLenByteArray, n, flowPageRows, false, bloomBits)
	c.int32Col(p, schema.FlowSrcPort, c.srcPort[:n])
	c.dstPort.write(p, b, &c.modes[4], schema.FlowDstPort, format.Int32, n, flowPageRows, false, 0)
	c.proto.write(p, b, &c.modes[5], schema.FlowProto, format.Int32, n, flowPageRows, false, 0)
	c.tcpFlags.write(p, b, &c.modes[6], schema.FlowTCPFlags, format.Int32, n, flowPageRows, false, 0)
	c.tos.write(p, b, &c.modes[7], schema.FlowToS, format.Int32, n, flowPageRows, false, 0)
	c.inIf.write(p, b, &c.modes[8], schema.FlowInIf, format.Int32, n, flowPageRows, false, 0)
	c.outIf.write(p, b, &c.modes[9], schema.FlowOutIf, format.Int32, n, flowPageRows, false, 0)
	c.inIfName.write(p, b, &c.modes[10], schema.FlowInIfName, format.ByteArray, n, flowPageRows, false, 0)
	c.outIfName.write(p, b, &c.modes[11], schema.FlowOutIfName, format.ByteArray, n, flowPageRows, false, 0)
	c.srcAS.write(p, b, &c.modes[12], schema.FlowSrcAS, format.Int32, n, flowPageRows, false, 0)
	c.dstAS.write(p, b, &c.modes[13], schema.FlowDstAS, format.Int32, n, flowPageRows, false, 0)
	c.nextHop.write(p, b, &c.modes[14], schema.FlowNextHop, format.FixedLenByteArray, n, flowPageRows, true, bloomBits)
	c.vlan.write(p, b, &c.modes[15], schema.FlowVLAN, format.Int32, n, flowPageRows, false, 0)
	c.srcMAC.write(p, b, &c.modes[16], schema.FlowSrcMAC, format.FixedLenByteArray, n, flowPageRows, true, 0)
	c.dstMAC.write(p, b, &c.modes[17], schema.FlowDstMAC, format.FixedLenByteArray, n, flowPageRows, true, 0)
	c.direction.write(p, b, &c.modes[18], schema.FlowDirection, format.Int32, n, flowPageRows, false, 0)
	c.int64Col(p, schema.FlowBytes, c.bytes[:n], false, true)
	c.int64Col(p, schema.FlowPackets, c.packets[:n], false, true)
	c.sampling.write(p, b, &c.modes[19], schema.FlowSampling, format.Int32, n, flowPageRows, false, 0)
	c.app.write(p, b, &c.modes[20], schema.FlowApp, format.ByteArray, n, flowPageRows, false, 0)
	c.srcGroup.write(p, b, &c.modes[21], schema.FlowSrcGroup, format.ByteArray, n, flowPageRows, false, 0)
	c.dstGroup.write(p, b, &c.modes[22], schema.FlowDstGroup, format.ByteArray, n, flowPageRows, false, 0)
	p.endRowGroup()
}

// int64Col writes an INT64 column: DELTA_BINARY_PACKED when delta (time,
// sorted), else PLAIN; statistics compare as unsigned when unsigned.
// (BYTE_STREAM_SPLIT would make zstd several times faster on bytes and
// packets, but DuckDB reads it on FLOAT and DOUBLE columns only.)
func (c *flowColumns) int64Col(p *pqWriter, name string, v []int64, isDelta, unsigned bool) {
	p.beginChunk(name, format.Int64)
	enc := format.Plain
	if isDelta {
		enc = format.DeltaBinaryPacked
	}
	for lo := 0; lo < len(v); lo += flowPageRows {
		page := v[lo:min(lo+flowPageRows, len(v))]
		var values []byte
		var err error
		if isDelta {
			values, err = (&delta.BinaryPackedEncoding{}).EncodeInt64(c.buf.page[:0], page)
		} else {
			values, err = (&plain.Encoding{}).EncodeInt64(c.buf.page[:0], page)
		}
		if err != nil && p.err == nil {
			p.err = err
		}
		c.buf.page = values
		var mn, mx int64
		if unsigned {
			umn, umx := uint64(page[0]), uint64(page[0])
			for _, x := range page {
				umn, umx = min(umn, uint64(x)), max(umx, uint64(x))
			}
			mn, mx = int64(umn), int64(umx)
		} else {
			mn, mx = page[0], page[0]
			for _, x := range page {
				mn, mx = min(mn, x), max(mx, x)
			}
		}
		st := pageStats{
			min: binary.LittleEndian.AppendUint64(make([]byte, 0, 8), uint64(mn)),
			max: binary.LittleEndian.AppendUint64(make([]byte, 0, 8), uint64(mx)),
		}
		p.dataPage(int64(len(page)), enc, nil, values, st)
	}
	less := func(a, b []byte) bool {
		return int64(binary.LittleEndian.Uint64(a)) < int64(binary.LittleEndian.Uint64(b))
	}
	if unsigned {
		less = func(a, b []byte) bool { return binary.LittleEndian.Uint64(a) < binary.LittleEndian.Uint64(b) }
	}
	p.endChunk(false, less, nil)
}

// int32Col writes a PLAIN INT32 column of an unsigned logical type.
func (c *flowColumns) int32Col(p *pqWriter, name string, v []int32) {
	p.beginChunk(name, format.Int32)
	for lo := 0; lo < len(v); lo += flowPageRows {
		page := v[lo:min(lo+flowPageRows, len(v))]
		values, err := (&plain.Encoding{}).EncodeInt32(c.buf.page[:0], page)
		if err != nil && p.err == nil {
			p.err = err
		}
		c.buf.page = values
		mn, mx := uint32(page[0]), uint32(page[0])
		for _, x := range page {
			mn, mx = min(mn, uint32(x)), max(mx, uint32(x))
		}
		st := pageStats{
			min: binary.LittleEndian.AppendUint32(make([]byte, 0, 4), mn),
			max: binary.LittleEndian.AppendUint32(make([]byte, 0, 4), mx),
		}
		p.dataPage(int64(len(page)), format.Plain, nil, values, st)
	}
	p.endChunk(false, func(a, b []byte) bool { return binary.LittleEndian.Uint32(a) < binary.LittleEndian.Uint32(b) }, nil)
}
