package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/api"
	"github.com/flowlake/flowlake/jobs"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
)

// TestReportListAndRuns: `report list` lists what the schedules archived
// in the lake, `report runs` the run records of the metadata store, as
// tables and as JSON.
func TestReportListAndRuns(t *testing.T) {
	dir := genLake(t)
	b, err := lake.NewFS(dir, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	entry := lake.ArchiveEntry{Definition: "01JDEF", PeriodKind: "monthly", PeriodLabel: "2026-10", Format: "pdf"}
	if _, err := lake.NewArchive(b).Put(t.Context(), []lake.ArchiveFile{{Entry: entry, Data: []byte("%PDF-1.7")}}); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, nil, "report", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, "01JDEF") || !strings.Contains(out, "reports/01JDEF/monthly/2026-10.pdf") || !strings.Contains(out, "8 B") {
		t.Fatalf("report list: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, nil, "report", "list", "--data", dir, "--json", "--definition", "01JOTHER")
	var list ReportList
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Reports) != 0 {
		t.Fatalf("report list --definition: exit %d\n%s\n%s", code, out, errOut)
	}
	_, errOut, code = runCLI(t, nil, "report", "list", "--data", filepath.Join(dir, "nope"))
	if code != 1 || !strings.Contains(errOut, "not a Flowlake lake") {
		t.Fatalf("report list of a missing lake: exit %d: %s", code, errOut)
	}

	cfg := meta.DefaultConfig()
	cfg.DSN = filepath.Join(dir, "_meta.db")
	st, err := meta.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	def, err := st.CreateReportDefinition(t.Context(), meta.ReportDefinitionInput{Name: "links", Type: "link", Formats: []string{"pdf"}})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := st.CreateReportSchedule(t.Context(), meta.ReportScheduleInput{Name: "m", DefinitionID: def.ID, Period: "monthly"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 0, 15, 0, 0, time.UTC)
	run, _, err := st.ClaimReportRun(t.Context(), meta.ReportRunClaim{ScheduleID: sc.ID, DefinitionID: def.ID, ScheduledFor: at,
		PeriodKind: "monthly", PeriodLabel: "2026-10", PeriodFrom: at.AddDate(0, -1, 0), PeriodTo: at, Zone: "UTC", Owner: "replica-a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateReportRun(t.Context(), run.ID, meta.ReportRunUpdate{Status: meta.RunFailed, Attempt: 3, Error: "send mail: 554 refused", Finished: true}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, nil, "report", "runs", "--data", dir)
	if code != 0 || !strings.Contains(out, "monthly 2026-10") || !strings.Contains(out, "failed") || !strings.Contains(out, "554 refused") {
		t.Fatalf("report runs: exit %d\n%s\n%s", code, out, errOut)
	}
	_, errOut, code = runCLI(t, nil, "report", "runs", "--data", dir, "--limit", "0")
	if code != 2 || !strings.Contains(errOut, "--limit 0") {
		t.Fatalf("report runs --limit 0: exit %d: %s", code, errOut)
	}
}

// TestReportScheduleTwoServes: two `serve` processes share one data
// directory and metadata store. A schedule created through one's API is
// picked up by both; at each fire both try, one runs it (counted as
// claimed) and the other stands down (held elsewhere); the run is recorded
// once and its file is in the archive both serve. It waits for real cron
// minutes, so -short skips it.
func TestReportScheduleTwoServes(t *testing.T) {
	skipShort(t, "waits for a real cron minute")
	dir := genLake(t)
	token := addUserToken(t, dir)
	env := func(name string) []string {
		return []string{"FLOWLAKE_REPORTS_SYNC_EVERY=1s", "FLOWLAKE_REPORTS_REPLICA=" + name, "FLOWLAKE_LOG_LEVEL=warn"}
	}
	servers := []*testServer{startServeAs(t, dir, token, env("serve-a")), startServeAs(t, dir, token, env("serve-b"))}
	a, b := servers[0], servers[1]
	ctx := t.Context()
	status, _, body, err := a.post(ctx, api.PathReportDefinitions, meta.ReportDefinitionInput{Name: "bytes by protocol", Type: "custom",
		Formats: []string{"csv"}, Params: json.RawMessage(`{"query": {"query": {"dataset": "flows", "group_by": ["proto"], "metrics": ["sum(bytes)"]}}}`)})
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create definition: %d %v: %s", status, err, body)
	}
	var def meta.ReportDefinition
	if err := json.Unmarshal(body, &def); err != nil {
		t.Fatal(err)
	}
	status, _, body, err = a.post(ctx, api.PathReportSchedules, meta.ReportScheduleInput{Name: "every minute", DefinitionID: def.ID,
		Period: "daily", Cron: "* * * * *", Zone: "Europe/Berlin"})
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create schedule: %d %v: %s", status, err, body)
	}
	sum := func(name string) float64 {
		var total float64
		for _, s := range servers {
			v, err := s.metric(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			total += v
		}
		return total
	}
	deadline := time.After(150 * time.Second)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for sum("flowlake_reports_runs_held_elsewhere_total") < 1 || sum("flowlake_reports_runs_succeeded_total") < 1 {
		select {
		case <-deadline:
			t.Fatalf("no run claimed by one serve and held by the other within 150s (claimed %v, held %v, succeeded %v, failed %v)",
				sum("flowlake_reports_runs_claimed_total"), sum("flowlake_reports_runs_held_elsewhere_total"),
				sum("flowlake_reports_runs_succeeded_total"), sum("flowlake_reports_runs_failed_total"))
		case <-tick.C:
		}
	}
	status, body, err = b.get(ctx, api.PathReportRuns)
	if err != nil || status != http.StatusOK {
		t.Fatalf("runs: %d %v: %s", status, err, body)
	}
	var runs api.ReportRunsResponse
	if err := json.Unmarshal(body, &runs); err != nil {
		t.Fatal(err)
	}
	claimed := sum("flowlake_reports_runs_claimed_total")
	if float64(len(runs.Runs)) < claimed-1 || float64(len(runs.Runs)) > claimed {
		// A run may be claimed after the listing; none is recorded twice.
		t.Fatalf("%d run records for %v claims: %s", len(runs.Runs), claimed, body)
	}
	seen := map[time.Time]bool{}
	for _, r := range runs.Runs {
		if seen[r.ScheduledFor] {
			t.Fatalf("two records of the run at %s: %s", r.ScheduledFor, body)
		}
		seen[r.ScheduledFor] = true
		if r.Owner != "serve-a" && r.Owner != "serve-b" {
			t.Fatalf("run owned by %q", r.Owner)
		}
	}
	status, body, err = a.get(ctx, api.PathReportArchive+"?definition_id="+def.ID)
	if err != nil || status != http.StatusOK || !strings.Contains(string(body), `"format":"csv"`) {
		t.Fatalf("archive: %d %v: %s", status, err, body)
	}
}

// TestMailedLinksOpenTheAPI: the links jobs mails point at the API's
// download route (the two packages may not import each other).
func TestMailedLinksOpenTheAPI(t *testing.T) {
	if jobs.ArchiveDownloadPath != api.PathReportArchive+"/" {
		t.Fatalf("jobs mails links under %q, the API serves archived files under %q", jobs.ArchiveDownloadPath, api.PathReportArchive+"/")
	}
}
