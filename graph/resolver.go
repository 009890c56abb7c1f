package graph

import (
	"context"
	"log/slog"
	"time"

	"github.com/flowlake/flowlake/graph/model"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// Runner answers queries. *query.Engine implements it.
type Runner interface {
	Run(ctx context.Context, q query.Query) (*query.Result, error)
}

// LeaseAsker answers the lease history questions (leaseHistory).
// *query.Engine implements it.
type LeaseAsker interface {
	Leases(ctx context.Context, q query.LeaseQuestion) (*query.LeaseAnswer, error)
}

var _ LeaseAsker = (*query.Engine)(nil)

// MetaStore is what the schema needs from the metadata store. *meta.Store
// implements it.
type MetaStore interface {
	CreateUser(ctx context.Context, nu meta.NewUser) (meta.User, error)
	GetUser(ctx context.Context, id string) (meta.User, error)
	ListUsers(ctx context.Context) ([]meta.User, error)
	UpdateUser(ctx context.Context, id string, upd meta.UserUpdate) (meta.User, error)
	DeleteUser(ctx context.Context, id string) error
	ListRoles(ctx context.Context) ([]meta.Role, error)
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
	CreateReportDefinition(ctx context.Context, in meta.ReportDefinitionInput) (meta.ReportDefinition, error)
	ListReportDefinitions(ctx context.Context) ([]meta.ReportDefinition, error)
	UpdateReportDefinition(ctx context.Context, id string, in meta.ReportDefinitionInput) (meta.ReportDefinition, error)
	DeleteReportDefinition(ctx context.Context, id string) error
	CreateReportSchedule(ctx context.Context, in meta.ReportScheduleInput) (meta.ReportSchedule, error)
	ListReportSchedules(ctx context.Context) ([]meta.ReportSchedule, error)
	UpdateReportSchedule(ctx context.Context, id string, in meta.ReportScheduleInput) (meta.ReportSchedule, error)
	DeleteReportSchedule(ctx context.Context, id string) error
	ListReportRuns(ctx context.Context, scheduleID string, limit int) ([]meta.ReportRun, error)
}

// ArchiveLister lists the report archive. The server adapts the lake's
// archive to it (graph does not import storage/lake).
type ArchiveLister interface {
	ArchivedReports(ctx context.Context, definitionID string) ([]model.ArchivedReport, error)
}

var _ MetaStore = (*meta.Store)(nil)

// DatasetStats is one dataset's size and time coverage, as the lake
// reports it.
type DatasetStats struct {
	Dataset    string
	Rows       int64
	Bytes      int64
	Files      int
	Partitions int
	MinTime    time.Time // zero when empty
	MaxTime    time.Time
}

// DatasetLister reports the lake's datasets. The server adapts the lake's
// statistics to it (graph does not import storage/lake).
type DatasetLister interface {
	DatasetStats(ctx context.Context) ([]DatasetStats, error)
}

// Deps are the components the schema resolves through. Meta and Datasets
// are required; a nil Query makes the data fields answer UNAVAILABLE.
type Deps struct {
	Query Runner
	// Planner plans the operation's engine queries before they run, so
	// one that would scan too much is refused (Config.MaxScanRowGroups, MaxScanRows);
	// nil skips that check (the number of queries is still capped).
	// *query.Engine implements it.
	Planner Planner
	// Leases answers leaseHistory; nil makes it answer UNAVAILABLE.
	Leases   LeaseAsker
	Meta     MetaStore
	Datasets DatasetLister
	// Archive lists archived reports; nil makes archivedReports answer
	// UNAVAILABLE.
	Archive ArchiveLister
	// Edges asks connected edges over their tunnels (edgeDhcpBindings);
	// nil makes edgeDhcpBindings answer UNAVAILABLE.
	Edges EdgeCommander
	// Fleet lists the edges holding a tunnel to this core and watches
	// their tunnels; nil makes edges and edgeStateChanged answer
	// UNAVAILABLE.
	Fleet Fleet
	// Admissions manages the tunnel's allow-list (edgeAdmissions,
	// admitEdge, revokeEdgeAdmission, issueEdgeUnbindCode); nil makes
	// them answer UNAVAILABLE.
	Admissions AdmissionStore
	// Logger receives resolver failures; nil discards them.
	Logger *slog.Logger
	// Now is the clock of rate snapshots; default time.Now. Query time
	// ranges follow the engine's own clock.
	Now func() time.Time
}

// Resolver is the root of the resolvers: the dependencies every field
// resolves through.
type Resolver struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	subs *subscriptions
}

// run answers q through the engine.
func (r *Resolver) run(ctx context.Context, q query.Query) (*query.Result, error) {
	if r.deps.Query == nil {
		return nil, ErrUnavailable
	}
	res, err := r.deps.Query.Run(ctx, q)
	if err == nil {
		addWarnings(ctx, res.Warnings)
	}
	return res, err
}
