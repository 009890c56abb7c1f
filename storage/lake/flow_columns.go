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
const flowDictColumns = 25

// flowColumns builds one row group of flows column by column: rows are
// added a block of up to gatherBlock rows at a time (in time order, copied
// through the sort permutation), one column after the other, each value
// going into its column's array or dictionary; the row group is then
// encoded column after column. This
// replaces parquet-go's row-to-column transposition and its per-value
// dictionary maps, which cost most of the writer's time (docs/benchmarks.md).
type flowColumns struct {
	rows, max int // rows held, rows a row group may hold

	time         []int64
	dur, srcPort []int32

	edge, device, inIfName, outIfName, app, srcGroup, dstGroup strDict
	srcAddr, dstAddr, nextHop                                  dictCol[addrKey]
	dstPort, proto, tcpFlags, tos, inIf, outIf                 u32Dict
	srcAS, dstAS, vlan, direction, sampling                    u32Dict
	srcMAC, dstMAC                                             dictCol[macKey]
	bytes, packets                                             u64Dict

	buf   encBufs
	modes []indexMode // by dictionary column, kept across row groups
}

// flowColumnPools keeps flowColumns by row-group size: one holds ~100 bytes
// per row it has held (up to its row group), so only two are kept across
// collections, and only those that held at most 64 Ki rows (~6 MiB: an
// edge's segments, not an hour's compaction).
var flowColumnPools sync.Map // int → *freeList[*flowColumns]

// keptFlowColumnRows is the most rows a flowColumns kept across
// collections may have room for.
const keptFlowColumnRows = 64 << 10

func flowColumnPool(rowGroupRows int) *freeList[*flowColumns] {
	if p, ok := flowColumnPools.Load(rowGroupRows); ok {
		return p.(*freeList[*flowColumns])
	}
	small := func(c *flowColumns) bool { return cap(c.time) <= keptFlowColumnRows }
	p, _ := flowColumnPools.LoadOrStore(rowGroupRows, newFreeList(2, small))
	return p.(*freeList[*flowColumns])
}

func getFlowColumns(rowGroupRows int) *flowColumns {
	c, ok := flowColumnPool(rowGroupRows).get()
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
	c.newCall() // the caches must not keep the caller's strings alive
	flowColumnPool(c.max).put(c)
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
	c.bytes.init(64)
	c.packets.init(64)
	c.grow(min(max, flowColumnsStart))
	return c
}

