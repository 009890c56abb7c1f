package lake

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"
)

// Verify reads every file of the lake completely and reports those that are
// not readable segments: truncated or damaged files, foreign files, files of
// an unknown format version, files whose footer disagrees with their rows
// or their partition. Readers skip such files with a warning; Verify is how
// an operator finds them. The error is for failures of Verify itself.
func (l *Lake) Verify(ctx context.Context) ([]Problem, error) {
	objs, err := l.backend.List(ctx, "")
	if err != nil {
		return nil, err
	}
	problems := make([]*Problem, len(objs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, o := range objs {
		if !strings.HasSuffix(o.Key, segmentExt) {
			problems[i] = &Problem{Key: o.Key, Err: "not a segment: only <source>-<ulid>.parquet files belong in the lake"}
			continue
		}
		g.Go(func() error {
			if err := l.verifyFile(gctx, o); err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				problems[i] = &Problem{Key: o.Key, Err: err.Error()}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	var out []Problem
	for _, p := range problems {
		if p != nil {
			out = append(out, *p)
		}
	}
	slices.SortFunc(out, func(a, b Problem) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (l *Lake) verifyFile(ctx context.Context, o ObjectInfo) error {
	ki, err := parseKey(o.Key)
	if err != nil {
		return err
	}
	obj, err := l.backend.Open(ctx, o.Key)
	if err != nil {
		return err
	}
	defer obj.Close()
	info, err := Validate(ctx, obj, obj.Size())
	if err != nil {
		return err
	}
	if info.Dataset != ki.Dataset {
		return fmt.Errorf("%w: file of dataset %q under folder %q", ErrCorrupt, info.Dataset, ki.Dataset)
	}
	if hourOf(info.MinTime.UnixMicro()) != ki.Hour || hourOf(info.MaxTime.UnixMicro()) != ki.Hour {
		return fmt.Errorf("%w: rows from %s to %s outside partition hour %s", ErrCorrupt,
			info.MinTime.Format("2006-01-02T15:04:05Z"), info.MaxTime.Format("2006-01-02T15:04:05Z"), ki.Hour.Format("2006-01-02T15"))
	}
	return nil
}
