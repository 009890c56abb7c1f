package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
)

// The catalog cache (docs/lake-format.md, "Catalog") is split by dataset
// and day, so a process that reads one hour reads the footers of that
// day's partitions only, not the whole lake's:
//
//	_catalog.json                          version 2; files outside the layout
//	_catalog/<dataset>/dt=YYYY-MM-DD.json  that day's partition folders: each
//	                                       folder's version and its files
//
// A version-1 _catalog.json (every file in one document) is read once,
// whole, and rewritten in the split form at the next save.

// catalogVersion is the version of the catalog cache written.
const catalogVersion = 2

// catalogDayPrefix is where the per-day cache files live; List hides it
// from the lake's listings (names starting with "_").
const catalogDayPrefix = "_catalog/"

type catalogFile struct {
	Version int     `json:"version"`
	Files   []entry `json:"files"`
}

// dayFile is one day's cache file.
type dayFile struct {
	Version int         `json:"version"`
	Folders []dayFolder `json:"folders"`
}

type dayFolder struct {
	Name    string  `json:"name"`
	Version string  `json:"version,omitempty"` // the folder's version when listed
	Files   []entry `json:"files"`
}

// dayOf returns the day key ("<dataset>/dt=YYYY-MM-DD") of a partition
// folder, or "" for a folder outside the layout.
func dayOf(name string) string {
	if _, _, ok := parsePartition(name); !ok {
		return ""
	}
	return name[:strings.LastIndexByte(name, '/')]
}

// dayCacheKey is the cache file of a day key.
func dayCacheKey(day string) string { return catalogDayPrefix + day + ".json" }

// loadCache reads the whole catalog cache: the root file and every day's.
// The caller holds c.mu.
func (c *catalog) loadCache(ctx context.Context) {
	c.loadRoot(ctx)
	objs, err := c.l.backend.List(ctx, catalogDayPrefix)
	if err != nil {
		c.l.log.Warn("ignoring unreadable catalog cache", "key", catalogDayPrefix, "err", err)
		return
	}
	for _, o := range objs {
		day, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, catalogDayPrefix), ".json")
		if ok && !c.days[day] {
			c.loadDay(ctx, day)
		}
	}
}

// loadRoot reads _catalog.json once. The caller holds c.mu.
func (c *catalog) loadRoot(ctx context.Context) {
	if c.rootLoaded {
		return
	}
	c.rootLoaded = true
	obj, err := c.l.backend.Open(ctx, catalogKey)
	if err != nil {
		// No cache yet: every footer is read, and the cache is written
		// at the next save even if the lake is empty, since it is what
		// marks a directory as a lake for the commands that only read.
		c.dirty = true
		return
	}
	defer obj.Close()
	var cf catalogFile
	if err := json.NewDecoder(io.NewSectionReader(obj, 0, obj.Size())).Decode(&cf); err != nil || cf.Version != 1 && cf.Version != catalogVersion {
		c.l.log.Warn("ignoring unreadable catalog cache", "key", catalogKey, "err", err, "version", cf.Version)
		c.dirty = true
		return
	}
	byFolder := map[string]map[string]entry{}
	for _, e := range cf.Files {
		if !trustCached(e) {
			continue
		}
		name := folderOf(e.Key)
		if byFolder[name] == nil {
			byFolder[name] = map[string]entry{}
		}
		byFolder[name][e.Key] = e
	}
	for name, files := range byFolder {
		if c.folders[name] != nil {
			continue // read afresh already
		}
		c.setFolder(name, files)
		if d := dayOf(name); cf.Version == 1 && d != "" {
			// A version-1 cache holds every day: rewritten in the split
			// form at the next save (setFolder marked the day changed).
			c.days[d] = true
		}
	}
	if cf.Version == 1 {
		c.dirty = true
	}
}

