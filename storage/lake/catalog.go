package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/flowlake/flowlake/storage/schema"
)

// catalogKey is where the catalog caches what it read from footers, so
// opening a lake of thousands of segments reads no footer it has seen.
const catalogKey = "_catalog.json"

// catalogRefreshEvery bounds how stale the catalog may be about segments
// other processes publish; this process's own writes show at once.
const catalogRefreshEvery = 5 * time.Second

// partialCompactionGrace is how old the outputs of an incomplete compaction
// run must be before a refresh deletes them: younger ones may belong to a run
// still in progress in another process. Readers never see them either way.
const partialCompactionGrace = 30 * time.Minute

// entry is the catalog's record of one file.
type entry struct {
	Segment
	Size     int64     `json:"size"`
	ModTime  time.Time `json:"mod_time"`
	Replaces []string  `json:"replaces,omitempty"`   // inputs of the compaction that wrote it
	RunID    string    `json:"compaction,omitempty"` // that compaction's run id
	RunParts int       `json:"parts,omitempty"`      // how many files the run wrote
	Problem  string    `json:"problem,omitempty"`    // non-empty: unreadable or foreign, skipped by readers
	addedAt  time.Time // when this process published it; zero for listed files
}

// catalog indexes the lake's segments by dataset and time from their
// footers, cached in catalogKey.
type catalog struct {
	l        *Lake
	mu       sync.Mutex
	files    map[string]entry
	loaded   bool
	listedAt time.Time
	dirty    bool
	// view is the resolved, sorted snapshot of files, shared read-only by
	// callers until files changes (every change sets it to nil).
	view []entry
}

func newCatalog(l *Lake) *catalog { return &catalog{l: l, files: map[string]entry{}} }

// add records a segment this process just published.
func (c *catalog) add(e entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.files[e.Key] = e
	c.dirty = true
	c.view = nil
}

// remove forgets deleted files.
func (c *catalog) remove(keys ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		delete(c.files, k)
	}
	c.dirty = true
	c.view = nil
}

