package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
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
	edge, device, body, err := devicePush(c, "tcp trace", s.deps.TCPTrace != nil, MaxTCPTraceBytes)
	if err != nil {
		return err
	}
	req := c.Request()
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
