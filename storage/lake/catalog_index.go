package lake

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// The catalog is indexed by partition folder ("<dataset>/dt=…/hr=HH"), and
// its snapshots by dataset and hour, so that what one hour of work costs
// (a rollup build, an upload, a compaction, a small query) does not grow
// with the lake: a change to one partition recomputes that partition's
// view only, and a new snapshot shares every other partition's view with
// the previous one (copy-on-write). Compaction runs, their replaced files
// and their partial outputs all live in one partition folder, so which
// files readers see is decided partition by partition.

// folder is one partition folder of the catalog: its files, and what
// readers see of them.
type folder struct {
	name    string    // the key prefix without its trailing slash
	dataset string    // "" when the folder is outside the layout
	hour    time.Time // the partition hour, when dataset is set
	files   map[string]entry
	bad     int // files with a Problem
	// version is the folder's version (FolderVersioner) when it was last
	// listed, "" when unknown or changed since: a reader that finds the
	// folder at this version needs not list it again.
	version string
}

// partView is what readers see of one folder: live(files), sorted by key.
// It is immutable once built and shared by every snapshot that holds it.
type partView struct {
	folder  string
	hour    time.Time
	entries []entry
}

// folderOf returns the folder part of a key ("" for a key at the root).
func folderOf(key string) string {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return ""
	}
	return key[:i]
}

// newFolder parses a folder name into a folder with no files.
func newFolder(name string) *folder {
	f := &folder{name: name, files: map[string]entry{}}
	if ds, hour, ok := parsePartition(name); ok {
		f.dataset, f.hour = ds, hour
	}
	return f
}

// parsePartition parses "<dataset>/dt=YYYY-MM-DD/hr=HH" as parseKey does.
func parsePartition(name string) (string, time.Time, bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 3 {
		return "", time.Time{}, false
	}
	dt, okDt := strings.CutPrefix(parts[1], "dt=")
	hr, okHr := strings.CutPrefix(parts[2], "hr=")
	if !okDt || !okHr {
		return "", time.Time{}, false
	}
	hour, err := time.Parse(time.DateOnly+" 15", dt+" "+hr)
	if err != nil {
		return "", time.Time{}, false
	}
	return parts[0], hour.UTC(), true
}

// hasGarbage reports whether the folder holds files readers no longer
// see: inputs of a complete compaction run, or outputs of an incomplete
// one. Only such folders have anything for collect to delete.
func (f *folder) hasGarbage() bool {
	runs := false
	for _, e := range f.files {
		if e.RunID != "" {
			runs = true
			break
		}
	}
	if !runs {
		return false
	}
	replaced, partial := resolveCompactions(f.files)
	if len(partial) > 0 {
		return true
	}
	for k := range replaced {
		if _, ok := f.files[k]; ok {
			return true
		}
	}
	return false
}

// view returns what readers see of f, or nil when that is nothing.
func (f *folder) view() *partView {
	entries := live(f.files)
	if len(entries) == 0 {
		return nil
	}
	return &partView{folder: f.name, hour: f.hour, entries: entries}
}

// setFolder replaces the files of one folder and records the change.
// The caller holds c.mu.
func (c *catalog) setFolder(name string, files map[string]entry) {
	f := c.folders[name]
	if f == nil {
		if len(files) == 0 {
			return
		}
		f = newFolder(name)
		c.folders[name] = f
	}
	c.count += len(files) - len(f.files)
	c.bad -= f.bad
	f.files = files
	f.bad = 0
	for _, e := range files {
		if e.Problem != "" {
			f.bad++
		}
	}
	c.bad += f.bad
	c.touch(f)
}

// touch records that folder f changed: the next snapshot rebuilds its
// view, and collect looks at it when it holds garbage. The caller holds
// c.mu.
func (c *catalog) touch(f *folder) {
	c.changed[f.name] = true
	f.version = ""
	if d := dayOf(f.name); d != "" {
		c.dirtyDays[d] = true
	} else {
		c.dirty = true
	}
	if f.hasGarbage() {
		c.garbage[f.name] = true
	} else {
		delete(c.garbage, f.name)
	}
	if len(f.files) == 0 {
		delete(c.folders, f.name)
	}
}

// putEntry adds or replaces one file. The caller holds c.mu.
func (c *catalog) putEntry(e entry) {
	name := folderOf(e.Key)
	f := c.folders[name]
	if f == nil {
		f = newFolder(name)
		c.folders[name] = f
	}
	if old, ok := f.files[e.Key]; ok {
		c.count--
		if old.Problem != "" {
			f.bad--
			c.bad--
		}
	}
	f.files[e.Key] = e
	c.count++
	if e.Problem != "" {
		f.bad++
		c.bad++
	}
	c.touch(f)
}

