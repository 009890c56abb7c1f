package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowlake/flowlake/reports"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
)

// ArchiveDownloadPath is where the API serves an archived report: this
// path followed by the archive key without its "reports/" prefix. Mailed
// links are BaseURL + ArchiveDownloadPath + that rest.
const ArchiveDownloadPath = "/api/v1/reports/archive/"

// Generator turns a report definition and a period into files, one per
// format asked ("html", "pdf", "xlsx", "csv"). The report assembly and
// renderers implement it (Reporter).
type Generator interface {
	Generate(ctx context.Context, def meta.ReportDefinition, p reports.Period, formats []string) (map[string][]byte, error)
}

// ReportStore is what the report schedules need of the metadata store.
// *meta.Store implements it.
type ReportStore interface {
	ListReportSchedules(ctx context.Context) ([]meta.ReportSchedule, error)
	GetReportSchedule(ctx context.Context, id string) (meta.ReportSchedule, error)
	GetReportDefinition(ctx context.Context, id string) (meta.ReportDefinition, error)
	ClaimReportRun(ctx context.Context, c meta.ReportRunClaim) (meta.ReportRun, bool, error)
	UpdateReportRun(ctx context.Context, id string, u meta.ReportRunUpdate) (meta.ReportRun, error)
}

// ReportArchive keeps generated files. *lake.Archive implements it.
type ReportArchive interface {
	Put(ctx context.Context, files []lake.ArchiveFile) ([]string, error)
	Retain(ctx context.Context, maxAge time.Duration, now time.Time) ([]string, error)
}

// RunOutcome is what one fire of a schedule did on this replica.
type RunOutcome struct {
	ScheduleID string
	// Run is the run record: the one this replica claimed, or the one
	// another replica holds when Claimed is false.
	Run     meta.ReportRun
	Claimed bool
	// Err is why the run failed for good, or why it could not start.
	Err error
}

// ReportDeps are what the report schedules work with; Store, Archive and
// Generator are required.
type ReportDeps struct {
	Store     ReportStore
	Archive   ReportArchive
	Generator Generator
	// Mailer sends results to schedules' recipients; nil fails runs of
	// schedules that have recipients.
	Mailer Mailer
	Clock  clockwork.Clock
	Logger *slog.Logger
	// Registerer receives the flowlake_reports_* metrics; nil keeps them
	// in a private registry.
	Registerer prometheus.Registerer
	// OnRun, when set, hears of every fire of a schedule on this replica
	// after it ended (tests, notifications).
	OnRun func(RunOutcome)
}

// Reports runs report schedules with gocron: one cron job per enabled
// schedule, claimed through the metadata store so that of several
// replicas exactly one runs each scheduled run.
type Reports struct {
	cfg   ReportConfig
	deps  ReportDeps
	log   *slog.Logger
	sched gocron.Scheduler
	m     *reportMetrics

	mu      sync.Mutex
	ctx     context.Context        // Start's, for jobs added by Sync
	jobs    map[string]scheduleJob // by schedule ID
	started bool
	stopped bool
}

type scheduleJob struct {
	id      uuid.UUID
	updated time.Time
}

// NewReports validates the configuration and prepares the schedules;
// nothing runs before Start.
func NewReports(cfg ReportConfig, deps ReportDeps) (*Reports, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("reports config: %w", err)
	}
	if deps.Store == nil || deps.Archive == nil || deps.Generator == nil {
		return nil, errors.New("reports: store, archive and generator are required")
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
	m, err := newReportMetrics(deps.Registerer)
	if err != nil {
		return nil, fmt.Errorf("reports metrics: %w", err)
	}
	if cfg.Replica == "" {
		host, _ := os.Hostname()
		cfg.Replica = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	logger := deps.Logger.With("component", "reports", "replica", cfg.Replica)
	sched, err := gocron.NewScheduler(gocron.WithClock(deps.Clock), gocron.WithLocation(time.UTC), gocron.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("reports scheduler: %w", err)
	}
	return &Reports{cfg: cfg, deps: deps, log: logger, sched: sched, m: m, jobs: map[string]scheduleJob{}}, nil
}

// Start reads the schedules, schedules them and starts the scheduler;
// cancelling ctx cancels running reports. Schedules that cannot be read or
// scheduled are logged and tried again at the next Sync.
func (r *Reports) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("reports: already started")
	}
	r.started, r.ctx = true, ctx
	r.mu.Unlock()
	// A schedule that cannot be scheduled must not keep serve from
	// starting: it is logged, and the next Sync tries again.
	if err := r.Sync(ctx); err != nil {
		r.log.ErrorContext(ctx, "report schedules not all scheduled", "err", err)
	}
	if r.cfg.SyncEvery > 0 {
		if _, err := r.sched.NewJob(gocron.DurationJob(r.cfg.SyncEvery), gocron.NewTask(func(ctx context.Context) {
			if err := r.Sync(ctx); err != nil {
				r.log.ErrorContext(ctx, "report schedules not re-read", "err", err)
			}
		}), gocron.WithName("report-sync"), gocron.WithContext(ctx), gocron.WithSingletonMode(gocron.LimitModeReschedule)); err != nil {
			return fmt.Errorf("schedule report sync: %w", err)
		}
	}
	if r.cfg.ArchiveMaxAge > 0 && r.cfg.ArchiveRetentionEvery > 0 {
		if _, err := r.sched.NewJob(gocron.DurationJob(r.cfg.ArchiveRetentionEvery), gocron.NewTask(func(ctx context.Context) {
			_, _ = r.RetainArchive(ctx)
		}), gocron.WithName("report-archive-retention"), gocron.WithContext(ctx), gocron.WithSingletonMode(gocron.LimitModeReschedule)); err != nil {
			return fmt.Errorf("schedule archive retention: %w", err)
		}
	}
	r.sched.Start()
	return nil
}

