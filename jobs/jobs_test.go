package jobs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/flowlake/flowlake/storage/lake"
)

// call is one call the fake maintainer saw.
type call struct {
	Job    string
	At     time.Time // before for compaction, now for retention
	Policy lake.RetentionPolicy
}

// fakeMaintainer records calls on a channel and answers with fixed results.
type fakeMaintainer struct {
	calls     chan call
	compact   lake.CompactResult
	retain    lake.RetentionResult
	err       error
	blockTill chan struct{} // when non-nil, Compact waits for it (or ctx)
}

var _ Maintainer = (*fakeMaintainer)(nil)

func newFakeMaintainer() *fakeMaintainer { return &fakeMaintainer{calls: make(chan call, 16)} }

func (f *fakeMaintainer) Compact(ctx context.Context, before time.Time) (lake.CompactResult, error) {
	f.calls <- call{Job: JobCompaction, At: before}
	if f.blockTill != nil {
		select {
		case <-f.blockTill:
		case <-ctx.Done():
			return lake.CompactResult{}, ctx.Err()
		}
	}
	return f.compact, f.err
}

func (f *fakeMaintainer) Retain(_ context.Context, p lake.RetentionPolicy, now time.Time) (lake.RetentionResult, error) {
	f.calls <- call{Job: JobRetention, At: now, Policy: p}
	return f.retain, f.err
}

// next waits up to 5 s for the fake's next call.
func (f *fakeMaintainer) next(t *testing.T) call {
	t.Helper()
	select {
	case c := <-f.calls:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no call to the maintainer within 5s")
		return call{}
	}
}

// none checks that no call is pending after the scheduler settled.
func (f *fakeMaintainer) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-f.calls:
		t.Fatalf("unexpected call %+v", c)
	default:
	}
}

var t0 = time.Date(2026, 11, 3, 10, 2, 0, 0, time.UTC)

type harness struct {
	s     *Scheduler
	clock *clockwork.FakeClock
	lake  *fakeMaintainer
	reg   *prometheus.Registry
}

func start(t *testing.T, cfg Config, fm *fakeMaintainer) *harness {
	t.Helper()
	h := &harness{clock: clockwork.NewFakeClockAt(t0), lake: fm, reg: prometheus.NewRegistry()}
	s, err := New(cfg, Deps{Lake: fm, Clock: h.clock, Registerer: h.reg})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.s = s
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return h
}

// advance waits until the scheduler armed n timers, then moves the clock.
func (h *harness) advance(t *testing.T, n int, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := h.clock.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("scheduler did not arm %d timers: %v", n, err)
	}
	h.clock.Advance(d)
}

