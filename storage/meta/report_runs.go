package meta

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Report run statuses.
const (
	RunRunning = "running"
	// RunRetrying: an attempt failed (Error says why) and the next one
	// waits for its back-off.
	RunRetrying  = "retrying"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
)

// ReportRun is the record of one scheduled run of a report: which period it
// covered, which replica ran it, how it ended, what it archived and whom it
// mailed.
type ReportRun struct {
	ID           string    `json:"id"`
	ScheduleID   string    `json:"schedule_id"`
	DefinitionID string    `json:"definition_id"`
	ScheduledFor time.Time `json:"scheduled_for"`
	PeriodKind   string    `json:"period_kind"`
	PeriodLabel  string    `json:"period_label"`
	PeriodFrom   time.Time `json:"period_from"`
	PeriodTo     time.Time `json:"period_to"`
	Zone         string    `json:"zone"`
	// Owner names the replica that claimed the run.
	Owner string `json:"owner"`
	// Status is RunRunning, RunRetrying, RunSucceeded or RunFailed.
	Status string `json:"status"`
	// Attempt counts tries, from 1.
	Attempt int `json:"attempt"`
	// Error is the last attempt's error; empty on success.
	Error       string    `json:"error"`
	ArchiveKeys []string  `json:"archive_keys"`
	MailedTo    []string  `json:"mailed_to"`
	StartedAt   time.Time `json:"started_at"`
	// FinishedAt is zero while the run is running.
	FinishedAt time.Time `json:"finished_at"`
}

// ReportRunClaim asks for one scheduled run: a schedule at its fire time.
type ReportRunClaim struct {
	ScheduleID   string
	DefinitionID string
	ScheduledFor time.Time
	PeriodKind   string
	PeriodLabel  string
	PeriodFrom   time.Time
	PeriodTo     time.Time
	Zone         string
	Owner        string
}