// Stop ends the schedule and waits for running reports; safe to call more
// than once and before Start.
func (r *Reports) Stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return nil
	}
	r.stopped = true
	if err := r.sched.Shutdown(); err != nil {
		return fmt.Errorf("reports shutdown: %w", err)
	}
	return nil
}

// Sync brings the cron jobs in line with the stored schedules: new and
// changed schedules are (re)scheduled, deleted and disabled ones removed.
func (r *Reports) Sync(ctx context.Context) error {
	list, err := r.deps.Store.ListReportSchedules(ctx)
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	want := map[string]meta.ReportSchedule{}
	for _, sc := range list {
		if sc.Enabled {
			want[sc.ID] = sc
		}
	}
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(r.jobs)) {
		if sc, ok := want[id]; !ok || !sc.UpdatedAt.Equal(r.jobs[id].updated) {
			if err := r.sched.RemoveJob(r.jobs[id].id); err != nil {
				errs = append(errs, fmt.Errorf("unschedule report %s: %w", id, err))
			}
			delete(r.jobs, id)
		}
	}
	for _, sc := range list {
		if _, ok := r.jobs[sc.ID]; ok || !sc.Enabled {
			continue
		}
		expr, err := cronOf(sc)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule report %q: %w", sc.Name, err))
			continue
		}
		id := sc.ID
		j, err := r.sched.NewJob(gocron.CronJob(expr, false), gocron.NewTask(func(ctx context.Context) { r.fire(ctx, id) }),
			gocron.WithName("report:"+sc.Name), gocron.WithContext(r.ctx))
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule report %q (%s): %w", sc.Name, expr, err))
			continue
		}
		r.jobs[id] = scheduleJob{id: j.ID(), updated: sc.UpdatedAt}
		r.log.InfoContext(ctx, "report scheduled", "schedule", sc.Name, "cron", expr)
	}
	return errors.Join(errs...)
}

// cronOf is the schedule's cron expression with its time zone.
func cronOf(sc meta.ReportSchedule) (string, error) {
	if sc.Cron != "" {
		return "CRON_TZ=" + sc.Zone + " " + sc.Cron, nil
	}
	return namedCron(sc.Period, sc.Zone, sc.DelayMinutes)
}

// fire runs one schedule at the clock's time and reports the outcome.
func (r *Reports) fire(ctx context.Context, scheduleID string) {
	run, claimed, err := r.RunSchedule(ctx, scheduleID, r.deps.Clock.Now())
	if err != nil {
		r.log.ErrorContext(ctx, "report run failed", "schedule", scheduleID, "run", run.ID, "err", err)
	}
	if r.deps.OnRun != nil {
		r.deps.OnRun(RunOutcome{ScheduleID: scheduleID, Run: run, Claimed: claimed, Err: err})
	}
}

// scheduledRun says which run a fire at now is: its fire time (the key
// replicas claim) and the period it reports on. A named-period schedule's
// fire time follows from the period, so a replica that fires late still
// claims the same run; a cron schedule's is now to the minute.
func scheduledRun(sc meta.ReportSchedule, now time.Time) (time.Time, reports.Period, error) {
	loc, err := time.LoadLocation(sc.Zone)
	if err != nil {
		return time.Time{}, reports.Period{}, fmt.Errorf("zone %q: %w", sc.Zone, err)
	}
	if sc.Cron != "" {
		at := now.Truncate(time.Minute)
		p, err := closedPeriod(sc.Period, at, loc)
		return at, p, err
	}
	p, err := closedPeriod(sc.Period, now.Add(-time.Duration(sc.DelayMinutes)*time.Minute), loc)
	if err != nil {
		return time.Time{}, p, err
	}
	y, m, d := p.To.Date()
	return time.Date(y, m, d, sc.DelayMinutes/60, sc.DelayMinutes%60, 0, 0, loc), p, nil
}

