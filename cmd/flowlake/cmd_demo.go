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
	"github.com/flowlake/flowlake/storage/lake"
)

// DemoInfo is what `flowlake demo --json` prints once it serves.
type DemoInfo struct {
	URL  string `json:"url"`
	Data string `json:"data"`
	// Token is an API token of the demo administrator, valid for a week.
	Token string   `json:"token"`
	Try   []string `json:"try"`
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
	var rows int64
	for _, s := range stats {
		rows += s.Rows
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
		fmt.Fprintf(a.stderr, "Reusing the %d rows already in %s (delete it to start over).\n", rows, a.cfg.Lake.Root)
	}
	token, err := a.demoToken(ctx)
	if err != nil {
		return err
	}
	live := func(ctx context.Context, e *edge.Edge) error {
		return liveTraffic(ctx, e, a.cfg.Demo.LiveRate, a.cfg.Gen.Seed)
	}
	return a.serveWith(ctx, l, func(addr net.Addr) {
		info := a.demoInfo(addr, token)
		if a.json {
			_ = a.printJSON(info)
			return
		}
		fmt.Fprintf(a.stdout, "\nFlowlake is serving %s (Ctrl-C stops it). An API token of the demo administrator:\n\n  export TOKEN=%s\n\nThen try:\n\n", info.URL, info.Token)
		for _, t := range info.Try {
			fmt.Fprintf(a.stdout, "  %s\n", t)
		}
		fmt.Fprintln(a.stdout)
	}, live)
}

func (a *app) demoInfo(addr net.Addr, token string) DemoInfo {
	url := "http://" + addr.String()
	data := a.cfg.Lake.Root
	glob := path.Join(filepath.ToSlash(data), "flows", "**", "*.parquet")
	auth := `curl -H "Authorization: Bearer $TOKEN" `
	return DemoInfo{
		URL:   url,
		Data:  data,
		Token: token,
		Try: []string{
			"curl " + url + "/healthz",
			auth + url + "/api/v1/datasets",
			auth + "'" + url + "/api/v1/topn?from=-24h&by=src_addr&metrics=sum(bytes),count()&limit=10'",
			auth + "'" + url + "/api/v1/series?from=-6h&bucket=15m' -H 'Accept: text/csv'",
			auth + url + `/api/v1/query -d '{"dataset":"flows","from":"-1h","filter":"dst port 443","group_by":["app"],"metrics":["bps()"]}'`,
			auth + url + "/metrics",
			"open " + url + "/api/v1/graphql/playground (log in first: POST /api/v1/login, or send the token)",
			"flowlake query flows --data " + data + " --from -1h 'proto udp' --by dst_port --top 10",
			"flowlake lake stats --data " + data,
			fmt.Sprintf(`duckdb -c "SELECT count(*) FROM read_parquet('%s', hive_partitioning=true)"`, glob),
		},
	}
}
