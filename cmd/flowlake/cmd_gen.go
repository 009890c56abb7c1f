package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
)

// GenSummary is what `flowlake gen` prints when it is done.
type GenSummary struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Rate     float64   `json:"rate"`
	Seed     int64     `json:"seed"`
	Rows     int64     `json:"rows"`
	Bytes    int64     `json:"bytes"`
	Segments int64     `json:"segments"`
	Rollups  int       `json:"rollup_segments"` // rollup segments built afterwards
	// Replaced counts the rows of the segments --replace deleted.
	Replaced   int64   `json:"replaced_rows,omitempty"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_second"`
}

func (a *app) genCommand() *cobra.Command {
	d := DefaultConfig().Gen
	var (
		from, to timeFlag
		replace  bool
	)
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Generate synthetic telemetry into the lake",
		Long: `Generate a realistic network's telemetry (flows, TCP traces, DHCP events,
cloud connection states) into the lake, hour by hour. The range is
[--from, --to); --to defaults to now and --from to --days before --to.
The same seed, range and rate always give the same rows.

A range that already holds data is refused, since generating it again
would store every row twice; --replace generates it anew and then deletes
the segments it replaces (the range must then cover their whole hours).`,
		Example: `  flowlake gen --days 2 --rate 100
  flowlake gen --from 2026-11-01 --to 2026-11-02 --seed 7 --json
  flowlake gen --from 2026-11-01 --to 2026-11-02 --seed 8 --replace`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("from") && cmd.Flags().Changed("days") {
				return usageError{fmt.Errorf("--from and --days are exclusive")}
			}
			end := to.t
			if end.IsZero() {
				end = time.Now().UTC().Truncate(time.Second)
			}
			start := from.t
			if start.IsZero() {
				start = end.Add(-time.Duration(a.cfg.Gen.Days) * 24 * time.Hour)
			}
			if !end.After(start) {
				return usageError{fmt.Errorf("empty range: --to %s is not after --from %s", end.Format(time.RFC3339), start.Format(time.RFC3339))}
			}
			l, err := a.createLake()
			if err != nil {
				return err
			}
			sum, err := a.generateInto(cmd.Context(), l, start, end, replace)
			err = joinClose(err, l)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(sum)
			}
			return printGenSummary(a.stdout, sum)
		},
	}
	f := cmd.Flags()
	f.Var(&from, "from", "start of the range (UTC; default --days before --to)")
	f.Var(&to, "to", "end of the range, excluded (UTC; default now)")
	f.Int("days", d.Days, "days of history to generate, ending at --to")
	bind(f, "days", "gen.days")
	f.Float64("rate", d.Rate, "mean flow records per second")
	bind(f, "rate", "gen.rate")
	f.Int64("seed", d.Seed, "random seed")
	bind(f, "seed", "gen.seed")
	f.Int("workers", d.Workers, "concurrent lake writers")
	bind(f, "workers", "gen.workers")
	f.BoolVar(&replace, "replace", false, "delete the data already in the range (whole hours) once the new rows are written, instead of refusing")
	return cmd
}

// generateInto is gen's run: refuse a range that already holds data
// (unless replace), generate, then remove what the new rows replace.
func (a *app) generateInto(ctx context.Context, l *lake.Lake, start, end time.Time, replace bool) (GenSummary, error) {
	old, err := checkOverlap(ctx, l, start, end, replace)
	if err != nil {
		return GenSummary{}, err
	}
	return a.generate(ctx, l, start, end, a.cfg.Gen.Rate, old)
}

// joinClose closes l and joins its error to err.
func joinClose(err error, l *lake.Lake) error {
	if cerr := l.Close(); cerr != nil {
		if err != nil {
			return fmt.Errorf("%w (and close lake: %v)", err, cerr)
		}
		return fmt.Errorf("close lake: %w", cerr)
	}
	return err
}

// generate writes [start, end) at rate into l, showing progress on stderr
// from start to end (see progress), removes the replaced segments once the new rows are written (a
// failure before leaves both, never neither), and builds the rollups.
func (a *app) generate(ctx context.Context, l *lake.Lake, start, end time.Time, rate float64, replaced []lake.Segment) (GenSummary, error) {
	gc := gen.DefaultConfig()
	gc.Seed, gc.FlowsPerSecond, gc.Start, gc.End = a.cfg.Gen.Seed, rate, start, end
	g, err := gen.New(gc)
	if err != nil {
		return GenSummary{}, err
	}
	began := time.Now()
	var sink *lakeSink
	first := start.Truncate(time.Hour)
	hours := int64(ceilHour(end).Sub(first) / time.Hour)
	bar := a.newProgress("generate", "hours", hours)
	defer bar.Finish()
	detail := func() string {
		return fmt.Sprintf("%s rows, %s written", humanCount(sink.rows.Load()), humanBytes(sink.bytes.Load()))
	}
	onHour := func(hour time.Time) { // the hours before this one are generated
		bar.Set(int64(hour.Sub(first)/time.Hour), detail())
	}
	sink = newLakeSink(ctx, l, a.cfg.Gen.Workers, onHour)
	runErr := g.Run(ctx, sink)
	if runErr == nil {
		bar.Set(hours, detail())
	}
	stop := bar.Phase(ctx, "writing the last hours")
	err = sink.Close()
	stop()
	if err != nil {
		return GenSummary{}, fmt.Errorf("generate: %w", err)
	}
	if runErr != nil {
		return GenSummary{}, fmt.Errorf("generate: %w", runErr)
	}
	if len(replaced) > 0 {
		if err := l.Remove(ctx, replaced...); err != nil {
			return GenSummary{}, fmt.Errorf("replace: the new rows are written, but removing the %d replaced segments failed (run again with --replace to finish): %w", len(replaced), err)
		}
		a.logger.Info("replaced the data already in the range", "segments", describeSegments(replaced))
	}
	if err := l.Refresh(ctx); err != nil {
		return GenSummary{}, fmt.Errorf("refresh lake: %w", err)
	}
	// Build the rollups now, so the first queries are fast; `serve` keeps
	// them up to date from here on.
	stop = bar.Phase(ctx, "building rollups")
	rs, err := query.New(l, query.Config{}, a.logger).MaintainRollups(ctx)
	stop()
	if err != nil {
		return GenSummary{}, fmt.Errorf("build rollups: %w", err)
	}
	elapsed := time.Since(began)
	sum := GenSummary{
		From: start, To: end, Rate: rate, Seed: gc.Seed,
		Rows: sink.rows.Load(), Bytes: sink.bytes.Load(), Segments: sink.segments.Load(), Rollups: len(rs.Built),
		Seconds: elapsed.Seconds(),
	}
	for _, s := range replaced {
		sum.Replaced += s.Rows
	}
	if sum.Seconds > 0 {
		sum.RowsPerSec = float64(sum.Rows) / sum.Seconds
	}
	return sum, nil
}

func printGenSummary(w io.Writer, s GenSummary) error {
	_, err := fmt.Fprintf(w, "generated %s to %s at %g flows/s (seed %d): %d rows in %d segments, %s, %d rollup segments, %.1fs (%s rows/s)\n",
		s.From.Format(time.RFC3339), s.To.Format(time.RFC3339), s.Rate, s.Seed, s.Rows, s.Segments,
		humanBytes(s.Bytes), s.Rollups, s.Seconds, humanCount(int64(s.RowsPerSec)))
	return err
}
