package meta

import (
	"fmt"
	"slices"
	"strings"
)

// Permission is one right a role grants. The product brief asks for
// permissions over system configuration, statistics and analysis, alerts
// and reports; users, the audit log and metrics scraping are split out so
// that, for instance, an auditor can read the log without configuring the
// system.
type Permission string

// The permissions. Read permissions allow looking, write permissions allow
// changing; a write permission does not imply its read permission, roles
// list both.
const (
	// PermAnalysisRead: statistics and analysis: datasets, queries,
	// exports of telemetry.
	PermAnalysisRead Permission = "analysis.read"
	// PermObjectsRead: read IP groups and applications (the traffic
	// objects queries and reports refer to).
	PermObjectsRead Permission = "objects.read"
	// PermObjectsWrite: define, change and delete IP groups and
	// applications.
	PermObjectsWrite Permission = "objects.write"
	// PermConfigRead: read system configuration (settings, edges,
	// collectors).
	PermConfigRead Permission = "config.read"
	// PermConfigWrite: change system configuration.
	PermConfigWrite Permission = "config.write"
	// PermAlertsRead: see alert rules, active alerts and their history.
	PermAlertsRead Permission = "alerts.read"
	// PermAlertsWrite: define, change, acknowledge and delete alerts.
	PermAlertsWrite Permission = "alerts.write"
	// PermReportsRead: read and download generated reports.
	PermReportsRead Permission = "reports.read"
	// PermReportsWrite: define and schedule reports and their recipients.
	PermReportsWrite Permission = "reports.write"
	// PermUsersRead: list users, roles and every user's API tokens.
	PermUsersRead Permission = "users.read"
	// PermUsersWrite: manage users, roles and every user's API tokens.
	PermUsersWrite Permission = "users.write"
	// PermAuditRead: read the audit log.
	PermAuditRead Permission = "audit.read"
	// PermMetricsRead: scrape the Prometheus metrics endpoint.
	PermMetricsRead Permission = "metrics.read"
	// PermIngestWrite: upload segments into the lake (edge agents' tokens).
	PermIngestWrite Permission = "ingest.write"
)

// AllPermissions lists every permission, in documentation order.
func AllPermissions() []Permission {
	return []Permission{
		PermAnalysisRead,
		PermObjectsRead, PermObjectsWrite,
		PermConfigRead, PermConfigWrite,
		PermAlertsRead, PermAlertsWrite,
		PermReportsRead, PermReportsWrite,
		PermUsersRead, PermUsersWrite,
		PermAuditRead,
		PermMetricsRead,
		PermIngestWrite,
	}
}

// Valid reports whether p is a known permission.
func (p Permission) Valid() bool { return slices.Contains(AllPermissions(), p) }

// The built-in roles. They always exist, cannot be changed or deleted, and
// their names cannot be taken by custom roles.
const (
	// RoleAdmin holds every permission.
	RoleAdmin = "admin"
	// RoleAnalyst analyses traffic, defines the objects it is analysed
	// by, and owns alerts and reports.
	RoleAnalyst = "analyst"
	// RoleViewer looks at statistics, objects, alerts and reports without
	// changing anything.
	RoleViewer = "viewer"
	// RoleReportRecipient only reads the reports sent to it.
	RoleReportRecipient = "report-recipient"
)

// BuiltinRoles returns the built-in roles with their permissions.
func BuiltinRoles() []Role {
	return []Role{
		{Name: RoleAdmin, Builtin: true, Description: "Every permission, including users, roles and system configuration.",
			Permissions: AllPermissions()},
		{Name: RoleAnalyst, Builtin: true, Description: "Analyses traffic, defines IP groups and applications, owns alerts and reports.",
			Permissions: []Permission{PermAnalysisRead, PermObjectsRead, PermObjectsWrite, PermConfigRead,
				PermAlertsRead, PermAlertsWrite, PermReportsRead, PermReportsWrite}},
		{Name: RoleViewer, Builtin: true, Description: "Reads statistics, objects, alerts and reports; changes nothing.",
			Permissions: []Permission{PermAnalysisRead, PermObjectsRead, PermAlertsRead, PermReportsRead}},
		{Name: RoleReportRecipient, Builtin: true, Description: "Reads the reports sent to it.",
			Permissions: []Permission{PermReportsRead}},
	}
}

// isBuiltinRole reports whether name is a built-in role's.
func isBuiltinRole(name string) bool {
	for _, r := range BuiltinRoles() {
		if r.Name == name {
			return true
		}
	}
	return false
}

// normalizePermissions validates perms and returns them sorted in
// documentation order without duplicates.
func normalizePermissions(perms []Permission) ([]Permission, error) {
	var bad []string
	seen := make(map[Permission]bool, len(perms))
	for _, p := range perms {
		if !p.Valid() {
			bad = append(bad, fmt.Sprintf("%q", p))
		}
		seen[p] = true
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: unknown permission %s (known: %s)", ErrInvalid, strings.Join(bad, ", "), permList(AllPermissions()))
	}
	out := make([]Permission, 0, len(seen))
	for _, p := range AllPermissions() {
		if seen[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

func permList(perms []Permission) string {
	s := make([]string, len(perms))
	for i, p := range perms {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// PermissionSet is a set of permissions, as a principal holds them.
type PermissionSet map[Permission]bool

// NewPermissionSet returns the set of perms.
func NewPermissionSet(perms ...Permission) PermissionSet {
	s := make(PermissionSet, len(perms))
	for _, p := range perms {
		s[p] = true
	}
	return s
}

// Has reports whether the set holds p.
func (s PermissionSet) Has(p Permission) bool { return s[p] }

// List returns the set's permissions in documentation order.
func (s PermissionSet) List() []Permission {
	var out []Permission
	for _, p := range AllPermissions() {
		if s[p] {
			out = append(out, p)
		}
	}
	return out
}
