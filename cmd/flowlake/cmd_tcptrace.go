package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/ingest/tcptrace"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// tcptraceSource names the segments `flowlake tcptrace import` writes and
// fills the rows' edge column: the rows came from a file, not an edge.
const tcptraceSource = "import"

// TCPTraceImport is what `flowlake tcptrace import` prints when it is done.
type TCPTraceImport struct {
	File    string `json:"file"`
	Device  string `json:"device,omitempty"`
	Conns   int64  `json:"tcp_conns"`
	Packets int64  `json:"tcp_packets"`
	Rows    int64  `json:"rows"`
	Refused int64  `json:"rows_refused"`
	Lines   int    `json:"lines"`
	Unknown int    `json:"lines_unknown"`
	Merged  int    `json:"table_rows_merged"`
	// Known counts the connections left out because the lake already
	// holds their trace_id (an earlier import of the same output).
	Known int64 `json:"connections_already_imported"`
	// Settings are the lines of `display tcp trace information`: printed,
	// not stored (no dataset holds a device's trace configuration).
	Settings []tcptrace.Setting `json:"settings,omitempty"`
}

func (a *app) tcptraceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tcptrace",
		Short: "Bring a device's TCP connection trace into the lake",
		Long: `Bring TCP connection traces into the lake (docs/tcptrace.md): today from
a file holding a device's 'display tcp trace' output.`,
		Args: noArgs,
	}
	cmd.AddCommand(a.tcptraceImportCommand(), a.tcptracePcapCommand(), a.tcptraceExportCommand(), a.tcptraceShowCommand())
	return cmd
}

func (a *app) tcptraceImportCommand() *cobra.Command {
	var device, zone string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Parse a device's TCP trace output and write its rows into the lake",
		Long: `Parse FILE, the output of 'display tcp trace cache-connection ip|ipv6',
'display tcp trace cache-packet ip|ipv6 ... verbose [last N]' and 'display
tcp trace information' (prompts included, in any order, as a terminal
session log holds them), and write the connections into tcp_conns and
their packets into tcp_packets, joined by trace_id.

The device is named by --device, or else by the prompt ("<DeviceA>") in
the file. The device prints times without a zone: --tz names the zone its
clock keeps (default UTC). Lines that are not trace output are counted
and listed at warn level, never fatal; a malformed value is an error that
names the file, line and column, and then nothing is written.

Importing the same output again writes nothing twice: a connection whose
trace_id (derived from device, VPN, endpoints, close time and reason) the
lake already holds is left out with its packets, and counted.`,
		Example: `  flowlake tcptrace import deviceA-trace.log
  flowlake tcptrace import trace.txt --device core-sw1 --tz Europe/Paris --data /var/lib/flowlake`,
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
			sum, err := a.tcptraceImport(cmd.Context(), args[0], device, loc)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(sum)
			}
			_, err = fmt.Fprintf(a.stdout, "%s: %d rows written (%d tcp_conns, %d tcp_packets), %d rows refused, %d connections already imported; %d lines read, %d unknown, %d table rows merged into their verbose blocks\n",
				sum.File, sum.Rows, sum.Conns, sum.Packets, sum.Refused, sum.Known, sum.Lines, sum.Unknown, sum.Merged)
			for _, st := range sum.Settings {
				if err == nil {
					_, err = fmt.Fprintf(a.stdout, "trace setting (line %d): %s: %s\n", st.Line, st.Key, st.Value)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&device, "device", "", "device name for the rows (default: the sysname of the file's prompt)")
	f.StringVar(&zone, "tz", "UTC", "IANA zone of the device's clock (its output prints none)")
	return cmd
}

