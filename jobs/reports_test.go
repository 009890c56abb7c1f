package jobs

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// replica is one report scheduler with its own connection to the shared
// metadata store, as a second `serve` process would have.
type replica struct {
	r        *Reports
	store    *meta.Store
	outcomes chan RunOutcome
	reg      *prometheus.Registry
}

// reportEnv is a lake, an engine and a metadata store file shared by
// the replicas of a test.
type reportEnv struct {
	lake    *lake.Lake
	archive *lake.Archive
	engine  *query.Engine
	metaCfg meta.Config
	clock   *clockwork.FakeClock
}

func newReportEnv(t *testing.T, start time.Time) *reportEnv {
	t.Helper()
	lcfg := lake.DefaultConfig()
	lcfg.Root = t.TempDir()
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	mcfg := meta.DefaultConfig()
	mcfg.DSN = filepath.Join(t.TempDir(), "meta.db")
	mcfg.Password = meta.PasswordParams{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}
	return &reportEnv{lake: l, archive: lake.NewArchive(l.Backend()), engine: query.New(l, query.Config{}, nil), metaCfg: mcfg,
		clock: clockwork.NewFakeClockAt(start)}
}

func (e *reportEnv) openStore(t *testing.T) *meta.Store {
	t.Helper()
	s, err := meta.Open(t.Context(), e.metaCfg, meta.WithClock(e.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// startReplica starts a report scheduler named name.
func (e *reportEnv) startReplica(t *testing.T, name string, cfg ReportConfig, gen Generator, mailer Mailer) *replica {
	t.Helper()
	rep := &replica{store: e.openStore(t), outcomes: make(chan RunOutcome, 64), reg: prometheus.NewRegistry()}
	cfg.Replica = name
	if gen == nil {
		gen = Reporter{Engine: e.engine}
	}
	r, err := NewReports(cfg, ReportDeps{Store: rep.store, Archive: e.archive, Generator: gen, Mailer: mailer, Clock: e.clock, Registerer: rep.reg,
		OnRun: func(o RunOutcome) { rep.outcomes <- o }})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	rep.r = r
	return rep
}

// testReportConfig: no periodic re-reading of schedules and no archive
// retention, so the only timers are the schedules'.
func testReportConfig() ReportConfig {
	cfg := DefaultReportConfig()
	cfg.SyncEvery, cfg.ArchiveMaxAge = 0, 0
	return cfg
}

// savedQuery is a custom report's definition: bytes by protocol.
func savedQuery(t *testing.T, s *meta.Store, name string) meta.ReportDefinition {
	t.Helper()
	d, err := s.CreateReportDefinition(t.Context(), meta.ReportDefinitionInput{Name: name, Type: "custom", Formats: []string{"csv"},
		Params: json.RawMessage(`{"query": {"query": {"dataset": "flows", "group_by": ["proto"], "metrics": ["sum(bytes)"]}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func schedule(t *testing.T, s *meta.Store, name, defID, period string, rcpt ...string) meta.ReportSchedule {
	t.Helper()
	sc, err := s.CreateReportSchedule(t.Context(), meta.ReportScheduleInput{Name: name, DefinitionID: defID, Period: period,
		Zone: "Europe/Berlin", Recipients: rcpt})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// waitOutcome returns the next outcome of a replica, failing after 10 s.
func (rep *replica) waitOutcome(t *testing.T) RunOutcome {
	t.Helper()
	select {
	case o := <-rep.outcomes:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("no report run within 10s")
		return RunOutcome{}
	}
}

// TestReportSchedulesTwoReplicas is issue 12's acceptance item: a fake
// clock drives a daily, a weekly and a monthly schedule in Europe/Berlin
// from 20 October to 3 November 2026, across the end of summer time (25
// October, a 25-hour day) and a month boundary; two replicas share one
// metadata store. Each run happens once, on time, on one replica, over
// the right local period, and is archived.
func TestReportSchedulesTwoReplicas(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	start := time.Date(2026, 10, 20, 12, 0, 0, 0, berlin)
	env := newReportEnv(t, start)
	setup := env.openStore(t)
	def := savedQuery(t, setup, "bytes by protocol")
	daily := schedule(t, setup, "daily", def.ID, "daily")
	weekly := schedule(t, setup, "weekly", def.ID, "weekly")
	monthly := schedule(t, setup, "monthly", def.ID, "monthly")
	reps := []*replica{
		env.startReplica(t, "replica-a", testReportConfig(), nil, nil),
		env.startReplica(t, "replica-b", testReportConfig(), nil, nil),
	}

	// The expected fires, 15 minutes after each period closes, local time.
	type fire struct {
		at    time.Time
		sched string
		label string
		from  time.Time
		hours float64
	}
	var fires []fire
	for d := 21; d <= 34; d++ {
		at := time.Date(2026, 10, d, 0, 15, 0, 0, berlin)
		from := time.Date(2026, 10, d-1, 0, 0, 0, 0, berlin)
		fires = append(fires, fire{at: at, sched: daily.ID, label: from.Format("2006-01-02"), from: from,
			hours: time.Date(2026, 10, d, 0, 0, 0, 0, berlin).Sub(from).Hours()})
	}
	fires = append(fires,
		fire{at: time.Date(2026, 10, 26, 0, 15, 0, 0, berlin), sched: weekly.ID, label: "2026-W43", from: time.Date(2026, 10, 19, 0, 0, 0, 0, berlin), hours: 169},
		fire{at: time.Date(2026, 11, 2, 0, 15, 0, 0, berlin), sched: weekly.ID, label: "2026-W44", from: time.Date(2026, 10, 26, 0, 0, 0, 0, berlin), hours: 168},
		fire{at: time.Date(2026, 11, 1, 0, 15, 0, 0, berlin), sched: monthly.ID, label: "2026-10", from: time.Date(2026, 10, 1, 0, 0, 0, 0, berlin), hours: 31*24 + 1},
	)
	slices.SortStableFunc(fires, func(a, b fire) int { return a.at.Compare(b.at) })
	type key struct{ sched, label string }
	want := map[key]fire{}
	for _, f := range fires {
		want[key{f.sched, f.label}] = f
	}

	timers := 2 * 3 // one cron timer per schedule per replica
	for i := 0; i < len(fires); {
		at := fires[i].at
		n := 0
		for i+n < len(fires) && fires[i+n].at.Equal(at) {
			n++
		}
		i += n
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		if err := env.clock.BlockUntilContext(ctx, timers); err != nil {
			t.Fatalf("before %s: the replicas did not arm %d timers: %v", at, timers, err)
		}
		cancel()
		env.clock.Advance(at.Sub(env.clock.Now()))
		claims := 0
		for _, rep := range reps {
			for range n {
				o := rep.waitOutcome(t)
				if o.Err != nil {
					t.Fatalf("%s: run of %s failed: %v", at, o.ScheduleID, o.Err)
				}
				f, ok := want[key{o.ScheduleID, o.Run.PeriodLabel}]
				if !ok || !f.at.Equal(at) {
					t.Fatalf("%s: unexpected run %+v", at, o.Run)
				}
				if !o.Run.ScheduledFor.Equal(at) || !o.Run.PeriodFrom.Equal(f.from) || o.Run.PeriodTo.Sub(o.Run.PeriodFrom).Hours() != f.hours {
					t.Fatalf("%s: run %+v, want period %s from %s lasting %vh", at, o.Run, f.label, f.from, f.hours)
				}
				if o.Claimed {
					claims++
					if !o.Run.StartedAt.Equal(at) || o.Run.Status != meta.RunSucceeded || len(o.Run.ArchiveKeys) != 1 {
						t.Fatalf("%s: claimed run %+v: want started on time, succeeded, archived", at, o.Run)
					}
				}
			}
		}
		if claims != n {
			t.Fatalf("%s: %d of the replicas' %d fires claimed their run, want %d (one per schedule)", at, claims, 2*n, n)
		}
	}

	runs, err := setup.ListReportRuns(t.Context(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != len(fires) {
		t.Fatalf("%d run records, want %d", len(runs), len(fires))
	}
	owners := map[string]int{}
	for _, r := range runs {
		owners[r.Owner]++
	}
	t.Logf("runs per replica: %v", owners)
	// Every fire is counted on its replica: claimed and run, or held by
	// the other.
	var claimed, held, succeeded float64
	for _, rep := range reps {
		claimed += counter(t, rep.reg, "flowlake_reports_runs_claimed_total")
		held += counter(t, rep.reg, "flowlake_reports_runs_held_elsewhere_total")
		succeeded += counter(t, rep.reg, "flowlake_reports_runs_succeeded_total")
	}
	if n := float64(len(fires)); claimed != n || held != n || succeeded != n {
		t.Errorf("metrics: claimed %v, held elsewhere %v, succeeded %v; want %v each", claimed, held, succeeded, n)
	}
	files, err := env.archive.List(t.Context(), def.ID)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, f := range files {
		labels = append(labels, f.PeriodKind+"/"+f.PeriodLabel)
	}
	for _, l := range []string{"daily/2026-10-25", "weekly/2026-W43", "weekly/2026-W44", "monthly/2026-10", "daily/2026-11-02"} {
		if !slices.Contains(labels, l) {
			t.Errorf("archive lacks %s: %v", l, labels)
		}
	}
	if len(files) != len(fires) {
		t.Errorf("%d archived files, want %d: %v", len(files), len(fires), labels)
	}
	_, data, err := env.archive.Read(t.Context(), files[0].Key)
	if err != nil || !strings.HasPrefix(string(data), "proto,sum(bytes)") {
		t.Errorf("archived csv %q, %v", data, err)
	}
}

// counter reads an unlabelled counter of reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}

// TestReportSync: schedules created, changed, disabled and deleted after
// Start take effect at the next Sync: a new schedule fires, a changed one
// fires at its new time, a disabled or deleted one no longer fires.
func TestReportSync(t *testing.T) {
	start := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	env := newReportEnv(t, start)
	setup := env.openStore(t)
	def := savedQuery(t, setup, "q")
	rep := env.startReplica(t, "a", testReportConfig(), nil, nil)
	ctx := t.Context()
	sc, err := setup.CreateReportSchedule(ctx, meta.ReportScheduleInput{Name: "hourly cron", DefinitionID: def.ID, Period: "daily",
		Cron: "0 * * * *", Zone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	o := fireOnce(t, env, rep, 1, time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC))
	if !o.Claimed || !o.Run.ScheduledFor.Equal(time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC)) || o.Run.PeriodLabel != "2026-11-01" {
		t.Fatalf("new schedule's run %+v", o.Run)
	}
	// Changed to 13:30 every hour: the next fire is 13:30, not 14:00.
	env.clock.Advance(time.Second) // a later UpdatedAt than the creation
	in := meta.ReportScheduleInput{Name: "hourly cron", DefinitionID: def.ID, Period: "daily", Cron: "30 * * * *", Zone: "UTC"}
	if _, err := setup.UpdateReportSchedule(ctx, sc.ID, in); err != nil {
		t.Fatal(err)
	}
	if err := rep.r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	o = fireOnce(t, env, rep, 1, time.Date(2026, 11, 2, 13, 30, 0, 0, time.UTC))
	if !o.Run.ScheduledFor.Equal(time.Date(2026, 11, 2, 13, 30, 0, 0, time.UTC)) {
		t.Fatalf("changed schedule's run %+v", o.Run)
	}
	// Disabled: no timer left, nothing fires over the next day.
	off := false
	in.Enabled = &off
	if _, err := setup.UpdateReportSchedule(ctx, sc.ID, in); err != nil {
		t.Fatal(err)
	}
	if err := rep.r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := env.clock.BlockUntilContext(wctx, 0); err != nil {
		t.Fatalf("a timer is still armed after disabling the schedule: %v", err)
	}
	env.clock.Advance(24 * time.Hour)
	runs, err := setup.ListReportRuns(ctx, sc.ID, 0)
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs %+v, %v; want the two before disabling", runs, err)
	}
	// Deleted while disabled: nothing to unschedule, no error.
	if err := setup.DeleteReportSchedule(ctx, sc.ID); err != nil {
		t.Fatal(err)
	}
	if err := rep.r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}
