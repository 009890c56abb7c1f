package query

// Spilling: when an aggregation's groups reach the query's memory budget,
// a worker writes them to a temporary file, partitioned by key hash, and
// starts again empty; the merge then reads each partition of every file
// with the workers' in-memory groups of that partition (agg_merge.go). The
// answer is the same as in memory: a group spilled several times is merged
// like a group met by several workers.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
)

// DefaultSpillLimit is how many bytes of temporary files one query's
// aggregation may write when Config leaves SpillLimit 0.
const DefaultSpillLimit = 4 << 30

// spillBuffer is the write and read buffer of a spill file.
const spillBuffer = 64 << 10

// spiller holds one query's spill files. Workers spill concurrently; the
// merge reads the files partition by partition; close removes them, also
// after an error or a cancel.
type spiller struct {
	parent string           // where the query's directory is made
	limit  int64            // bytes of files at most
	hook   func(dir string) // tests: a run was written

	mu    sync.Mutex
	dir   string // the query's own directory, made at the first spill
	runs  []*spillRun
	bytes int64
}

// spillRun is one spill: a file whose section p holds partition p's
// groups, each as its key and its accumulators' states.
type spillRun struct {
	f      *os.File
	off    [aggParts + 1]int64 // section p is [off[p], off[p+1])
	groups int
}

func newSpiller(parent string, limit int64) *spiller {
	if parent == "" {
		parent = os.TempDir()
	}
	return &spiller{parent: parent, limit: limit}
}

// spillable says whether every metric of g can be written to disk.
func (g *grouper) spillable() bool {
	for _, a := range g.accs {
		if _, ok := a.(stateAcc); !ok {
			return false
		}
	}
	return true
}

// stateAcc is an accumulator whose per-group state can be written to a
// spill file and merged back from it.
type stateAcc interface {
	partialAcc
	// appendState appends group g's state.
	appendState(buf []byte, g int32) []byte
	// mergeState reads one group's state and merges it into group dst.
	mergeState(r *bufio.Reader, dst int32) error
}

// write spills every group of g into a new run; g is unchanged.
func (s *spiller) write(g *grouper, parts *[aggParts][]int32) (err error) {
	f, err := s.create()
	if err != nil {
		return err
	}
	run := &spillRun{f: f, groups: len(g.keys)}
	s.mu.Lock()
	s.runs = append(s.runs, run) // close removes it whatever happens next
	s.mu.Unlock()
	w := bufio.NewWriterSize(f, spillBuffer)
	var (
		buf     []byte
		written int64
	)
	for p := range aggParts {
		run.off[p] = written
		for _, gi := range parts[p] {
			k := g.keys[gi]
			buf = binary.AppendUvarint(buf[:0], uint64(len(k)))
			buf = append(buf, k...)
			for _, a := range g.accs {
				buf = a.(stateAcc).appendState(buf, gi)
			}
			if err := s.account(int64(len(buf))); err != nil {
				return err
			}
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("spill aggregation to %s: %w", f.Name(), err)
			}
			written += int64(len(buf))
		}
	}
	run.off[aggParts] = written
	if err := w.Flush(); err != nil {
		return fmt.Errorf("spill aggregation to %s: %w", f.Name(), err)
	}
	return nil
}

// create makes the query's spill directory at the first spill, and a file
// in it.
func (s *spiller) create() (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir == "" {
		dir, err := os.MkdirTemp(s.parent, "flowlake-spill-")
		if err != nil {
			return nil, fmt.Errorf("spill aggregation: make a directory under %s: %w", s.parent, err)
		}
		s.dir = dir
	}
	f, err := os.CreateTemp(s.dir, "run-*")
	if err != nil {
		return nil, fmt.Errorf("spill aggregation: %w", err)
	}
	return f, nil
}