// dropEntry forgets one file. The caller holds c.mu.
func (c *catalog) dropEntry(key string) {
	f := c.folders[folderOf(key)]
	if f == nil {
		return
	}
	old, ok := f.files[key]
	if !ok {
		return
	}
	delete(f.files, key)
	c.count--
	if old.Problem != "" {
		f.bad--
		c.bad--
	}
	c.touch(f)
}

// sameFiles reports whether two listings of a folder name the same files
// with the same sizes.
func sameFiles(a, b map[string]entry) bool {
	if len(a) != len(b) {
		return false
	}
	for k, e := range a {
		o, ok := b[k]
		if !ok || o.Size != e.Size || o.Problem != e.Problem {
			return false
		}
	}
	return true
}

// rebuildThreshold is how many changed partitions of one dataset a new
// snapshot patches into a copy of the previous one's index; beyond it, the
// index is rebuilt and sorted whole (opening a lake, a full refresh).
const rebuildThreshold = 64

// snapshotLocked returns the current snapshot, patched with the folders
// that changed since the last one. The caller holds c.mu.
func (c *catalog) snapshotLocked() *Snapshot {
	if c.snap != nil && len(c.changed) == 0 {
		return c.snap
	}
	old := c.snap
	if old == nil {
		old = &Snapshot{byDataset: map[string][]*partView{}}
	}
	next := &Snapshot{byDataset: maps.Clone(old.byDataset), other: old.other, files: c.count}
	byDataset := map[string][]string{}
	otherChanged := false
	for name := range c.changed {
		ds, _, ok := parsePartition(name)
		if !ok {
			otherChanged = true
			continue
		}
		byDataset[ds] = append(byDataset[ds], name)
	}
	rebuild := map[string][]*partView{}
	for ds, names := range byDataset {
		if len(names) > rebuildThreshold {
			rebuild[ds] = nil
		}
	}
	if len(rebuild) > 0 {
		c.datasetViews(rebuild)
		for ds, views := range rebuild {
			if len(views) == 0 {
				delete(next.byDataset, ds)
			} else {
				next.byDataset[ds] = views
			}
		}
	}
	for ds, names := range byDataset {
		if len(names) > rebuildThreshold {
			continue
		}
		views := slices.Clone(next.byDataset[ds])
		for _, name := range names {
			_, hour, _ := parsePartition(name)
			i, found := slices.BinarySearchFunc(views, &partView{folder: name, hour: hour}, comparePartView)
			var v *partView
			if f := c.folders[name]; f != nil {
				v = f.view()
			}
			switch {
			case found && v != nil:
				views[i] = v
			case found:
				views = slices.Delete(views, i, i+1)
			case v != nil:
				views = slices.Insert(views, i, v)
			}
		}
		if len(views) == 0 {
			delete(next.byDataset, ds)
		} else {
			next.byDataset[ds] = views
		}
	}
	if otherChanged {
		next.other = nil
		for _, f := range c.folders {
			if f.dataset == "" {
				if v := f.view(); v != nil {
					next.other = append(next.other, v)
				}
			}
		}
		slices.SortFunc(next.other, comparePartView)
	}
	clear(c.changed)
	c.snap = next
	return next
}

// datasetViews builds the index of the datasets in out from scratch, in
// one pass over the folders. The caller holds c.mu.
func (c *catalog) datasetViews(out map[string][]*partView) {
	for _, f := range c.folders {
		if _, ok := out[f.dataset]; !ok || f.dataset == "" {
			continue
		}
		if v := f.view(); v != nil {
			out[f.dataset] = append(out[f.dataset], v)
		}
	}
	for _, views := range out {
		slices.SortFunc(views, comparePartView)
	}
}

// comparePartView orders views by hour, then folder name.
func comparePartView(a, b *partView) int {
	if c := a.hour.Compare(b.hour); c != 0 {
		return c
	}
	return strings.Compare(a.folder, b.folder)
}

// hourRange returns the views of a dataset's index whose hour overlaps
// [from, to); a zero from or to leaves that side open.
func hourRange(views []*partView, from, to time.Time) []*partView {
	lo, hi := 0, len(views)
	if !from.IsZero() {
		lo = sort.Search(len(views), func(i int) bool { return views[i].hour.Add(time.Hour).After(from) })
	}
	if !to.IsZero() {
		hi = sort.Search(len(views), func(i int) bool { return !views[i].hour.Before(to) })
	}
	if lo >= hi {
		return nil
	}
	return views[lo:hi]
}

// entries returns every file of the snapshot, sorted by dataset, hour and
// key, with files outside the layout last.
func (s *Snapshot) entries() []entry {
	out := make([]entry, 0, s.files)
	for _, ds := range slices.Sorted(maps.Keys(s.byDataset)) {
		for _, v := range s.byDataset[ds] {
			out = append(out, v.entries...)
		}
	}
	for _, v := range s.other {
		out = append(out, v.entries...)
	}
	return out
}
