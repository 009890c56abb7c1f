package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
