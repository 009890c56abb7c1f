package meta

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // schedules name IANA zones; the binary must not depend on the host's zoneinfo

	"github.com/robfig/cron/v3"
)

// reportTypes are the report types a definition may name: the nine built-in
// types of docs/reports.md plus custom reports from saved queries.
var reportTypes = []string{"link", "forecast", "network", "topn", "apps", "response", "baseline", "faults", "summary", "custom"}

// ReportTypes returns the report types a definition may name.
func ReportTypes() []string { return slices.Clone(reportTypes) }

// reportFormats are the files a report can be generated as.
var reportFormats = []string{"html", "pdf", "xlsx", "csv"}

// ReportFormats returns the formats a report can be generated as.
func ReportFormats() []string { return slices.Clone(reportFormats) }

// schedulePeriods are the named periods a schedule reports on.
var schedulePeriods = []string{"daily", "weekly", "monthly", "quarterly", "yearly"}

// SchedulePeriods returns the period kinds a schedule may report on.
func SchedulePeriods() []string { return slices.Clone(schedulePeriods) }

// Defaults of a new schedule.
const (
	// DefaultReportDelayMinutes is how long after its period closes a
	// named-period schedule runs, so rollups of the last minutes exist.
	DefaultReportDelayMinutes = 15
	// DefaultReportMaxAttempts is how often a failing run is tried.
	DefaultReportMaxAttempts = 3
	maxReportMaxAttempts     = 10
	maxRecipients            = 100
)

// ReportDefinition says what a report contains: its type, settings and the
// formats it is generated in. Schedules refer to it.
type ReportDefinition struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Type is one of ReportTypes.
	Type string `json:"type"`
	// Params are the type's settings (sections, N, filter, saved query
	// ...) as a JSON object; the report builder interprets them.
	Params json.RawMessage `json:"params"`
	// Formats are the default formats of the report's runs.
	Formats   []string  `json:"formats"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ReportDefinitionInput is what CreateReportDefinition and
// UpdateReportDefinition take.
type ReportDefinitionInput struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Type        string          `json:"type"`
	Params      json.RawMessage `json:"params,omitempty"`
	Formats     []string        `json:"formats"`
}

// ReportSchedule runs a report definition for every period of a kind, in a
// time zone, and mails the result to its recipients.
type ReportSchedule struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	DefinitionID string `json:"definition_id"`
	// Period is the kind of period each run reports on: the last one
	// closed at the run's time (SchedulePeriods).
	Period string `json:"period"`
	// Cron, when set, is a five-field cron expression in Zone that says
	// when to run; empty runs DelayMinutes after each period closes.
	Cron string `json:"cron"`
	// Zone is the IANA time zone of the calendar and of Cron.
	Zone string `json:"zone"`
	// DelayMinutes is how long after its period closes a run starts.
	DelayMinutes int `json:"delay_minutes"`
	// Formats override the definition's; empty uses the definition's.
	Formats []string `json:"formats"`
	// Recipients are the mail addresses the result is sent to.
	Recipients []string `json:"recipients"`
	// Attach sends the files as attachments; false sends links to the
	// archive.
	Attach  bool `json:"attach"`
	Enabled bool `json:"enabled"`
	// MaxAttempts is how often a failing run is tried, with back-off.
	MaxAttempts int       `json:"max_attempts"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ReportScheduleInput is what CreateReportSchedule and
// UpdateReportSchedule take. Nil pointers take the defaults: a delay of
// DefaultReportDelayMinutes, attached files, enabled.
type ReportScheduleInput struct {
	Name         string   `json:"name"`
	DefinitionID string   `json:"definition_id"`
	Period       string   `json:"period"`
	Cron         string   `json:"cron"`
	Zone         string   `json:"zone"`
	DelayMinutes *int     `json:"delay_minutes,omitempty"`
	Formats      []string `json:"formats"`
	Recipients   []string `json:"recipients"`
	Attach       *bool    `json:"attach,omitempty"`
	Enabled      *bool    `json:"enabled,omitempty"`
	MaxAttempts  int      `json:"max_attempts"`
}

// ValidateCron checks a five-field cron expression (minute hour
// day-of-month month day-of-week, or a @daily-style descriptor).
func ValidateCron(expr string) error {
	if strings.Contains(expr, "TZ=") {
		return fmt.Errorf("%w: cron %q: give the time zone in zone, not in the expression", ErrInvalid, expr)
	}
	if _, err := cron.ParseStandard(expr); err != nil {
		return fmt.Errorf("%w: cron %q: %w", ErrInvalid, expr, err)
	}
	return nil
}