// grow makes room for n rows in every column.
func (c *flowColumns) grow(n int) {
	c.time = growTo(c.time, n)
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
	c.bytes.ids = growTo(c.bytes.ids, n)
	c.packets.ids = growTo(c.packets.ids, n)
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

// newCall tells the string dictionaries that the writer was called with new
// rows (strDict.newCall).
func (c *flowColumns) newCall() {
	for _, d := range c.strCols() {
		d.newCall()
	}
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
	c.bytes.reset()
	c.packets.reset()
}

// full reports whether the row group holds as many rows as it may.
func (c *flowColumns) full() bool { return c.rows == c.max }

// addRows appends rows, at most gatherBlock and at most as many as the row
// group has room for. It goes column by column over the rows (a small block
// that stays in the core's cache): one dictionary at a time is hot, and each
// loop keeps its column's state in registers. The values of a column are
// first copied into an array on the stack, which the dictionary's lookup
// loop then reads with its fast path inlined.
func (c *flowColumns) addRows(rs []schema.Flow) {
	i0 := c.rows
	i1 := i0 + len(rs)
	if i1 > len(c.time) {
		c.grow(min(max(2*i0, i1), c.max))
	}
	c.rows = i1
	tm, dur, srcPort := c.time[i0:i1], c.dur[i0:i1], c.srcPort[i0:i1]
	for k := range rs {
		r := &rs[k]
		tm[k] = r.Time
		dur[k] = int32(r.DurationMS)
		srcPort[k] = int32(r.SrcPort)
	}
	n := len(rs)
	var addrs [gatherBlock]addrKey
	for k := range rs {
		addrs[k] = addrKey(rs[k].SrcAddr)
	}
	c.srcAddr.idAll(c.srcAddr.ids[i0:i1], addrs[:n])
	for k := range rs {
		addrs[k] = addrKey(rs[k].DstAddr)
	}
	c.dstAddr.idAll(c.dstAddr.ids[i0:i1], addrs[:n])
	{ // optional columns store the zero value as null
		d, ids := &c.nextHop, c.nextHop.ids[i0:i1]
		for k := range rs {
			ids[k] = -1
			if a := &rs[k].NextHop; !a.IsZero() {
				ids[k] = d.id(addrKey(*a))
			}
		}
	}
	{
		d, ids := &c.srcMAC, c.srcMAC.ids[i0:i1]
		for k := range rs {
			ids[k] = -1
			if m := &rs[k].SrcMAC; !m.IsZero() {
				ids[k] = d.id(macKey(*m))
			}
		}
	}
	{
		d, ids := &c.dstMAC, c.dstMAC.ids[i0:i1]
		for k := range rs {
			ids[k] = -1
			if m := &rs[k].DstMAC; !m.IsZero() {
				ids[k] = d.id(macKey(*m))
			}
		}
	}
	var u64s [gatherBlock]uint64
	for k := range rs {
		u64s[k] = rs[k].Bytes
	}
	c.bytes.lookupAll(c.bytes.ids[i0:i1], u64s[:n])
	for k := range rs {
		u64s[k] = rs[k].Packets
	}
	c.packets.lookupAll(c.packets.ids[i0:i1], u64s[:n])
	var u32s [gatherBlock]uint32
	for k := range rs {
		u32s[k] = uint32(rs[k].DstPort)
	}
	c.dstPort.lookupAll(c.dstPort.ids[i0:i1], u32s[:n])
	for k := range rs {
		u32s[k] = uint32(rs[k].Proto)
	}
	c.proto.lookupAll(c.proto.ids[i0:i1], u32s[:n])
	for k := range rs {
		u32s[k] = uint32(rs[k].TCPFlags)
	}
	c.tcpFlags.lookupAll(c.tcpFlags.ids[i0:i1], u32s[:n])
	for k := range rs {
		u32s[k] = uint32(rs[k].ToS)
	}
	c.tos.lookupAll(c.tos.ids[i0:i1], u32s[:n])
	for k := range rs {
		u32s[k] = rs[k].InIf
	}
	c.inIf.lookupAll(c.inIf.ids[i0:i1], u32s[:n])
	for k := range rs {
		u32s[k] = rs[k].OutIf
	}
	c.outIf.lookupAll(c.outIf.ids[i0:i1], u32s[:n])
	for k := range rs {
		u32s[k] = rs[k].SrcAS
	}
	c.srcAS.lookupAll(c.srcAS.ids[i0:i1], u32s[:n])
	for k := range rs {
		u32s[k] = rs[k].DstAS
	}
	c.dstAS.lookupAll(c.dstAS.ids[i0:i1], u32s[:n])
	for k := range rs {
		u32s[k] = uint32(rs[k].VLAN)
	}
	c.vlan.lookupAll(c.vlan.ids[i0:i1], u32s[:n])
	for k := range rs {
		u32s[k] = uint32(rs[k].Direction)
	}
	c.direction.lookupAll(c.direction.ids[i0:i1], u32s[:n])
	for k := range rs {
		u32s[k] = rs[k].SamplingRate
	}
	c.sampling.lookupAll(c.sampling.ids[i0:i1], u32s[:n])
	var strs [gatherBlock]string
	for k := range rs {
		strs[k] = rs[k].Edge
	}
	c.edge.lookupAll(c.edge.ids[i0:i1], strs[:n])
	for k := range rs {
		strs[k] = rs[k].Device
	}
	c.device.lookupAll(c.device.ids[i0:i1], strs[:n])
	for k := range rs {
		strs[k] = rs[k].InIfName
	}
	c.inIfName.lookupAll(c.inIfName.ids[i0:i1], strs[:n])
	for k := range rs {
		strs[k] = rs[k].OutIfName
	}
	c.outIfName.lookupAll(c.outIfName.ids[i0:i1], strs[:n])
	for k := range rs {
		strs[k] = rs[k].App
	}
	c.app.lookupAll(c.app.ids[i0:i1], strs[:n])
	for k := range rs {
		strs[k] = rs[k].SrcGroup
	}
	c.srcGroup.lookupAll(c.srcGroup.ids[i0:i1], strs[:n])
	for k := range rs {
		strs[k] = rs[k].DstGroup
	}
	c.dstGroup.lookupAll(c.dstGroup.ids[i0:i1], strs[:n])
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
	c.bytes.sortValues(n)
	c.bytes.write(p, b, &c.modes[23], schema.FlowBytes, format.Int64, n, flowPageRows, false, 0)
	c.packets.sortValues(n)
	c.packets.write(p, b, &c.modes[24], schema.FlowPackets, format.Int64, n, flowPageRows, false, 0)
	c.sampling.write(p, b, &c.modes[19], schema.FlowSampling, format.Int32, n, flowPageRows, false, 0)
	c.app.write(p, b, &c.modes[20], schema.FlowApp, format.ByteArray, n, flowPageRows, false, 0)
	c.srcGroup.write(p, b, &c.modes[21], schema.FlowSrcGroup, format.ByteArray, n, flowPageRows, false, 0)
	c.dstGroup.write(p, b, &c.modes[22], schema.FlowDstGroup, format.ByteArray, n, flowPageRows, false, 0)
	p.endRowGroup()
}

// int64Col writes an INT64 column: DELTA_BINARY_PACKED when delta (time,
// sorted), else PLAIN; statistics compare as unsigned when unsigned. The
// counters (bytes, packets) are dictionary-encoded instead (u64Dict): zstd
// over their PLAIN values cost more than the dictionary, and
// BYTE_STREAM_SPLIT, which would make it cheap, is read by DuckDB on FLOAT
// and DOUBLE columns only.
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