// tcptraceImport parses file and writes its rows: both datasets are
// staged before either is published, so a failure leaves neither.
func (a *app) tcptraceImport(ctx context.Context, file, device string, loc *time.Location) (TCPTraceImport, error) {
	sum := TCPTraceImport{File: file, Device: device}
	f, err := os.Open(file)
	if err != nil {
		return sum, fmt.Errorf("read trace: %w", err)
	}
	defer f.Close()
	res, err := tcptrace.Parse(f, tcptrace.Options{File: file, Device: device, Edge: tcptraceSource, Location: loc})
	if err != nil {
		return sum, err // a *tcptrace.ParseError names the file, line and column
	}
	sum.Lines, sum.Unknown, sum.Merged, sum.Settings = res.Lines, len(res.Unknown), res.Merged, res.Settings
	const listed = 20
	for i, u := range res.Unknown {
		if i == listed {
			a.logger.Warn("more unknown lines not listed", "file", file, "count", len(res.Unknown)-listed)
			break
		}
		a.logger.Warn("unknown line kept out of the rows", "file", file, "line", u.Number, "text", u.Text)
	}
	if res.Rows() == 0 {
		return sum, nil
	}
	l, err := a.createLake()
	if err != nil {
		return sum, err
	}
	err = writeTCPTrace(ctx, l, tcptraceSource, res, &sum)
	return sum, joinClose(err, l)
}

// writeTCPTrace writes res's connections and packets the lake does not
// hold yet into segments named after source (an edge, or "import").
func writeTCPTrace(ctx context.Context, l *lake.Lake, source string, res *tcptrace.Result, sum *TCPTraceImport) error {
	parsed := len(res.Conns)
	newConns, newPkts, err := leaveOutKnown(ctx, l, res)
	if err != nil {
		return err
	}
	sum.Known = int64(parsed - len(newConns))
	if len(newConns) == 0 {
		return nil
	}
	conns, err := lake.Stage(ctx, l, source, newConns)
	if err != nil {
		return fmt.Errorf("stage %d tcp_conns rows: %w", len(res.Conns), err)
	}
	pkts, err := lake.Stage(ctx, l, source, newPkts)
	if err != nil {
		conns.Abort()
		return fmt.Errorf("stage %d tcp_packets rows: %w", len(newPkts), err)
	}
	sum.Refused = conns.Refused() + pkts.Refused()
	if _, err := conns.Commit(); err != nil {
		pkts.Abort()
		return fmt.Errorf("write tcp_conns: %w", err)
	}
	if _, err := pkts.Commit(); err != nil {
		return fmt.Errorf("write tcp_packets (its tcp_conns rows are written): %w", err)
	}
	sum.Conns, sum.Packets = conns.Rows(), pkts.Rows()
	sum.Rows = sum.Conns + sum.Packets
	return nil
}

// leaveOutKnown leaves out of res the connections whose trace_id the lake
// holds already, and repeats within res, with their packets, and returns
// what is left. It reads the tcp_conns segments of the
// hours the connections closed in: a device's cache, imported twice or in
// overlapping dumps, is stored once.
func leaveOutKnown(ctx context.Context, l *lake.Lake, res *tcptrace.Result) ([]schema.TCPConn, []schema.TCPPacket, error) {
	if len(res.Conns) == 0 {
		return nil, nil, nil
	}
	lo, hi := res.Conns[0].Time, res.Conns[0].Time
	for _, c := range res.Conns {
		lo, hi = min(lo, c.Time), max(hi, c.Time)
	}
	segs, err := l.Segments(ctx, schema.TCPConns, schema.FromMicros(lo), schema.FromMicros(hi+1))
	if err != nil {
		return nil, nil, fmt.Errorf("list tcp_conns already imported: %w", err)
	}
	known := map[uint64]bool{}
	for _, seg := range segs {
		rows, err := lake.Read[schema.TCPConn](ctx, l, seg)
		if err != nil {
			return nil, nil, fmt.Errorf("read tcp_conns already imported: %w", err)
		}
		for _, r := range rows {
			known[r.TraceID] = true
		}
	}
	// The identity the edge's drop folder leaves out by too; a connection
	// repeated within the input is written once.
	res.LeaveOut(func(id uint64) bool { return known[id] })
	return res.Conns, res.Packets, nil
}
