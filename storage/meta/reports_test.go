package meta

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustDefinition(t *testing.T, s *Store, name string) ReportDefinition {
	t.Helper()
	d, err := s.CreateReportDefinition(t.Context(), ReportDefinitionInput{Name: name, Type: "link", Formats: []string{"PDF", "html", "pdf"}})
	if err != nil {
		t.Fatalf("CreateReportDefinition: %v", err)
	}
	return d
}

func mustSchedule(t *testing.T, s *Store, name, defID string) ReportSchedule {
	t.Helper()
	sc, err := s.CreateReportSchedule(t.Context(), ReportScheduleInput{Name: name, DefinitionID: defID, Period: "daily",
		Zone: "Europe/Berlin", Recipients: []string{"Ops <ops@example.com>", "ops@example.com", "boss@example.com"}})
	if err != nil {
		t.Fatalf("CreateReportSchedule: %v", err)
	}
	return sc
}

func TestReportDefinitionCRUD(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	d := mustDefinition(t, s, "links")
	if got := strings.Join(d.Formats, ","); got != "pdf,html" || string(d.Params) != "{}" {
		t.Fatalf("normalized formats %q params %s", got, d.Params)
	}
	got, err := s.GetReportDefinition(ctx, d.ID)
	wantErr(t, err, nil, "")
	if got.Name != "links" || got.Type != "link" {
		t.Fatalf("got %+v", got)
	}
	u, err := s.UpdateReportDefinition(ctx, d.ID, ReportDefinitionInput{Name: "top", Type: "topn", Params: json.RawMessage(`{"n": 20}`), Formats: []string{"xlsx"}})
	wantErr(t, err, nil, "")
	if u.Type != "topn" || string(u.Params) != `{"n":20}` {
		t.Fatalf("updated %+v", u)
	}
	sc := mustSchedule(t, s, "daily top", d.ID)
	wantErr(t, s.DeleteReportDefinition(ctx, d.ID), ErrConflict, "still referenced")
	wantErr(t, s.DeleteReportSchedule(ctx, sc.ID), nil, "")
	wantErr(t, s.DeleteReportDefinition(ctx, d.ID), nil, "")
	_, err = s.GetReportDefinition(ctx, d.ID)
	wantErr(t, err, ErrNotFound, "")

	for _, tc := range []struct {
		name string
		in   ReportDefinitionInput
		want string
	}{
		{"unknown type", ReportDefinitionInput{Name: "x", Type: "pie", Formats: []string{"pdf"}}, `unknown type "pie"`},
		{"no formats", ReportDefinitionInput{Name: "x", Type: "link"}, "formats: empty"},
		{"bad format", ReportDefinitionInput{Name: "x", Type: "link", Formats: []string{"docx"}}, `unknown format "docx"`},
		{"params not object", ReportDefinitionInput{Name: "x", Type: "link", Formats: []string{"pdf"}, Params: json.RawMessage(`[1]`)}, "want a JSON object"},
		{"empty name", ReportDefinitionInput{Type: "link", Formats: []string{"pdf"}}, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateReportDefinition(ctx, tc.in)
			wantErr(t, err, ErrInvalid, tc.want)
		})
	}
}

func TestReportScheduleCRUD(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	d := mustDefinition(t, s, "links")
	sc := mustSchedule(t, s, "daily links", d.ID)
	if sc.DelayMinutes != DefaultReportDelayMinutes || sc.MaxAttempts != DefaultReportMaxAttempts || !sc.Attach || !sc.Enabled {
		t.Fatalf("defaults not applied: %+v", sc)
	}
	if got := strings.Join(sc.Recipients, ","); got != "ops@example.com,boss@example.com" {
		t.Fatalf("recipients %q", got)
	}
	list, err := s.ListReportSchedules(ctx)
	wantErr(t, err, nil, "")
	if len(list) != 1 || list[0].ID != sc.ID || list[0].Zone != "Europe/Berlin" {
		t.Fatalf("list %+v", list)
	}
	off, zero := false, 0
	u, err := s.UpdateReportSchedule(ctx, sc.ID, ReportScheduleInput{Name: "weekly", DefinitionID: d.ID, Period: "weekly",
		Cron: "30 6 * * 1", Zone: "UTC", DelayMinutes: &zero, Enabled: &off, Attach: &off, MaxAttempts: 5})
	wantErr(t, err, nil, "")
	if u.Enabled || u.Attach || u.DelayMinutes != 0 || u.Cron != "30 6 * * 1" || u.MaxAttempts != 5 {
		t.Fatalf("updated %+v", u)
	}
	for _, tc := range []struct {
		name string
		in   ReportScheduleInput
		want string
	}{
		{"bad zone", ReportScheduleInput{Name: "x", DefinitionID: d.ID, Period: "daily", Zone: "Mars/Olympus"}, `zone "Mars/Olympus"`},
		{"bad period", ReportScheduleInput{Name: "x", DefinitionID: d.ID, Period: "hourly"}, `period "hourly"`},
		{"bad cron", ReportScheduleInput{Name: "x", DefinitionID: d.ID, Period: "daily", Cron: "61 * * * *"}, `cron "61 * * * *"`},
		{"tz in cron", ReportScheduleInput{Name: "x", DefinitionID: d.ID, Period: "daily", Cron: "CRON_TZ=UTC 1 * * * *"}, "zone"},
		{"bad recipient", ReportScheduleInput{Name: "x", DefinitionID: d.ID, Period: "daily", Recipients: []string{"nobody"}}, `recipients[0] "nobody"`},
		{"missing definition", ReportScheduleInput{Name: "x", DefinitionID: "nope", Period: "daily"}, "report definition"},
		{"attempts", ReportScheduleInput{Name: "x", DefinitionID: d.ID, Period: "daily", MaxAttempts: 99}, "max_attempts 99"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateReportSchedule(ctx, tc.in)
			wantErr(t, err, ErrInvalid, tc.want)
		})
	}
}

