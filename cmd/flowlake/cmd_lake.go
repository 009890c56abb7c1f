package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/api"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

func (a *app) lakeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lake",
		Short: "Inspect and maintain the lake",
	}
	cmd.AddCommand(a.lakeStatsCommand(), a.lakeLsCommand(), a.lakeVerifyCommand(), a.lakeCompactCommand())
	return cmd
}

// withLake opens the lake, runs fn and closes the lake.
func (a *app) withLake(fn func(*lake.Lake) error) error {
	l, err := a.openLake()
	if err != nil {
		return err
	}
	return joinClose(fn(l), l)
}

func (a *app) lakeStatsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Print rows, bytes, bytes/row, files, partitions and time coverage per dataset",
		Long: `Print a line per dataset: rows, bytes on disk, bytes per row, files, hour
partitions, and the first and last event time. --json prints the same
document as GET /api/v1/datasets.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withLake(func(l *lake.Lake) error {
				stats, err := l.Stats(cmd.Context())
				if err != nil {
					return fmt.Errorf("lake stats: %w", err)
				}
				ds := api.DatasetsOf(stats)
				if a.json {
					return a.printJSON(api.DatasetsResponse{Datasets: ds})
				}
				tw := newTable(a.stdout, "DATASET", "ROWS", "BYTES", "BYTES/ROW", "FILES", "PARTITIONS", "FROM", "TO")
				for _, d := range ds {
					var from, to time.Time
					if d.MinTime != nil {
						from, to = *d.MinTime, *d.MaxTime
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f\t%d\t%d\t%s\t%s\n", d.Dataset, d.Rows, humanBytes(d.Bytes),
						d.BytesPerRow, d.Files, d.Partitions, tableTime(from), tableTime(to))
				}
				return tw.Flush()
			})
		},
	}
}

// SegmentList is what `flowlake lake ls --json` prints.
type SegmentList struct {
	Segments []lake.Segment `json:"segments"`
}

func (a *app) lakeLsCommand() *cobra.Command {
	var from, to timeFlag
	cmd := &cobra.Command{
		Use:   "ls [dataset]",
		Short: "List the segments of one dataset or all, optionally in a time range",
		Example: `  flowlake lake ls flows --from 2026-11-03T10 --to 2026-11-03T12
  flowlake lake ls --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{fmt.Errorf("lake ls takes at most one dataset, got %q", args)}
			}
			if len(args) == 1 {
				if _, err := schema.Lookup(args[0]); err != nil {
					return usageError{err}
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			names := schema.Names()
			if len(args) == 1 {
				names = args
			}
			return a.withLake(func(l *lake.Lake) error {
				list := SegmentList{Segments: []lake.Segment{}}
				for _, name := range names {
					segs, err := l.Segments(cmd.Context(), name, from.t, to.t)
					if err != nil {
						return fmt.Errorf("list %s: %w", name, err)
					}
					list.Segments = append(list.Segments, segs...)
				}
				if a.json {
					return a.printJSON(list)
				}
				tw := newTable(a.stdout, "DATASET", "HOUR", "SOURCE", "ROWS", "BYTES", "FROM", "TO", "KEY")
				for _, s := range list.Segments {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.Dataset, s.Hour.UTC().Format("2006-01-02T15"),
						s.Source, s.Rows, humanBytes(s.Bytes), tableTime(s.MinTime), tableTime(s.MaxTime), s.Key)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().Var(&from, "from", "only segments with rows at or after this time (UTC)")
	cmd.Flags().Var(&to, "to", "only segments with rows before this time (UTC)")
	return cmd
}

// VerifyReport is what `flowlake lake verify --json` prints.
type VerifyReport struct {
	Problems []lake.Problem `json:"problems"`
}

func (a *app) lakeVerifyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Read every file of the lake; report corrupt or foreign ones (exit 1 if any)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withLake(func(l *lake.Lake) error {
				problems, err := l.Verify(cmd.Context())
				if err != nil {
					return fmt.Errorf("lake verify: %w", err)
				}
				if a.json {
					if err := a.printJSON(VerifyReport{Problems: append([]lake.Problem{}, problems...)}); err != nil {
						return err
					}
				} else {
					for _, p := range problems {
						fmt.Fprintf(a.stdout, "%s: %s\n", p.Key, p.Err)
					}
				}
				if len(problems) > 0 {
					fmt.Fprintf(a.stderr, "flowlake: lake verify: %d problem%s in %s\n", len(problems), plural(len(problems)), a.cfg.Lake.Root)
					return silentError{errors.New("lake verify found problems")}
				}
				if !a.json {
					fmt.Fprintf(a.stdout, "ok: every file in %s is a readable segment\n", a.cfg.Lake.Root)
				}
				return nil
			})
		},
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func (a *app) lakeCompactCommand() *cobra.Command {
	var before timeFlag
	cmd := &cobra.Command{
		Use:   "compact",
		Short: "Merge the segments of each hour partition that ended before --before",
		Long: `Merge the small segments of every hour partition that ended before --before
(default: now minus jobs.compact_after) into few large sorted files, as the
scheduled compaction of 'flowlake serve' does.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t := before.t
			if t.IsZero() {
				t = time.Now().UTC().Add(-a.cfg.Jobs.CompactAfter)
			}
			return a.withLake(func(l *lake.Lake) error {
				res, err := l.Compact(cmd.Context(), t)
				if err != nil {
					return fmt.Errorf("lake compact: %w", err)
				}
				if a.json {
					return a.printJSON(res)
				}
				saved := "n/a"
				if res.BytesBefore > 0 {
					saved = strconv.FormatFloat(100*(1-float64(res.BytesAfter)/float64(res.BytesBefore)), 'f', 1, 64) + " %"
				}
				_, err = fmt.Fprintf(a.stdout, "compacted %d partitions before %s: %d files into %d, %d rows, %s to %s (saved %s)\n",
					res.Partitions, t.Format(time.RFC3339), res.FilesBefore, res.FilesAfter, res.Rows,
					humanBytes(res.BytesBefore), humanBytes(res.BytesAfter), saved)
				return err
			})
		},
	}
	cmd.Flags().Var(&before, "before", "compact partitions that ended before this time (UTC; default now minus jobs.compact_after)")
	return cmd
}
