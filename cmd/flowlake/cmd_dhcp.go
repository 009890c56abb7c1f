package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/ingest/dhcp"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// dhcpImportSource names the segments `flowlake dhcp import` writes and
// fills the rows' edge column: the rows came from a file, not an edge.
const dhcpImportSource = "import"

// DHCPImport is what `flowlake dhcp import` prints when it is done.
type DHCPImport struct {
	File   string `json:"file"`
	Format string `json:"format"`
	Device string `json:"device"`
	Lines  int    `json:"lines"`
	Events int    `json:"events"`
	// Known counts the events left out because the lake already holds
	// the device's history up to their time (an earlier import).
	Known int `json:"events_already_imported"`
	// Resumed counts the device's spans still open in the lake that this
	// import continued.
	Resumed int `json:"spans_resumed"`
	Written int `json:"rows_written"`
	Open    int `json:"spans_open"`
	Ended   int `json:"spans_ended"`
	Informs int `json:"informs"`
	// Skipped counts the file's records that carry no event, by why.
	Skipped map[string]int `json:"records_skipped,omitempty"`
	// Unknown counts the lines of a log that are not lease events.
	Unknown   int `json:"lines_unknown"`
	Unmatched int `json:"events_unmatched"`
}

func (a *app) dhcpCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dhcp",
		Short: "DHCP lease history: import server lease state, ask who held an address",
		Long: `DHCP lease history (docs/ingest-dhcp.md): import a server's lease state
into dhcp_leases, and ask who held an address at a time, the history of an
address, and which addresses a MAC or host name held.`,
		Args: noArgs,
	}
	cmd.AddCommand(a.dhcpImportCommand(), a.dhcpWhoCommand(), a.dhcpHistoryCommand(), a.dhcpHeldCommand())
	return cmd
}

