package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/api"
	"github.com/flowlake/flowlake/ingest/cloudconn"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// cloudSource names the segments `flowlake cloud import` writes and fills
// the rows' edge column: the rows came from a file, not an edge.
const cloudSource = "import"

// CloudImport is what `flowlake cloud import` prints when it is done, and
// the body of the core's answer to a pushed display.
type CloudImport struct {
	File    string `json:"file,omitempty"`
	Device  string `json:"device,omitempty"`
	Rows    int64  `json:"rows"`
	Refused int64  `json:"rows_refused"`
	// Known counts the rows left out because the lake already holds a row
	// of the same device observed at the same time (the same file twice).
	Known         int               `json:"rows_already_imported"`
	Lines         int               `json:"lines"`
	Unknown       int               `json:"lines_unknown"`
	UnknownValues []cloudconn.Value `json:"unknown_values,omitempty"`
}

func (a *app) cloudCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cloud",
		Short: "Bring devices' cloud-connection state into the lake",
		Long: `Bring devices' cloud-management tunnel state into the cloud_conn dataset
(docs/tunnel.md): today from a file holding 'display cloud-management state'
output; edges push the same text to the core (POST /api/v1/ingest/cloud-state).`,
		Args: noArgs,
	}
	cmd.AddCommand(a.cloudImportCommand())
	return cmd
}

func (a *app) cloudImportCommand() *cobra.Command {
	var device, zone, observed string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Parse a device's cloud-management state display and write it into cloud_conn",
		Long: `Parse FILE, the output of 'display cloud-management state' (prompts
included, several displays in one file allowed; English or Chinese field
labels), and write one cloud_conn row per display.

The device is named by --device, or else by the prompt ("<Sysname>") in
the file. The display prints no time of its own: a row's time is
--observed (RFC 3339), by default the file's modification time, so
importing the same file twice writes nothing twice (rows of the same
device and time already in the lake are left out and counted). The device
prints its times without a zone: --tz names the zone its clock keeps.
Lines that are not part of the display, and values outside the command
reference's lists, are counted and listed at warn level; a malformed value
is an error naming the file, line and column, and then nothing is written.`,
		Example: `  flowlake cloud import router1-cloud.log
  flowlake cloud import state.txt --device 219801A0YF9187Q00012 --tz Asia/Shanghai --data /var/lib/flowlake`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("want one FILE to import")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, err := time.LoadLocation(zone)
			if err != nil {
				return usageError{fmt.Errorf("--tz %q: %w", zone, err)}
			}
			var at time.Time
			if observed != "" {
				if at, err = time.Parse(time.RFC3339, observed); err != nil {
					return usageError{fmt.Errorf("--observed %q: want an RFC 3339 time", observed)}
				}
			}
			sum, err := a.cloudImport(cmd.Context(), args[0], device, loc, at)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(sum)
			}
			_, err = fmt.Fprintf(a.stdout, "%s: %d cloud_conn rows written, %d refused, %d already imported; %d lines read, %d unknown, %d values outside the documented lists\n",
				sum.File, sum.Rows, sum.Refused, sum.Known, sum.Lines, sum.Unknown, len(sum.UnknownValues))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&device, "device", "", "device name or serial for the rows (default: the sysname of the file's prompt)")
	f.StringVar(&zone, "tz", "UTC", "IANA zone of the device's clock (its output prints none)")
	f.StringVar(&observed, "observed", "", "when the display was taken, RFC 3339 (default: the file's modification time)")
	return cmd
}

// cloudImport parses file and writes its rows into cloud_conn.
func (a *app) cloudImport(ctx context.Context, file, device string, loc *time.Location, observed time.Time) (CloudImport, error) {
	sum := CloudImport{File: file, Device: device}
	f, err := os.Open(file)
	if err != nil {
		return sum, fmt.Errorf("read cloud state: %w", err)
	}
	defer f.Close()
	if observed.IsZero() {
		st, err := f.Stat()
		if err != nil {
			return sum, fmt.Errorf("read cloud state: %w", err)
		}
		observed = st.ModTime()
	}
	res, err := cloudconn.Parse(f, cloudconn.Options{File: file, Device: device, Edge: cloudSource, Observed: observed, Location: loc})
	if err != nil {
		return sum, err // a *cloudconn.ParseError names the file, line and column
	}
	logCloudUnknown(ctx, a.logger, file, res)
	sum.Lines, sum.Unknown, sum.UnknownValues = res.Lines, len(res.Unknown), res.UnknownValues
	if len(res.Rows) == 0 {
		return sum, nil
	}
	l, err := a.createLake()
	if err != nil {
		return sum, err
	}
	err = writeCloudConn(ctx, l, cloudSource, res.Rows, &sum)
	return sum, joinClose(err, l)
}