// RunSchedule runs the schedule's run due at now: it claims the run (false
// when another replica holds it), generates, archives and mails the
// report, retrying failed steps with back-off up to the schedule's
// MaxAttempts, and records every attempt on the run.
func (r *Reports) RunSchedule(ctx context.Context, scheduleID string, now time.Time) (meta.ReportRun, bool, error) {
	sc, err := r.deps.Store.GetReportSchedule(ctx, scheduleID)
	if err != nil {
		return meta.ReportRun{}, false, fmt.Errorf("report schedule %s: %w", scheduleID, err)
	}
	if !sc.Enabled {
		// Disabled since the last Sync: the fire is void.
		return meta.ReportRun{}, false, nil
	}
	at, p, err := scheduledRun(sc, now)
	if err != nil {
		return meta.ReportRun{}, false, fmt.Errorf("report schedule %q: %w", sc.Name, err)
	}
	run, claimed, err := r.deps.Store.ClaimReportRun(ctx, meta.ReportRunClaim{ScheduleID: sc.ID, DefinitionID: sc.DefinitionID,
		ScheduledFor: at, PeriodKind: p.Kind, PeriodLabel: p.Label, PeriodFrom: p.From, PeriodTo: p.To, Zone: p.Zone, Owner: r.cfg.Replica})
	if err != nil {
		return run, false, err
	}
	if !claimed {
		r.m.heldElsewhere.Inc()
		r.log.InfoContext(ctx, "report run held by another replica", "schedule", sc.Name, "period", p.Label, "owner", run.Owner)
		return run, false, nil
	}
	r.m.claimed.Inc()
	r.log.InfoContext(ctx, "report run claimed", "schedule", sc.Name, "period", p.Label, "run", run.ID)
	st := &runState{}
	var last error
	for attempt := 1; ; attempt++ {
		last = r.attempt(ctx, sc, p, st)
		if last != nil {
			r.m.attemptsFailed.Inc()
		}
		u := meta.ReportRunUpdate{Status: meta.RunSucceeded, Attempt: attempt, ArchiveKeys: st.keys, MailedTo: st.mailed, Finished: true}
		if last != nil {
			u.Status, u.Error = meta.RunFailed, last.Error()
			if attempt < sc.MaxAttempts && ctx.Err() == nil {
				u.Status, u.Finished = meta.RunRetrying, false
			}
		}
		// The record outlives a cancelled ctx: a stopped run says so.
		run, err = r.deps.Store.UpdateReportRun(context.WithoutCancel(ctx), run.ID, u)
		if err != nil {
			return run, true, errors.Join(last, err)
		}
		if u.Status != meta.RunRetrying {
			break
		}
		wait := r.backoff(attempt)
		r.log.WarnContext(ctx, "report attempt failed", "schedule", sc.Name, "period", p.Label, "attempt", attempt, "retry_in", wait, "err", last)
		select {
		case <-r.deps.Clock.After(wait):
		case <-ctx.Done():
			last = errors.Join(last, context.Cause(ctx))
			r.m.failed.Inc()
			run, err = r.deps.Store.UpdateReportRun(context.WithoutCancel(ctx), run.ID, meta.ReportRunUpdate{Status: meta.RunFailed,
				Attempt: attempt, Error: last.Error(), ArchiveKeys: st.keys, MailedTo: st.mailed, Finished: true})
			return run, true, errors.Join(last, err)
		}
	}
	if last != nil {
		r.m.failed.Inc()
	} else {
		r.m.succeeded.Inc()
		r.log.InfoContext(ctx, "report run done", "schedule", sc.Name, "period", p.Label, "files", st.keys, "mailed", len(st.mailed))
	}
	return run, true, last
}

// backoff is the wait after the given failed attempt.
func (r *Reports) backoff(attempt int) time.Duration {
	d := r.cfg.RetryBackoff
	for i := 1; i < attempt && d < r.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.cfg.MaxBackoff)
}

// runState is what earlier attempts of a run achieved, so a retry redoes
// only what failed: a mail that failed is sent again without rendering
// and archiving the report again.
type runState struct {
	files  map[string][]byte
	keys   []string
	mailed []string
}

