package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flowlake/flowlake/jobs"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// Names of what the demo defines, so a second start finds them.
const (
	demoReportName = "Demo: summary"
	demoDaily      = "Demo daily"
	demoWeekly     = "Demo weekly"
)

// demoReports makes sure the demo's report definition and its daily and
// weekly schedules exist, and runs the daily schedule for yesterday now,
// so the archive holds a report as soon as the demo serves. The run is
// claimed like a scheduled one: the scheduler firing for the same day
// later finds it done.
func (a *app) demoReports(ctx context.Context, l *lake.Lake) ([]string, error) {
	store, err := a.openMeta(ctx)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	def, err := findOrCreate(ctx, store.ListReportDefinitions, func(d meta.ReportDefinition) string { return d.Name }, demoReportName,
		func() (meta.ReportDefinition, error) {
			return store.CreateReportDefinition(ctx, meta.ReportDefinitionInput{Name: demoReportName, Type: "summary", Formats: []string{"html", "xlsx"},
				Description: "The period's headline numbers against the previous period's, as HTML and Excel.",
				Params:      json.RawMessage(`{}`)})
		})
	if err != nil {
		return nil, err
	}
	var daily meta.ReportSchedule
	for _, s := range []struct{ name, period string }{{demoDaily, "daily"}, {demoWeekly, "weekly"}} {
		sc, err := findOrCreate(ctx, store.ListReportSchedules, func(s meta.ReportSchedule) string { return s.Name }, s.name,
			func() (meta.ReportSchedule, error) {
				return store.CreateReportSchedule(ctx, meta.ReportScheduleInput{Name: s.name, DefinitionID: def.ID, Period: s.period, Zone: "UTC"})
			})
		if err != nil {
			return nil, err
		}
		if s.period == "daily" {
			daily = sc
		}
	}
	engine := query.New(l, query.Config{}, a.logger)
	defer engine.Close()
	cfg := a.cfg.Reports
	cfg.SyncEvery, cfg.ArchiveMaxAge = 0, 0
	r, err := jobs.NewReports(cfg, jobs.ReportDeps{Store: store, Archive: lake.NewArchive(l.Backend()), Generator: jobs.Reporter{Engine: engine}, Logger: a.logger})
	if err != nil {
		return nil, err
	}
	// The fire time of yesterday's daily run: today 00:15 UTC, or now
	// before that (the run then covers the day before yesterday).
	at := time.Now().UTC().Truncate(24 * time.Hour).Add(time.Duration(daily.DelayMinutes) * time.Minute)
	if now := time.Now().UTC(); now.Before(at) {
		at = now
	}
	run, _, err := r.RunSchedule(ctx, daily.ID, at)
	if err != nil {
		return nil, fmt.Errorf("demo report: %w", err)
	}
	if len(run.ArchiveKeys) == 0 {
		return nil, fmt.Errorf("demo report: run %s of %s is %s: %s", run.ID, run.PeriodLabel, run.Status, run.Error)
	}
	return run.ArchiveKeys, nil
}

// findOrCreate returns the object named name from list, or create's.
func findOrCreate[T any](ctx context.Context, list func(context.Context) ([]T, error), name func(T) string, want string, create func() (T, error)) (T, error) {
	all, err := list(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	for _, v := range all {
		if name(v) == want {
			return v, nil
		}
	}
	return create()
}