func TestReportRunClaimAndUpdate(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	sc := mustSchedule(t, s, "daily", mustDefinition(t, s, "links").ID)
	at := time.Date(2026, 10, 26, 0, 15, 0, 0, time.UTC)
	claim := ReportRunClaim{ScheduleID: sc.ID, DefinitionID: sc.DefinitionID, ScheduledFor: at, PeriodKind: "daily",
		PeriodLabel: "2026-10-25", PeriodFrom: at.Add(-25 * time.Hour), PeriodTo: at, Zone: "Europe/Berlin", Owner: "a"}
	r, ok, err := s.ClaimReportRun(ctx, claim)
	wantErr(t, err, nil, "")
	if !ok || r.Status != RunRunning || r.Attempt != 1 {
		t.Fatalf("first claim: ok=%v %+v", ok, r)
	}
	claim.Owner = "b"
	r2, ok, err := s.ClaimReportRun(ctx, claim)
	wantErr(t, err, nil, "")
	if ok || r2.ID != r.ID || r2.Owner != "a" {
		t.Fatalf("second claim took the run: ok=%v %+v", ok, r2)
	}
	c.Advance(time.Minute)
	u, err := s.UpdateReportRun(ctx, r.ID, ReportRunUpdate{Status: RunFailed, Attempt: 2, Error: "smtp: refused", Finished: true})
	wantErr(t, err, nil, "")
	if u.Error != "smtp: refused" || u.FinishedAt.Sub(u.StartedAt) != time.Minute || !u.PeriodFrom.Equal(claim.PeriodFrom) {
		t.Fatalf("updated %+v", u)
	}
	runs, err := s.ListReportRuns(ctx, sc.ID, 0)
	wantErr(t, err, nil, "")
	if len(runs) != 1 || runs[0].Status != RunFailed {
		t.Fatalf("runs %+v", runs)
	}
	_, _, err = s.ClaimReportRun(ctx, ReportRunClaim{ScheduleID: "gone", ScheduledFor: at})
	wantErr(t, err, ErrNotFound, "report schedule")
	wantErr(t, s.DeleteReportSchedule(ctx, sc.ID), nil, "")
	runs, err = s.ListReportRuns(ctx, "", 0)
	wantErr(t, err, nil, "")
	if len(runs) != 0 {
		t.Fatalf("runs of a deleted schedule remain: %+v", runs)
	}
}

// claimHelperEnv makes the test binary a claiming replica (see
// TestReportRunClaimTwoProcesses).
const claimHelperEnv = "FLOWLAKE_META_CLAIM_HELPER"

// TestReportRunClaimHelper is not a test: run as a child process with
// claimHelperEnv set to "dsn,scheduleID,owner,n", it claims n runs of the
// schedule, one a minute from a fixed time, and prints each it won.
func TestReportRunClaimHelper(t *testing.T) {
	arg := os.Getenv(claimHelperEnv)
	if arg == "" {
		t.Skip("helper process only")
	}
	parts := strings.Split(arg, ",")
	var n int
	if _, err := fmt.Sscan(parts[3], &n); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t.TempDir())
	cfg.DSN = parts[0]
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		at := base.Add(time.Duration(i) * time.Minute)
		_, ok, err := s.ClaimReportRun(t.Context(), ReportRunClaim{ScheduleID: parts[1], ScheduledFor: at, PeriodKind: "daily",
			PeriodLabel: "x", PeriodFrom: at, PeriodTo: at, Zone: "UTC", Owner: parts[2]})
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			fmt.Printf("WON %d\n", i)
		}
	}
}

// TestReportRunClaimTwoProcesses runs two processes claiming the same
// scheduled runs on one SQLite store: each run is won exactly once.
func TestReportRunClaimTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc := mustSchedule(t, s, "daily", mustDefinition(t, s, "links").ID)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	const n = 60
	var wg sync.WaitGroup
	won := make([][]string, 2)
	errs := make([]error, 2)
	for p := range 2 {
		wg.Go(func() {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestReportRunClaimHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%s,replica-%d,%d", claimHelperEnv, cfg.DSN, sc.ID, p, n))
			out, err := cmd.Output()
			if err != nil {
				errs[p] = fmt.Errorf("replica %d: %w: %s", p, err, out)
				return
			}
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			for sc.Scan() {
				if w, ok := strings.CutPrefix(sc.Text(), "WON "); ok {
					won[p] = append(won[p], w)
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for _, w := range won {
		for _, i := range w {
			seen[i]++
		}
	}
	for i := range n {
		if c := seen[fmt.Sprint(i)]; c != 1 {
			t.Errorf("run %d won %d times, want once", i, c)
		}
	}
	t.Logf("replica 0 won %d, replica 1 won %d", len(won[0]), len(won[1]))
}