// logCloudUnknown lists, at warn level, the lines and values Parse kept
// out of or verbatim in the rows (the first 20 of each).
func logCloudUnknown(ctx context.Context, log *slog.Logger, file string, res *cloudconn.Result) {
	const listed = 20
	for i, u := range res.Unknown {
		if i == listed {
			log.WarnContext(ctx, "more unknown lines not listed", "file", file, "count", len(res.Unknown)-listed)
			break
		}
		log.WarnContext(ctx, "unknown line kept out of the rows", "file", file, "line", u.Number, "text", u.Text)
	}
	for i, v := range res.UnknownValues {
		if i == listed {
			log.WarnContext(ctx, "more undocumented values not listed", "file", file, "count", len(res.UnknownValues)-listed)
			break
		}
		log.WarnContext(ctx, "value outside the documented list kept verbatim", "file", file, "line", v.Line, "field", v.Field, "value", v.Value)
	}
}

// writeCloudConn writes rows into cloud_conn under source, leaving out
// those whose device and time the lake already holds.
func writeCloudConn(ctx context.Context, l *lake.Lake, source string, rows []schema.CloudConn, sum *CloudImport) error {
	fresh, err := leaveOutKnownCloud(ctx, l, rows)
	if err != nil {
		return err
	}
	sum.Known = len(rows) - len(fresh)
	if len(fresh) == 0 {
		return nil
	}
	st, err := lake.Stage(ctx, l, source, fresh)
	if err != nil {
		return fmt.Errorf("stage %d cloud_conn rows: %w", len(fresh), err)
	}
	sum.Refused = st.Refused()
	if _, err := st.Commit(); err != nil {
		return fmt.Errorf("write cloud_conn: %w", err)
	}
	sum.Rows = st.Rows()
	return nil
}

// cloudKey identifies an observation: one device at one time.
type cloudKey struct {
	device string
	time   int64
}

func leaveOutKnownCloud(ctx context.Context, l *lake.Lake, rows []schema.CloudConn) ([]schema.CloudConn, error) {
	lo, hi := rows[0].Time, rows[0].Time
	for _, r := range rows {
		lo, hi = min(lo, r.Time), max(hi, r.Time)
	}
	segs, err := l.Segments(ctx, schema.CloudConns, schema.FromMicros(lo), schema.FromMicros(hi+1))
	if err != nil {
		return nil, fmt.Errorf("list cloud_conn already imported: %w", err)
	}
	known := map[cloudKey]bool{}
	for _, seg := range segs {
		old, err := lake.Read[schema.CloudConn](ctx, l, seg)
		if err != nil {
			return nil, fmt.Errorf("read cloud_conn already imported: %w", err)
		}
		for _, r := range old {
			known[cloudKey{r.Device, r.Time}] = true
		}
	}
	var out []schema.CloudConn
	for _, r := range rows {
		k := cloudKey{r.Device, r.Time}
		if !known[k] {
			known[k] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// cloudStateImporter parses displays pushed to the core (api.Deps.CloudState)
// and writes them into the lake the server serves.
type cloudStateImporter struct {
	lake *lake.Lake
	log  *slog.Logger
	now  func() time.Time
}

// parseAndWrite is the push endpoint's work: r holds the display of
// device, collected by edge.
func (c cloudStateImporter) parseAndWrite(ctx context.Context, edge, device string, r io.Reader) (CloudImport, error) {
	sum := CloudImport{Device: device}
	res, err := cloudconn.Parse(r, cloudconn.Options{File: "body", Device: device, Edge: edge, Observed: c.now()})
	if err != nil {
		return sum, err
	}
	logCloudUnknown(ctx, c.log, "push from "+edge, res)
	sum.Lines, sum.Unknown, sum.UnknownValues = res.Lines, len(res.Unknown), res.UnknownValues
	if len(res.Rows) == 0 {
		return sum, nil
	}
	return sum, writeCloudConn(ctx, c.lake, edge, res.Rows, &sum)
}

// WriteCloudState implements api.CloudStateWriter: a parse error is
// api.ErrInvalid (400), with the line and column of the body.
func (c cloudStateImporter) WriteCloudState(ctx context.Context, edge, device string, body io.Reader) (api.CloudStateResult, error) {
	sum, err := c.parseAndWrite(ctx, edge, device, body)
	var pe *cloudconn.ParseError
	if errors.As(err, &pe) {
		return api.CloudStateResult{}, fmt.Errorf("%w: %v", api.ErrInvalid, err)
	}
	return api.CloudStateResult{Edge: edge, Device: device, Rows: sum.Rows, Refused: sum.Refused, Known: sum.Known,
		Lines: sum.Lines, Unknown: sum.Unknown, UnknownValues: len(sum.UnknownValues)}, err
}

var _ api.CloudStateWriter = cloudStateImporter{}
