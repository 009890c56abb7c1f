package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/storage/lake"
)

// SegmentPublisher validates an uploaded segment and publishes it into the
// lake under its id, idempotently. *lake.Lake implements it.
type SegmentPublisher interface {
	Publish(ctx context.Context, id string, r io.ReaderAt, size int64) (lake.Published, error)
}

var _ SegmentPublisher = (*lake.Lake)(nil)

// MaxSegmentBytes bounds an uploaded segment. Edges rotate segments far
// below it (edge.batch_rows, edge.batch_bytes).
const MaxSegmentBytes = 1 << 30

// IngestResult is the answer to PUT /api/v1/ingest/segments/{id}: 201 when
// the segment was published, 200 when it already was (a retry).
type IngestResult struct {
	ID      string    `json:"id"`
	Key     string    `json:"key"`
	Dataset string    `json:"dataset"`
	Rows    int64     `json:"rows"`
	Bytes   int64     `json:"bytes"`
	MinTime time.Time `json:"min_time"`
	MaxTime time.Time `json:"max_time"`
	Created bool      `json:"created"`
}

// ingestSegment answers PUT /api/v1/ingest/segments/{id}: it stores the
// body in a temporary file (bounded by MaxSegmentBytes), validates it
// completely and publishes it into the lake under its id. The edge deletes
// its spooled copy only after a 200 or 201, so a lost answer makes it
// upload again, which publishes nothing twice.
func (s *Server) ingestSegment(c echo.Context) error {
	id := c.Param("id")
	c.Set(auditTargetKey, id)
	if s.deps.Ingest == nil {
		return fmt.Errorf("%w: this server does not accept segment uploads", ErrUnavailable)
	}
	if _, _, err := lake.ParseSegmentID(id); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	req := c.Request()
	if req.ContentLength > MaxSegmentBytes {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("segment of %d bytes exceeds the limit of %d", req.ContentLength, MaxSegmentBytes))
	}
	tmp, err := os.CreateTemp("", "flowlake-ingest-*.parquet")
	if err != nil {
		return fmt.Errorf("ingest %s: temporary file: %w", id, err)
	}
	defer func() { _ = tmp.Close(); _ = os.Remove(tmp.Name()) }()
	n, err := io.Copy(tmp, io.LimitReader(req.Body, MaxSegmentBytes+1))
	if err != nil {
		return fmt.Errorf("%w: reading segment %s: %v", ErrInvalid, id, err)
	}
	if n > MaxSegmentBytes {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("segment exceeds the limit of %d bytes", MaxSegmentBytes))
	}
	if req.ContentLength >= 0 && n != req.ContentLength {
		return fmt.Errorf("%w: segment %s: got %d bytes, Content-Length says %d", ErrInvalid, id, n, req.ContentLength)
	}
	p, err := s.deps.Ingest.Publish(req.Context(), id, tmp, n)
	switch {
	case errors.Is(err, lake.ErrCorrupt), errors.Is(err, lake.ErrSegmentID):
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	case err != nil:
		return fmt.Errorf("ingest %s: %w", id, err)
	}
	status := http.StatusOK
	if p.Created {
		status = http.StatusCreated
		c.Set(auditDetailKey, fmt.Sprintf("%s %d rows %d bytes", p.Key, p.Rows, p.Bytes))
	} else {
		c.Set(auditDetailKey, "already published: "+p.Key)
	}
	return c.JSON(status, IngestResult{ID: id, Key: p.Key, Dataset: p.Dataset, Rows: p.Rows, Bytes: p.Bytes,
		MinTime: p.MinTime.UTC(), MaxTime: p.MaxTime.UTC(), Created: p.Created})
}
