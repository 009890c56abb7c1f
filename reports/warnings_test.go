package reports

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
)

// TestBuildCarriesWarnings damages one flows segment of a small lake: the
// report is still built, and Document.Warnings names the file the engine
// skipped, so every renderer prints that the numbers are incomplete.
func TestBuildCarriesWarnings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lcfg := lake.DefaultConfig()
	lcfg.Root = dir
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := gen.DefaultConfig()
	cfg.Start = time.Date(2026, 1, 7, 12, 0, 0, 0, time.UTC)
	cfg.End = cfg.Start.Add(20 * time.Minute)
	cfg.FlowsPerSecond, cfg.Sites = 1, 1
	c, err := gen.Collect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, half := range [][]int{{0, len(c.FlowRows) / 2}, {len(c.FlowRows) / 2, len(c.FlowRows)}} {
		if _, err := lake.Write(ctx, l, []string{"a", "b"}[i], c.FlowRows[half[0]:half[1]]); err != nil {
			t.Fatal(err)
		}
	}
	var victim string
	err = filepath.WalkDir(filepath.Join(dir, "flows"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && victim == "" && strings.HasSuffix(p, ".parquet") {
			victim = p
		}
		return err
	})
	if err != nil || victim == "" {
		t.Fatalf("no segment to damage: %v", err)
	}
	info, err := os.Stat(victim)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(victim, info.Size()/2); err != nil {
		t.Fatal(err)
	}
	key, _ := filepath.Rel(dir, victim)
	eng := query.New(l, query.Config{}, nil)
	defer eng.Close()
	p, err := ParsePeriod(Custom, "2026-01-07T12:00:00Z..2026-01-07T13:00:00Z", "UTC", cfg.End)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Build(ctx, eng, Definition{Type: TypeSummary}, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Warnings) != 1 || !strings.Contains(doc.Warnings[0], filepath.ToSlash(key)) {
		t.Fatalf("warnings %q, want one naming %s", doc.Warnings, key)
	}
	if f := doc.Sections[0].Figures[0]; f.Label != "Bytes" || f.Value == 0 {
		t.Errorf("the readable half is not reported: %+v", f)
	}
}