func normalizeFormats(formats []string, allowEmpty bool) ([]string, error) {
	out := []string{}
	for i, f := range formats {
		f = strings.ToLower(strings.TrimSpace(f))
		if !slices.Contains(reportFormats, f) {
			return nil, fmt.Errorf("%w: formats[%d]: unknown format %q (known: %s)", ErrInvalid, i, f, strings.Join(reportFormats, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 && !allowEmpty {
		return nil, fmt.Errorf("%w: formats: empty (known: %s)", ErrInvalid, strings.Join(reportFormats, ", "))
	}
	return out, nil
}

func (in ReportDefinitionInput) normalize() (ReportDefinitionInput, error) {
	name, err := validateObjectName("report definition", in.Name)
	if err != nil {
		return in, err
	}
	in.Name = name
	if !slices.Contains(reportTypes, in.Type) {
		return in, fmt.Errorf("%w: report definition %q: unknown type %q (known: %s)", ErrInvalid, name, in.Type, strings.Join(reportTypes, ", "))
	}
	if len(in.Params) == 0 {
		in.Params = json.RawMessage("{}")
	}
	var obj map[string]any
	if err := json.Unmarshal(in.Params, &obj); err != nil || obj == nil {
		return in, fmt.Errorf("%w: report definition %q: params: want a JSON object", ErrInvalid, name)
	}
	if in.Params, err = json.Marshal(obj); err != nil {
		return in, err
	}
	if in.Formats, err = normalizeFormats(in.Formats, false); err != nil {
		return in, fmt.Errorf("report definition %q: %w", name, err)
	}
	return in, nil
}

func (in ReportScheduleInput) normalize() (ReportScheduleInput, error) {
	name, err := validateObjectName("report schedule", in.Name)
	if err != nil {
		return in, err
	}
	in.Name = name
	fail := func(format string, args ...any) (ReportScheduleInput, error) {
		return in, fmt.Errorf("%w: report schedule %q: %s", ErrInvalid, name, fmt.Sprintf(format, args...))
	}
	if in.DefinitionID == "" {
		return fail("definition_id: empty")
	}
	if !slices.Contains(schedulePeriods, in.Period) {
		return fail("period %q: want one of %s", in.Period, strings.Join(schedulePeriods, ", "))
	}
	if in.Zone == "" {
		in.Zone = "UTC"
	}
	if _, err := time.LoadLocation(in.Zone); err != nil || in.Zone == "Local" {
		return fail("zone %q: not an IANA time zone (e.g. Europe/Berlin, UTC)", in.Zone)
	}
	in.Cron = strings.TrimSpace(in.Cron)
	if in.Cron != "" {
		if err := ValidateCron(in.Cron); err != nil {
			return in, fmt.Errorf("report schedule %q: %w", name, err)
		}
	}
	if in.DelayMinutes == nil {
		d := DefaultReportDelayMinutes
		in.DelayMinutes = &d
	}
	if *in.DelayMinutes < 0 || *in.DelayMinutes >= 24*60 {
		return fail("delay_minutes %d: want 0 to 1439", *in.DelayMinutes)
	}
	if in.Formats, err = normalizeFormats(in.Formats, true); err != nil {
		return in, fmt.Errorf("report schedule %q: %w", name, err)
	}
	if len(in.Recipients) > maxRecipients {
		return fail("%d recipients: at most %d", len(in.Recipients), maxRecipients)
	}
	rcpt := []string{}
	for i, r := range in.Recipients {
		a, err := mail.ParseAddress(r)
		if err != nil {
			return fail("recipients[%d] %q: %v", i, r, err)
		}
		if !slices.Contains(rcpt, a.Address) {
			rcpt = append(rcpt, a.Address)
		}
	}
	in.Recipients = rcpt
	if in.Attach == nil {
		t := true
		in.Attach = &t
	}
	if in.Enabled == nil {
		t := true
		in.Enabled = &t
	}
	if in.MaxAttempts == 0 {
		in.MaxAttempts = DefaultReportMaxAttempts
	}
	if in.MaxAttempts < 1 || in.MaxAttempts > maxReportMaxAttempts {
		return fail("max_attempts %d: want 1 to %d", in.MaxAttempts, maxReportMaxAttempts)
	}
	return in, nil
}

// CreateReportDefinition adds a report definition; names are unique.
func (s *Store) CreateReportDefinition(ctx context.Context, in ReportDefinitionInput) (ReportDefinition, error) {
	in, err := in.normalize()
	if err != nil {
		return ReportDefinition{}, fmt.Errorf("create report definition: %w", err)
	}
	formats, err := jsonText(in.Formats)
	if err != nil {
		return ReportDefinition{}, err
	}
	now := s.nowTime()
	d := ReportDefinition{ID: s.newID(), Name: in.Name, Description: in.Description, Type: in.Type, Params: in.Params,
		Formats: in.Formats, CreatedAt: now, UpdatedAt: now}
	_, err = s.exec(ctx, `INSERT INTO report_definitions (id, name, description, type, params, formats, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, d.ID, d.Name, d.Description, d.Type, string(d.Params), formats, micros(now), micros(now))
	if err != nil {
		return ReportDefinition{}, fmt.Errorf("create report definition %q: %w", in.Name, err)
	}
	return d, nil
}

const reportDefinitionColumns = `id, name, description, type, params, formats, created_at, updated_at`

func scanReportDefinition(sc scanner) (ReportDefinition, error) {
	var d ReportDefinition
	var params, formats string
	var created, updated int64
	if err := sc.Scan(&d.ID, &d.Name, &d.Description, &d.Type, &params, &formats, &created, &updated); err != nil {
		return ReportDefinition{}, err
	}
	var err error
	if d.Formats, err = fromJSONText(formats); err != nil {
		return ReportDefinition{}, fmt.Errorf("report definition %s: stored formats: %w", d.ID, err)
	}
	d.Params = json.RawMessage(params)
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	return d, nil
}

// GetReportDefinition returns the report definition with the given ID.
func (s *Store) GetReportDefinition(ctx context.Context, id string) (ReportDefinition, error) {
	return queryOne(ctx, s, "get report definition", id, "report definition", scanReportDefinition,
		`SELECT `+reportDefinitionColumns+` FROM report_definitions WHERE id = ?`, id)
}

// ListReportDefinitions returns every report definition, by name.
func (s *Store) ListReportDefinitions(ctx context.Context) ([]ReportDefinition, error) {
	return queryAll(ctx, s, "list report definitions", scanReportDefinition,
		`SELECT `+reportDefinitionColumns+` FROM report_definitions ORDER BY name`)
}

// UpdateReportDefinition replaces a report definition.
func (s *Store) UpdateReportDefinition(ctx context.Context, id string, in ReportDefinitionInput) (ReportDefinition, error) {
	in, err := in.normalize()
	if err != nil {
		return ReportDefinition{}, fmt.Errorf("update report definition %s: %w", id, err)
	}
	formats, err := jsonText(in.Formats)
	if err != nil {
		return ReportDefinition{}, err
	}
	res, err := s.exec(ctx, `UPDATE report_definitions SET name = ?, description = ?, type = ?, params = ?, formats = ?, updated_at = ?
		WHERE id = ?`, in.Name, in.Description, in.Type, string(in.Params), formats, micros(s.nowTime()), id)
	if err := affectedOne(res, err, "report definition"); err != nil {
		return ReportDefinition{}, fmt.Errorf("update report definition %q: %w", id, err)
	}
	return s.GetReportDefinition(ctx, id)
}

// DeleteReportDefinition deletes a report definition; one that schedules
// still use is ErrConflict.
func (s *Store) DeleteReportDefinition(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(t tx) error {
		var n int
		if err := t.queryRow(ctx, `SELECT COUNT(*) FROM report_schedules WHERE definition_id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: still referenced by %d schedule(s); delete them first", ErrConflict, n)
		}
		res, err := t.exec(ctx, `DELETE FROM report_definitions WHERE id = ?`, id)
		return affectedOne(res, err, "report definition")
	})
	if err != nil {
		return fmt.Errorf("delete report definition %q: %w", id, err)
	}
	return nil
}

// CreateReportSchedule adds a schedule of an existing definition; names
// are unique.
func (s *Store) CreateReportSchedule(ctx context.Context, in ReportScheduleInput) (ReportSchedule, error) {
	in, err := in.normalize()
	if err != nil {
		return ReportSchedule{}, fmt.Errorf("create report schedule: %w", err)
	}
	if _, err := s.GetReportDefinition(ctx, in.DefinitionID); err != nil {
		return ReportSchedule{}, fmt.Errorf("create report schedule %q: %w", in.Name, asInvalid(err))
	}
	now := s.nowTime()
	sc := scheduleOf(in)
	sc.ID, sc.CreatedAt, sc.UpdatedAt = s.newID(), now, now
	formats, rcpt, err := scheduleJSON(sc)
	if err != nil {
		return ReportSchedule{}, err
	}
	_, err = s.exec(ctx, `INSERT INTO report_schedules (id, name, definition_id, period, cron, zone, delay_minutes, formats,
		recipients, attach, enabled, max_attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sc.ID, sc.Name, sc.DefinitionID, sc.Period, sc.Cron, sc.Zone, sc.DelayMinutes, formats, rcpt,
		boolInt(sc.Attach), boolInt(sc.Enabled), sc.MaxAttempts, micros(now), micros(now))
	if err != nil {
		return ReportSchedule{}, fmt.Errorf("create report schedule %q: %w", in.Name, err)
	}
	return sc, nil
}

// asInvalid turns a missing referenced object into invalid input.
func asInvalid(err error) error {
	if strings.Contains(err.Error(), ErrNotFound.Error()) {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}

func scheduleOf(in ReportScheduleInput) ReportSchedule {
	return ReportSchedule{Name: in.Name, DefinitionID: in.DefinitionID, Period: in.Period, Cron: in.Cron, Zone: in.Zone,
		DelayMinutes: *in.DelayMinutes, Formats: in.Formats, Recipients: in.Recipients, Attach: *in.Attach,
		Enabled: *in.Enabled, MaxAttempts: in.MaxAttempts}
}

func scheduleJSON(sc ReportSchedule) (formats, rcpt string, err error) {
	if formats, err = jsonText(sc.Formats); err != nil {
		return "", "", err
	}
	rcpt, err = jsonText(sc.Recipients)
	return formats, rcpt, err
}

const reportScheduleColumns = `id, name, definition_id, period, cron, zone, delay_minutes, formats, recipients, attach, enabled,
	max_attempts, created_at, updated_at`

func scanReportSchedule(sc scanner) (ReportSchedule, error) {
	var r ReportSchedule
	var formats, rcpt string
	var attach, enabled int
	var created, updated int64
	if err := sc.Scan(&r.ID, &r.Name, &r.DefinitionID, &r.Period, &r.Cron, &r.Zone, &r.DelayMinutes, &formats, &rcpt,
		&attach, &enabled, &r.MaxAttempts, &created, &updated); err != nil {
		return ReportSchedule{}, err
	}
	var err error
	if r.Formats, err = fromJSONText(formats); err != nil {
		return ReportSchedule{}, fmt.Errorf("report schedule %s: stored formats: %w", r.ID, err)
	}
	if r.Recipients, err = fromJSONText(rcpt); err != nil {
		return ReportSchedule{}, fmt.Errorf("report schedule %s: stored recipients: %w", r.ID, err)
	}
	r.Attach, r.Enabled = attach != 0, enabled != 0
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return r, nil
}

// GetReportSchedule returns the report schedule with the given ID.
func (s *Store) GetReportSchedule(ctx context.Context, id string) (ReportSchedule, error) {
	return queryOne(ctx, s, "get report schedule", id, "report schedule", scanReportSchedule,
		`SELECT `+reportScheduleColumns+` FROM report_schedules WHERE id = ?`, id)
}

// ListReportSchedules returns every report schedule, by name.
func (s *Store) ListReportSchedules(ctx context.Context) ([]ReportSchedule, error) {
	return queryAll(ctx, s, "list report schedules", scanReportSchedule,
		`SELECT `+reportScheduleColumns+` FROM report_schedules ORDER BY name`)
}

// UpdateReportSchedule replaces a report schedule.
func (s *Store) UpdateReportSchedule(ctx context.Context, id string, in ReportScheduleInput) (ReportSchedule, error) {
	in, err := in.normalize()
	if err != nil {
		return ReportSchedule{}, fmt.Errorf("update report schedule %s: %w", id, err)
	}
	if _, err := s.GetReportDefinition(ctx, in.DefinitionID); err != nil {
		return ReportSchedule{}, fmt.Errorf("update report schedule %q: %w", id, asInvalid(err))
	}
	sc := scheduleOf(in)
	formats, rcpt, err := scheduleJSON(sc)
	if err != nil {
		return ReportSchedule{}, err
	}
	res, err := s.exec(ctx, `UPDATE report_schedules SET name = ?, definition_id = ?, period = ?, cron = ?, zone = ?,
		delay_minutes = ?, formats = ?, recipients = ?, attach = ?, enabled = ?, max_attempts = ?, updated_at = ? WHERE id = ?`,
		sc.Name, sc.DefinitionID, sc.Period, sc.Cron, sc.Zone, sc.DelayMinutes, formats, rcpt, boolInt(sc.Attach),
		boolInt(sc.Enabled), sc.MaxAttempts, micros(s.nowTime()), id)
	if err := affectedOne(res, err, "report schedule"); err != nil {
		return ReportSchedule{}, fmt.Errorf("update report schedule %q: %w", id, err)
	}
	return s.GetReportSchedule(ctx, id)
}

// DeleteReportSchedule deletes a report schedule and its run records; the
// archived files stay until the archive's retention removes them.
func (s *Store) DeleteReportSchedule(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "report_schedules", "report schedule", id)
}
