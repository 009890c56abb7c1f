package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
)

// newReportEnv is a server with a report archive on a real filesystem
// backend.
func newReportEnv(t *testing.T) (*env, *lake.Archive) {
	t.Helper()
	b, err := lake.NewFS(t.TempDir(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a := lake.NewArchive(b)
	st := openStore(t)
	srv, err := New(DefaultConfig(), Deps{Datasets: fakeLister{}, Meta: st, Archive: a})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, store: st}
	u, err := st.CreateUser(t.Context(), meta.NewUser{Name: "root", Role: meta.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, e.admin, err = st.CreateToken(t.Context(), meta.NewToken{UserID: u.ID, Name: "test"}); err != nil {
		t.Fatal(err)
	}
	return e, a
}

func TestReportSchedulesAPI(t *testing.T) {
	e, _ := newReportEnv(t)
	adm := bearer(e.admin)
	viewer := bearer(e.userToken(t, "vic", meta.RoleViewer))

	rec := e.call(t, http.MethodPost, PathReportDefinitions, meta.ReportDefinitionInput{Name: "links", Type: "link", Formats: []string{"pdf", "xlsx"},
		Params: json.RawMessage(`{"n": 10}`)}, adm)
	wantStatus(t, rec, http.StatusCreated, "")
	def := decode[meta.ReportDefinition](t, rec)
	for _, tt := range []struct {
		name, path string
		body       any
		detail     string
	}{
		{"unknown type", PathReportDefinitions, meta.ReportDefinitionInput{Name: "x", Type: "pie", Formats: []string{"pdf"}}, `unknown type "pie"`},
		{"bad zone", PathReportSchedules, meta.ReportScheduleInput{Name: "x", DefinitionID: def.ID, Period: "daily", Zone: "Europe/Atlantis"}, `zone "Europe/Atlantis"`},
		{"bad cron", PathReportSchedules, meta.ReportScheduleInput{Name: "x", DefinitionID: def.ID, Period: "daily", Cron: "* * *"}, `cron "* * *"`},
		{"missing definition", PathReportSchedules, meta.ReportScheduleInput{Name: "x", DefinitionID: "nope", Period: "daily"}, `report definition`},
		{"unknown field", PathReportSchedules, `{"name":"x","definition_id":"a","period":"daily","every":"1h"}`, `unknown field "every"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.call(t, http.MethodPost, tt.path, tt.body, adm)
			wantStatus(t, rec, http.StatusBadRequest, CodeInvalid)
			if p := decode[Problem](t, rec); !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("detail %q lacks %q", p.Detail, tt.detail)
			}
		})
	}
	rec = e.call(t, http.MethodPost, PathReportSchedules, meta.ReportScheduleInput{Name: "monthly links", DefinitionID: def.ID, Period: "monthly",
		Zone: "Europe/Berlin", Recipients: []string{"noc@example.com"}}, adm)
	wantStatus(t, rec, http.StatusCreated, "")
	sc := decode[meta.ReportSchedule](t, rec)
	if sc.DelayMinutes != meta.DefaultReportDelayMinutes || !sc.Attach || !sc.Enabled {
		t.Errorf("schedule defaults %+v", sc)
	}
	// A viewer sees schedules but cannot change them.
	rec = e.call(t, http.MethodGet, PathReportSchedules, nil, viewer)
	wantStatus(t, rec, http.StatusOK, "")
	if got := decode[ReportSchedulesResponse](t, rec).Schedules; len(got) != 1 || got[0].ID != sc.ID {
		t.Errorf("listed %+v", got)
	}
	wantStatus(t, e.call(t, http.MethodPost, PathReportSchedules, meta.ReportScheduleInput{Name: "v", DefinitionID: def.ID, Period: "daily"}, viewer),
		http.StatusForbidden, CodeForbidden)
	off := false
	rec = e.call(t, http.MethodPut, PathReportSchedules+"/"+sc.ID, meta.ReportScheduleInput{Name: "monthly links", DefinitionID: def.ID,
		Period: "monthly", Zone: "UTC", Enabled: &off}, adm)
	wantStatus(t, rec, http.StatusOK, "")
	if got := decode[meta.ReportSchedule](t, rec); got.Enabled || got.Zone != "UTC" {
		t.Errorf("updated %+v", got)
	}
	wantStatus(t, e.call(t, http.MethodGet, PathReportSchedules+"/"+sc.ID, nil, viewer), http.StatusOK, "")
	wantStatus(t, e.call(t, http.MethodGet, PathReportDefinitions+"/"+def.ID, nil, viewer), http.StatusOK, "")
	wantStatus(t, e.call(t, http.MethodDelete, PathReportDefinitions+"/"+def.ID, nil, adm), http.StatusConflict, CodeConflict)

	// Runs, as a scheduler records them.
	at := time.Date(2026, 11, 1, 0, 15, 0, 0, time.UTC)
	if _, _, err := e.store.ClaimReportRun(t.Context(), meta.ReportRunClaim{ScheduleID: sc.ID, DefinitionID: def.ID, ScheduledFor: at,
		PeriodKind: "monthly", PeriodLabel: "2026-10", PeriodFrom: at.AddDate(0, -1, 0), PeriodTo: at, Zone: "UTC", Owner: "a"}); err != nil {
		t.Fatal(err)
	}
	rec = e.call(t, http.MethodGet, PathReportRuns+"?schedule_id="+sc.ID, nil, viewer)
	wantStatus(t, rec, http.StatusOK, "")
	if runs := decode[ReportRunsResponse](t, rec).Runs; len(runs) != 1 || runs[0].PeriodLabel != "2026-10" || runs[0].Status != meta.RunRunning {
		t.Errorf("runs %+v", runs)
	}
	wantStatus(t, e.call(t, http.MethodGet, PathReportRuns+"?limit=5000", nil, viewer), http.StatusBadRequest, CodeInvalid)

	wantStatus(t, e.call(t, http.MethodDelete, PathReportSchedules+"/"+sc.ID, nil, adm), http.StatusNoContent, "")
	wantStatus(t, e.call(t, http.MethodDelete, PathReportDefinitions+"/"+def.ID, nil, adm), http.StatusNoContent, "")
	wantStatus(t, e.call(t, http.MethodGet, PathReportDefinitions+"/"+def.ID, nil, adm), http.StatusNotFound, CodeNotFound)

	page, err := e.store.ListAudit(t.Context(), meta.AuditFilter{Actor: "root", Limit: meta.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range page.Entries {
		actions = append(actions, a.Action+" "+a.Outcome)
	}
	for _, want := range []string{"report_definition.create success", "report_definition.create failure", "report_schedule.create success",
		"report_schedule.update success", "report_definition.delete failure", "report_schedule.delete success", "report_definition.delete success"} {
		if !strings.Contains(strings.Join(actions, "\n"), want) {
			t.Errorf("audit lacks %q: %v", want, actions)
		}
	}
}

// TestReportArchiveAPI: a report recipient lists and downloads archived
// reports but reads no flows and changes no schedule.
func TestReportArchiveAPI(t *testing.T) {
	e, a := newReportEnv(t)
	rcpt := bearer(e.userToken(t, "reader", meta.RoleReportRecipient))
	pdf := []byte("%PDF-1.7\n% a report\n")
	entry := lake.ArchiveEntry{Definition: "01JDEF", PeriodKind: "monthly", PeriodLabel: "2026-10", Format: "pdf"}
	if _, err := a.Put(t.Context(), []lake.ArchiveFile{{Entry: entry, Data: pdf},
		{Entry: lake.ArchiveEntry{Definition: "01JDEF", PeriodKind: "monthly", PeriodLabel: "2026-10", Format: "html"}, Data: []byte("<!doctype html>")}}); err != nil {
		t.Fatal(err)
	}
	rec := e.call(t, http.MethodGet, PathReportArchive+"?definition_id=01JDEF", nil, rcpt)
	wantStatus(t, rec, http.StatusOK, "")
	list := decode[ArchiveResponse](t, rec).Reports
	if len(list) != 2 {
		t.Fatalf("listed %+v", list)
	}
	var dl string
	for _, r := range list {
		if r.Format == "pdf" {
			dl = r.Download
		}
	}
	if dl != PathReportArchive+"/01JDEF/monthly/2026-10.pdf" {
		t.Fatalf("download path %q", dl)
	}
	rec = e.call(t, http.MethodGet, dl, nil, rcpt)
	wantStatus(t, rec, http.StatusOK, "")
	if rec.Body.String() != string(pdf) || rec.Header().Get("Content-Type") != "application/pdf" ||
		rec.Header().Get("Content-Disposition") != `attachment; filename=monthly-2026-10.pdf` {
		t.Fatalf("download: %q %v", rec.Body, rec.Header())
	}
	rec = e.call(t, http.MethodGet, PathReportArchive+"/01JDEF/monthly/2026-10.html", nil, rcpt)
	wantStatus(t, rec, http.StatusOK, "")
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") {
		t.Errorf("HTML report served without a sandbox: %q", csp)
	}
	wantStatus(t, e.call(t, http.MethodGet, PathReportArchive+"/01JDEF/monthly/2026-09.pdf", nil, rcpt), http.StatusNotFound, CodeNotFound)
	wantStatus(t, e.call(t, http.MethodGet, PathReportArchive+"/01JDEF/monthly/..", nil, rcpt), http.StatusNotFound, CodeNotFound)
	wantStatus(t, e.call(t, http.MethodGet, PathReportArchive+"?definition_id=../x", nil, rcpt), http.StatusBadRequest, CodeInvalid)
	// Reports, not raw flows.
	wantStatus(t, e.call(t, http.MethodGet, PathFlows, nil, rcpt), http.StatusForbidden, CodeForbidden)
	wantStatus(t, e.call(t, http.MethodPost, PathQuery, `{"dataset":"flows"}`, rcpt), http.StatusForbidden, CodeForbidden)
	wantStatus(t, e.call(t, http.MethodPost, PathReportDefinitions, meta.ReportDefinitionInput{Name: "x", Type: "link", Formats: []string{"pdf"}}, rcpt),
		http.StatusForbidden, CodeForbidden)
	// Without an archive the endpoints say so.
	noArchive := newEnv(t, DefaultConfig(), fakeLister{})
	wantStatus(t, noArchive.call(t, http.MethodGet, PathReportArchive, nil, bearer(noArchive.admin)), http.StatusServiceUnavailable, CodeUnavailable)
}

// gqlAs posts a GraphQL request with a token through the server's handler.
func (e *env) gqlAs(t *testing.T, token, q string, vars map[string]any) gqlAnswer {
	t.Helper()
	rec := e.call(t, http.MethodPost, PathGraphQL, string(gqlBody(t, q, vars)), bearer(token))
	var a gqlAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", rec.Code, err, rec.Body)
	}
	return a
}

// TestReportGraphQL: definitions and schedules are managed and listed, runs
// and archived reports listed through GraphQL with the REST permissions; a
// report recipient reads the archive but changes nothing.
func TestReportGraphQL(t *testing.T) {
	e, a := newReportEnv(t)
	rcpt := e.userToken(t, "reader", meta.RoleReportRecipient)
	ans := e.gqlAs(t, e.admin, `mutation { createReportDefinition(input: {name: "links", type: "link", formats: ["pdf"], params: "{\"n\": 5}"}) { id params } }`, nil)
	if len(ans.Errors) > 0 {
		t.Fatalf("create definition: %+v", ans.Errors)
	}
	var def struct {
		CreateReportDefinition struct{ ID, Params string }
	}
	if err := json.Unmarshal(ans.Data, &def); err != nil || def.CreateReportDefinition.Params != `{"n":5}` {
		t.Fatalf("definition %s: %v", ans.Data, err)
	}
	id := def.CreateReportDefinition.ID
	ans = e.gqlAs(t, e.admin, `mutation($d: ID!) { createReportSchedule(input: {name: "weekly", definitionId: $d, period: "weekly", zone: "Mars/Base"}) { id } }`,
		map[string]any{"d": id})
	if ans.code() != "INVALID" || !strings.Contains(ans.Errors[0].Message, `zone "Mars/Base"`) {
		t.Fatalf("bad zone: %+v", ans.Errors)
	}
	ans = e.gqlAs(t, e.admin, `mutation($d: ID!) { createReportSchedule(input: {name: "weekly", definitionId: $d, period: "weekly", zone: "Europe/Berlin",
		recipients: ["noc@example.com"], attach: false}) { id zone delayMinutes attach enabled maxAttempts } }`, map[string]any{"d": id})
	if len(ans.Errors) > 0 || !strings.Contains(string(ans.Data), `"zone":"Europe/Berlin","delayMinutes":15,"attach":false,"enabled":true,"maxAttempts":3`) {
		t.Fatalf("create schedule: %s %+v", ans.Data, ans.Errors)
	}
	ans = e.gqlAs(t, rcpt, `mutation($d: ID!) { createReportSchedule(input: {name: "mine", definitionId: $d, period: "daily"}) { id } }`, map[string]any{"d": id})
	if ans.code() != "FORBIDDEN" {
		t.Fatalf("recipient created a schedule: %+v", ans)
	}
	if _, err := a.Put(t.Context(), []lake.ArchiveFile{{Entry: lake.ArchiveEntry{Definition: id, PeriodKind: "weekly", PeriodLabel: "2026-W44", Format: "pdf"},
		Data: []byte("%PDF")}}); err != nil {
		t.Fatal(err)
	}
	ans = e.gqlAs(t, rcpt, `{ reportSchedules { name period recipients } reportRuns { id finishedAt } archivedReports { periodLabel format size download } }`, nil)
	want := `{"reportSchedules":[{"name":"weekly","period":"weekly","recipients":["noc@example.com"]}],"reportRuns":[],` +
		`"archivedReports":[{"periodLabel":"2026-W44","format":"pdf","size":4,"download":"/api/v1/reports/archive/` + id + `/weekly/2026-W44.pdf"}]}`
	if len(ans.Errors) > 0 || string(ans.Data) != want {
		t.Fatalf("recipient's listing:\n got %s %+v\nwant %s", ans.Data, ans.Errors, want)
	}
	ans = e.gqlAs(t, rcpt, `{ datasets { name } }`, nil)
	if ans.code() != "FORBIDDEN" {
		t.Fatalf("recipient read datasets: %+v", ans)
	}
	ans = e.gqlAs(t, e.admin, `mutation($d: ID!) { deleteReportDefinition(id: $d) }`, map[string]any{"d": id})
	if ans.code() != "CONFLICT" {
		t.Fatalf("deleted a definition in use: %+v", ans)
	}
}
