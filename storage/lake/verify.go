package lake

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// VerifyResult is what a verification found.
type VerifyResult struct {
	Files    int       `json:"files"`    // files read completely
	Rows     int64     `json:"rows"`     // rows of the live files, each decoded and checked
	Problems []Problem `json:"problems"` // sorted by key
}

// rowHasher hashes rows with one seed, so equal rows of different files
// hash alike.
type rowHasher struct {
	seed maphash.Seed
	fn   func(uint64)
}

// Verify is VerifyProgress without progress reports, returning only the
// problems.
func (l *Lake) Verify(ctx context.Context) ([]Problem, error) {
	res, err := l.VerifyProgress(ctx, nil)
	return res.Problems, err
}

// VerifyProgress reads every file of the lake completely and reports those
// that are not readable segments — truncated or damaged files, foreign
// files, files of an unknown format version, files whose footer disagrees
// with their rows or their partition — and every row found in two live
// files of one partition. Readers skip unreadable files and say so in
// their answers; Verify is how an operator finds them. Files that vanish
// while it runs (a running serve's compaction or rollup rebuild replaced
// them) are not problems. progress (when not nil) hears of every file.
// The error is for failures of Verify itself.
func (l *Lake) VerifyProgress(ctx context.Context, progress func(Progress)) (VerifyResult, error) {
	var res VerifyResult
	objs, err := l.backend.List(ctx, "")
	if err != nil {
		return res, err
	}
	// Files are checked partition by partition, so row hashes are held for
	// one partition per worker at most.
	byPart := map[string][]ObjectInfo{}
	var parts []string
	var mu sync.Mutex
	var problems []Problem
	segments := 0
	for _, o := range objs {
		if strings.HasPrefix(o.Key, ArchivePrefix) {
			continue // the report archive (archive.go), not a dataset
		}
		if !strings.HasSuffix(o.Key, segmentExt) {
			problems = append(problems, Problem{Key: o.Key, Err: "not a segment: only <source>-<ulid>.parquet files belong in the lake"})
			continue
		}
		segments++
		dir := o.Key[:max(strings.LastIndexByte(o.Key, '/'), 0)]
		if byPart[dir] == nil {
			parts = append(parts, dir)
		}
		byPart[dir] = append(byPart[dir], o)
	}
	pr := newProgressReporter(progress, segments)
	var files atomic.Int64
	var rows atomic.Int64
	seed := maphash.MakeSeed()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, dir := range parts {
		g.Go(func() error {
			found, n, r, err := l.verifyPartition(gctx, byPart[dir], seed, func(key string, rows int64) {
				mu.Lock()
				defer mu.Unlock()
				pr.step(key, rows)
			})
			if err != nil {
				return err
			}
			files.Add(int64(n))
			rows.Add(r)
			mu.Lock()
			problems = append(problems, found...)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, fmt.Errorf("verify: %w", err)
	}
	slices.SortFunc(problems, func(a, b Problem) int { return strings.Compare(a.Key, b.Key) })
	return VerifyResult{Files: int(files.Load()), Rows: rows.Load(), Problems: problems}, nil
}

// verifyPartition checks the files of one folder, then that no row is in
// two of its live files. It returns the problems, the files checked and
// the rows of the live ones.
func (l *Lake) verifyPartition(ctx context.Context, objs []ObjectInfo, seed maphash.Seed, step func(string, int64)) ([]Problem, int, int64, error) {
	var problems []Problem
	entries := map[string]entry{}
	hashes := map[string][]uint64{}
	checked := 0
	for _, o := range objs {
		var hs []uint64
		err := l.verifyFile(ctx, o, &rowHasher{seed: seed, fn: func(h uint64) { hs = append(hs, h) }})
		if ctx.Err() != nil {
			return nil, 0, 0, ctx.Err()
		}
		if errors.Is(err, fs.ErrNotExist) {
			step(o.Key, 0)
			continue // replaced and deleted since the listing: not a problem
		}
		checked++
		if err != nil {
			problems = append(problems, Problem{Key: o.Key, Err: err.Error()})
			step(o.Key, 0)
			continue
		}
		e := l.readEntry(ctx, o)
		if errors.Is(e.openErr, fs.ErrNotExist) {
			checked--
			step(o.Key, 0)
			continue
		}
		entries[o.Key] = e
		hashes[o.Key] = hs
		step(o.Key, int64(len(hs)))
	}
	// Rows of the live files: each must be in one file only.
	type owned struct {
		h    uint64
		file int
	}
	var all []owned
	liveFiles := live(entries)
	var rows int64
	for i, e := range liveFiles {
		for _, h := range hashes[e.Key] {
			all = append(all, owned{h, i})
		}
		rows += int64(len(hashes[e.Key]))
	}
	slices.SortFunc(all, func(a, b owned) int { return cmp.Or(cmp.Compare(a.h, b.h), cmp.Compare(a.file, b.file)) })
	dup := map[[2]int]int{}
	for i := 1; i < len(all); i++ {
		if all[i].h == all[i-1].h && all[i].file != all[i-1].file {
			dup[[2]int{all[i-1].file, all[i].file}]++
		}
	}
	for _, pair := range slices.SortedFunc(maps.Keys(dup), func(a, b [2]int) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) }) {
		a, b := liveFiles[pair[0]].Key, liveFiles[pair[1]].Key
		problems = append(problems, Problem{Key: b, Err: fmt.Sprintf("duplicated rows: %d rows of this file are also in live file %s of the same partition", dup[pair], a)})
	}
	return problems, checked, rows, nil
}

func (l *Lake) verifyFile(ctx context.Context, o ObjectInfo, hash *rowHasher) error {
	ki, err := parseKey(o.Key)
	if err != nil {
		return err
	}
	obj, err := l.backend.Open(ctx, o.Key)
	if err != nil {
		return err
	}
	defer obj.Close()
	info, err := validate(ctx, obj, obj.Size(), hash)
	if err != nil {
		return err
	}
	if info.Dataset != ki.Dataset {
		return fmt.Errorf("%w: file of dataset %q under folder %q", ErrCorrupt, info.Dataset, ki.Dataset)
	}
	if err := checkHour(info.MinTime); err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err := checkHour(info.MaxTime); err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if hourOf(info.MinTime.UnixMicro()) != ki.Hour || hourOf(info.MaxTime.UnixMicro()) != ki.Hour {
		return fmt.Errorf("%w: rows from %s to %s outside partition hour %s", ErrCorrupt,
			info.MinTime.Format("2006-01-02T15:04:05Z"), info.MaxTime.Format("2006-01-02T15:04:05Z"), ki.Hour.Format("2006-01-02T15"))
	}
	return nil
}
