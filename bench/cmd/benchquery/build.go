package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// benchStart is the first day of every benchmark lake: a Monday, as the
// generator's default week.
var benchStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// lakeSpec names one generated data set: Flows spread over Days (the
// issue-3 layout), or, when Rate is set, the production layout of
// nfcapd_production.go: Flows at Rate flows/s or more, in whole 5-minute
// intervals.
type lakeSpec struct {
	Flows int64   `json:"flows"` // flows asked for; the generator's Poisson draws give about this many
	Days  int     `json:"days"`
	Seed  int64   `json:"seed"`
	Rate  float64 `json:"rate,omitempty"` // flows/s of the flows' start times; 0: spread over Days
}

func (s lakeSpec) name() string {
	if s.production() {
		return fmt.Sprintf("flows-%d-r%.0f-s%d", s.Flows, s.Rate, s.Seed)
	}
	return fmt.Sprintf("flows-%d-d%d-s%d", s.Flows, s.Days, s.Seed)
}

func (s lakeSpec) start() time.Time {
	if s.production() {
		return prodStart
	}
	return benchStart
}

func (s lakeSpec) end() time.Time {
	if s.production() {
		return prodStart.Add(time.Duration(s.prodBins()) * binLen)
	}
	return benchStart.AddDate(0, 0, s.Days)
}

// genConfig is the generator configuration of s: the default network, with
// the flow rate scaled so that s.Days hold about s.Flows flows. The
// production layout generates otherwise: see runGen.
func (s lakeSpec) genConfig() gen.Config {
	cfg := gen.DefaultConfig()
	cfg.Seed = s.Seed
	cfg.Start, cfg.End = s.start(), s.end()
	cfg.FlowsPerSecond = float64(s.Flows) / s.end().Sub(s.start()).Seconds()
	return cfg
}

// lakeInfo is what building a lake produced; it is saved beside the lake
// so a later run with -dir reuses it.
type lakeInfo struct {
	Spec      lakeSpec `json:"spec"`
	Rows      int64    `json:"rows"`
	Bytes     uint64   `json:"bytes"` // sum of the bytes column
	DiskBytes int64    `json:"disk_bytes"`
	// SegmentBytes is the flows files as the edges wrote them, before
	// compaction (0: a lake built before it was measured).
	SegmentBytes int64         `json:"segment_bytes,omitempty"`
	Files        int           `json:"files"`
	BuildTime    time.Duration `json:"build_ns"`
	Compaction   time.Duration `json:"compaction_ns"`
	Rollups      time.Duration `json:"rollups_ns"` // Engine.MaintainRollups after compaction
	RollupSegs   int           `json:"rollup_segments"`
	Root         string        `json:"-"` // the lake, rollups included
	RawRoot      string        `json:"-"` // hard links to the flows files only
}

const infoFile = "benchquery.json"