func TestSchedule(t *testing.T) {
	fm := newFakeMaintainer()
	fm.compact = lake.CompactResult{Partitions: 2, FilesBefore: 10, FilesAfter: 2, Rows: 500, BytesBefore: 9000, BytesAfter: 6000}
	fm.retain = lake.RetentionResult{Partitions: 1, Files: 3, Rows: 30, Bytes: 3000, Deleted: []string{"flows/dt=2026-08-01/hr=00"}}
	cfg := DefaultConfig()
	h := start(t, cfg, fm)

	// Four compaction intervals: the fourth coincides with the first
	// retention run.
	var got []call
	for i := range 4 {
		h.advance(t, 2, 15*time.Minute)
		got = append(got, fm.next(t))
		if i == 3 {
			got = append(got, fm.next(t))
		}
	}
	fm.none(t)
	// The compaction and retention runs at +1h race each other.
	if len(got) == 5 && got[3].Job == JobRetention {
		got[3], got[4] = got[4], got[3]
	}
	want := []call{
		{Job: JobCompaction, At: t0.Add(5 * time.Minute)},
		{Job: JobCompaction, At: t0.Add(20 * time.Minute)},
		{Job: JobCompaction, At: t0.Add(35 * time.Minute)},
		{Job: JobCompaction, At: t0.Add(50 * time.Minute)},
		{Job: JobRetention, At: t0.Add(time.Hour), Policy: cfg.Retention.Policy()},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	if err := h.s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	h.clock.Advance(2 * time.Hour)
	fm.none(t)

	metrics := []struct {
		c    prometheus.Collector
		want float64
	}{
		{h.s.metrics.runs.WithLabelValues(JobCompaction), 4},
		{h.s.metrics.runs.WithLabelValues(JobRetention), 1},
		{h.s.metrics.failures.WithLabelValues(JobCompaction), 0},
		{h.s.metrics.compactPartitions, 8},
		{h.s.metrics.compactBytesBefore, 36000},
		{h.s.metrics.compactBytesAfter, 24000},
		{h.s.metrics.retainPartitions, 1},
	}
	for i, m := range metrics {
		if got := testutil.ToFloat64(m.c); got != m.want {
			t.Errorf("metric %d = %v, want %v", i, got, m.want)
		}
	}
}

func TestFailuresAreCounted(t *testing.T) {
	fm := newFakeMaintainer()
	fm.err = errors.New("disk full")
	cfg := DefaultConfig()
	cfg.RetentionEvery = 0 // disabled: only the compaction timer exists
	h := start(t, cfg, fm)
	h.advance(t, 1, cfg.CompactEvery)
	fm.next(t)
	if err := h.s.Stop(); err != nil { // waits for the run to finish
		t.Fatalf("Stop: %v", err)
	}
	if got := testutil.ToFloat64(h.s.metrics.failures.WithLabelValues(JobCompaction)); got != 1 {
		t.Errorf("failures = %v, want 1", got)
	}
	if got := testutil.ToFloat64(h.s.metrics.lastSuccess.WithLabelValues(JobCompaction)); got != 0 {
		t.Errorf("last success set by a failed run: %v", got)
	}
}

func TestNoOverlap(t *testing.T) {
	fm := newFakeMaintainer()
	fm.blockTill = make(chan struct{})
	cfg := DefaultConfig()
	cfg.RetentionEvery = 0
	h := start(t, cfg, fm)
	h.advance(t, 1, cfg.CompactEvery)
	fm.next(t) // first run, now blocked
	// No timer is armed while the run lasts: an hour later nothing ran.
	h.clock.Advance(time.Hour)
	fm.none(t)
	close(fm.blockTill)
	// The next run comes one interval after the first one completed.
	h.advance(t, 1, cfg.CompactEvery)
	want := t0.Add(cfg.CompactEvery + time.Hour + cfg.CompactEvery - cfg.CompactAfter)
	if c := fm.next(t); !c.At.Equal(want) {
		t.Errorf("next run compacted before %s, want %s", c.At, want)
	}
}

func TestRunNow(t *testing.T) {
	fm := newFakeMaintainer()
	fm.retain = lake.RetentionResult{Files: 2}
	clock := clockwork.NewFakeClockAt(t0)
	s, err := New(DefaultConfig(), Deps{Lake: fm, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.RunRetention(t.Context())
	if err != nil || res.Files != 2 {
		t.Errorf("RunRetention = %+v, %v", res, err)
	}
	if c := fm.next(t); !c.At.Equal(t0) {
		t.Errorf("retention now = %s, want %s", c.At, t0)
	}
	fm.err = errors.New("locked")
	if _, err := s.RunCompaction(t.Context()); err == nil || !strings.Contains(err.Error(), "compaction before 2026-11-03T09:52:00Z: locked") {
		t.Errorf("RunCompaction error = %v", err)
	}
	if err := s.Stop(); err != nil { // never started
		t.Errorf("Stop before Start: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	f := func(name string, mutate func(*Config), wantErr string) {
		t.Run(name, func(t *testing.T) {
			c := DefaultConfig()
			mutate(&c)
			err := c.Validate()
			switch {
			case wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
				t.Errorf("error = %v, want it to contain %q", err, wantErr)
			}
		})
	}
	f("default", func(*Config) {}, "")
	f("all disabled", func(c *Config) { c.CompactEvery, c.RetentionEvery = 0, 0 }, "")
	f("negative", func(c *Config) { c.CompactAfter = -time.Minute }, "compact_after: negative")
	f("too often", func(c *Config) { c.RetentionEvery = time.Millisecond }, "retention_every: 1ms is below 1s")
	f("unknown dataset", func(c *Config) { c.Retention.MaxAge["flow"] = Day }, `unknown dataset "flow"`)
	f("negative age", func(c *Config) { c.Retention.MaxAge["flows"] = -Day }, "retention.max_age.flows: negative")
	f("negative bytes", func(c *Config) { c.Retention.MaxBytes = -1 }, "max_bytes: negative")
}

func TestPolicyIsACopy(t *testing.T) {
	c := DefaultConfig()
	p := c.Retention.Policy()
	p.MaxAge["flows"] = time.Hour
	if c.Retention.MaxAge["flows"] != 90*Day {
		t.Error("Policy shares its map with the configuration")
	}
}
