package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// PathTCPTracePcap is the pcap export of a traced TCP connection.
const PathTCPTracePcap = "/api/v1/tcptrace/:id/pcap"

// ErrNoTrace is what a TracePcapWriter returns for a trace_id the lake
// holds no connection for; the API answers 404.
var ErrNoTrace = errors.New("no such traced connection")

// TracePcapWriter writes the kept packets of the tcp_conns connection id
// as a pcap file (the device's `wireshark` keyword). cmd/flowlake wires it
// to ingest/tcptrace.WritePcap over the lake.
type TracePcapWriter interface {
	WriteTracePcap(ctx context.Context, id uint64, w io.Writer) error
}

// tcptracePcap answers GET /api/v1/tcptrace/{trace_id}/pcap.
func (s *Server) tcptracePcap(c echo.Context) error {
	if s.deps.Traces == nil {
		return fmt.Errorf("%w: no traced connections on this server", ErrUnavailable)
	}
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: trace id %q: want the tcp_conns trace_id, a decimal number", ErrInvalid, c.Param("id"))
	}
	// Written to a buffer first: a missing connection must still be a 404.
	var buf bytesBuffer
	if err := s.deps.Traces.WriteTracePcap(c.Request().Context(), id, &buf); err != nil {
		if errors.Is(err, ErrNoTrace) {
			return fmt.Errorf("%w: trace_id %d", ErrNotFound, id)
		}
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="tcptrace-%d.pcap"`, id))
	return c.Blob(http.StatusOK, "application/vnd.tcpdump.pcap", buf.b)
}

// bytesBuffer is an io.Writer appending to b.
type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
