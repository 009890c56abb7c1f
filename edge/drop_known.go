package edge

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// traceIndexFile, in a remote edge's spool, lists the trace_id of every
// connection the drop folder wrote: the spool ships its segments away, so
// the edge cannot read back what it wrote, and the core publishes a
// segment's rows as they are.
const traceIndexFile = "_drop_trace_ids"

// maxTraceIndex bounds the trace index (16 bytes a connection on disk,
// about 40 in memory): past it, the connections that closed longest ago
// are forgotten, down to three quarters of it. A device's cache holds a
// few thousand connections; a dump older than 196,608 newer connections
// dropped again would be written again.
const maxTraceIndex = 1 << 18

// traceRecord is one entry of the trace index: when the connection closed
// (Unix microseconds) and its trace_id.
type traceRecord struct {
	time int64
	id   uint64
}

// traceIndex is the trace index of a remote edge's drop folder, loaded
// when the first trace is dropped. Only the watcher's goroutine uses it.
type traceIndex struct {
	path string
	ids  map[uint64]int64 // trace_id → close time
}

// loadTraceIndex reads the index at path (none yet: empty). A record cut
// short by a crash while it was appended is cut off the file, so the
// records appended next stay aligned.
func loadTraceIndex(path string) (*traceIndex, error) {
	x := &traceIndex{path: path, ids: map[uint64]int64{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return x, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the drop folder's trace index: %w", err)
	}
	if cut := len(b) % 16; cut != 0 {
		if err := os.Truncate(path, int64(len(b)-cut)); err != nil {
			return nil, fmt.Errorf("drop folder's trace index: cut its last %d bytes: %w", cut, err)
		}
	}
	for ; len(b) >= 16; b = b[16:] {
		x.ids[binary.LittleEndian.Uint64(b[8:])] = int64(binary.LittleEndian.Uint64(b))
	}
	return x, nil
}

// add records conns as written: appended and synced, or, past
// maxTraceIndex, the newest kept in a new file renamed over the old.
func (x *traceIndex) add(conns []schema.TCPConn) error {
	var b []byte
	for _, c := range conns {
		if _, ok := x.ids[c.TraceID]; ok {
			continue
		}
		x.ids[c.TraceID] = c.Time
		b = binary.LittleEndian.AppendUint64(b, uint64(c.Time))
		b = binary.LittleEndian.AppendUint64(b, c.TraceID)
	}
	if len(x.ids) > maxTraceIndex {
		return x.compact()
	}
	if len(b) == 0 {
		return nil
	}
	f, err := os.OpenFile(x.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("drop folder's trace index: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if err := errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("drop folder's trace index: append %s: %w", x.path, err)
	}
	return nil
}

// compact keeps the three quarters of maxTraceIndex that closed last.
func (x *traceIndex) compact() error {
	recs := make([]traceRecord, 0, len(x.ids))
	for id, t := range x.ids {
		recs = append(recs, traceRecord{t, id})
	}
	slices.SortFunc(recs, func(a, b traceRecord) int {
		if a.time != b.time {
			return cmp.Compare(b.time, a.time) // newest first
		}
		return cmp.Compare(a.id, b.id)
	})
	recs = recs[:maxTraceIndex*3/4]
	x.ids = make(map[uint64]int64, len(recs))
	b := make([]byte, 0, 16*len(recs))
	for _, r := range recs {
		x.ids[r.id] = r.time
		b = binary.LittleEndian.AppendUint64(b, uint64(r.time))
		b = binary.LittleEndian.AppendUint64(b, r.id)
	}
	tmp := x.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("drop folder's trace index: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if err := errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("drop folder's trace index: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, x.path); err != nil {
		return fmt.Errorf("drop folder's trace index: %w", err)
	}
	return nil
}

// knownTraces returns what tells a connection the edge stored already,
// by trace_id, for the connections conns (closed at their times). An
// embedded edge reads the tcp_conns of those hours in the lake, as
// `flowlake tcptrace import` and the core's push do (so a connection any
// of them wrote is left out); a remote edge asks its trace index.
func (d *dropWatcher) knownTraces(ctx context.Context, conns []schema.TCPConn) (func(uint64) bool, error) {
	if len(conns) == 0 {
		return nil, nil
	}
	if d.e.spool != nil {
		if d.index == nil {
			x, err := loadTraceIndex(filepath.Join(d.e.spool.dir, traceIndexFile))
			if err != nil {
				return nil, err
			}
			d.index = x
		}
		return func(id uint64) bool { _, ok := d.index.ids[id]; return ok }, nil
	}
	lo, hi := conns[0].Time, conns[0].Time
	for _, c := range conns {
		lo, hi = min(lo, c.Time), max(hi, c.Time)
	}
	segs, err := d.e.lake.Segments(ctx, schema.TCPConns, schema.FromMicros(lo), schema.FromMicros(hi+1))
	if err != nil {
		return nil, fmt.Errorf("list the tcp_conns already in the lake: %w", err)
	}
	known := map[uint64]bool{}
	for _, seg := range segs {
		rows, err := lake.Read[schema.TCPConn](ctx, d.e.lake, seg)
		if err != nil {
			return nil, fmt.Errorf("read the tcp_conns already in the lake: %w", err)
		}
		for _, r := range rows {
			known[r.TraceID] = true
		}
	}
	return func(id uint64) bool { return known[id] }, nil
}

// remember records conns as written (a remote edge's trace index; an
// embedded edge's lake holds them already).
func (d *dropWatcher) remember(conns []schema.TCPConn) error {
	if d.index == nil || len(conns) == 0 {
		return nil
	}
	return d.index.add(conns)
}
