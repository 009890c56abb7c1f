package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// PathCloudState is where edges push devices' `display cloud-management
// state` output (docs/tunnel.md).
const PathCloudState = "/api/v1/ingest/cloud-state"

// MaxCloudStateBytes bounds a pushed display: one is under 2 KiB, a
// session log of a few hundred displays fits.
const MaxCloudStateBytes = 1 << 20

// CloudStateWriter parses a device's pushed display text and writes its
// rows into cloud_conn under edge. It returns an error wrapping
// ErrInvalid for malformed text. cmd/flowlake implements it with
// ingest/cloudconn, which the api package may not import.
type CloudStateWriter interface {
	WriteCloudState(ctx context.Context, edge, device string, body io.Reader) (CloudStateResult, error)
}

// CloudStateResult is the answer to POST /api/v1/ingest/cloud-state.
type CloudStateResult struct {
	Edge    string `json:"edge"`
	Device  string `json:"device,omitempty"`
	Rows    int64  `json:"rows"`
	Refused int64  `json:"rows_refused"`
	Known   int    `json:"rows_already_imported"`
	Lines   int    `json:"lines"`
	Unknown int    `json:"lines_unknown"`
	// UnknownValues counts enumerated values outside the command
	// reference's lists, kept verbatim in the rows.
	UnknownValues int `json:"unknown_values"`
}

// ingestCloudState answers POST /api/v1/ingest/cloud-state?edge=E&device=D:
// the body is the device's display text; the caller must be allowed to
// write for edge (like a segment upload), and device defaults to the
// sysname of the display's prompt.
func (s *Server) ingestCloudState(c echo.Context) error {
	edge, device, body, err := devicePush(c, "cloud state", s.deps.CloudState != nil, MaxCloudStateBytes)
	if err != nil {
		return err
	}
	req := c.Request()
	res, err := s.deps.CloudState.WriteCloudState(req.Context(), edge, device, strings.NewReader(string(body)))
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			return err
		}
		return fmt.Errorf("cloud state of %s: %w", edge, err)
	}
	status := http.StatusOK
	if res.Rows > 0 {
		status = http.StatusCreated
	}
	return c.JSON(status, res)
}
