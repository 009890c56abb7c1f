package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
)

// ReportStore manages report definitions and schedules and lists run
// records. *meta.Store implements it.
type ReportStore interface {
	CreateReportDefinition(ctx context.Context, in meta.ReportDefinitionInput) (meta.ReportDefinition, error)
	GetReportDefinition(ctx context.Context, id string) (meta.ReportDefinition, error)
	ListReportDefinitions(ctx context.Context) ([]meta.ReportDefinition, error)
	UpdateReportDefinition(ctx context.Context, id string, in meta.ReportDefinitionInput) (meta.ReportDefinition, error)
	DeleteReportDefinition(ctx context.Context, id string) error
	CreateReportSchedule(ctx context.Context, in meta.ReportScheduleInput) (meta.ReportSchedule, error)
	GetReportSchedule(ctx context.Context, id string) (meta.ReportSchedule, error)
	ListReportSchedules(ctx context.Context) ([]meta.ReportSchedule, error)
	UpdateReportSchedule(ctx context.Context, id string, in meta.ReportScheduleInput) (meta.ReportSchedule, error)
	DeleteReportSchedule(ctx context.Context, id string) error
	ListReportRuns(ctx context.Context, scheduleID string, limit int) ([]meta.ReportRun, error)
}

// ReportArchive lists and reads archived reports. *lake.Archive implements
// it.
type ReportArchive interface {
	List(ctx context.Context, definition string) ([]lake.ArchivedReport, error)
	Read(ctx context.Context, key string) (lake.ArchiveEntry, []byte, error)
}

var _ ReportArchive = (*lake.Archive)(nil)

// ReportDefinitionsResponse is the body of GET /api/v1/report-definitions.
type ReportDefinitionsResponse struct {
	Definitions []meta.ReportDefinition `json:"definitions"`
}

// ReportSchedulesResponse is the body of GET /api/v1/report-schedules.
type ReportSchedulesResponse struct {
	Schedules []meta.ReportSchedule `json:"schedules"`
}

// ReportRunsResponse is the body of GET /api/v1/report-runs.
type ReportRunsResponse struct {
	Runs []meta.ReportRun `json:"runs"`
}

// ArchivedReport is one entry of GET /api/v1/reports/archive: an archived
// file and the path it downloads from.
type ArchivedReport struct {
	lake.ArchivedReport
	// Download is the API path of the file.
	Download string `json:"download"`
}

// ArchiveResponse is the body of GET /api/v1/reports/archive.
type ArchiveResponse struct {
	Reports []ArchivedReport `json:"reports"`
}

func (s *Server) listReportDefinitions(c echo.Context) error {
	ds, err := s.deps.Meta.ListReportDefinitions(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ReportDefinitionsResponse{Definitions: ds})
}

func (s *Server) createReportDefinition(c echo.Context) error {
	var in meta.ReportDefinitionInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	c.Set(auditTargetKey, in.Name)
	d, err := s.deps.Meta.CreateReportDefinition(c.Request().Context(), in)
	if err != nil {
		return err
	}
	c.Set(auditTargetKey, d.ID)
	c.Set(auditDetailKey, fmt.Sprintf("name %q, type %s", d.Name, d.Type))
	return c.JSON(http.StatusCreated, d)
}

