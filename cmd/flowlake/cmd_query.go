package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
)

func (a *app) queryCommand() *cobra.Command {
	var (
		q                  query.Query
		by, metrics, order string
		columns            string
		top                int
		format             string
		explain            bool
		leaseLookback      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "query DATASET [FILTER]",
		Short: "Ask the lake: TopN, time series, aggregates or raw listings",
		Long: `Run a query (docs/query.md) against the lake and print the answer.

With --by or --metrics it aggregates; without, it lists rows (--columns,
--order, --limit, and --cursor to continue). The filter is the nfdump-style
language of docs/query-language.md; quote it as one argument.

--format: table (default), csv, json (one object per line, its keys in
the order of the columns) or arrow (an Arrow IPC stream). --explain prints the plan, what pruning skipped and what
the scan cost, instead of the rows.

Flows also have src_host, dst_host, src_host_mac, dst_host_mac, src_client
and dst_client: the DHCP lease (dhcp_leases) that held the address at each
row's own time. Group and filter by them like any column; "src host NAME"
with a name that is not an address filters on src_host. Rows no lease
held are "" and counted on stderr.`,
		Example: `  flowlake query flows --from -1h 'dst port 443' --by src_addr --metrics 'sum(bytes),count()' --top 10
  flowlake query flows --from -24h --by time/5m --metrics 'bps(),pps()'
  flowlake query flows --from 2026-11-20 --to 2026-11-21 'host 203.0.113.7 and port 3389' --columns time,src_addr,dst_addr,bytes
  flowlake query flows --from -24h 'src host laptop-42' --by dst_addr,app --metrics 'sum(bytes)'
  flowlake query flows --from -24h 'src_group guest' --by src_host,src_client --top 20
  flowlake query tcp_conns --from -7d 'reason RT' --by foreign_addr --top 20 --explain`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usageError{errors.New("want a dataset and at most one filter argument (quote the filter)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			q.Dataset = args[0]
			if len(args) == 2 {
				q.Filter = args[1]
			}
			q.GroupBy, q.Metrics, q.OrderBy, q.Columns = query.SplitList(by), query.SplitList(metrics), query.SplitList(order), query.SplitList(columns)
			if top > 0 {
				q.Limit = top
			}
			if a.json {
				format = "json"
			}
			switch format {
			case "table", "csv", "json", "arrow":
			default:
				return usageError{fmt.Errorf("--format %q: want table, csv, json or arrow", format)}
			}
			return a.withLake(func(l *lake.Lake) error {
				e := query.New(l, query.Config{LeaseLookback: leaseLookback}, a.logger)
				res, err := e.Run(cmd.Context(), q)
				var spec *query.SpecError
				if errors.As(err, &spec) { // the query as given is wrong: exit 2 and point at the help
					return usageError{err}
				}
				if err != nil {
					return err // "flowlake query: " is prefixed once, by run
				}
				defer res.Release()
				if explain {
					if a.json {
						err = a.printJSON(res.Plan)
					} else {
						_, err = fmt.Fprint(a.stdout, res.Plan.String())
					}
					if err == nil && len(res.Warnings) > 0 {
						return incompleteAnswer(a, res.Warnings)
					}
					return err
				}
				switch format {
				case "csv":
					err = res.WriteCSV(a.stdout)
				case "json":
					err = writeJSONLines(a.stdout, res)
				case "arrow":
					err = res.WriteArrow(a.stdout)
				default:
					rows := res.Rows()
					tw := newTable(a.stdout, rows[0]...)
					for _, r := range rows[1:] {
						fmt.Fprintln(tw, strings.Join(r, "\t"))
					}
					err = tw.Flush()
				}
				if err == nil && res.Cursor != "" && format == "table" {
					fmt.Fprintf(a.stderr, "more rows: --cursor %s\n", res.Cursor)
				}
				if j := res.Plan.Join; err == nil && j != nil {
					noteLeaseJoin(a, j, res.Plan.Stats.RowsMatched)
				}
				if err == nil && len(res.Warnings) > 0 {
					return incompleteAnswer(a, res.Warnings)
				}
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.From, "from", "-24h", "start of the time range: RFC 3339, a date, or an offset such as -1h, -7d")
	f.StringVar(&q.To, "to", "now", "end of the time range (exclusive)")
	f.StringVar(&by, "by", "", "group-by dimensions, comma-separated: columns, src_net/24, time/5m, time/month …")
	f.StringVar(&metrics, "metrics", "", "metrics, comma-separated: count(), sum(bytes), p95(bytes), count_distinct(dst_addr), bps() …")
	f.StringVar(&order, "order", "", "order by output columns, comma-separated; - for descending (-sum(bytes))")
	f.IntVar(&top, "top", 0, "keep the first N groups (same as --limit)")
	f.IntVar(&q.Limit, "limit", 0, "rows to return (a listing's page size, default 100)")
	f.BoolVar(&q.Others, "others", false, "add one row aggregating the groups beyond the limit")
	f.StringVar(&columns, "columns", "", "columns of a listing, comma-separated (default all)")
	f.StringVar(&q.Cursor, "cursor", "", "continue a listing where the previous page ended")
	f.StringVar(&q.TimeZone, "tz", "", "time zone of day and calendar buckets and of dates (default UTC)")
	f.StringVar(&format, "format", "table", "output: table, csv, json or arrow")
	f.BoolVar(&explain, "explain", false, "print the plan and what the scan pruned and read, not the rows")
	f.DurationVar(&leaseLookback, "lease-lookback", query.DefaultLeaseLookback, "how far before --from the lease join (src_host …) looks for the start of a lease still held")
	return cmd
}

// noteLeaseJoin says on stderr how many matched rows no lease named:
// their src_host/dst_host are "" (and MACs null), which a reader of the
// table alone could take for hosts without a name.
func noteLeaseJoin(a *app, j *query.LeaseJoin, matched int64) {
	for _, side := range j.Sides {
		n := j.RowsWithoutSrcLease
		if side == "dst_addr" {
			n = j.RowsWithoutDstLease
		}
		fmt.Fprintf(a.stderr, "flowlake: lease join: %d of %d matched rows had no DHCP lease on %s at their time (%d spans indexed)\n",
			n, matched, side, j.Leases)
	}
}

// incompleteAnswer prints an answer's warnings on stderr and returns the
// error that exits with status 3: the rows printed miss those files' rows.
func incompleteAnswer(a *app, ws []query.Warning) error {
	for _, w := range ws {
		fmt.Fprintf(a.stderr, "flowlake: warning: %s\n", w)
	}
	fmt.Fprintf(a.stderr, "flowlake: query: the answer is incomplete: %d unreadable file%s skipped (exit status %d)\n", len(ws), plural(len(ws)), exitIncomplete)
	return incompleteError{fmt.Errorf("%d unreadable files", len(ws))}
}
