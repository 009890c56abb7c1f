package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/storage/meta"
)

// PathTCPTraceState is where edges (or operators' scripts) push a device's
// `display tcp trace ...` output (docs/tcptrace.md, "Input").
const PathTCPTraceState = "/api/v1/ingest/tcptrace"

// MaxTCPTraceBytes bounds a pushed trace output: a full cache of 500
// packets per connection in verbose form is a few hundred KiB; 8 MiB holds
// a session log of several such dumps.
const MaxTCPTraceBytes = 8 << 20

// TCPTraceWriter parses a device's pushed trace output and writes its
// rows into tcp_conns and tcp_packets under edge. It returns an error
// wrapping ErrInvalid for malformed text. cmd/flowlake implements it with
// ingest/tcptrace, which the api package may not import.
type TCPTraceWriter interface {
	WriteTCPTrace(ctx context.Context, edge, device string, body io.Reader) (TCPTraceResult, error)
}

// TCPTraceResult is the answer to POST /api/v1/ingest/tcptrace.
type TCPTraceResult struct {
	Edge    string `json:"edge"`
	Device  string `json:"device,omitempty"`
	Conns   int64  `json:"tcp_conns"`
	Packets int64  `json:"tcp_packets"`
	Rows    int64  `json:"rows"`
	Refused int64  `json:"rows_refused"`
	// Known counts connections left out because the lake already holds
	// their trace_id (the same output pushed twice).
	Known   int64 `json:"connections_already_imported"`
	Lines   int   `json:"lines"`
	Unknown int   `json:"lines_unknown"`
	Merged  int   `json:"table_rows_merged"`
	// Settings counts the `display tcp trace information` lines read
	// (not stored: no dataset holds a device's trace configuration).
	Settings int `json:"settings"`
}

// ingestTCPTrace answers POST /api/v1/ingest/tcptrace?edge=E&device=D:
// the body is the device's trace output; the caller must be allowed to
// write for edge (like a segment upload), and device defaults to the
// sysname of the output's prompt. It mirrors ingestCloudState.
func (s *Server) ingestTCPTrace(c echo.Context) error {
	edge := c.QueryParam("edge")
	device := c.QueryParam("device")
	c.Set(auditTargetKey, edge+"/"+device)
	if s.deps.TCPTrace == nil {
		return fmt.Errorf("%w: this server does not accept tcp trace pushes", ErrUnavailable)
	}
	if err := meta.ValidEdgeName(edge); err != nil {
		return fmt.Errorf("%w: query parameter edge: %v", ErrInvalid, err)
	}
	if len(device) > 128 || strings.ContainsFunc(device, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("%w: query parameter device: at most 128 printable characters", ErrInvalid)
	}
	if p := principalOf(c); !p.MayWriteFor(edge) {
		return fmt.Errorf("%w: this credential may not write for edge %q", ErrForbidden, edge)
	}
	req := c.Request()
	if req.ContentLength > MaxTCPTraceBytes {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes exceeds the limit of %d", req.ContentLength, MaxTCPTraceBytes))
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxTCPTraceBytes+1))
	if err != nil {
		return fmt.Errorf("%w: reading the body: %v", ErrInvalid, err)
	}
	if len(body) > MaxTCPTraceBytes {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds the limit of %d bytes", MaxTCPTraceBytes))
	}
	res, err := s.deps.TCPTrace.WriteTCPTrace(req.Context(), edge, device, bytes.NewReader(body))
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			return err
		}
		return fmt.Errorf("tcp trace of %s: %w", edge, err)
	}
	status := http.StatusOK
	if res.Rows > 0 {
		status = http.StatusCreated
	}
	return c.JSON(status, res)
}