func (a *app) dhcpImportCommand() *cobra.Command {
	var format, device, zone, at string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Turn a DHCP server's lease file or log into dhcp_leases rows",
		Long: `Read FILE, a DHCP server's lease state, as lease events (ACK, RELEASE,
DECLINE) and write the lease spans they make into dhcp_leases:

  kea-csv    Kea's memfile lease file (kea-leases4.csv): a row per lease change
  kea-legal  Kea's forensic log (libdhcp_legal_log.so, default format)
  dnsmasq    dnsmasq's lease file (dnsmasq.leases): a snapshot at --at

Spans the device (--device, default the file's base name) left open in the
lake are resumed, so a later import of the same server continues them:
renewals extend the span, a lease gone from a newer dnsmasq snapshot before
its expiry is released. Events at or before the newest time the lake holds
for the device are left out and counted (importing the same file twice
writes nothing twice). Leases that expired before --at end EXPIRED; the
others are written OPEN.

A malformed field is an error naming the file, line and field, and then
nothing is written.`,
		Example: `  flowlake dhcp import --format kea-csv /var/lib/kea/kea-leases4.csv
  flowlake dhcp import --format kea-legal kea-legal.20261207.txt --tz Europe/Paris
  flowlake dhcp import --format dnsmasq /var/lib/misc/dnsmasq.leases --device gw1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("want one FILE to import")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case schema.LeaseSourceKeaCSV, schema.LeaseSourceKeaLegal, schema.LeaseSourceDnsmasq:
			default:
				return usageError{fmt.Errorf("--format %q: want kea-csv, kea-legal or dnsmasq", format)}
			}
			loc, err := time.LoadLocation(zone)
			if err != nil {
				return usageError{fmt.Errorf("--tz %q: %w", zone, err)}
			}
			var when time.Time
			if at != "" {
				if when, err = query.ParseTime(at, time.Now(), loc); err != nil {
					return usageError{fmt.Errorf("--at: %w", err)}
				}
			}
			if device == "" {
				device = baseName(args[0])
			}
			sum, err := a.dhcpImport(cmd.Context(), args[0], format, device, loc, when)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(sum)
			}
			_, err = fmt.Fprintf(a.stdout, "%s: %d rows written (%d spans ended, %d open, %d informs) from %d events; %d events already imported, %d spans resumed, %d unmatched; %d lines read, %d unknown\n",
				sum.File, sum.Written, sum.Ended, sum.Open, sum.Informs, sum.Events, sum.Known, sum.Resumed, sum.Unmatched, sum.Lines, sum.Unknown)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "", "file format: kea-csv, kea-legal or dnsmasq (required)")
	f.StringVar(&device, "device", "", "name of the server for the rows' device column (default: the file's base name)")
	f.StringVar(&zone, "tz", "UTC", "IANA zone of the server's clock (kea-legal prints local times)")
	f.StringVar(&at, "at", "", "time the file describes: dnsmasq's snapshot time (default the file's modification time); leases expired before it end EXPIRED (default now)")
	return cmd
}

func baseName(path string) string {
	path = strings.TrimRight(path, "/")
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		path = path[i+1:]
	}
	return path
}

// dhcpImport parses file, resumes the device's open spans from the lake,
// feeds the new events through a LeaseTracker and writes the spans.
func (a *app) dhcpImport(ctx context.Context, file, format, device string, loc *time.Location, at time.Time) (DHCPImport, error) {
	sum := DHCPImport{File: file, Format: format, Device: device}
	fh, err := os.Open(file)
	if err != nil {
		return sum, fmt.Errorf("read lease file: %w", err)
	}
	defer fh.Close()
	now := at
	if now.IsZero() {
		now = time.Now()
	}
	var lf *dhcp.LeaseFile
	switch format {
	case schema.LeaseSourceKeaCSV:
		lf, err = dhcp.ParseKeaCSV(fh, file, device)
	case schema.LeaseSourceKeaLegal:
		lf, err = dhcp.ParseKeaLegal(fh, file, device, loc)
	case schema.LeaseSourceDnsmasq:
		snap := at
		if snap.IsZero() {
			st, serr := fh.Stat()
			if serr != nil {
				return sum, fmt.Errorf("read lease file: %w", serr)
			}
			snap = st.ModTime()
		}
		now = snap
		lf, err = dhcp.ParseDnsmasq(fh, file, device, snap.UnixMicro())
	}
	if err != nil {
		return sum, err // a *dhcp.LeaseFileError names the file, line and field
	}
	sum.Lines, sum.Skipped, sum.Unknown = lf.Lines, lf.Skipped, len(lf.Unknown)
	for _, n := range lf.Unknown[:min(len(lf.Unknown), 20)] {
		a.logger.Warn("line is not a lease event; left out", "file", file, "line", n)
	}
	l, err := a.createLake()
	if err != nil {
		return sum, err
	}
	err = writeLeases(ctx, l, format, device, lf, now.UnixMicro(), &sum)
	return sum, joinClose(err, l)
}

func writeLeases(ctx context.Context, l *lake.Lake, format, device string, lf *dhcp.LeaseFile, now int64, sum *DHCPImport) error {
	prior, err := deviceLeases(ctx, l, format, device)
	if err != nil {
		return err
	}
	var watermark int64 = -1
	var open []schema.DHCPLease
	for _, r := range prior {
		watermark = max(watermark, r.LastAck)
		if r.EndReason == schema.LeaseOpen {
			open = append(open, r)
		} else {
			watermark = max(watermark, r.EndTime)
		}
	}
	events := lf.Events
	if format == schema.LeaseSourceDnsmasq {
		if len(events) > 0 || len(open) > 0 {
			events = dhcp.DnsmasqDiff(open, lf, now)
		}
	}
	tr := dhcp.NewLeaseTracker(format, dhcpImportSource)
	sum.Resumed = tr.Resume(open)
	resumed := map[schema.DHCPLease]bool{}
	for _, r := range open {
		resumed[r] = true
	}
	var rows []schema.DHCPLease
	for i := range events {
		if events[i].Time <= watermark {
			sum.Known++
			continue
		}
		sum.Events++
		rows = tr.Observe(&events[i], rows)
	}
	rows = tr.Advance(now, rows)
	sum.Unmatched = int(tr.Counters.Unmatched)
	for _, r := range rows {
		if r.Kind == schema.LeaseKindInform {
			sum.Informs++
		} else {
			sum.Ended++
		}
	}
	for _, r := range tr.Open() {
		sum.Open++
		if !resumed[r] { // unchanged since the last import: already in the lake
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	st, err := lake.Stage(ctx, l, dhcpImportSource, rows)
	if err != nil {
		return fmt.Errorf("stage %d dhcp_leases rows: %w", len(rows), err)
	}
	if _, err := st.Commit(); err != nil {
		return fmt.Errorf("write dhcp_leases: %w", err)
	}
	sum.Written = int(st.Rows())
	return nil
}

// deviceLeases reads the device's rows of this source from every
// dhcp_leases segment, each binding once (its latest row).
func deviceLeases(ctx context.Context, l *lake.Lake, source, device string) ([]schema.DHCPLease, error) {
	segs, err := l.Segments(ctx, schema.DHCPLeases, time.Time{}, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("list dhcp_leases already imported: %w", err)
	}
	var mine []schema.DHCPLease
	for _, seg := range segs {
		rows, err := lake.Read[schema.DHCPLease](ctx, l, seg)
		if err != nil {
			return nil, fmt.Errorf("read dhcp_leases already imported: %w", err)
		}
		for _, r := range rows {
			if r.Source == source && r.Device == device {
				mine = append(mine, r)
			}
		}
	}
	return query.LatestLeases(mine), nil
}

// leaseFlags are the flags every lease question takes.
type leaseFlags struct {
	from, to, at, lookback, zone string
}

func (f *leaseFlags) add(cmd *cobra.Command, ranged bool) {
	fs := cmd.Flags()
	if ranged {
		fs.StringVar(&f.from, "from", "-24h", "start of the range: RFC 3339, a date, or an offset such as -7d")
		fs.StringVar(&f.to, "to", "now", "end of the range (exclusive)")
	} else {
		fs.StringVar(&f.at, "at", "now", "the time asked about: RFC 3339, a date, or an offset such as -2h")
	}
	fs.StringVar(&f.lookback, "lookback", "30d", "how far before the range a span may have started (spans are stored by start)")
	fs.StringVar(&f.zone, "tz", "UTC", "IANA zone of dates given without a zone")
}

// question builds the LeaseQuestion of the flags (subject set by the caller).
func (f *leaseFlags) question() (query.LeaseQuestion, error) {
	var q query.LeaseQuestion
	loc, err := time.LoadLocation(f.zone)
	if err != nil {
		return q, usageError{fmt.Errorf("--tz %q: %w", f.zone, err)}
	}
	now := time.Now()
	if f.at != "" {
		if q.From, err = query.ParseTime(f.at, now, loc); err != nil {
			return q, usageError{fmt.Errorf("--at: %w", err)}
		}
		q.To = q.From.Add(time.Microsecond)
	} else {
		if q.From, err = query.ParseTime(f.from, now, loc); err != nil {
			return q, usageError{fmt.Errorf("--from: %w", err)}
		}
		if q.To, err = query.ParseTime(f.to, now, loc); err != nil {
			return q, usageError{fmt.Errorf("--to: %w", err)}
		}
	}
	if q.Lookback, err = parseDuration(f.lookback); err != nil {
		return q, usageError{fmt.Errorf("--lookback: %w", err)}
	}
	return q, nil
}

func parseAddrArg(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return ip, usageError{fmt.Errorf("%q is not an IP address", s)}
	}
	return ip.Unmap(), nil
}

func (a *app) dhcpWhoCommand() *cobra.Command {
	return a.dhcpAddressCommand("who ADDRESS", "Who held an address at a time: MAC, client id, host name, server, relay",
		`  flowlake dhcp who 10.1.2.3 --at 2026-11-20T08:15:00Z
  flowlake dhcp who 2001:db8::42 --at -3h --json`, false)
}

func (a *app) dhcpHistoryCommand() *cobra.Command {
	return a.dhcpAddressCommand("history ADDRESS", "Every binding of an address in a range, one row per binding",
		`  flowlake dhcp history 10.1.2.3 --from -30d`, true)
}

// dhcpAddressCommand is a lease question about one address: at a time
// (who), or over a range (history) when ranged.
func (a *app) dhcpAddressCommand(use, short, example string, ranged bool) *cobra.Command {
	var lf leaseFlags
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ip, err := parseAddrArg(args[0])
			if err != nil {
				return err
			}
			q, err := lf.question()
			if err != nil {
				return err
			}
			q.Address = ip
			return a.askLeases(cmd.Context(), q)
		},
	}
	lf.add(cmd, ranged)
	return cmd
}

func (a *app) dhcpHeldCommand() *cobra.Command {
	var lf leaseFlags
	var mac, host string
	cmd := &cobra.Command{
		Use:   "held (--mac MAC | --hostname NAME)",
		Short: "Which addresses a MAC or a host name held in a range",
		Example: `  flowlake dhcp held --mac 02:00:00:00:00:0a --from -7d
  flowlake dhcp held --hostname laptop-42 --from 2026-11-01 --to 2026-12-01`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (mac == "") == (host == "") {
				return usageError{errors.New("want exactly one of --mac and --hostname")}
			}
			q, err := lf.question()
			if err != nil {
				return err
			}
			if mac != "" {
				if q.MAC, err = schema.ParseMAC(mac); err != nil {
					return usageError{fmt.Errorf("--mac: %w", err)}
				}
			}
			q.Hostname = host
			return a.askLeases(cmd.Context(), q)
		},
	}
	cmd.Flags().StringVar(&mac, "mac", "", "client hardware address")
	cmd.Flags().StringVar(&host, "hostname", "", "client host name, as the client sent it")
	lf.add(cmd, true)
	return cmd
}

// askLeases answers q from the lake and prints the spans: a table, or
// with --json {"leases": [...]}.
func (a *app) askLeases(ctx context.Context, q query.LeaseQuestion) error {
	return a.withLake(func(l *lake.Lake) error {
		e := query.New(l, query.Config{}, a.logger)
		defer e.Close()
		ans, err := e.Leases(ctx, q)
		if errors.Is(err, query.ErrLeaseQuestion) {
			return usageError{err}
		}
		if err != nil {
			return err
		}
		if a.json {
			views := make([]query.LeaseView, 0, len(ans.Leases))
			for _, r := range ans.Leases {
				views = append(views, query.ViewOf(r))
			}
			err = a.printJSON(struct {
				Leases   []query.LeaseView `json:"leases"`
				Warnings []query.Warning   `json:"warnings,omitempty"`
			}{views, ans.Warnings})
		} else {
			tw := newTable(a.stdout, "START", "END", "REASON", "ADDRESS", "MAC", "CLIENT_ID", "HOSTNAME", "SERVER", "RELAY", "CIRCUIT_ID", "REMOTE_ID", "RENEWALS", "SOURCE")
			for _, r := range ans.Leases {
				fmt.Fprintln(tw, strings.Join([]string{
					schema.FromMicros(r.Time).Format(time.RFC3339), schema.FromMicros(r.EndTime).Format(time.RFC3339), dash(r.EndReason),
					r.Address.String(), dash(r.CHAddr.String()), dash(r.ClientID), dash(r.Hostname), dash(r.ServerID.String()),
					dash(r.GIAddr.String()), dash(r.CircuitID), dash(r.RemoteID), strconv.FormatUint(uint64(r.Renewals), 10), r.Source,
				}, "\t"))
			}
			err = tw.Flush()
			if err == nil && len(ans.Leases) == 0 {
				_, err = fmt.Fprintln(a.stderr, "no lease matches")
			}
		}
		if err == nil && len(ans.Warnings) > 0 {
			return incompleteAnswer(a, ans.Warnings)
		}
		return err
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
