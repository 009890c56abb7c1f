package meta

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Audit outcomes.
const (
	// OutcomeSuccess: the action was done.
	OutcomeSuccess = "success"
	// OutcomeFailure: the action was attempted and failed (bad input, a
	// wrong password, a conflict, a server error).
	OutcomeFailure = "failure"
	// OutcomeDenied: the caller lacked the permission.
	OutcomeDenied = "denied"
)

// AuditEntry is one line of the audit log: who did what to what, when,
// from where, and how it ended. Entries are never changed or deleted (the
// database refuses both).
type AuditEntry struct {
	// ID orders entries (a ULID: by time, then by arrival).
	ID string    `json:"id"`
	At time.Time `json:"at"`
	// Actor is the user name, "anonymous" or a system actor such as "cli".
	Actor string `json:"actor"`
	// Action names what was done, "<object>.<verb>": "user.create",
	// "login", "settings.update".
	Action string `json:"action"`
	// Target identifies the object acted on (an ID or name), if any.
	Target  string `json:"target"`
	Outcome string `json:"outcome"`
	// RemoteAddr is the client's address; empty for local actions.
	RemoteAddr string `json:"remote_addr"`
	// Detail adds context: the error code of a failure, the fields changed.
	// Never a secret.
	Detail string `json:"detail"`
}

// AuditFilter selects audit entries; zero fields select everything.
type AuditFilter struct {
	Actor   string
	Action  string
	Outcome string
	// Since and Until bound At: Since <= At < Until.
	Since, Until time.Time
	// Before is the cursor: only entries older than the entry with this ID
	// (AuditPage.Next of the previous page).
	Before string
	// Limit caps the entries returned: default 100, at most 1000.
	Limit int
}

// AuditPage is one page of the audit log, newest first.
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	// Next is the cursor of the following page; empty on the last page.
	Next string `json:"next,omitempty"`
}

// Audit list limits.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AppendAudit adds an entry to the audit log and returns it with its ID
// and time (now, unless e.At is set).
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	if e.Actor == "" || e.Action == "" {
		return AuditEntry{}, fmt.Errorf("append audit: %w: actor and action are required", ErrInvalid)
	}
	switch e.Outcome {
	case OutcomeSuccess, OutcomeFailure, OutcomeDenied:
	default:
		return AuditEntry{}, fmt.Errorf("append audit: %w: outcome %q: want success, failure or denied", ErrInvalid, e.Outcome)
	}
	if e.At.IsZero() {
		e.At = s.nowTime()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.ID = s.newID()
	_, err := s.exec(ctx, `INSERT INTO audit_log (id, at, actor, action, target, outcome, remote_addr, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, micros(e.At), e.Actor, e.Action, e.Target, e.Outcome, e.RemoteAddr, e.Detail)
	if err != nil {
		return AuditEntry{}, fmt.Errorf("append audit %s by %s: %w", e.Action, e.Actor, err)
	}
	return e, nil
}

// ceilMicros is t in stored form, rounded up: times are stored in whole
// microseconds, so "at >= t" and "at < t" compare against the next one.
func ceilMicros(t time.Time) int64 {
	us := t.UnixMicro()
	if t.Nanosecond()%1000 != 0 {
		us++
	}
	return us
}

// ListAudit returns a page of the audit log, newest first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) (AuditPage, error) {
	switch {
	case f.Limit == 0:
		f.Limit = DefaultAuditLimit
	case f.Limit < 0 || f.Limit > MaxAuditLimit:
		return AuditPage{}, fmt.Errorf("list audit: %w: limit %d: want 1 to %d", ErrInvalid, f.Limit, MaxAuditLimit)
	}
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.Outcome != "" {
		add("outcome = ?", f.Outcome)
	}
	if !f.Since.IsZero() {
		add("at >= ?", ceilMicros(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", ceilMicros(f.Until))
	}
	if f.Before != "" {
		add("id < ?", f.Before)
	}
	q := `SELECT id, at, actor, action, target, outcome, remote_addr, detail FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, f.Limit+1) // one more tells whether a next page exists
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return AuditPage{}, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	page := AuditPage{Entries: []AuditEntry{}}
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Outcome, &e.RemoteAddr, &e.Detail); err != nil {
			return AuditPage{}, fmt.Errorf("list audit: %w", err)
		}
		e.At = fromMicros(at)
		page.Entries = append(page.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return AuditPage{}, fmt.Errorf("list audit: %w", err)
	}
	if len(page.Entries) > f.Limit {
		page.Entries = page.Entries[:f.Limit]
		page.Next = page.Entries[f.Limit-1].ID
	}
	return page, nil
}