// refresh lists the lake and reads the footers of files it does not know,
// then finishes compactions a crash interrupted.
func (c *catalog) refresh(ctx context.Context) error {
	c.mu.Lock()
	if !c.loaded {
		c.loadCache(ctx)
		c.loaded = true
	}
	known := maps.Clone(c.files)
	c.mu.Unlock()
	listStart := time.Now()

	objs, err := c.l.backend.List(ctx, "")
	if err != nil {
		return err
	}
	fresh := make(map[string]entry, len(objs))
	var unknown []ObjectInfo
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, segmentExt) {
			continue
		}
		// Segments are immutable and uniquely named: key and size identify one.
		if e, ok := known[o.Key]; ok && e.Size == o.Size {
			fresh[o.Key] = e
			continue
		}
		unknown = append(unknown, o)
	}
	read := make([]entry, len(unknown))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0) * 2)
	for i, o := range unknown {
		g.Go(func() error {
			read[i] = c.l.readEntry(gctx, o)
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	bad := 0
	for _, e := range read {
		fresh[e.Key] = e
	}
	for _, e := range fresh {
		if e.Problem != "" {
			bad++
			c.l.log.Warn("skipping unreadable lake file", "key", e.Key, "problem", e.Problem)
		}
	}
	c.l.metrics.unreadable.Set(float64(bad))

	c.mu.Lock()
	// Keep what this process published while we listed.
	for k, e := range c.files {
		if _, ok := fresh[k]; !ok && e.addedAt.After(listStart) {
			fresh[k] = e
		}
	}
	c.files = fresh
	c.view = nil
	c.listedAt = time.Now()
	c.dirty = c.dirty || len(unknown) > 0 || len(objs) != len(known)
	c.mu.Unlock()
	return c.finishCompactions(ctx)
}

// readEntry reads one file's footer into a catalog entry; an unreadable
// file becomes an entry with a Problem rather than an error.
func (l *Lake) readEntry(ctx context.Context, o ObjectInfo) entry {
	e := entry{Size: o.Size, ModTime: o.ModTime}
	e.Key = o.Key
	e.Bytes = o.Size
	ki, err := parseKey(o.Key)
	if err != nil {
		e.Problem = err.Error()
		return e
	}
	e.Dataset, e.Source, e.Hour = ki.Dataset, ki.Source, ki.Hour
	obj, err := l.backend.Open(ctx, o.Key)
	if err != nil {
		e.Problem = err.Error()
		return e
	}
	defer obj.Close()
	f, err := openParquet(obj, obj.Size())
	if err != nil {
		e.Problem = err.Error()
		return e
	}
	fi, err := inspect(f)
	if err != nil {
		e.Problem = err.Error()
		return e
	}
	if fi.Dataset != ki.Dataset {
		e.Problem = fmt.Sprintf("%v: file of dataset %q under folder %q", ErrCorrupt, fi.Dataset, ki.Dataset)
		return e
	}
	if hourOf(fi.MinTime) != ki.Hour || hourOf(fi.MaxTime) != ki.Hour {
		e.Problem = fmt.Sprintf("%v: rows outside partition hour %s", ErrCorrupt, ki.Hour.Format(time.RFC3339))
		return e
	}
	e.Rows = fi.Rows
	e.MinTime, e.MaxTime = schema.FromMicros(fi.MinTime), schema.FromMicros(fi.MaxTime)
	e.setCompaction(fi.Replaces, fi.Compaction)
	return e
}

// setCompaction records compaction bookkeeping read from a footer.
func (e *entry) setCompaction(replaces, run string) {
	if replaces == "" || run == "" {
		return
	}
	id, parts, ok := strings.Cut(run, ":")
	n, err := strconv.Atoi(parts)
	if !ok || err != nil || n < 1 {
		e.Problem = fmt.Sprintf("%v: bad %s metadata %q", ErrCorrupt, metaCompaction, run)
		return
	}
	e.Replaces, e.RunID, e.RunParts = strings.Split(replaces, ","), id, n
}

// resolveCompactions splits files into the keys that complete compaction
// runs replace and the outputs of runs that never completed.
func resolveCompactions(files map[string]entry) (replaced, partial map[string]bool) {
	replaced, partial = map[string]bool{}, map[string]bool{}
	have := map[string]int{}
	for _, e := range files {
		if e.RunID != "" && e.Problem == "" {
			have[e.RunID]++
		}
	}
	for _, e := range files {
		if e.RunID == "" || e.Problem != "" {
			continue
		}
		if have[e.RunID] < e.RunParts {
			partial[e.Key] = true
			continue
		}
		for _, r := range e.Replaces {
			replaced[r] = true
		}
	}
	return replaced, partial
}

// finishCompactions completes what a crash interrupted: it deletes the
// inputs of complete compaction runs and the outputs of incomplete ones.
// Until then the catalog hides both.
func (c *catalog) finishCompactions(ctx context.Context) error {
	c.mu.Lock()
	replaced, partial := resolveCompactions(c.files)
	var leftovers []string
	for k := range c.files {
		if replaced[k] || partial[k] && time.Since(c.files[k].ModTime) > partialCompactionGrace {
			leftovers = append(leftovers, k)
		}
	}
	c.mu.Unlock()
	slices.Sort(leftovers)
	for _, k := range leftovers {
		c.l.log.Info("deleting leftover of an interrupted compaction", "key", k, "replaced", replaced[k])
		if err := c.l.backend.Delete(ctx, k); err != nil {
			return fmt.Errorf("finish compaction: %w", err)
		}
	}
	c.remove(leftovers...)
	return nil
}

// snapshot returns the catalog's entries, refreshing first when stale. The
// slice is shared: callers must not modify it.
func (c *catalog) snapshot(ctx context.Context) ([]entry, error) {
	c.mu.Lock()
	stale := time.Since(c.listedAt) > catalogRefreshEvery
	c.mu.Unlock()
	if stale {
		if err := c.refresh(ctx); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.view != nil {
		return c.view, nil
	}
	replaced, partial := resolveCompactions(c.files)
	out := make([]entry, 0, len(c.files))
	for _, e := range c.files {
		if !replaced[e.Key] && !partial[e.Key] {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(a.Key, b.Key) })
	c.view = out
	return out, nil
}

type catalogFile struct {
	Version int     `json:"version"`
	Files   []entry `json:"files"`
}

func (c *catalog) loadCache(ctx context.Context) {
	obj, err := c.l.backend.Open(ctx, catalogKey)
	if err != nil {
		return // no cache yet: every footer is read
	}
	defer obj.Close()
	var cf catalogFile
	if err := json.NewDecoder(io.NewSectionReader(obj, 0, obj.Size())).Decode(&cf); err != nil || cf.Version != 1 {
		c.l.log.Warn("ignoring unreadable catalog cache", "key", catalogKey, "err", err)
		return
	}
	for _, e := range cf.Files {
		c.files[e.Key] = e
	}
	c.view = nil
}

// save writes the catalog cache if it changed.
func (c *catalog) save(ctx context.Context) error {
	c.mu.Lock()
	if !c.dirty {
		c.mu.Unlock()
		return nil
	}
	cf := catalogFile{Version: 1}
	for _, e := range c.files {
		cf.Files = append(cf.Files, e)
	}
	c.dirty = false
	c.mu.Unlock()
	slices.SortFunc(cf.Files, func(a, b entry) int { return strings.Compare(a.Key, b.Key) })
	up, err := c.l.backend.Create(ctx, catalogKey)
	if err != nil {
		return fmt.Errorf("save catalog: %w", err)
	}
	defer up.Abort()
	if err := json.NewEncoder(up).Encode(cf); err != nil {
		return fmt.Errorf("save catalog: %w", err)
	}
	return up.Commit()
}
