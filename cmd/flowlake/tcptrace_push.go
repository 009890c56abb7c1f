package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/flowlake/flowlake/api"
	"github.com/flowlake/flowlake/ingest/tcptrace"
	"github.com/flowlake/flowlake/storage/lake"
)

// tcptraceImporter parses device trace output pushed to the core
// (api.Deps.TCPTrace) and writes it into the lake the server serves, the
// way `flowlake tcptrace import` does for a file.
type tcptraceImporter struct {
	lake *lake.Lake
	log  *slog.Logger
}

// WriteTCPTrace implements api.TCPTraceWriter: a parse error is
// api.ErrInvalid (400), with the line and column of the body.
func (t tcptraceImporter) WriteTCPTrace(ctx context.Context, edge, device string, body io.Reader) (api.TCPTraceResult, error) {
	out := api.TCPTraceResult{Edge: edge, Device: device}
	res, err := tcptrace.Parse(body, tcptrace.Options{File: "body", Device: device, Edge: edge})
	var pe *tcptrace.ParseError
	if errors.As(err, &pe) {
		return out, fmt.Errorf("%w: %v", api.ErrInvalid, err)
	}
	if err != nil {
		return out, err
	}
	const listed = 20
	for i, u := range res.Unknown {
		if i == listed {
			t.log.WarnContext(ctx, "more unknown lines not listed", "edge", edge, "count", len(res.Unknown)-listed)
			break
		}
		t.log.WarnContext(ctx, "unknown line kept out of the rows", "edge", edge, "line", u.Number, "text", u.Text)
	}
	out.Lines, out.Unknown, out.Merged, out.Settings = res.Lines, len(res.Unknown), res.Merged, len(res.Settings)
	if res.Rows() == 0 {
		return out, nil
	}
	var sum TCPTraceImport
	err = writeTCPTrace(ctx, t.lake, edge, res, &sum)
	out.Conns, out.Packets, out.Rows, out.Refused, out.Known = sum.Conns, sum.Packets, sum.Rows, sum.Refused, sum.Known
	return out, err
}

var _ api.TCPTraceWriter = tcptraceImporter{}