// attempt does the steps of a run that are not done yet.
func (r *Reports) attempt(ctx context.Context, sc meta.ReportSchedule, p reports.Period, st *runState) error {
	def, err := r.deps.Store.GetReportDefinition(ctx, sc.DefinitionID)
	if err != nil {
		return fmt.Errorf("report definition: %w", err)
	}
	formats := sc.Formats
	if len(formats) == 0 {
		formats = def.Formats
	}
	if st.files == nil {
		files, err := r.deps.Generator.Generate(ctx, def, p, formats)
		if err != nil {
			return fmt.Errorf("generate %s report %q for %s: %w", def.Type, def.Name, p.Label, err)
		}
		for _, f := range formats {
			if len(files[f]) == 0 {
				return fmt.Errorf("generate %s report %q for %s: no %s file", def.Type, def.Name, p.Label, f)
			}
		}
		st.files = files
	}
	if st.keys == nil {
		var put []lake.ArchiveFile
		for _, f := range formats {
			put = append(put, lake.ArchiveFile{Entry: lake.ArchiveEntry{Definition: def.ID, PeriodKind: p.Kind, PeriodLabel: p.Label, Format: f}, Data: st.files[f]})
		}
		keys, err := r.deps.Archive.Put(ctx, put)
		if err != nil {
			return fmt.Errorf("archive report %q for %s: %w", def.Name, p.Label, err)
		}
		st.keys = keys
	}
	if len(sc.Recipients) == 0 || st.mailed != nil {
		return nil
	}
	if r.deps.Mailer == nil {
		return fmt.Errorf("mail report %q to %d recipients: no SMTP server configured (reports.mail.host)", def.Name, len(sc.Recipients))
	}
	m, err := r.message(def, sc, p, formats, st)
	if err != nil {
		return err
	}
	if err := r.deps.Mailer.Send(ctx, m); err != nil {
		return fmt.Errorf("mail report %q for %s: %w", def.Name, p.Label, err)
	}
	st.mailed = slices.Clone(sc.Recipients)
	return nil
}

// contentTypes are the MIME types of the report formats.
var contentTypes = map[string]string{
	"html": "text/html; charset=utf-8",
	"pdf":  "application/pdf",
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"csv":  "text/csv; charset=utf-8",
}

// message is the mail of a run: the files attached, or links to them.
func (r *Reports) message(def meta.ReportDefinition, sc meta.ReportSchedule, p reports.Period, formats []string, st *runState) (Mail, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %s %s\n", def.Name, p.Kind, p.Label)
	fmt.Fprintf(&b, "Period: %s to %s (%s)\n\n", p.From.Format("2006-01-02 15:04 MST"), p.To.Format("2006-01-02 15:04 MST"), p.Zone)
	m := Mail{To: sc.Recipients, Subject: fmt.Sprintf("Flowlake report: %s %s", def.Name, p.Label)}
	if sc.Attach {
		b.WriteString("The report is attached.\n")
		for _, f := range formats {
			m.Attachments = append(m.Attachments, Attachment{Name: fileName(def.Name, p.Label, f), ContentType: contentTypes[f], Data: st.files[f]})
		}
	} else {
		if r.cfg.BaseURL == "" {
			return Mail{}, fmt.Errorf("mail links to report %q: no base URL configured (reports.base_url)", def.Name)
		}
		b.WriteString("Open the report:\n")
		for _, k := range st.keys {
			fmt.Fprintf(&b, "  %s%s%s\n", strings.TrimSuffix(r.cfg.BaseURL, "/"), ArchiveDownloadPath, strings.TrimPrefix(k, lake.ArchivePrefix))
		}
	}
	m.Text = b.String()
	return m, nil
}

// fileName is an attachment's name: the definition's name made safe, the
// period label and the format.
func fileName(name, label, format string) string {
	safe := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < ' ' || r == '"' {
			return '_'
		}
		return r
	}, name)
	return safe + " " + label + "." + format
}

// RetainArchive deletes archived reports older than ArchiveMaxAge now.
func (r *Reports) RetainArchive(ctx context.Context) ([]string, error) {
	deleted, err := r.deps.Archive.Retain(ctx, r.cfg.ArchiveMaxAge, r.deps.Clock.Now())
	if err != nil {
		r.log.ErrorContext(ctx, "report archive retention failed", "err", err)
		return deleted, err
	}
	r.m.archiveDeleted.Add(float64(len(deleted)))
	if len(deleted) > 0 {
		r.log.InfoContext(ctx, "report archive retention", "deleted", len(deleted), "keys", firstN(deleted, 20))
	}
	return deleted, nil
}
