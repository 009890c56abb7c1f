package lake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// ErrNotCovered marks a question to a Snapshot about partitions it was not
// made for: a snapshot from SnapshotOf covers its datasets and range only
// (unless the catalog had the whole lake). Ask Lake.Snapshot instead.
var ErrNotCovered = errors.New("outside the snapshot's datasets and range")

// FolderVersioner is implemented by backends that tell cheaply whether a
// folder's list of objects changed, so a reader checks the partitions it
// needs without listing them (FS: the directory's modification time).
type FolderVersioner interface {
	// FolderVersion returns a token that changes whenever an object is
	// added to or removed from folder name ("" when it cannot vouch for
	// one: the folder is then listed), and whether the folder exists.
	FolderVersion(ctx context.Context, name string) (version string, exists bool, err error)
	// Folders returns the names of folder name's direct subfolders,
	// hidden ones left out (none when it does not exist), so a reader of
	// a long range visits only the days the lake holds.
	Folders(ctx context.Context, name string) ([]string, error)
}

// scope is a part of the lake a snapshot vouches for.
type scope struct {
	dataset  string
	from, to time.Time
}

// SnapshotOf returns a snapshot that is current for datasets over
// [from, to): every hour partition of theirs that meets the range is
// checked against its folder's version and listed again only when it
// changed, and only their cached footers are read. A process that asks one
// hour of a large lake therefore neither lists nor reads the rest of it
// (docs/lake-format.md, "Catalog"). Within its scope it has every
// guarantee of Snapshot; outside, its Segments fail with ErrNotCovered
// unless the catalog already held the whole lake. A zero from or to, or a
// backend that cannot version folders, gives Snapshot's answer.
func (l *Lake) SnapshotOf(ctx context.Context, from, to time.Time, datasets ...string) (*Snapshot, error) {
	for _, ds := range datasets {
		if _, err := schema.Lookup(ds); err != nil {
			return nil, err
		}
	}
	vr, ok := l.backend.(FolderVersioner)
	if !ok || from.IsZero() || to.IsZero() {
		return l.Snapshot(ctx)
	}
	c := l.catalog
	c.mu.Lock()
	fresh := c.complete && time.Since(c.listedAt) <= catalogRefreshEvery
	c.mu.Unlock()
	if fresh {
		return l.Snapshot(ctx)
	}
	var scopes []scope
	for _, ds := range datasets {
		if err := c.verifyRange(ctx, vr, ds, from, to); err != nil {
			return nil, fmt.Errorf("catalog of %s: %w", ds, err)
		}
		scopes = append(scopes, scope{dataset: ds, from: from, to: to})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := *c.snapshotLocked()
	s.complete = c.complete
	s.scopes = scopes
	return &s, nil
}

// verifyRange brings the catalog up to date with the hour partitions of
// ds meeting [from, to): a missing day folder empties its hours, a folder
// whose version is the one last listed is left alone, any other is listed.
func (c *catalog) verifyRange(ctx context.Context, vr FolderVersioner, ds string, from, to time.Time) error {
	first := from.UTC().Truncate(time.Hour)
	days, err := c.daysMeeting(ctx, vr, ds, first, to)
	if err != nil {
		return err
	}
	for _, day := range days {
		var hours []string
		for h := max64(day, first); h.Before(day.Add(24*time.Hour)) && h.Before(to); h = h.Add(time.Hour) {
			if name := partitionKey(ds, h); !c.recentlyChecked(name) {
				hours = append(hours, name)
			}
		}
		if len(hours) == 0 {
			continue
		}
		_, exists, err := vr.FolderVersion(ctx, ds+"/dt="+day.Format(time.DateOnly))
		if err != nil {
			return err
		}
		for _, name := range hours {
			if err := c.verifyFolder(ctx, vr, name, exists); err != nil {
				return err
			}
		}
	}
	return nil
}

// daysMeeting returns the days of ds to check for [first, to), in order:
// within a day, that day; over a longer range, only the days whose folder
// exists or that the catalog holds (so that a gone one is emptied). The
// cost of a range is then what the lake holds, not what the calendar
// does: a query from 1970 to 2100 took 10 s and 1.4 GB walking its
// million hours (FuzzQueryRequest in CI).
func (c *catalog) daysMeeting(ctx context.Context, vr FolderVersioner, ds string, first, to time.Time) ([]time.Time, error) {
	firstDay := first.Truncate(24 * time.Hour)
	if !to.After(firstDay.Add(24 * time.Hour)) {
		if !to.After(first) {
			return nil, nil
		}
		return []time.Time{firstDay}, nil
	}
	names, err := vr.Folders(ctx, ds)
	if err != nil {
		return nil, err
	}
	set := map[time.Time]bool{}
	add := func(name string) {
		d, ok := strings.CutPrefix(name, "dt=")
		if !ok {
			return
		}
		if day, err := time.Parse(time.DateOnly, d); err == nil && !day.Before(firstDay) && day.Before(to) {
			set[day] = true
		}
	}
	for _, name := range names {
		add(name)
	}
	c.mu.Lock()
	c.loadRoot(ctx)
	for name := range c.folders {
		if rest, ok := strings.CutPrefix(name, ds+"/"); ok {
			add(rest[:max(strings.IndexByte(rest, '/'), 0)])
		}
	}
	c.mu.Unlock()
	days := make([]time.Time, 0, len(set))
	for day := range set {
		days = append(days, day)
	}
	slices.SortFunc(days, func(a, b time.Time) int { return a.Compare(b) })
	return days, nil
}

// recentlyChecked reports whether folder name was checked less than
// catalogRefreshEvery ago: the staleness the whole catalog allows too, so
// a report's many queries over one range check each folder once.
func (c *catalog) recentlyChecked(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.checked[name]
	return ok && c.now().Sub(at) <= catalogRefreshEvery
}

func max64(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// verifyFolder brings one partition folder up to date; dayExists false
// says its day folder is gone, and so it is.
func (c *catalog) verifyFolder(ctx context.Context, vr FolderVersioner, name string, dayExists bool) error {
	version, exists := "", false
	if dayExists {
		var err error
		if version, exists, err = vr.FolderVersion(ctx, name); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.checked[name] = c.now()
	c.loadRoot(ctx)
	c.loadDay(ctx, dayOf(name))
	f := c.folders[name]
	switch {
	case !exists:
		if f != nil {
			c.setFolder(name, map[string]entry{})
		}
		c.mu.Unlock()
		return nil
	case f != nil && version != "" && f.version == version:
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	if err := c.refreshPrefix(ctx, name+"/"); err != nil {
		return err
	}
	if version == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.folders[name]; f != nil && f.version != version {
		f.version = version
		c.dirtyDays[dayOf(name)] = true
	}
	return nil
}

// covers reports whether the snapshot vouches for ds over [from, to).
func (s *Snapshot) covers(ds string, from, to time.Time) bool {
	if s.complete {
		return true
	}
	for _, sc := range s.scopes {
		if sc.dataset == ds && !from.IsZero() && !to.IsZero() && !from.Before(sc.from) && !to.After(sc.to) {
			return true
		}
	}
	return false
}
