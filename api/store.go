package api

import (
	"context"
	"time"

	"github.com/flowlake/flowlake/storage/meta"
)

// MetaStore is what the API needs from the metadata store, grouped by
// concern. *meta.Store implements it; tests use a real store on a
// temporary SQLite file.
type MetaStore interface {
	Authenticator
	UserStore
	RoleStore
	TokenStore
	ObjectStore
	SettingsStore
	AuditLog
	IngestLedger
	ReportStore
	EdgeAdmissionStore
	// Ping checks that the store answers (readiness).
	Ping(ctx context.Context) error
}

// Authenticator proves who a caller is and keeps login sessions and the
// login-failure counters that rate-limit password guessing.
type Authenticator interface {
	Authenticate(ctx context.Context, name, password string) (meta.User, error)
	AuthenticateToken(ctx context.Context, secret string) (meta.Principal, error)
	AuthenticateSession(ctx context.Context, secret string) (meta.Principal, error)
	CreateSession(ctx context.Context, userID, remoteAddr, userAgent string) (meta.Session, string, error)
	DeleteSession(ctx context.Context, secret string) error
	RecordLoginFailure(ctx context.Context, key string, window time.Duration) (int, error)
	LoginFailures(ctx context.Context, key string, window time.Duration) (int, time.Time, error)
	ClearLoginFailures(ctx context.Context, key string) error
}

// UserStore manages users.
type UserStore interface {
	CreateUser(ctx context.Context, nu meta.NewUser) (meta.User, error)
	GetUser(ctx context.Context, id string) (meta.User, error)
	ListUsers(ctx context.Context) ([]meta.User, error)
	UpdateUser(ctx context.Context, id string, upd meta.UserUpdate) (meta.User, error)
	DeleteUser(ctx context.Context, id string) error
	ChangePassword(ctx context.Context, userID, current, next string) error
}

// RoleStore manages roles.
type RoleStore interface {
	CreateRole(ctx context.Context, r meta.Role) (meta.Role, error)
	GetRole(ctx context.Context, name string) (meta.Role, error)
	ListRoles(ctx context.Context) ([]meta.Role, error)
	UpdateRole(ctx context.Context, name, description string, perms []meta.Permission) (meta.Role, error)
	DeleteRole(ctx context.Context, name string) error
}

// TokenStore manages API tokens.
type TokenStore interface {
	CreateToken(ctx context.Context, nt meta.NewToken) (meta.Token, string, error)
	GetToken(ctx context.Context, id string) (meta.Token, error)
	ListTokens(ctx context.Context, userID string) ([]meta.Token, error)
	RevokeToken(ctx context.Context, id string) (meta.Token, error)
}

// ObjectStore manages IP groups and applications.
type ObjectStore interface {
	CreateIPGroup(ctx context.Context, in meta.IPGroupInput) (meta.IPGroup, error)
	GetIPGroup(ctx context.Context, id string) (meta.IPGroup, error)
	ListIPGroups(ctx context.Context) ([]meta.IPGroup, error)
	UpdateIPGroup(ctx context.Context, id string, in meta.IPGroupInput) (meta.IPGroup, error)
	DeleteIPGroup(ctx context.Context, id string) error
	CreateApplication(ctx context.Context, in meta.ApplicationInput) (meta.Application, error)
	GetApplication(ctx context.Context, id string) (meta.Application, error)
	ListApplications(ctx context.Context) ([]meta.Application, error)
	UpdateApplication(ctx context.Context, id string, in meta.ApplicationInput) (meta.Application, error)
	DeleteApplication(ctx context.Context, id string) error
}

// SettingsStore reads and changes the system settings.
type SettingsStore interface {
	GetSettings(ctx context.Context) (meta.Settings, error)
	UpdateSettings(ctx context.Context, p meta.SettingsPatch, by string) (meta.Settings, error)
}

// AuditLog appends to and reads the audit log.
type AuditLog interface {
	AppendAudit(ctx context.Context, e meta.AuditEntry) (meta.AuditEntry, error)
	ListAudit(ctx context.Context, f meta.AuditFilter) (meta.AuditPage, error)
}

// IngestLedger remembers the content of every uploaded segment, so the
// same bytes under another id are answered as a duplicate.
type IngestLedger interface {
	ClaimContent(ctx context.Context, hash, id, source string, keep time.Duration) (owner string, err error)
	ReleaseContent(ctx context.Context, hash, id string) error
}

var _ MetaStore = (*meta.Store)(nil)
