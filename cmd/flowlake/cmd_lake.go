package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/api"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

func (a *app) lakeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lake",
		Short: "Inspect and maintain the lake",
	}
	cmd.AddCommand(a.lakeStatsCommand(), a.lakeLsCommand(), a.lakeVerifyCommand(), a.lakeCompactCommand(), a.lakeRollupCommand())
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
	Files    int            `json:"files"` // files read completely
	Rows     int64          `json:"rows"`  // rows of the live files
	Problems []lake.Problem `json:"problems"`
}

func (a *app) lakeVerifyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Read every file of the lake; report corrupt or foreign ones and duplicated rows (exit 1 if any)",
		Long: `Read every file of the lake completely and report files that are not
readable segments, and rows found in two live files of one partition. Files
a running 'flowlake serve' replaces or deletes meanwhile are not problems.
A progress bar (or, when stderr is not a terminal, a line at every tenth)
shows how far it is; the summary says how many files it checked.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withLake(func(l *lake.Lake) error {
				progress, done := a.progressReport("lake verify", "files")
				res, err := l.VerifyProgress(cmd.Context(), progress)
				done()
				if err != nil {
					return fmt.Errorf("lake verify: %w", err)
				}
				if a.json {
					if err := a.printJSON(VerifyReport{Files: res.Files, Rows: res.Rows, Problems: append([]lake.Problem{}, res.Problems...)}); err != nil {
						return err
					}
				} else {
					for _, p := range res.Problems {
						fmt.Fprintf(a.stdout, "%s: %s\n", p.Key, p.Err)
					}
				}
				if n := len(res.Problems); n > 0 {
					fmt.Fprintf(a.stderr, "flowlake: lake verify: %d problem%s in %d file%s checked in %s\n", n, plural(n), res.Files, plural(res.Files), a.cfg.Lake.Root)
					return silentError{errors.New("lake verify found problems")}
				}
				if !a.json {
					fmt.Fprintf(a.stdout, "ok: %d file%s checked in %s, every one a readable segment, %d rows, none in two files\n",
						res.Files, plural(res.Files), a.cfg.Lake.Root, res.Rows)
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

// CompactReport is what `flowlake lake compact --json` prints.
type CompactReport struct {
	lake.CompactResult
	Rollups *query.RollupResult `json:"rollups,omitempty"` // rollups rebuilt afterwards
}

func (a *app) lakeCompactCommand() *cobra.Command {
	var before timeFlag
	var rollups bool
	cmd := &cobra.Command{
		Use:   "compact",
		Short: "Merge the segments of each hour partition that ended before --before",
		Long: `Merge the small segments of every hour partition that ended before --before
(default: now minus jobs.compact_after) into few large sorted files, as the
scheduled compaction of 'flowlake serve' does. It is safe to run while serve
(or another compact) works on the same lake: each partition is compacted
under a lock the processes share. Then, unless --rollups=false, the rollups
of the hours whose flows changed are rebuilt (as 'flowlake lake rollup'
does). A progress bar (or, when stderr is not a terminal, a line at every
tenth) shows how far it is.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t := before.t
			if t.IsZero() {
				t = time.Now().UTC().Add(-a.cfg.Jobs.CompactAfter)
			}
			return a.withLake(func(l *lake.Lake) error {
				progress, done := a.progressReport("lake compact", "partitions")
				res, err := l.CompactProgress(cmd.Context(), t, progress)
				done()
				if err != nil {
					return fmt.Errorf("lake compact: %w", err)
				}
				rep := CompactReport{CompactResult: res}
				if rollups && res.Partitions > 0 {
					rr, err := a.rebuildRollups(cmd.Context(), l, time.Time{}, t)
					if err != nil {
						return fmt.Errorf("lake compact: %w", err)
					}
					rep.Rollups = &rr
				}
				if a.json {
					return a.printJSON(rep)
				}
				saved := "n/a"
				if res.BytesBefore > 0 {
					saved = strconv.FormatFloat(100*(1-float64(res.BytesAfter)/float64(res.BytesBefore)), 'f', 1, 64) + " %"
				}
				_, err = fmt.Fprintf(a.stdout, "compacted %d partitions before %s: %d files into %d, %d rows, %s to %s (saved %s)\n",
					res.Partitions, t.Format(time.RFC3339), res.FilesBefore, res.FilesAfter, res.Rows,
					humanBytes(res.BytesBefore), humanBytes(res.BytesAfter), saved)
				if err == nil && rep.Rollups != nil {
					_, err = fmt.Fprintf(a.stdout, "rebuilt %d rollup segments, removed %d stale ones\n", len(rep.Rollups.Built), rep.Rollups.Removed)
				}
				return err
			})
		},
	}
	cmd.Flags().Var(&before, "before", "compact partitions that ended before this time (UTC; default now minus jobs.compact_after)")
	cmd.Flags().BoolVar(&rollups, "rollups", true, "rebuild the rollups of the compacted hours afterwards")
	return cmd
}

func (a *app) lakeRollupCommand() *cobra.Command {
	var from, to timeFlag
	cmd := &cobra.Command{
		Use:   "rollup",
		Short: "Rebuild the rollups of hours whose flows changed (outside serve)",
		Long: `Rebuild the flows rollups (flows_1m, flows_1h, flows_hosts_1h and flows_1d)
of every hour in [--from, --to) — default: all — whose rollup is missing or
was built from other flows segments (after a compaction, a retention pass or
a late upload), as serve's rollup job does, and the daily rollups of the
event datasets (tcp_conns_1d, dhcp_events_1d, cloud_conn_1d, flow_loss_1d)
of the days meeting that range whose raw segments changed. Until then
queries over those hours read raw rows: answers are right, only slower.
Safe to run while serve runs: each hour or day is rebuilt under a lock the
processes share.`,
		Example: `  flowlake lake rollup
  flowlake lake rollup --from 2026-11-01 --to 2026-11-02`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withLake(func(l *lake.Lake) error {
				res, err := a.rebuildRollups(cmd.Context(), l, from.t, to.t)
				if err != nil {
					return fmt.Errorf("lake rollup: %w", err)
				}
				if a.json {
					return a.printJSON(res)
				}
				_, err = fmt.Fprintf(a.stdout, "rebuilt %d rollup segments, removed %d stale ones\n", len(res.Built), res.Removed)
				return err
			})
		},
	}
	cmd.Flags().Var(&from, "from", "first hour to rebuild (UTC; default the first hour with flows)")
	cmd.Flags().Var(&to, "to", "end of the hours to rebuild, exclusive (UTC; default none)")
	return cmd
}

// rebuildRollups brings the rollups of [from, to) up to date.
func (a *app) rebuildRollups(ctx context.Context, l *lake.Lake, from, to time.Time) (query.RollupResult, error) {
	e := query.New(l, query.Config{}, a.logger)
	defer e.Close()
	res, err := e.MaintainRollupsIn(ctx, from, to)
	if err != nil {
		return res, fmt.Errorf("rebuild rollups: %w", err)
	}
	return res, nil
}