// ClaimReportRun records the run c describes as running, attempt 1, owned
// by c.Owner, and returns it with true. When any replica already claimed
// the same (schedule, fire time), it changes nothing and returns the
// existing record with false: of several replicas sharing the store,
// exactly one runs each scheduled run. A deleted schedule is ErrNotFound.
func (s *Store) ClaimReportRun(ctx context.Context, c ReportRunClaim) (ReportRun, bool, error) {
	now := s.nowTime()
	run := ReportRun{ID: s.newID(), ScheduleID: c.ScheduleID, DefinitionID: c.DefinitionID,
		ScheduledFor: c.ScheduledFor.UTC().Truncate(time.Microsecond), PeriodKind: c.PeriodKind, PeriodLabel: c.PeriodLabel,
		PeriodFrom: c.PeriodFrom.UTC().Truncate(time.Microsecond), PeriodTo: c.PeriodTo.UTC().Truncate(time.Microsecond),
		Zone: c.Zone, Owner: c.Owner, Status: RunRunning, Attempt: 1, ArchiveKeys: []string{}, MailedTo: []string{}, StartedAt: now}
	claimed := false
	err := s.inTx(ctx, func(t tx) error {
		var one int
		if err := t.queryRow(ctx, `SELECT 1 FROM report_schedules WHERE id = ?`, c.ScheduleID).Scan(&one); err != nil {
			return fmt.Errorf("schedule %q: %w", c.ScheduleID, notFound(err, "report schedule"))
		}
		res, err := t.exec(ctx, `INSERT INTO report_runs (id, schedule_id, definition_id, scheduled_for, period_kind, period_label,
			period_from, period_to, zone, owner, status, attempt, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (schedule_id, scheduled_for) DO NOTHING`,
			run.ID, run.ScheduleID, run.DefinitionID, micros(run.ScheduledFor), run.PeriodKind, run.PeriodLabel,
			micros(run.PeriodFrom), micros(run.PeriodTo), run.Zone, run.Owner, run.Status, run.Attempt, micros(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		claimed = n == 1
		if !claimed {
			run, err = scanReportRun(t.queryRow(ctx, `SELECT `+reportRunColumns+` FROM report_runs
				WHERE schedule_id = ? AND scheduled_for = ?`, c.ScheduleID, micros(run.ScheduledFor)))
			return err
		}
		return nil
	})
	if err != nil {
		return ReportRun{}, false, fmt.Errorf("claim report run of schedule %q at %s: %w", c.ScheduleID,
			c.ScheduledFor.UTC().Format(time.RFC3339), err)
	}
	return run, claimed, nil
}

// ReportRunUpdate is the new state of a run after an attempt.
type ReportRunUpdate struct {
	Status      string
	Attempt     int
	Error       string
	ArchiveKeys []string
	MailedTo    []string
	// Finished marks the run as ended (succeeded, or failed for good).
	Finished bool
}

// UpdateReportRun records the outcome of an attempt.
func (s *Store) UpdateReportRun(ctx context.Context, id string, u ReportRunUpdate) (ReportRun, error) {
	switch u.Status {
	case RunRunning, RunRetrying, RunSucceeded, RunFailed:
	default:
		return ReportRun{}, fmt.Errorf("update report run %q: %w: status %q", id, ErrInvalid, u.Status)
	}
	keys, err := jsonText(nonNil(u.ArchiveKeys))
	if err != nil {
		return ReportRun{}, err
	}
	mailed, err := jsonText(nonNil(u.MailedTo))
	if err != nil {
		return ReportRun{}, err
	}
	var finished sql.NullInt64
	if u.Finished {
		finished = nullMicros(s.nowTime())
	}
	res, err := s.exec(ctx, `UPDATE report_runs SET status = ?, attempt = ?, error = ?, archive_keys = ?, mailed_to = ?,
		finished_at = ? WHERE id = ?`, u.Status, u.Attempt, u.Error, keys, mailed, finished, id)
	if err := affectedOne(res, err, "report run"); err != nil {
		return ReportRun{}, fmt.Errorf("update report run %q: %w", id, err)
	}
	return s.GetReportRun(ctx, id)
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

const reportRunColumns = `id, schedule_id, definition_id, scheduled_for, period_kind, period_label, period_from, period_to,
	zone, owner, status, attempt, error, archive_keys, mailed_to, started_at, finished_at`

func scanReportRun(sc scanner) (ReportRun, error) {
	var r ReportRun
	var sched, from, to, started int64
	var finished sql.NullInt64
	var keys, mailed string
	if err := sc.Scan(&r.ID, &r.ScheduleID, &r.DefinitionID, &sched, &r.PeriodKind, &r.PeriodLabel, &from, &to,
		&r.Zone, &r.Owner, &r.Status, &r.Attempt, &r.Error, &keys, &mailed, &started, &finished); err != nil {
		return ReportRun{}, err
	}
	var err error
	if r.ArchiveKeys, err = fromJSONText(keys); err != nil {
		return ReportRun{}, fmt.Errorf("report run %s: stored archive keys: %w", r.ID, err)
	}
	if r.MailedTo, err = fromJSONText(mailed); err != nil {
		return ReportRun{}, fmt.Errorf("report run %s: stored recipients: %w", r.ID, err)
	}
	r.ScheduledFor, r.PeriodFrom, r.PeriodTo = fromMicros(sched), fromMicros(from), fromMicros(to)
	r.StartedAt, r.FinishedAt = fromMicros(started), fromNullMicros(finished)
	return r, nil
}

// GetReportRun returns the run with the given ID.
func (s *Store) GetReportRun(ctx context.Context, id string) (ReportRun, error) {
	return queryOne(ctx, s, "get report run", id, "report run", scanReportRun,
		`SELECT `+reportRunColumns+` FROM report_runs WHERE id = ?`, id)
}

// maxRunList caps one listing of runs.
const maxRunList = 1000

// ListReportRuns returns the newest runs first, of one schedule when
// scheduleID is set, at most limit (1 to 1000; 0 means 100).
func (s *Store) ListReportRuns(ctx context.Context, scheduleID string, limit int) ([]ReportRun, error) {
	if limit == 0 {
		limit = 100
	}
	if limit < 0 || limit > maxRunList {
		return nil, fmt.Errorf("list report runs: %w: limit %d: want 1 to %d", ErrInvalid, limit, maxRunList)
	}
	if scheduleID != "" {
		return queryAll(ctx, s, "list report runs", scanReportRun, `SELECT `+reportRunColumns+` FROM report_runs
			WHERE schedule_id = ? ORDER BY scheduled_for DESC, id DESC LIMIT ?`, scheduleID, limit)
	}
	return queryAll(ctx, s, "list report runs", scanReportRun, `SELECT `+reportRunColumns+` FROM report_runs
		ORDER BY scheduled_for DESC, id DESC LIMIT ?`, limit)
}
