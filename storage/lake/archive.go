package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// ArchivePrefix is where generated reports live in the lake's storage, next
// to the datasets: reports/<definition>/<period kind>/<period label>.<format>.
// Datasets never start with it, and Verify leaves it alone.
const ArchivePrefix = "reports/"

// ArchiveEntry names one archived report file: a definition's report over
// one period in one format. The same entry written again replaces it.
type ArchiveEntry struct {
	// Definition is the report definition's ID.
	Definition string `json:"definition"`
	// PeriodKind is daily, weekly, monthly, quarterly, yearly or custom.
	PeriodKind string `json:"period_kind"`
	// PeriodLabel names the period, e.g. 2026-10 or 2026-W44.
	PeriodLabel string `json:"period_label"`
	// Format is the file's format: html, pdf, xlsx or csv.
	Format string `json:"format"`
}

// validSegment reports whether s can be one element of an archive key:
// letters, digits, '-', '_' and '.', not hidden, not "." or "..".
func validSegment(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' || s[0] == '_' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Validate says which part of the entry cannot be part of a key.
func (e ArchiveEntry) Validate() error {
	for _, f := range []struct{ name, v string }{
		{"definition", e.Definition}, {"period kind", e.PeriodKind}, {"period label", e.PeriodLabel}, {"format", e.Format},
	} {
		if !validSegment(f.v) {
			return fmt.Errorf("archive entry: %s %q: want 1 to 128 letters, digits, '-', '_' or '.', not starting with '.' or '_'", f.name, f.v)
		}
	}
	if strings.Contains(e.Format, ".") {
		return fmt.Errorf("archive entry: format %q: no '.'", e.Format)
	}
	return nil
}

// Key returns the entry's storage key.
func (e ArchiveEntry) Key() string {
	return ArchivePrefix + e.Definition + "/" + e.PeriodKind + "/" + e.PeriodLabel + "." + e.Format
}

// ParseArchiveKey reads an archive key back into its entry.
func ParseArchiveKey(key string) (ArchiveEntry, error) {
	rest, ok := strings.CutPrefix(key, ArchivePrefix)
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 {
		return ArchiveEntry{}, fmt.Errorf("archive key %q: want %s<definition>/<period kind>/<label>.<format>", key, ArchivePrefix)
	}
	dot := strings.LastIndexByte(parts[2], '.')
	if dot < 0 {
		return ArchiveEntry{}, fmt.Errorf("archive key %q: no format extension", key)
	}
	e := ArchiveEntry{Definition: parts[0], PeriodKind: parts[1], PeriodLabel: parts[2][:dot], Format: parts[2][dot+1:]}
	if err := e.Validate(); err != nil {
		return ArchiveEntry{}, fmt.Errorf("archive key %q: %w", key, err)
	}
	return e, nil
}

// ArchivedReport is one file of the archive.
type ArchivedReport struct {
	ArchiveEntry
	Key  string `json:"key"`
	Size int64  `json:"size"`
	// Archived is when the file was written.
	Archived time.Time `json:"archived"`
}

// ArchiveFile is one file to archive.
type ArchiveFile struct {
	Entry ArchiveEntry
	Data  []byte
}

// Archive keeps generated reports in the lake's storage. It is safe for
// concurrent use.
type Archive struct {
	b Backend
}

// NewArchive returns the archive stored on b, the lake's backend.
func NewArchive(b Backend) *Archive { return &Archive{b: b} }

// Put archives the files of one run, all or none: every file is written
// and flushed before any is published, and when publishing one fails, the
// ones already published are deleted again. It returns the keys written.
func (a *Archive) Put(ctx context.Context, files []ArchiveFile) (keys []string, err error) {
	if len(files) == 0 {
		return nil, errors.New("archive: no files")
	}
	ups := make([]Upload, 0, len(files))
	defer func() {
		for _, u := range ups {
			err = errors.Join(err, u.Abort())
		}
	}()
	for _, f := range files {
		if err := f.Entry.Validate(); err != nil {
			return nil, fmt.Errorf("archive: %w", err)
		}
		key := f.Entry.Key()
		if slices.Contains(keys, key) {
			return nil, fmt.Errorf("archive: %s given twice", key)
		}
		u, err := a.b.Create(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("archive %s: %w", key, err)
		}
		ups = append(ups, u)
		if _, err := u.Write(f.Data); err != nil {
			return nil, fmt.Errorf("archive %s: write: %w", key, err)
		}
		if err := u.Flush(); err != nil {
			return nil, fmt.Errorf("archive %s: flush: %w", key, err)
		}
		keys = append(keys, key)
	}
	for i, u := range ups {
		err := ctx.Err()
		if err == nil {
			err = u.Commit()
		}
		if err != nil {
			var undo []error
			for _, k := range keys[:i] {
				undo = append(undo, a.b.Delete(context.WithoutCancel(ctx), k))
			}
			return nil, errors.Join(fmt.Errorf("archive %s: publish: %w", keys[i], err), errors.Join(undo...))
		}
	}
	return keys, nil
}

// List returns the archived reports, of one definition when definition is
// set, newest period first. Files under the prefix that are not archive
// entries are skipped.
func (a *Archive) List(ctx context.Context, definition string) ([]ArchivedReport, error) {
	prefix := ArchivePrefix
	if definition != "" {
		if !validSegment(definition) {
			return nil, fmt.Errorf("archive: definition %q: not an ID", definition)
		}
		prefix += definition + "/"
	}
	objs, err := a.b.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list archive: %w", err)
	}
	out := make([]ArchivedReport, 0, len(objs))
	for _, o := range objs {
		e, err := ParseArchiveKey(o.Key)
		if err != nil {
			continue
		}
		out = append(out, ArchivedReport{ArchiveEntry: e, Key: o.Key, Size: o.Size, Archived: o.ModTime.UTC()})
	}
	slices.SortStableFunc(out, func(x, y ArchivedReport) int {
		if c := strings.Compare(y.PeriodLabel, x.PeriodLabel); c != 0 {
			return c
		}
		return strings.Compare(x.Key, y.Key)
	})
	return out, nil
}

// Read returns the content of the archived file under key.
func (a *Archive) Read(ctx context.Context, key string) (ArchiveEntry, []byte, error) {
	e, err := ParseArchiveKey(key)
	if err != nil {
		return ArchiveEntry{}, nil, err
	}
	o, err := a.b.Open(ctx, key)
	if err != nil {
		return ArchiveEntry{}, nil, fmt.Errorf("open archived report %s: %w", key, err)
	}
	defer o.Close()
	data, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	if err != nil {
		return ArchiveEntry{}, nil, fmt.Errorf("read archived report %s: %w", key, err)
	}
	return e, data, nil
}

// Retain deletes the archived files written more than maxAge before now and
// returns their keys; maxAge 0 keeps everything.
func (a *Archive) Retain(ctx context.Context, maxAge time.Duration, now time.Time) ([]string, error) {
	if maxAge <= 0 {
		return nil, nil
	}
	all, err := a.List(ctx, "")
	if err != nil {
		return nil, err
	}
	cutoff := now.Add(-maxAge)
	var deleted []string
	for _, r := range all {
		if !r.Archived.Before(cutoff) {
			continue
		}
		if err := a.b.Delete(ctx, r.Key); err != nil {
			return deleted, fmt.Errorf("archive retention: delete %s: %w", r.Key, err)
		}
		deleted = append(deleted, r.Key)
	}
	return deleted, nil
}
