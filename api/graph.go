package api

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/graph"
	"github.com/flowlake/flowlake/graph/model"
)

// GraphQL paths: the endpoint (GET and POST, WebSocket upgrades on GET)
// and the playground page.
const (
	PathGraphQL           = "/api/v1/graphql"
	PathGraphQLPlayground = "/api/v1/graphql/playground"
)

// graphDatasets adapts the lake's statistics to graph.DatasetLister.
type graphDatasets struct{ l DatasetLister }

func (g graphDatasets) DatasetStats(ctx context.Context) ([]graph.DatasetStats, error) {
	stats, err := g.l.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("dataset statistics: %w", err)
	}
	out := make([]graph.DatasetStats, len(stats))
	for i, st := range stats {
		out[i] = graph.DatasetStats{Dataset: st.Dataset, Rows: st.Rows, Bytes: st.Bytes, Files: st.Files,
			Partitions: st.Partitions, MinTime: st.MinTime, MaxTime: st.MaxTime}
	}
	return out, nil
}

// graphArchive adapts the report archive to graph.ArchiveLister.
type graphArchive struct{ a ReportArchive }

func (g graphArchive) ArchivedReports(ctx context.Context, definitionID string) ([]model.ArchivedReport, error) {
	list, err := g.a.List(ctx, definitionID)
	if err != nil {
		return nil, err
	}
	out := make([]model.ArchivedReport, len(list))
	for i, r := range list {
		out[i] = model.ArchivedReport{DefinitionID: r.Definition, PeriodKind: r.PeriodKind, PeriodLabel: r.PeriodLabel, Format: r.Format,
			Key: r.Key, Size: r.Size, Archived: r.Archived, Download: archiveDownloadPath(r.ArchiveEntry)}
	}
	return out, nil
}

// graphQL builds the GraphQL handler over the server's engine and store
// and returns the echo handlers of the endpoint and the playground. guard
// has authenticated the caller (any valid credentials: fields check their
// own permissions, the same as the REST routes'); the handler gets the
// principal and an audit hook in the request context, so mutations are
// audited under their REST actions.
func (s *Server) graphQL() (endpoint, playground echo.HandlerFunc) {
	deps := graph.Deps{Meta: s.deps.Meta, Datasets: graphDatasets{s.deps.Datasets}, Admissions: s.graphAdmissions(), Logger: s.logger}
	if s.deps.Archive != nil {
		deps.Archive = graphArchive{s.deps.Archive}
	}
	if s.deps.Leases != nil {
		deps.Leases = s.deps.Leases
	}
	if s.deps.Tunnel != nil {
		deps.Edges = graphEdges{s.deps.Tunnel}
		deps.Fleet = graphFleet{s}
	}
	if s.deps.Query != nil {
		deps.Query = s.deps.Query
		// An engine that can EXPLAIN lets GraphQL refuse an operation by
		// what it would scan before anything runs.
		if p, ok := s.deps.Query.(graph.Planner); ok {
			deps.Planner = p
		}
	}
	cfg := s.cfg.GraphQL
	cfg.Endpoint = PathGraphQL
	h, err := graph.New(cfg, deps)
	if err != nil {
		// Only a bad configuration fails, and the configuration is fixed.
		unavailable := func(echo.Context) error { return fmt.Errorf("%w: graphql: %v", ErrUnavailable, err) }
		return unavailable, unavailable
	}
	s.graph.Store(h)
	endpoint = func(c echo.Context) error {
		p := principalOf(c)
		var mu sync.Mutex // mutations over one WebSocket may run at once; the echo context is not safe for that
		ctx := graph.WithCaller(c.Request().Context(), graph.Caller{
			Principal: p,
			Audit: func(_ context.Context, e graph.AuditEvent) {
				mu.Lock()
				defer mu.Unlock()
				c.Set(auditTargetKey, e.Target)
				s.audit(c, e.Action, p.User.Name, e.Outcome, e.Detail)
			},
		})
		h.ServeHTTP(c.Response(), c.Request().WithContext(ctx))
		return nil
	}
	return endpoint, echo.WrapHandler(http.Handler(h.Playground()))
}
