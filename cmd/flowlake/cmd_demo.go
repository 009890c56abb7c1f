package main

import (
	"context"
	"fmt"
	"net"
	"path"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/edge"
	"github.com/flowlake/flowlake/jobs"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// DemoInfo is what `flowlake demo --json` prints once it serves.
type DemoInfo struct {
	URL  string `json:"url"`
	Data string `json:"data"`
	// User is the demo administrator's name.
	User string `json:"user"`
	// Token is an API token of the demo administrator, valid for a week;
	// the next start revokes it.
	Token string `json:"token"`
	// Password is the demo administrator's password for a browser login
	// (the GraphQL playground); the next start replaces it.
	Password string   `json:"password"`
	Try      []string `json:"try"`
}

func (a *app) demoCommand() *cobra.Command {
	d := DefaultConfig()
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Generate a week of history on first run, then serve it",
		Long: `If the lake under --data is empty, generate demo.days of history ending
now at demo.rate flows per second, printing progress; then serve like
'flowlake serve' and print what to try, while exporting live traffic
(demo.live_rate flows per second as NetFlow v9, IPFIX and sFlow datagrams)
to the embedded edge's listeners. A second run reuses the data.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.applyListenFlags(cmd); err != nil {
				return err
			}
			l, err := a.createLake()
			if err != nil {
				return err
			}
			return joinClose(a.demo(cmd.Context(), l), l)
		},
	}
	f := cmd.Flags()
	f.String("listen", d.Serve.Listen, "address the HTTP server listens on")
	bind(f, "listen", "serve.listen")
	f.Int("days", d.Demo.Days, "days of history generated into an empty lake")
	bind(f, "days", "demo.days")
	f.Float64("rate", d.Demo.Rate, "flow records per second of that history")
	bind(f, "rate", "demo.rate")
	f.Float64("live-rate", d.Demo.LiveRate, "flows per second exported live as NetFlow v9, IPFIX and sFlow to the embedded edge (0: none)")
	bind(f, "live-rate", "demo.live_rate")
	listenFlags(f)
	return cmd
}

func (a *app) demo(ctx context.Context, l *lake.Lake) error {
	stats, err := l.Stats(ctx)
	if err != nil {
		return fmt.Errorf("lake stats: %w", err)
	}
	var rows, flows int64 // every dataset's; the flows alone (what the user knows)
	for _, s := range stats {
		rows += s.Rows
		if s.Dataset == schema.Flows {
			flows += s.Rows
		}
	}
	if rows == 0 {
		end := time.Now().UTC().Truncate(time.Second)
		start := end.Add(-time.Duration(a.cfg.Demo.Days) * 24 * time.Hour)
		fmt.Fprintf(a.stderr, "The lake in %s is empty: generating %d days of history at %g flows/s…\n",
			a.cfg.Lake.Root, a.cfg.Demo.Days, a.cfg.Demo.Rate)
		sum, err := a.generate(ctx, l, start, end, a.cfg.Demo.Rate, nil)
		if err != nil {
			return err
		}
		if err := printGenSummary(a.stderr, sum); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.stderr, "Reusing the %d flows already in %s (delete it to start over).\n", flows, a.cfg.Lake.Root)
	}
	creds, err := a.demoLogin(ctx)
	if err != nil {
		return err
	}
	// The demo serves without its report rather than not at all.
	if keys, err := a.demoReports(ctx, l); err != nil {
		a.logger.Warn("demo report not made", "err", err)
	} else {
		fmt.Fprintf(a.stderr, "Report schedules %q and %q are defined; yesterday's summary report is archived (download with the token below):\n", demoDaily, demoWeekly)
		for _, k := range keys {
			fmt.Fprintf(a.stderr, "  %s%s\n", jobs.ArchiveDownloadPath, k)
		}
	}
	var exporters []liveExporter
	if a.cfg.Demo.LiveRate > 0 && a.cfg.edgeListens() {
		// Live rows get the history's device and interface names: each
		// device sends from an address the edge's enrichment names.
		if exporters, err = liveExporters(a.cfg.Gen.Seed); err != nil {
			return fmt.Errorf("demo traffic: %w", err)
		}
		a.cfg.Edge.Enrich = demoEnrichment(a.cfg.Edge.Enrich, exporters)
	}
	live := func(ctx context.Context, e *edge.Edge) error {
		return liveTraffic(ctx, e, exporters, a.cfg.Demo.LiveRate, a.cfg.Gen.Seed, a.logger)
	}
	return a.serveWith(ctx, l, func(addr net.Addr) {
		info := a.demoInfo(addr, creds)
		if a.json {
			_ = a.printJSON(info)
			return
		}
		fmt.Fprintf(a.stdout, "\nFlowlake is serving %s (Ctrl-C stops it). The demo administrator is %q, with password %s\n(for a browser login) and this API token (both replaced at the next start):\n\n  export TOKEN=%s\n\nThen try:\n\n",
			info.URL, info.User, info.Password, info.Token)
		for _, t := range info.Try {
			fmt.Fprintf(a.stdout, "  %s\n", t)
		}
		fmt.Fprintln(a.stdout)
	}, live)
}

// demoInfo is what the demo prints once it serves on addr: the URL, the
// credentials, and commands to try, which call this very binary by the
// path it was started with (after `make demo`, ./bin/flowlake, which is not
// on PATH).
func (a *app) demoInfo(addr net.Addr, creds demoCredentials) DemoInfo {
	url := "http://" + addr.String()
	data := a.cfg.Lake.Root
	glob := path.Join(filepath.ToSlash(data), "flows", "**", "*.parquet")
	auth := `curl -H "Authorization: Bearer $TOKEN" `
	self := shellQuote(a.selfCommand())
	login := fmt.Sprintf(`{"name":%q,"password":%q}`, demoUser, creds.Password)
	return DemoInfo{
		URL:      url,
		Data:     data,
		User:     demoUser,
		Token:    creds.Token,
		Password: creds.Password,
		Try: []string{
			"curl " + url + "/healthz",
			auth + url + "/api/v1/datasets",
			auth + "'" + url + "/api/v1/topn?from=-24h&by=src_addr&metrics=sum(bytes),count()&limit=10'",
			auth + "'" + url + "/api/v1/series?from=-6h&bucket=15m' -H 'Accept: text/csv'",
			auth + url + `/api/v1/query -d '{"dataset":"flows","from":"-1h","filter":"dst port 443","group_by":["app"],"metrics":["bps()"]}'`,
			auth + url + "/metrics",
			auth + url + `/api/v1/graphql -d '{"query":"{ me { user { name role } } }"}'`,
			auth + url + "/api/v1/reports/archive   (then curl the download path of a report)",
			self + " report list --data " + shellQuote(data),
			"GraphQL playground in a browser: open " + url + "/healthz, log in from its developer console with fetch('/api/v1/login', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '" + login + "'}), then open " + url + "/api/v1/graphql/playground",
			self + " query flows --data " + shellQuote(data) + " --from -1h 'proto udp' --by dst_port --top 10",
			self + " query flows --data " + shellQuote(data) + ` --from -24h 'src_host != ""' --by src_host,src_addr --metrics 'sum(bytes)' --top 10   (flows named by the DHCP lease held at their time)`,
			self + " lake stats --data " + shellQuote(data),
			fmt.Sprintf(`duckdb -c "SELECT count(*) FROM read_parquet('%s', hive_partitioning=true)"`, glob),
		},
	}
}
