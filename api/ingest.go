package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
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

// Outcomes of a segment upload, the label of
// flowlake_api_ingest_segments_total.
const (
	ingestPublished   = "published"
	ingestRetry       = "retry"
	ingestDuplicate   = "duplicate"
	ingestRefusedEdge = "refused_edge"
	ingestRefusedTime = "refused_time"
	ingestInvalid     = "invalid"
	ingestFailed      = "failed"
)

var ingestOutcomes = []string{ingestPublished, ingestRetry, ingestDuplicate, ingestRefusedEdge, ingestRefusedTime, ingestInvalid, ingestFailed}

// IngestResult is the answer to PUT /api/v1/ingest/segments/{id}: 201 when
// the segment was published, 200 when it already was (a retry), or when
// the same content was already published under another id (DuplicateOf).
type IngestResult struct {
	ID      string    `json:"id"`
	Key     string    `json:"key,omitempty"`
	Dataset string    `json:"dataset"`
	Rows    int64     `json:"rows"`
	Bytes   int64     `json:"bytes"`
	MinTime time.Time `json:"min_time"`
	MaxTime time.Time `json:"max_time"`
	Created bool      `json:"created"`
	// DuplicateOf is the id under which the same bytes were uploaded
	// first; nothing was written for this one.
	DuplicateOf string `json:"duplicate_of,omitempty"`
}

// ingestSegment answers PUT /api/v1/ingest/segments/{id}. It checks that
// the caller may write for the segment's source, stores the body in a
// temporary file (bounded by MaxSegmentBytes) while hashing it, refuses
// rows outside the configured time window, answers a content already
// uploaded under another id as a duplicate, and otherwise validates the
// file completely and publishes it into the lake under its id. The edge
// deletes its spooled copy only after a 200 or 201, so a lost answer makes
// it upload again, which publishes nothing twice.
func (s *Server) ingestSegment(c echo.Context) error {
	id := c.Param("id")
	c.Set(auditTargetKey, id)
	outcome := ingestInvalid
	defer func() { s.metrics.ingest.WithLabelValues(outcome).Inc() }()
	if s.deps.Ingest == nil {
		outcome = ingestFailed
		return fmt.Errorf("%w: this server does not accept segment uploads", ErrUnavailable)
	}
	source, _, err := lake.ParseSegmentID(id)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if p := principalOf(c); !p.MayWriteFor(source) {
		outcome = ingestRefusedEdge
		if len(p.Edges) > 0 {
			return fmt.Errorf("%w: segment %s: this token may upload for edges %v only, not %q", ErrForbidden, id, p.Edges, source)
		}
		return fmt.Errorf("%w: segment %s: a token bound to no edge may upload only for the edge named like its user (%q), not %q; bind the token to the edge (\"edges\" at token creation)",
			ErrForbidden, id, p.User.Name, source)
	}
	req := c.Request()
	if req.ContentLength > MaxSegmentBytes {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("segment of %d bytes exceeds the limit of %d", req.ContentLength, MaxSegmentBytes))
	}
	tmp, err := os.CreateTemp("", "flowlake-ingest-*.parquet")
	if err != nil {
		outcome = ingestFailed
		return fmt.Errorf("ingest %s: temporary file: %w", id, err)
	}
	defer func() { _ = tmp.Close(); _ = os.Remove(tmp.Name()) }()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(req.Body, MaxSegmentBytes+1))
	if err != nil {
		return fmt.Errorf("%w: reading segment %s: %v", ErrInvalid, id, err)
	}
	if n > MaxSegmentBytes {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("segment exceeds the limit of %d bytes", MaxSegmentBytes))
	}
	if req.ContentLength >= 0 && n != req.ContentLength {
		return fmt.Errorf("%w: segment %s: got %d bytes, Content-Length says %d", ErrInvalid, id, n, req.ContentLength)
	}
	foot, err := readFooter(tmp, n)
	if err != nil {
		return fmt.Errorf("%w: segment %s: %v", ErrInvalid, id, err)
	}
	if foot.source != source {
		return fmt.Errorf("%w: segment %s: the file says source %q", ErrInvalid, id, foot.source)
	}
	if err := s.inWindow(foot); err != nil {
		outcome = ingestRefusedTime
		return echo.NewHTTPError(http.StatusUnprocessableEntity, fmt.Sprintf("segment %s: %v", id, err))
	}

	ctx := req.Context()
	hash := hex.EncodeToString(h.Sum(nil))
	// A claim older than the window plus the future allowance is of rows
	// the window refuses now: the ledger forgets it.
	owner, err := s.deps.Meta.ClaimContent(ctx, hash, id, source, s.cfg.IngestMaxAge+s.cfg.IngestMaxFuture)
	if err != nil {
		outcome = ingestFailed
		return fmt.Errorf("ingest %s: %w", id, err)
	}
	if owner != id {
		outcome = ingestDuplicate
		c.Set(auditDetailKey, "duplicate of "+owner+": nothing written")
		return c.JSON(http.StatusOK, IngestResult{ID: id, Dataset: foot.dataset, Rows: foot.rows, Bytes: n,
			MinTime: foot.min, MaxTime: foot.max, DuplicateOf: owner})
	}
	p, err := s.deps.Ingest.Publish(ctx, id, tmp, n)
	if err != nil {
		// The content is not in the lake: a corrected upload of it
		// under another id must not be taken for a duplicate.
		if rerr := s.deps.Meta.ReleaseContent(context.WithoutCancel(ctx), hash, id); rerr != nil {
			s.logger.ErrorContext(ctx, "release ingest content claim", "id", id, "err", rerr)
		}
		if errors.Is(err, lake.ErrCorrupt) || errors.Is(err, lake.ErrSegmentID) {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		outcome = ingestFailed
		return fmt.Errorf("ingest %s: %w", id, err)
	}
	status := http.StatusOK
	outcome = ingestRetry
	if p.Created {
		status, outcome = http.StatusCreated, ingestPublished
		c.Set(auditDetailKey, fmt.Sprintf("%s %d rows %d bytes", p.Key, p.Rows, p.Bytes))
	} else {
		c.Set(auditDetailKey, "already published: "+p.Key)
	}
	return c.JSON(status, IngestResult{ID: id, Key: p.Key, Dataset: p.Dataset, Rows: p.Rows, Bytes: p.Bytes,
		MinTime: p.MinTime.UTC(), MaxTime: p.MaxTime.UTC(), Created: p.Created})
}

