package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/flowlake/flowlake/api"
	"github.com/flowlake/flowlake/edge"
	"github.com/flowlake/flowlake/jobs"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// The lake is what the API and the jobs consume.
var (
	_ api.DatasetLister = (*lake.Lake)(nil)
	_ jobs.Maintainer   = (*lake.Lake)(nil)
)

func (a *app) serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the API and run scheduled maintenance",
		Long: `Open the lake, start the maintenance jobs (compaction, retention), the
embedded edge (NetFlow/IPFIX/sFlow listeners writing the lake; none when no
listen address is set) and the HTTP server, which also accepts segments
shipped by remote edges; run until SIGINT or SIGTERM, then stop them in
reverse.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.applyListenFlags(cmd); err != nil {
				return err
			}
			l, err := a.createLake()
			if err != nil {
				return err
			}
			return joinClose(a.serve(cmd.Context(), l, nil), l)
		},
	}
	cmd.Flags().String("listen", DefaultConfig().Serve.Listen, "address the HTTP server listens on")
	bind(cmd.Flags(), "listen", "serve.listen")
	listenFlags(cmd.Flags())
	return cmd
}

// serve runs the jobs and the API on an open lake until ctx is done or
// the server fails. Components start in order and stop in reverse;
// listening is called with the bound address once requests are accepted.
// The metadata store the API authenticates with is opened here and closed
// on return.
func (a *app) serve(ctx context.Context, l *lake.Lake, listening func(net.Addr)) error {
	return a.serveWith(ctx, l, listening, nil)
}

// serveWith is serve with the embedded edge handed to live, which runs
// (demo traffic) until the server stops.
func (a *app) serveWith(ctx context.Context, l *lake.Lake, listening func(net.Addr), live func(context.Context, *edge.Edge) error) (err error) {
	store, err := a.openMeta(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()
	if n, err := store.CountUsers(ctx); err != nil {
		return err
	} else if n == 0 {
		a.logger.Warn("no users yet: every API call but the probes will be refused; create one with 'flowlake user add --name NAME --role admin --token'")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range l.Collectors() {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register lake metrics: %w", err)
		}
	}
	engine := query.New(l, query.Config{}, a.logger)
	defer engine.Close()
	sched, err := jobs.New(a.cfg.Jobs, jobs.Deps{Lake: l, Rollups: engine, Logger: a.logger, Registerer: reg})
	if err != nil {
		return err
	}
	archive := lake.NewArchive(l.Backend())
	reps, err := a.reportSchedules(store, archive, engine, reg)
	if err != nil {
		return err
	}
	tun, err := a.newCoreTunnel(store, l)
	if err != nil {
		return err
	}
	deps := api.Deps{Datasets: l, Meta: store, Query: engine, Leases: engine, Ingest: l, Archive: archive, Traces: lakeTraces{l}, Logger: a.logger, Registry: reg,
		CloudState: cloudStateImporter{lake: l, log: a.logger, now: time.Now}, TCPTrace: tcptraceImporter{lake: l, log: a.logger}}
	if tun != nil {
		deps.Tunnel = tun
	}
	srv, err := api.New(a.cfg.Serve, deps)
	if err != nil {
		return err
	}
	fe, err := a.embeddedEdge(l, reg)
	if err != nil {
		return err
	}
	stopEdge := func() error {
		if fe == nil {
			return nil
		}
		return fe.Stop()
	}

	if err := sched.Start(ctx); err != nil {
		return errors.Join(err, sched.Stop())
	}
	if err := reps.Start(ctx); err != nil {
		return errors.Join(err, reps.Stop(), sched.Stop())
	}
	if fe != nil {
		if err := fe.Start(ctx); err != nil {
			return errors.Join(err, reps.Stop(), sched.Stop())
		}
	}
	stopTunnel, err := a.startCoreTunnel(ctx, tun)
	if err != nil {
		return errors.Join(err, stopEdge(), reps.Stop(), sched.Stop())
	}
	if err := srv.Start(ctx); err != nil {
		return errors.Join(err, stopTunnel(), stopEdge(), reps.Stop(), sched.Stop())
	}
	if listening != nil {
		listening(srv.Addr())
	}
	if a.hooks.onListen != nil {
		a.hooks.onListen(srv.Addr())
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(srv.Wait) // nil after Stop; an error if the server died on its own
	if live != nil && fe != nil {
		g.Go(func() error { return live(gctx, fe) })
	}
	if fe != nil {
		g.Go(func() error { return syncEnrichment(gctx, store, fe, a.cfg.Edge.Enrich, enrichEvery, a.logger) })
	}
	g.Go(func() error {
		<-gctx.Done()
		a.logger.Info("stopping")
		return errors.Join(srv.Stop(), stopTunnel(), stopEdge(), reps.Stop(), sched.Stop())
	})
	if err := g.Wait(); err != nil {
		return err
	}
	a.logger.Info("stopped")
	return nil
}

// reportSchedules builds the report schedules of serve: runs claimed in
// the metadata store (so replicas sharing it run each once), files
// archived in the lake's storage, results mailed when reports.mail.host
// is set.
func (a *app) reportSchedules(store *meta.Store, archive *lake.Archive, engine *query.Engine, reg prometheus.Registerer) (*jobs.Reports, error) {
	var mailer jobs.Mailer
	if a.cfg.Reports.Mail.Host != "" {
		m, err := jobs.NewSMTP(a.cfg.Reports.Mail)
		if err != nil {
			return nil, err
		}
		mailer = m
	}
	return jobs.NewReports(a.cfg.Reports, jobs.ReportDeps{Store: store, Archive: archive, Generator: jobs.Reporter{Engine: engine},
		Mailer: mailer, Logger: a.logger, Registerer: reg})
}
