package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/edge"
)

// Status endpoint paths of `flowlake edge`.
const (
	edgeMetricsPath = "/metrics"
)

func (a *app) edgeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "edge",
		Short: "Run a flow collector that spools segments and ships them to a core",
		Long: `Receive NetFlow v5/v9, IPFIX and sFlow on the edge.*_listen addresses,
write Parquet segments into the spool (edge.spool.dir, quota
edge.spool.max_bytes, oldest dropped and counted when full) and upload them to
the core at edge.ship.url with the token in edge.ship.token_file, or, with
tunnel.edge.serial set, over the edge's tunnel to its core (docs/tunnel.md);
a segment leaves the spool only once the core acknowledged it. With edge.dhcp.interfaces
(or --dhcp-pcap) it also snoops DHCP: dhcp_events segments take the same path,
and the binding table is served on /dhcp/bindings. Counters are served on
edge.status_listen (/metrics, /status); 'flowlake edge status' prints them.
Runs until SIGINT or SIGTERM.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.applyListenFlags(cmd); err != nil {
				return err
			}
			return a.runEdge(cmd.Context())
		},
	}
	f := cmd.Flags()
	listenFlags(f)
	f.String("core", "", "the core's base URL (edge.ship.url)")
	bind(f, "core", "edge.ship.url")
	f.String("token-file", "", "file holding the API token with ingest.write (edge.ship.token_file)")
	bind(f, "token-file", "edge.ship.token_file")
	f.String("spool", edge.DefaultConfig().Spool.Dir, "spool directory (edge.spool.dir)")
	bind(f, "spool", "edge.spool.dir")
	f.String("status-listen", edge.DefaultConfig().StatusListen, "TCP address of /metrics and /status (edge.status_listen)")
	bind(f, "status-listen", "edge.status_listen")
	cmd.AddCommand(a.edgeStatusCommand(), a.edgeDHCPCommand(), a.edgeStateCommand())
	cmd.AddCommand(a.edgeAdminCommands()...)
	cmd.AddCommand(a.edgeFleetCommands()...)
	return cmd
}

// runEdge runs a remote edge until ctx is done.
func (a *app) runEdge(ctx context.Context) error {
	cfg := a.cfg.Edge
	if a.cfg.Tunnel.Edge.Serial != "" {
		// With a tunnel, segments go over it (docs/tunnel.md): PUT and
		// its token are for edges without one.
		if cfg.Ship.URL != "" {
			a.logger.Info("edge.ship.url is not used: segments are shipped over the tunnel", "url", cfg.Ship.URL)
		}
		cfg.Ship.Tunnel, cfg.Ship.URL = true, ""
		switch serial := a.cfg.Tunnel.Edge.Serial; cfg.ID {
		case serial:
		case edge.DefaultConfig().ID:
			cfg.ID = serial // the core takes only segments of the edge's serial
		default:
			return usageError{fmt.Errorf("edge.id %q differs from tunnel.edge.serial %q: over the tunnel the core takes only segments of the edge's own serial; set edge.id to the serial or leave it unset", cfg.ID, serial)}
		}
	}
	if !cfg.Remote() {
		return usageError{errNoCore}
	}
	if !a.cfg.edgeListens() {
		return usageError{errors.New("no listen address: set edge.netflow_listen, edge.ipfix_listen, edge.sflow_listen, edge.dhcp.interfaces, edge.dhcp.pcap, edge.tcptrace.interfaces, edge.tcptrace.pcap or edge.drop.dir")}
	}
	if cfg.TemplateFile == "" {
		cfg.TemplateFile = filepath.Join(cfg.Spool.Dir, "_templates.json")
	}
	defer a.setEdgeMemoryLimit(cfg)()
	deps := edge.Deps{Logger: a.logger, TracerFilter: compileTracerFilter}
	up := &tunnelUploader{} // the tunnel, once built below
	if cfg.Ship.Tunnel {
		deps.Uploader = up
	}
	e, err := edge.New(cfg, deps)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range e.Collectors() {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register edge metrics: %w", err)
		}
	}
	tun, err := a.newEdgeTunnel(cfg.Spool.Dir, e.Status, edgeCommand(e))
	if err != nil {
		return err
	}
	if tun != nil {
		up.tun.Store(tun)
		tun.onEstablished(e.ShipNow)
	}
	if err := e.Start(ctx); err != nil {
		return errors.Join(err, tun.close())
	}
	tunDone := make(chan error, 1)
	if tun != nil {
		go func() { tunDone <- tun.run(ctx) }() // ends with ctx, below
	} else {
		tunDone <- nil
	}
	var srv *http.Server
	if cfg.StatusListen != "" {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", cfg.StatusListen)
		if err != nil {
			return errors.Join(fmt.Errorf("edge status listen %s: %w", cfg.StatusListen, err), e.Stop())
		}
		mux := http.NewServeMux()
		mux.Handle("GET "+edgeMetricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
		mux.HandleFunc("GET "+edge.StatusPath, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(e.Status(r.Context()))
		})
		mux.HandleFunc("GET "+edge.DHCPBindingsPath, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			b := e.DHCPBindings()
			if b == nil {
				b = []edge.Binding{}
			}
			_ = json.NewEncoder(w).Encode(b)
		})
		if cfg.StatusPprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }() // ends with Shutdown below
		a.logger.Info("edge status listening", "addr", ln.Addr().String())
	}
	<-ctx.Done()
	a.logger.Info("stopping")
	var errs []error
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, srv.Shutdown(sctx))
		cancel()
	}
	errs = append(errs, e.Stop(), <-tunDone)
	a.logger.Info("stopped")
	return errors.Join(errs...)
}

// setEdgeMemoryLimit sets the process's soft memory limit to
// edge.memory_limit unless GOMEMLIMIT is set, which the Go runtime has
// applied already, or the setting is 0. It warns when the limit is below
// what the edge's buffers may hold. It returns a function restoring the
// previous limit, for runs inside a test process.
func (a *app) setEdgeMemoryLimit(cfg edge.Config) (restore func()) {
	if v := lookupEnv(a.hooks.environ, "GOMEMLIMIT"); v != "" {
		a.logger.Info("memory limit from GOMEMLIMIT; edge.memory_limit ignored", "gomemlimit", v)
		return func() {}
	}
	if cfg.MemoryLimit == 0 {
		return func() {}
	}
	prev := debug.SetMemoryLimit(cfg.MemoryLimit)
	if need := cfg.MemoryEstimate(); cfg.MemoryLimit < need {
		a.logger.Warn("edge.memory_limit is below what the edge's batches, queues and writer may hold: raise it, or lower edge.batch_rows, edge.queue_datagrams or edge.workers",
			"memory_limit", cfg.MemoryLimit, "estimate", need)
	} else {
		a.logger.Info("memory limit", "bytes", cfg.MemoryLimit, "estimate", need)
	}
	return func() { debug.SetMemoryLimit(prev) }
}

func (a *app) edgeStatusCommand() *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print a running edge's counters, spool and shipping state",
		Long: `Ask the edge at --url (default: http:// + edge.status_listen) for its status:
datagrams, flows and decode errors by format and kind, template misses, drops
by cause, spool segments and bytes, segments shipped and upload failures.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				url = "http://" + a.cfg.Edge.StatusListen
			}
			st, err := fetchEdgeStatus(cmd.Context(), url)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(st)
			}
			return printEdgeStatus(a.stdout, st)
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "the edge's status URL (default http://<edge.status_listen>)")
	return cmd
}