// footer is what an uploaded segment's footer says; Publish checks every
// row against it, so its time range is the rows'.
type footer struct {
	dataset  string
	source   string
	rows     int64
	min, max time.Time
}

// readFooter reads the dataset, row count and time range of a segment from
// its footer, with the checks lake.OpenFile makes.
func readFooter(r io.ReaderAt, size int64) (footer, error) {
	f, dataset, err := lake.OpenFile(r, size)
	if err != nil {
		return footer{}, err
	}
	ft := footer{dataset: dataset, rows: f.NumRows()}
	ft.source, _ = f.Lookup(schema.MetaSource)
	for _, m := range []struct {
		key string
		t   *time.Time
	}{{schema.MetaMinTime, &ft.min}, {schema.MetaMaxTime, &ft.max}} {
		v, _ := f.Lookup(m.key)
		us, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return footer{}, fmt.Errorf("%w: metadata %s=%q is not an integer", lake.ErrCorrupt, m.key, v)
		}
		*m.t = schema.FromMicros(us).UTC()
	}
	return ft, nil
}

// inWindow checks a segment's time range against the accepted window
// around the core's clock (Config.IngestMaxAge, IngestMaxFuture).
func (s *Server) inWindow(ft footer) error {
	now := s.deps.Now()
	oldest, latest := now.Add(-s.cfg.IngestMaxAge), now.Add(s.cfg.IngestMaxFuture)
	const layout = time.RFC3339
	switch {
	case ft.min.Before(oldest):
		return fmt.Errorf("rows from %s are older than the accepted window (%s before the core's clock %s: serve.ingest_max_age)",
			ft.min.Format(layout), s.cfg.IngestMaxAge, now.UTC().Format(layout))
	case ft.max.After(latest):
		return fmt.Errorf("rows up to %s lie in the future beyond the accepted window (%s after the core's clock %s: serve.ingest_max_future)",
			ft.max.Format(layout), s.cfg.IngestMaxFuture, now.UTC().Format(layout))
	}
	return nil
}