// loadDay reads one day's cache file, once; folders this process already
// holds are left as they are (they are as fresh or fresher). The caller
// holds c.mu.
func (c *catalog) loadDay(ctx context.Context, day string) {
	if c.days[day] {
		return
	}
	c.days[day] = true
	wasDirty := c.dirtyDays[day]
	key := dayCacheKey(day)
	obj, err := c.l.backend.Open(ctx, key)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.l.log.Warn("ignoring unreadable catalog cache", "key", key, "err", err)
		}
		return
	}
	defer obj.Close()
	var df dayFile
	if err := json.NewDecoder(io.NewSectionReader(obj, 0, obj.Size())).Decode(&df); err != nil || df.Version != catalogVersion {
		c.l.log.Warn("ignoring unreadable catalog cache", "key", key, "err", err, "version", df.Version)
		c.dirtyDays[day] = true
		return
	}
	for _, df := range df.Folders {
		if c.folders[df.Name] != nil || dayOf(df.Name) != day {
			continue
		}
		files := make(map[string]entry, len(df.Files))
		for _, e := range df.Files {
			if folderOf(e.Key) == df.Name && trustCached(e) {
				files[e.Key] = e
			}
		}
		// The folder's version is not taken from the file: another
		// process's (version, files) pair could be out of step under
		// concurrent compaction (TestLakeCompactProcessesWhileQuerying lost
		// an hour's rows 4 times in 27 loaded runs while it was), so this
		// process lists the folder once itself; the entries spare it the
		// footers.
		c.setFolder(df.Name, files)
	}
	if !wasDirty {
		delete(c.dirtyDays, day) // what was just read needs no writing
	}
}

// trustCached reports whether a cached entry may stand for its file
// without reading the footer again. A readable file's entry may: segments
// are immutable. An unreadable one's may not: what a build cannot read, a
// later one may (a segment written before its dataset gained optional
// columns, docs/lake-format.md "Schema evolution"), so each process judges
// such a file once itself instead of skipping it forever on the word of
// the build that wrote the cache.
func trustCached(e entry) bool { return e.Problem == "" }

// cacheable reports whether JSON can hold an entry's times; one it cannot
// is left out of the cache (its footer is read again next time) rather
// than failing the save.
func cacheable(e entry) bool {
	return (checkHour(e.MinTime) == nil || e.MinTime.IsZero()) && (checkHour(e.MaxTime) == nil || e.MaxTime.IsZero()) &&
		(checkHour(e.Hour) == nil || e.Hour.IsZero())
}

// save writes the parts of the catalog cache that changed: the day files
// of the folders that changed, and the root file.
func (c *catalog) save(ctx context.Context) error {
	c.mu.Lock()
	if !c.dirty && len(c.dirtyDays) == 0 {
		c.mu.Unlock()
		return nil
	}
	// A file is rewritten whole: first read what it holds that this
	// process never loaded (a writer that touched a day it never read),
	// so the rewrite keeps the other folders' footers.
	c.loadRoot(ctx)
	for day := range c.dirtyDays {
		c.loadDay(ctx, day)
	}
	days := map[string]*dayFile{}
	for day := range c.dirtyDays {
		days[day] = &dayFile{Version: catalogVersion}
	}
	root := catalogFile{Version: catalogVersion, Files: []entry{}}
	for name, f := range c.folders {
		day := dayOf(name)
		var files []entry
		for _, e := range f.files {
			if cacheable(e) {
				files = append(files, e)
			}
		}
		if day == "" {
			root.Files = append(root.Files, files...)
			continue
		}
		if df := days[day]; df != nil {
			slices.SortFunc(files, func(a, b entry) int { return strings.Compare(a.Key, b.Key) })
			df.Folders = append(df.Folders, dayFolder{Name: name, Version: f.version, Files: files})
		}
	}
	writeRoot := c.dirty
	c.dirty = false
	clear(c.dirtyDays)
	c.mu.Unlock()

	for _, day := range slices.Sorted(maps.Keys(days)) {
		df := days[day]
		slices.SortFunc(df.Folders, func(a, b dayFolder) int { return strings.Compare(a.Name, b.Name) })
		key := dayCacheKey(day)
		if len(df.Folders) == 0 {
			if err := c.l.backend.Delete(ctx, key); err != nil {
				return fmt.Errorf("save catalog: %w", err)
			}
			continue
		}
		if err := c.writeJSON(ctx, key, df); err != nil {
			return err
		}
	}
	if !writeRoot {
		return nil
	}
	slices.SortFunc(root.Files, func(a, b entry) int { return strings.Compare(a.Key, b.Key) })
	return c.writeJSON(ctx, catalogKey, root)
}

// writeJSON stores v under key atomically.
func (c *catalog) writeJSON(ctx context.Context, key string, v any) error {
	up, err := c.l.backend.Create(ctx, key)
	if err != nil {
		return fmt.Errorf("save catalog: %w", err)
	}
	defer up.Abort()
	if err := json.NewEncoder(up).Encode(v); err != nil {
		return fmt.Errorf("save catalog %s: %w", key, err)
	}
	if err := up.Commit(); err != nil {
		return fmt.Errorf("save catalog %s: %w", key, err)
	}
	return nil
}
