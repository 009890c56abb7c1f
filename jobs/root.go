package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
)

// Job names, as they appear in logs and in the metrics' job label.
const (
	JobCompaction = "compaction"
	JobRetention  = "retention"
	JobRollups    = "rollups"
)

// Maintainer is what the jobs need from the lake. *lake.Lake implements it.
type Maintainer interface {
	// Compact merges the segments of hour partitions that ended before
	// the given instant.
	Compact(ctx context.Context, before time.Time) (lake.CompactResult, error)
	// Retain deletes what the policy no longer keeps at time now.
	Retain(ctx context.Context, p lake.RetentionPolicy, now time.Time) (lake.RetentionResult, error)
}

// RollupMaintainer brings the flows rollups up to date. *query.Engine
// implements it.
type RollupMaintainer interface {
	MaintainRollups(ctx context.Context) (query.RollupResult, error)
}

// Deps are what the scheduler works with; Lake is required.
type Deps struct {
	// Lake is compacted and pruned by the jobs.
	Lake Maintainer
	// Rollups, when set, are maintained every Config.RollupEvery.
	Rollups RollupMaintainer
	// Clock drives the schedule and gives the jobs their notion of now;
	// nil means the real clock.
	Clock clockwork.Clock
	// Logger receives a line per run; nil discards.
	Logger *slog.Logger
	// Registerer receives the jobs' metrics; nil keeps them in a private
	// registry (never the process-global one).
	Registerer prometheus.Registerer
}

// Scheduler runs the maintenance jobs. Create it with New, then Start and
// Stop it.
type Scheduler struct {
	cfg     Config
	lake    Maintainer
	rollups RollupMaintainer
	clock   clockwork.Clock
	logger  *slog.Logger
	metrics *metrics
	sched   gocron.Scheduler

	mu      sync.Mutex
	started bool
	stopped bool
}

// New validates the configuration and prepares a scheduler; nothing runs
// before Start.
func New(cfg Config, deps Deps) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("jobs config: %w", err)
	}
	if deps.Lake == nil {
		return nil, errors.New("jobs: no lake")
	}
	if deps.Clock == nil {
		deps.Clock = clockwork.NewRealClock()
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Registerer == nil {
		deps.Registerer = prometheus.NewRegistry()
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, fmt.Errorf("jobs metrics: %w", err)
	}
	logger := deps.Logger.With("component", "jobs")
	sched, err := gocron.NewScheduler(
		gocron.WithClock(deps.Clock),
		gocron.WithLocation(time.UTC),
		gocron.WithLogger(logger),
		gocron.WithStopTimeout(cfg.StopTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("jobs scheduler: %w", err)
	}
	return &Scheduler{cfg: cfg, lake: deps.Lake, rollups: deps.Rollups, clock: deps.Clock, logger: logger, metrics: m, sched: sched}, nil
}

// Start schedules the enabled jobs and starts the scheduler. Each job
// first runs one interval after Start, then one interval after its
// previous run completed, so two runs of a job never overlap. Cancelling
// ctx cancels running jobs and ends the schedule.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("jobs: already started")
	}
	s.started = true
	type job struct {
		name  string
		every time.Duration
		run   func(context.Context) error
	}
	jobs := []job{
		{JobCompaction, s.cfg.CompactEvery, func(ctx context.Context) error { _, err := s.RunCompaction(ctx); return err }},
		{JobRetention, s.cfg.RetentionEvery, func(ctx context.Context) error { _, err := s.RunRetention(ctx); return err }},
	}
	if s.rollups != nil {
		jobs = append(jobs, job{JobRollups, s.cfg.RollupEvery, func(ctx context.Context) error { _, err := s.RunRollups(ctx); return err }})
	}
	for _, j := range jobs {
		if j.every == 0 {
			s.logger.Info("job disabled", "job", j.name)
			continue
		}
		_, err := s.sched.NewJob(
			gocron.DurationJob(j.every),
			gocron.NewTask(func(ctx context.Context) { _ = j.run(ctx) }), // run logs and counts its own errors
			gocron.WithName(j.name),
			// The next run is scheduled when a run completes, so a long
			// run never overlaps the next one nor piles runs up behind it;
			// singleton mode guards the same promise inside gocron.
			gocron.WithIntervalFromCompletion(),
			gocron.WithSingletonMode(gocron.LimitModeWait),
			gocron.WithContext(ctx),
		)
		if err != nil {
			return fmt.Errorf("schedule %s: %w", j.name, err)
		}
		s.logger.Info("job scheduled", "job", j.name, "every", j.every.String())
	}
	s.sched.Start()
	return nil
}

// Stop ends the schedule, cancels running jobs and waits for them up to
// Config.StopTimeout. It is safe to call more than once, and before Start.
func (s *Scheduler) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	if err := s.sched.Shutdown(); err != nil {
		return fmt.Errorf("jobs shutdown: %w", err)
	}
	return nil
}

