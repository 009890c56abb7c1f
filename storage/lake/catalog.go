package lake

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
	openErr  error     // why the file could not be opened, if it could not
}

// catalog indexes the lake's segments by partition folder from their
// footers, cached in catalogKey (catalog_index.go).
type catalog struct {
	l        *Lake
	mu       sync.Mutex
	folders  map[string]*folder // by partition folder
	count    int                // files in folders
	bad      int                // files with a Problem
	loaded   bool
	listedAt time.Time
	dirty    bool
	// snap is the current snapshot, shared read-only by callers; changed
	// names the folders whose views it does not hold yet.
	snap    *Snapshot
	changed map[string]bool
	// garbage names the folders holding files readers no longer see,
	// which collect may delete.
	garbage map[string]bool
	// complete is set once the whole lake was listed; before, the catalog
	// holds only the partitions readers asked for (SnapshotOf).
	complete bool
	// rootLoaded, days and dirtyDays track the cache (catalog_cache.go):
	// the day files read, and those to write at the next save.
	rootLoaded bool
	days       map[string]bool
	dirtyDays  map[string]bool
	// checked is when SnapshotOf last checked each partition folder, by
	// now (time.Now; tests move it).
	checked map[string]time.Time
	now     func() time.Time
}

func newCatalog(l *Lake) *catalog {
	return &catalog{l: l, folders: map[string]*folder{}, changed: map[string]bool{}, garbage: map[string]bool{},
		days: map[string]bool{}, dirtyDays: map[string]bool{}, checked: map[string]time.Time{}, now: time.Now}
}

// add records a segment this process just published.
func (c *catalog) add(e entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putEntry(e)
	c.dirty = true
}

// remove forgets deleted files.
func (c *catalog) remove(keys ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		c.dropEntry(k)
	}
	c.dirty = true
}

// refresh lists the lake and reads the footers of files it does not know,
// then deletes what replaced files' grace period allows.
func (c *catalog) refresh(ctx context.Context) error {
	if err := c.refreshPrefix(ctx, ""); err != nil {
		return err
	}
	return c.collect(ctx)
}

// ensureLoaded reads the catalog cache once. The caller holds c.mu.
func (c *catalog) ensureLoaded(ctx context.Context) {
	if !c.loaded {
		c.loadCache(ctx)
		c.loaded = true
	}
}