// buildLake generates s into dir/<name>/lake with lake.Write, one segment
// per edge and hour as the edges ship them, then compacts every hour as
// the compaction job does. An existing complete lake is reused.
func buildLake(ctx context.Context, dir string, s lakeSpec, log *slog.Logger) (lakeInfo, error) {
	base := filepath.Join(dir, s.name())
	root := filepath.Join(base, "lake")
	rawRoot := filepath.Join(base, "raw")
	if b, err := os.ReadFile(filepath.Join(base, infoFile)); err == nil {
		var info lakeInfo
		if err := json.Unmarshal(b, &info); err != nil {
			return info, fmt.Errorf("read %s: %w", filepath.Join(base, infoFile), err)
		}
		info.Root, info.RawRoot = root, rawRoot
		log.Info("reusing lake", "root", root, "rows", info.Rows)
		return info, nil
	}
	// An unfinished lake from an interrupted run; the nfcapd files beside
	// it stay.
	for _, d := range []string{root, rawRoot} {
		if err := os.RemoveAll(d); err != nil {
			return lakeInfo{}, err
		}
	}
	cfg := lake.DefaultConfig()
	cfg.Root = root
	l, err := lake.Open(cfg, nil)
	if err != nil {
		return lakeInfo{}, err
	}
	info := lakeInfo{Spec: s, Root: root, RawRoot: rawRoot}
	started := time.Now()
	w := newLakeSink(ctx, l, 2)
	err = runGen(ctx, s, w)
	err = errors.Join(err, w.close())
	if err != nil {
		l.Close()
		return info, fmt.Errorf("generate %s: %w", s.name(), err)
	}
	info.Rows, info.Bytes = w.rows, w.bytes
	info.BuildTime = time.Since(started)
	log.Info("generated and written", "rows", info.Rows, "took", info.BuildTime.Round(time.Millisecond))
	if info.SegmentBytes, err = flowsBytes(root); err != nil {
		l.Close()
		return info, err
	}
	started = time.Now()
	res, err := l.Compact(ctx, s.end().Add(time.Hour))
	if err != nil {
		l.Close()
		return info, fmt.Errorf("compact %s: %w", s.name(), err)
	}
	info.Compaction = time.Since(started)
	log.Info("compacted", "partitions", res.Partitions, "files_before", res.FilesBefore, "files_after", res.FilesAfter, "took", info.Compaction.Round(time.Millisecond))
	files, err := filepath.Glob(filepath.Join(root, schema.Flows, "dt=*", "hr=*", "*.parquet"))
	if err != nil {
		l.Close()
		return info, err
	}
	info.Files = len(files)
	// The raw view: the same files (hard links, the same inodes) in a
	// lake of flows alone, where the planner finds no rollup and reads raw
	// segments as DuckDB does.
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			l.Close()
			return info, err
		}
		info.DiskBytes += st.Size()
		rel, err := filepath.Rel(root, f)
		if err != nil {
			l.Close()
			return info, err
		}
		link := filepath.Join(rawRoot, rel)
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			l.Close()
			return info, err
		}
		if err := os.Link(f, link); err != nil {
			l.Close()
			return info, fmt.Errorf("raw view: %w", err)
		}
	}
	// The rollups, as the rollups job keeps them.
	started = time.Now()
	rs, err := query.New(l, query.Config{}, nil).MaintainRollups(ctx)
	if err != nil {
		l.Close()
		return info, fmt.Errorf("build rollups: %w", err)
	}
	info.Rollups, info.RollupSegs = time.Since(started), len(rs.Built)
	log.Info("built rollups", "segments", info.RollupSegs, "took", info.Rollups.Round(time.Millisecond))
	if err := l.Close(); err != nil {
		return info, err
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return info, err
	}
	return info, os.WriteFile(filepath.Join(base, infoFile), b, 0o644)
}

// lakeSink writes the generator's flows with lake.Write on a few workers
// and drops the other datasets.
type lakeSink struct {
	ctx   context.Context
	l     *lake.Lake
	work  chan batch
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error
	rows  int64
	bytes uint64
}

type batch struct {
	edge string
	rows []schema.Flow
}

var _ gen.Sink = (*lakeSink)(nil)

func newLakeSink(ctx context.Context, l *lake.Lake, workers int) *lakeSink {
	s := &lakeSink{ctx: ctx, l: l, work: make(chan batch, workers)}
	for range workers {
		s.wg.Go(func() {
			for b := range s.work {
				if _, err := lake.Write(ctx, l, b.edge, b.rows); err != nil {
					s.mu.Lock()
					s.err = errors.Join(s.err, err)
					s.mu.Unlock()
				}
			}
		})
	}
	return s
}

// Flows copies rows and hands them to a writer worker.
func (s *lakeSink) Flows(edge string, rows []schema.Flow) error {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	for i := range rows {
		s.bytes += rows[i].Bytes
	}
	s.rows += int64(len(rows))
	select {
	case s.work <- batch{edge, append([]schema.Flow(nil), rows...)}:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

func (s *lakeSink) close() error {
	close(s.work)
	s.wg.Wait()
	return s.err
}

// TCPConns drops the rows: the benchmark asks about flows only.
func (*lakeSink) TCPConns(string, []schema.TCPConn) error { return nil }

// TCPPackets drops the rows.
func (*lakeSink) TCPPackets(string, []schema.TCPPacket) error { return nil }

// DHCPEvents drops the rows.
func (*lakeSink) DHCPEvents(string, []schema.DHCPEvent) error { return nil }

// CloudConns drops the rows.
func (*lakeSink) CloudConns(string, []schema.CloudConn) error { return nil }

// FlowLoss drops the rows.
func (*lakeSink) FlowLoss(string, []schema.FlowLoss) error { return nil }