// RunCompaction runs one compaction pass now, as the schedule does:
// partitions whose hour ended more than Config.CompactAfter ago are
// compacted.
func (s *Scheduler) RunCompaction(ctx context.Context) (lake.CompactResult, error) {
	start := s.clock.Now()
	before := start.Add(-s.cfg.CompactAfter).UTC()
	res, err := s.lake.Compact(ctx, before)
	s.finish(ctx, JobCompaction, start, err, slog.Time("before", before),
		slog.Int("partitions", res.Partitions),
		slog.Int("files_before", res.FilesBefore), slog.Int("files_after", res.FilesAfter),
		slog.Int64("rows", res.Rows),
		slog.Int64("bytes_before", res.BytesBefore), slog.Int64("bytes_after", res.BytesAfter))
	s.metrics.compactPartitions.Add(float64(res.Partitions))
	s.metrics.compactBytesBefore.Add(float64(res.BytesBefore))
	s.metrics.compactBytesAfter.Add(float64(res.BytesAfter))
	if err != nil {
		return res, fmt.Errorf("compaction before %s: %w", before.Format(time.RFC3339), err)
	}
	// Compaction renames the flows a rollup was built from, which makes
	// the rollup stale (queries read raw flows until it is rebuilt):
	// rebuild now rather than at the next rollup run. The rebuild takes
	// each hour's lock, so it never races the scheduled one.
	if res.Partitions > 0 && s.rollups != nil {
		if _, err := s.RunRollups(ctx); err != nil {
			return res, fmt.Errorf("compaction before %s: %w", before.Format(time.RFC3339), err)
		}
	}
	return res, nil
}

// RunRetention runs one retention pass now with the configured policy.
func (s *Scheduler) RunRetention(ctx context.Context) (lake.RetentionResult, error) {
	start := s.clock.Now()
	now := start.UTC()
	res, err := s.lake.Retain(ctx, s.cfg.Retention.Policy(), now)
	s.finish(ctx, JobRetention, start, err, slog.Time("now", now),
		slog.Int("partitions", res.Partitions), slog.Int("files", res.Files),
		slog.Int64("rows", res.Rows), slog.Int64("bytes", res.Bytes),
		slog.Any("deleted", firstN(res.Deleted, 20)))
	s.metrics.retainPartitions.Add(float64(res.Partitions))
	if err != nil {
		return res, fmt.Errorf("retention at %s: %w", now.Format(time.RFC3339), err)
	}
	return res, nil
}

// RunRollups brings the rollups up to date now, as the schedule does.
func (s *Scheduler) RunRollups(ctx context.Context) (query.RollupResult, error) {
	if s.rollups == nil {
		return query.RollupResult{}, errors.New("jobs: no rollup maintainer")
	}
	start := s.clock.Now()
	res, err := s.rollups.MaintainRollups(ctx)
	s.finish(ctx, JobRollups, start, err, slog.Int("built", len(res.Built)), slog.Int("removed", res.Removed),
		slog.Any("segments", firstN(res.Built, 20)))
	if err != nil {
		return res, fmt.Errorf("rollups: %w", err)
	}
	return res, nil
}

// finish logs and counts one run.
func (s *Scheduler) finish(ctx context.Context, job string, start time.Time, err error, attrs ...slog.Attr) {
	end := s.clock.Now()
	elapsed := end.Sub(start)
	s.metrics.runs.WithLabelValues(job).Inc()
	s.metrics.duration.WithLabelValues(job).Observe(elapsed.Seconds())
	attrs = append([]slog.Attr{slog.String("job", job), slog.Duration("duration", elapsed)}, attrs...)
	if err != nil && ctx.Err() != nil && (errors.Is(err, ctx.Err()) || errors.Is(err, context.Cause(ctx))) {
		// Stopped by shutdown (SIGTERM, SIGINT): not a failure; the next
		// start runs the job again.
		s.logger.LogAttrs(ctx, slog.LevelInfo, "job stopped", append(attrs, slog.String("reason", context.Cause(ctx).Error()))...)
		return
	}
	if err != nil {
		s.metrics.failures.WithLabelValues(job).Inc()
		s.logger.LogAttrs(ctx, slog.LevelError, "job failed", append(attrs, slog.String("err", err.Error()))...)
		return
	}
	s.metrics.lastSuccess.WithLabelValues(job).Set(float64(end.UnixNano()) / 1e9)
	s.logger.LogAttrs(ctx, slog.LevelInfo, "job done", attrs...)
}

// firstN keeps log lines short when retention deletes many partitions.
func firstN(keys []string, n int) []string {
	if len(keys) <= n {
		return keys
	}
	return append(keys[:n:n], fmt.Sprintf("… and %d more", len(keys)-n))
}