// refreshPrefix lists the files under prefix ("" for the whole lake, else
// a partition folder and its slash) and reads the footers of those it does
// not know; entries under prefix that are gone are forgotten, others are
// left alone. Only the folders whose files changed are touched, so a
// refresh that finds nothing new leaves the current snapshot valid.
func (c *catalog) refreshPrefix(ctx context.Context, prefix string) error {
	c.mu.Lock()
	if prefix == "" {
		c.ensureLoaded(ctx)
	} else {
		c.loadRoot(ctx)
		if d := dayOf(strings.TrimSuffix(prefix, "/")); d != "" {
			c.loadDay(ctx, d)
		}
	}
	known := map[string]entry{}
	if prefix == "" {
		for _, f := range c.folders {
			maps.Copy(known, f.files)
		}
	} else if f := c.folders[strings.TrimSuffix(prefix, "/")]; f != nil {
		maps.Copy(known, f.files)
	}
	c.mu.Unlock()
	listStart := time.Now()

	objs, err := c.l.backend.List(ctx, prefix)
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
	for _, e := range read {
		if errors.Is(e.openErr, fs.ErrNotExist) {
			continue // deleted since the listing (replaced, retained): not a problem
		}
		fresh[e.Key] = e
	}
	for _, e := range fresh {
		if _, seen := known[e.Key]; !seen && e.Problem != "" {
			c.l.log.Warn("skipping unreadable lake file", "key", e.Key, "problem", e.Problem)
		}
	}

	// The listing, by folder; every folder under prefix the catalog knows
	// is listed too, so that one whose files are all gone is emptied.
	byFolder := map[string]map[string]entry{}
	for k, e := range fresh {
		name := folderOf(k)
		if byFolder[name] == nil {
			byFolder[name] = map[string]entry{}
		}
		byFolder[name][k] = e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prefix == "" {
		for name := range c.folders {
			if byFolder[name] == nil {
				byFolder[name] = map[string]entry{}
			}
		}
	} else if name := strings.TrimSuffix(prefix, "/"); byFolder[name] == nil {
		byFolder[name] = map[string]entry{}
	}
	for name, files := range byFolder {
		// Keep what this process published while we listed.
		if f := c.folders[name]; f != nil {
			for k, e := range f.files {
				if _, ok := files[k]; !ok && e.addedAt.After(listStart) {
					files[k] = e
				}
			}
		}
		var old map[string]entry
		if f := c.folders[name]; f != nil {
			old = f.files
		}
		if sameFiles(old, files) {
			continue
		}
		c.setFolder(name, files)
	}
	c.l.metrics.unreadable.Set(float64(c.bad))
	if prefix == "" {
		c.listedAt = time.Now()
		c.complete = true
	}
	return nil
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
		e.Problem, e.openErr = err.Error(), err
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
	if !inTimeRange(fi.MinTime) || !inTimeRange(fi.MaxTime) {
		e.Problem = fmt.Sprintf("%v: %v", ErrCorrupt, ErrTimeRange)
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

// collect deletes the files no reader needs any more: inputs of complete
// compaction runs once the run is older than Config.ReplacedGrace (a
// reader that took its snapshot before the run may still open them), and
// outputs of runs that never completed once older than
// partialCompactionGrace. A file is deleted only when no other file it
// replaced is left, so a crash between deletions never brings back rows a
// later compaction merged (docs/lake-format.md, "Concurrency").
func (c *catalog) collect(ctx context.Context) error {
	c.mu.Lock()
	var leftovers []string
	now := time.Now()
	for name := range c.garbage {
		if f := c.folders[name]; f != nil {
			leftovers = append(leftovers, c.l.deletable(f.files, now)...)
		}
	}
	c.mu.Unlock()
	slices.Sort(leftovers)
	return c.l.deleteReplaced(ctx, leftovers)
}

// deletable returns the replaced and dead files of files that may be
// deleted at now, in a safe order.
func (l *Lake) deletable(files map[string]entry, now time.Time) []string {
	replacedAt := map[string]time.Time{} // input key → when its run committed
	have := map[string]int{}
	for _, e := range files {
		if e.RunID != "" && e.Problem == "" {
			have[e.RunID]++
		}
	}
	var out []string
	for _, e := range files {
		if e.RunID == "" || e.Problem != "" {
			continue
		}
		if have[e.RunID] < e.RunParts {
			if now.Sub(e.ModTime) > partialCompactionGrace {
				out = append(out, e.Key)
			}
			continue
		}
		for _, r := range e.Replaces {
			if t, ok := replacedAt[r]; !ok || e.ModTime.After(t) {
				replacedAt[r] = e.ModTime
			}
		}
	}
	for k, at := range replacedAt {
		e, ok := files[k]
		if !ok || now.Sub(at) <= l.cfg.ReplacedGrace {
			continue
		}
		// k's own inputs must go first: while any is left, k hides it.
		blocked := false
		for _, r := range e.Replaces {
			if _, left := files[r]; left {
				blocked = true
				break
			}
		}
		if !blocked {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// deleteReplaced deletes files that compaction replaced or that an
// interrupted run left, and forgets them.
func (l *Lake) deleteReplaced(ctx context.Context, keys []string) error {
	for _, k := range keys {
		l.log.Debug("deleting a file compaction replaced", "key", k)
		if err := l.backend.Delete(ctx, k); err != nil {
			return fmt.Errorf("delete replaced file: %w", err)
		}
		l.catalog.remove(k)
		l.metrics.deferredDeletes.WithLabelValues(datasetOfKey(k)).Inc()
	}
	return nil
}

// datasetOfKey is the first folder of a key.
func datasetOfKey(key string) string {
	d, _, _ := strings.Cut(key, "/")
	return d
}

// partition lists one hour partition afresh and returns all its files,
// replaced and unreadable ones included. Callers hold its lock.
func (c *catalog) partition(ctx context.Context, dataset string, hour time.Time) (map[string]entry, error) {
	name := partitionKey(dataset, hour)
	if err := c.refreshPrefix(ctx, name+"/"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.folders[name]; f != nil {
		return maps.Clone(f.files), nil
	}
	return map[string]entry{}, nil
}

// live returns the files of a partition readers see: neither replaced by
// a complete compaction run nor outputs of an incomplete one.
func live(files map[string]entry) []entry {
	replaced, partial := resolveCompactions(files)
	var out []entry
	for _, e := range files {
		if !replaced[e.Key] && !partial[e.Key] {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// snapshot returns the catalog's current snapshot, refreshing first when
// stale. Snapshots are immutable and shared: a new one is made only when
// a folder changed, and shares the views of every other folder.
func (c *catalog) snapshot(ctx context.Context) (*Snapshot, error) {
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
	snap := *c.snapshotLocked()
	snap.complete = true
	return &snap, nil
}