// account adds n bytes written and refuses past the limit.
func (s *spiller) account(n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytes += n
	if s.bytes > s.limit {
		return fmt.Errorf("%w: the aggregation was spilled to disk and needs more than the %d MiB of temporary files a query may write (SpillLimit); narrow the time range or filter, use fewer or coarser dimensions, or raise the budget or the spill limit",
			ErrMemoryBudget, s.limit>>20)
	}
	return nil
}

// read merges partition p of run into t.
func (s *spiller) read(run *spillRun, p int, t *grouper) error {
	sec := io.NewSectionReader(run.f, run.off[p], run.off[p+1]-run.off[p])
	r := bufio.NewReaderSize(sec, spillBuffer)
	var key []byte
	for {
		n, err := binary.ReadUvarint(r)
		if err == io.EOF {
			return nil
		}
		if err != nil || n > 1<<16 {
			return fmt.Errorf("read spilled aggregation %s partition %d: corrupt key length (%d): %v", run.f.Name(), p, n, err)
		}
		key = grow(key, int64(n))[:n]
		if _, err := io.ReadFull(r, key); err != nil {
			return fmt.Errorf("read spilled aggregation %s partition %d: %w", run.f.Name(), p, err)
		}
		gi := t.findOrAdd(string(key))
		for _, a := range t.accs {
			a.grow(len(t.keys))
			if err := a.(stateAcc).mergeState(r, gi); err != nil {
				return fmt.Errorf("read spilled aggregation %s partition %d: %w", run.f.Name(), p, err)
			}
		}
		if len(t.keys)%chargeEvery == 0 {
			if err := t.charge(); err != nil {
				return err
			}
		}
	}
}

// files is the spill runs written so far.
func (s *spiller) files() []*spillRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs
}

// stats reports the runs and bytes written.
func (s *spiller) stats() (runs int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.runs), s.bytes
}

// close removes the query's spill files.
func (s *spiller) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, r := range s.runs {
		errs = append(errs, r.f.Close())
	}
	s.runs = nil
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove spill directory %s: %w", s.dir, err))
		}
		s.dir = ""
	}
	return errors.Join(errs...)
}

// readVarint reads a zig-zag varint of a spilled state.
func readVarint(r *bufio.Reader) (int64, error) {
	x, err := binary.ReadVarint(r)
	if err != nil {
		return 0, fmt.Errorf("corrupt accumulator state: %w", err)
	}
	return x, nil
}

func (a *countAcc) appendState(buf []byte, g int32) []byte {
	return binary.AppendVarint(buf, a.n[g])
}
func (a *countAcc) mergeState(r *bufio.Reader, dst int32) error {
	x, err := readVarint(r)
	a.n[dst] += x
	return err
}

func (a *sumAcc) appendState(buf []byte, g int32) []byte {
	return binary.AppendVarint(buf, a.s[g])
}
func (a *sumAcc) mergeState(r *bufio.Reader, dst int32) error {
	x, err := readVarint(r)
	a.s[dst] += x
	return err
}

func (a *minMaxAcc) appendState(buf []byte, g int32) []byte {
	if !a.set[g] {
		return append(buf, 0)
	}
	return binary.AppendVarint(append(buf, 1), a.v[g])
}
func (a *minMaxAcc) mergeState(r *bufio.Reader, dst int32) error {
	set, err := r.ReadByte()
	if err != nil || set > 1 {
		return fmt.Errorf("corrupt min/max state (%d): %v", set, err)
	}
	if set == 0 {
		return nil
	}
	x, err := readVarint(r)
	if err == nil {
		a.put(dst, x)
	}
	return err
}

func (a *avgAcc) appendState(buf []byte, g int32) []byte {
	buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(a.s[g]))
	return binary.AppendVarint(buf, a.n[g])
}
func (a *avgAcc) mergeState(r *bufio.Reader, dst int32) error {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return fmt.Errorf("corrupt avg state: %w", err)
	}
	n, err := readVarint(r)
	a.s[dst] += math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
	a.n[dst] += n
	return err
}
