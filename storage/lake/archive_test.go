package lake

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// failingCommits wraps a real backend and fails the Commit of the nth
// upload created (1-based): a storage that breaks in the middle of a run.
type failingCommits struct {
	Backend
	n, created int
}

func (f *failingCommits) Create(ctx context.Context, key string) (Upload, error) {
	u, err := f.Backend.Create(ctx, key)
	f.created++
	if err != nil || f.created != f.n {
		return u, err
	}
	return failingUpload{u}, nil
}

type failingUpload struct{ Upload }

func (failingUpload) Commit() error { return errors.New("disk full") }

func monthlyEntry(format string) ArchiveEntry {
	return ArchiveEntry{Definition: "01JDEF", PeriodKind: "monthly", PeriodLabel: "2026-10", Format: format}
}

func TestArchivePutListReadRetain(t *testing.T) {
	l := testLake(t)
	a := NewArchive(l.Backend())
	ctx := t.Context()
	keys, err := a.Put(ctx, []ArchiveFile{{monthlyEntry("pdf"), []byte("%PDF-1.7 ...")}, {monthlyEntry("html"), []byte("<html></html>")}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "reports/01JDEF/monthly/2026-10.pdf,reports/01JDEF/monthly/2026-10.html"; strings.Join(keys, ",") != want {
		t.Fatalf("keys %v, want %s", keys, want)
	}
	other := ArchiveEntry{Definition: "01JOTHER", PeriodKind: "daily", PeriodLabel: "2026-10-25", Format: "csv"}
	if _, err := a.Put(ctx, []ArchiveFile{{other, []byte("a,b\n")}}); err != nil {
		t.Fatal(err)
	}
	list, err := a.List(ctx, "01JDEF")
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if list[0].Format != "html" || list[0].Size != int64(len("<html></html>")) {
		t.Fatalf("first entry %+v", list[0])
	}
	e, data, err := a.Read(ctx, other.Key())
	if err != nil || e != other || string(data) != "a,b\n" {
		t.Fatalf("Read = %+v %q %v", e, data, err)
	}
	if _, _, err := a.Read(ctx, "flows/dt=2026-10-01/hr=00/x.parquet"); err == nil {
		t.Fatal("Read outside the archive succeeded")
	}
	// The archive is no problem for Verify.
	res, err := l.VerifyProgress(ctx, nil)
	if err != nil || len(res.Problems) != 0 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	// Retention by age: age the first definition's files.
	old := time.Now().Add(-40 * 24 * time.Hour)
	for _, k := range keys {
		if err := os.Chtimes(filepath.Join(l.Config().Root, filepath.FromSlash(k)), old, old); err != nil {
			t.Fatal(err)
		}
	}
	deleted, err := a.Retain(ctx, 30*24*time.Hour, time.Now())
	if err != nil || len(deleted) != 2 {
		t.Fatalf("Retain deleted %v, %v; want the two old files", deleted, err)
	}
	list, err = a.List(ctx, "")
	if err != nil || len(list) != 1 || list[0].ArchiveEntry != other {
		t.Fatalf("after retention: %+v, %v", list, err)
	}
}

// TestArchivePutAllOrNothing: when publishing the second of three files
// fails, none of the run's files is visible afterwards, nor any temporary.
func TestArchivePutAllOrNothing(t *testing.T) {
	l := testLake(t)
	a := NewArchive(&failingCommits{Backend: l.Backend(), n: 2})
	_, err := a.Put(t.Context(), []ArchiveFile{{monthlyEntry("pdf"), []byte("a")}, {monthlyEntry("html"), []byte("b")}, {monthlyEntry("xlsx"), []byte("c")}})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Put error %v, want the failed publish", err)
	}
	list, err := NewArchive(l.Backend()).List(t.Context(), "")
	if err != nil || len(list) != 0 {
		t.Fatalf("half-written archive entry left: %+v, %v", list, err)
	}
	var files []string
	_ = filepath.WalkDir(l.Config().Root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, "reports") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Fatalf("files left on disk: %v", files)
	}
}

func TestArchiveKeys(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"reports/01J/monthly/2026-10.pdf", true},
		{"reports/01J/custom/2026-10-01..2026-10-15.xlsx", true},
		{"reports/01J/monthly/2026-10", false},
		{"reports/../monthly/2026-10.pdf", false},
		{"reports/01J/monthly/.hidden.pdf", false},
		{"reports/01J/a/b/c.pdf", false},
		{"flows/01J/monthly/2026-10.pdf", false},
	} {
		t.Run(tc.key, func(t *testing.T) {
			e, err := ParseArchiveKey(tc.key)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseArchiveKey = %+v, %v; want ok=%v", e, err, tc.ok)
			}
			if tc.ok && e.Key() != tc.key {
				t.Fatalf("round trip %q → %q", tc.key, e.Key())
			}
		})
	}
	if err := (ArchiveEntry{Definition: "a/b", PeriodKind: "daily", PeriodLabel: "x", Format: "pdf"}).Validate(); err == nil {
		t.Fatal("a definition with a slash validated")
	}
}

// FuzzParseArchiveKey: any key (the API builds one from URL path segments)
// parses or fails with an error, never panics, and a parsed key is the key
// of its entry, inside the archive, with no hidden or parent elements.
func FuzzParseArchiveKey(f *testing.F) {
	for _, s := range []string{"reports/01J/monthly/2026-10.pdf", "reports/01J/custom/2026-10-01..2026-10-15.xlsx",
		"reports/../x/y.pdf", "reports/a/b/.c.pdf", "reports/a/b/c", "reports//b/c.pdf", "reports/a/b/c.d.e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		e, err := ParseArchiveKey(key)
		if err != nil {
			return
		}
		if e.Key() != key {
			t.Fatalf("%q parsed to %+v whose key is %q", key, e, e.Key())
		}
		for _, part := range strings.Split(strings.TrimPrefix(key, ArchivePrefix), "/") {
			if part == ".." || part == "." || strings.HasPrefix(part, ".") || strings.HasPrefix(part, "_") || part == "" {
				t.Fatalf("%q accepted with element %q", key, part)
			}
		}
	})
}