// fetchEdgeStatus reads the status `flowlake edge` serves at url.
func fetchEdgeStatus(ctx context.Context, url string) (edge.Status, error) {
	st, err := edge.FetchStatus(ctx, url)
	if err != nil && ctx.Err() == nil {
		return st, fmt.Errorf("%w (is `flowlake edge` running?)", err)
	}
	return st, err
}

func printEdgeStatus(w io.Writer, st edge.Status) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	line("edge", st.ID)
	line("mode", st.Mode)
	if st.Core != "" {
		line("core", st.Core)
	}
	line("started", st.StartedAt.UTC().Format(time.RFC3339))
	for _, k := range sortedKeys(st.Listeners) {
		line("listen "+k, strings.Join(st.Listeners[k], ", "))
	}
	line("datagrams", st.Datagrams)
	for _, k := range sortedKeys(st.DatagramsByFormat) {
		line("  "+k, fmt.Sprintf("%d datagrams, %d flows", st.DatagramsByFormat[k], st.Flows[k]))
	}
	for _, k := range sortedKeys(st.DecodeErrors) {
		if st.DecodeErrors[k] > 0 {
			line("decode errors "+k, st.DecodeErrors[k])
		}
	}
	line("template misses", st.TemplateMisses)
	line("sequence gaps", fmt.Sprintf("%d (%d flows lost upstream)", st.SequenceGaps, st.LostFlows))
	q := fmt.Sprintf("%d rows", st.TimeQuarantined)
	if st.QuarantineFile != "" {
		q += " in " + st.QuarantineFile
	}
	if st.QuarantineLost > 0 {
		q += fmt.Sprintf(" (%d not kept)", st.QuarantineLost)
	}
	line("time quarantined", q)
	line("sampling rate unknown", fmt.Sprintf("%d rows (sampling_rate 0)", st.SamplingUnknown))
	line("sampling rules shadowed", st.SamplingRulesShadowed)
	line("rows acknowledged", fmt.Sprintf("%d in %d segments", st.RowsAcknowledged, st.SegmentsWritten))
	line("batch waits", st.BatchWaits)
	line("commit waits", st.CommitWaits)
	for _, k := range sortedKeys(st.Drops) {
		line("drops "+k, st.Drops[k])
	}
	if d := st.DHCP; d != nil {
		src := "capture"
		if d.Replay != "" {
			src = "replay " + d.Replay
			if d.ReplayDone {
				src += " (done)"
			}
		}
		line("dhcp", src)
		for _, c := range d.Capture {
			line("  "+c.Interface, fmt.Sprintf("%d frames, %d kernel drops", c.Packets, c.KernelDrops))
		}
		line("  messages", fmt.Sprintf("%d decoded, %d rows written, %d queue drops", d.Decoded, d.RowsWritten, d.QueueDrops))
		for _, k := range sortedKeys(d.Rejected) {
			if d.Rejected[k] > 0 {
				line("  rejected "+k, d.Rejected[k])
			}
		}
		q := fmt.Sprintf("%d", d.Quarantined)
		if d.QuarantineFile != "" {
			q += " in " + d.QuarantineFile
		}
		if d.QuarantineLost > 0 {
			q += fmt.Sprintf(" (%d not kept)", d.QuarantineLost)
		}
		line("  quarantined", q)
		line("  bindings", d.Bindings)
		for _, k := range sortedKeys(d.SignalsRaised) {
			if d.SignalsRaised[k] > 0 {
				line("  signal "+k, d.SignalsRaised[k])
			}
		}
	}
	if d := st.Drop; d != nil {
		line("drop folder", d.Dir)
		line("  files", fmt.Sprintf("%d done, %d failed", d.Done, d.Failed))
		for _, k := range sortedKeys(d.FailedBy) {
			if d.FailedBy[k] > 0 {
				line("  failed "+k, d.FailedBy[k])
			}
		}
		for _, k := range sortedKeys(d.Rows) {
			line("  rows "+k, d.Rows[k])
		}
		line("  unknown lines", d.LinesUnknown)
		if d.LastError != "" {
			line("  last error", d.LastError)
		}
	}
	if st.Mode == "remote" {
		line("spool", fmt.Sprintf("%d segments, %d bytes", st.SpoolSegments, st.SpoolBytes))
		line("shipped", fmt.Sprintf("%d segments, %d rows", st.SegmentsShipped, st.RowsShipped))
		line("upload failures", st.UploadFailures)
		if !st.LastShippedAt.IsZero() {
			line("last shipped", st.LastShippedAt.UTC().Format(time.RFC3339))
		}
		if st.LastUploadError != "" {
			line("last upload error", st.LastUploadError)
		}
	}
	return tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