func (s *Server) getReportDefinition(c echo.Context) error {
	d, err := s.deps.Meta.GetReportDefinition(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Server) updateReportDefinition(c echo.Context) error {
	var in meta.ReportDefinitionInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	d, err := s.deps.Meta.UpdateReportDefinition(c.Request().Context(), c.Param("id"), in)
	if err != nil {
		return err
	}
	c.Set(auditDetailKey, fmt.Sprintf("name %q, type %s", d.Name, d.Type))
	return c.JSON(http.StatusOK, d)
}

func (s *Server) deleteReportDefinition(c echo.Context) error {
	if err := s.deps.Meta.DeleteReportDefinition(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listReportSchedules(c echo.Context) error {
	ss, err := s.deps.Meta.ListReportSchedules(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ReportSchedulesResponse{Schedules: ss})
}

func scheduleDetail(sc meta.ReportSchedule) string {
	return fmt.Sprintf("name %q, %s in %s, %d recipients, enabled %v", sc.Name, sc.Period, sc.Zone, len(sc.Recipients), sc.Enabled)
}

func (s *Server) createReportSchedule(c echo.Context) error {
	var in meta.ReportScheduleInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	c.Set(auditTargetKey, in.Name)
	sc, err := s.deps.Meta.CreateReportSchedule(c.Request().Context(), in)
	if err != nil {
		return err
	}
	c.Set(auditTargetKey, sc.ID)
	c.Set(auditDetailKey, scheduleDetail(sc))
	return c.JSON(http.StatusCreated, sc)
}

func (s *Server) getReportSchedule(c echo.Context) error {
	sc, err := s.deps.Meta.GetReportSchedule(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sc)
}

func (s *Server) updateReportSchedule(c echo.Context) error {
	var in meta.ReportScheduleInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	sc, err := s.deps.Meta.UpdateReportSchedule(c.Request().Context(), c.Param("id"), in)
	if err != nil {
		return err
	}
	c.Set(auditDetailKey, scheduleDetail(sc))
	return c.JSON(http.StatusOK, sc)
}

func (s *Server) deleteReportSchedule(c echo.Context) error {
	if err := s.deps.Meta.DeleteReportSchedule(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listReportRuns(c echo.Context) error {
	limit := 0
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%w: limit %q: not a number", ErrInvalid, v)
		}
		limit = n
	}
	runs, err := s.deps.Meta.ListReportRuns(c.Request().Context(), c.QueryParam("schedule_id"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ReportRunsResponse{Runs: runs})
}

// archive returns the report archive or why it cannot be used.
func (s *Server) archive() (ReportArchive, error) {
	if s.deps.Archive == nil {
		return nil, fmt.Errorf("%w: no report archive configured", ErrUnavailable)
	}
	return s.deps.Archive, nil
}

func (s *Server) listArchive(c echo.Context) error {
	a, err := s.archive()
	if err != nil {
		return err
	}
	list, err := a.List(c.Request().Context(), c.QueryParam("definition_id"))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	out := make([]ArchivedReport, len(list))
	for i, r := range list {
		out[i] = ArchivedReport{ArchivedReport: r, Download: archiveDownloadPath(r.ArchiveEntry)}
	}
	return c.JSON(http.StatusOK, ArchiveResponse{Reports: out})
}

// archiveDownloadPath is the API path an archived file downloads from.
func archiveDownloadPath(e lake.ArchiveEntry) string {
	return PathReportArchive + "/" + e.Definition + "/" + e.PeriodKind + "/" + e.PeriodLabel + "." + e.Format
}

// archiveContentTypes are the media types archived formats are served as.
var archiveContentTypes = map[string]string{
	"html": "text/html; charset=utf-8",
	"pdf":  "application/pdf",
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"csv":  "text/csv; charset=utf-8",
}

func (s *Server) downloadArchived(c echo.Context) error {
	a, err := s.archive()
	if err != nil {
		return err
	}
	key := lake.ArchivePrefix + c.Param("definition") + "/" + c.Param("kind") + "/" + c.Param("file")
	e, data, err := a.Read(c.Request().Context(), key)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: archived report %s", ErrNotFound, key)
	}
	if err != nil {
		if _, perr := lake.ParseArchiveKey(key); perr != nil {
			return fmt.Errorf("%w: %w", ErrNotFound, perr)
		}
		return err
	}
	ct, ok := archiveContentTypes[e.Format]
	if !ok {
		ct = "application/octet-stream"
	}
	name := e.PeriodKind + "-" + e.PeriodLabel + "." + e.Format
	c.Response().Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	c.Response().Header().Set("X-Content-Type-Options", "nosniff")
	// An HTML report is self-contained: it may run no script and load
	// nothing, whatever names the data put in it.
	c.Response().Header().Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'")
	return c.Blob(http.StatusOK, ct, data)
}
