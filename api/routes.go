package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// newEcho builds the router with its middleware and the routes of the
// route table, each behind guard.
func (s *Server) newEcho(table []route) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.errorHandler
	if s.cfg.TrustProxyHeaders {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
	}
	e.Use(s.recoverPanics, s.requestID, s.observe)
	for _, r := range table {
		e.Add(r.method, r.path, r.handler, s.guard(r))
	}
	return e
}

// Status is the body of the health and readiness endpoints.
type Status struct {
	Status string `json:"status"`
}

// health answers liveness probes: the process is up and serving.
func (s *Server) health(c echo.Context) error {
	return c.JSON(http.StatusOK, Status{Status: "ok"})
}

// readiness answers readiness probes: the server is not shutting down and
// the metadata store answers (the lake was opened before the server was
// built).
func (s *Server) readiness(c echo.Context) error {
	if !s.ready.Load() {
		return fmt.Errorf("%w: shutting down", ErrUnavailable)
	}
	if err := s.deps.Meta.Ping(c.Request().Context()); err != nil {
		s.logger.WarnContext(c.Request().Context(), "not ready", "err", err)
		return fmt.Errorf("%w: metadata store", ErrUnavailable)
	}
	return c.JSON(http.StatusOK, Status{Status: "ready"})
}

// Dataset is one entry of GET /api/v1/datasets. MinTime and MaxTime are
// null for an empty dataset.
type Dataset struct {
	Dataset     string     `json:"dataset"`
	DerivedFrom string     `json:"derived_from,omitempty"` // a rollup's source dataset
	Rows        int64      `json:"rows"`
	Bytes       int64      `json:"bytes"`
	BytesPerRow float64    `json:"bytes_per_row"`
	Files       int        `json:"files"`
	Partitions  int        `json:"partitions"`
	MinTime     *time.Time `json:"min_time"`
	MaxTime     *time.Time `json:"max_time"`
}

// DatasetsResponse is the body of GET /api/v1/datasets.
type DatasetsResponse struct {
	Datasets []Dataset `json:"datasets"`
}

// listDatasets answers GET /api/v1/datasets: every dataset of the schema,
// in schema order, empty ones included, then any other dataset the lake
// reports (rollups, for instance).
func (s *Server) listDatasets(c echo.Context) error {
	stats, err := s.deps.Datasets.Stats(c.Request().Context())
	if err != nil {
		return fmt.Errorf("dataset statistics: %w", err)
	}
	return c.JSON(http.StatusOK, DatasetsResponse{Datasets: DatasetsOf(stats)})
}

// DatasetsOf converts lake statistics to the API's shape, in schema order
// with every dataset of the schema present (empty ones the lake left out
// are filled in), followed by any other dataset the lake reports. The CLI
// prints the same shape, so scripts read both alike.
func DatasetsOf(stats []lake.DatasetStats) []Dataset {
	byName := make(map[string]lake.DatasetStats, len(stats))
	for _, st := range stats {
		byName[st.Dataset] = st
	}
	names := schema.Names()
	known := make(map[string]bool, len(names))
	out := make([]Dataset, 0, len(names))
	for _, name := range names {
		known[name] = true
		st := byName[name]
		st.Dataset = name
		out = append(out, datasetOf(st))
	}
	for _, st := range stats {
		if !known[st.Dataset] {
			out = append(out, datasetOf(st))
		}
	}
	return out
}

func datasetOf(st lake.DatasetStats) Dataset {
	d := Dataset{
		Dataset:     st.Dataset,
		DerivedFrom: derivedFrom(st.Dataset),
		Rows:        st.Rows,
		Bytes:       st.Bytes,
		BytesPerRow: st.BytesPerRow(),
		Files:       st.Files,
		Partitions:  st.Partitions,
	}
	if !st.MinTime.IsZero() {
		t := st.MinTime.UTC()
		d.MinTime = &t
	}
	if !st.MaxTime.IsZero() {
		t := st.MaxTime.UTC()
		d.MaxTime = &t
	}
	return d
}

func derivedFrom(name string) string {
	if d, err := schema.Lookup(name); err == nil {
		return d.DerivedFrom
	}
	return ""
}
