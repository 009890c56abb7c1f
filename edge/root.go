package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/flowlake/flowlake/ingest/flow"
	"github.com/flowlake/flowlake/ingest/tcptrace"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// Deps are what an Edge needs from the rest of the process.
type Deps struct {
	// Lake receives the flows segments in embedded mode (required then;
	// a remote edge writes its own spool and ignores it).
	Lake *lake.Lake
	// Uploader ships the spool's segments when Config.Ship.Tunnel is set
	// (the edge↔core tunnel); it is required then and unused otherwise.
	Uploader Uploader
	// Logger logs lifecycle events and failures (default: discard).
	Logger *slog.Logger
	// Now stamps datagram arrival (sFlow flow time) and batch age
	// (default time.Now).
	Now func() time.Time
	// TracerFilter compiles tcptrace.filter (the query filter language on
	// a connection's endpoints) into the tracer's predicate. edge may not
	// import storage/query, so cmd/flowlake hands it in; it is required
	// when tcptrace.filter is set.
	TracerFilter func(src string) (func(local, foreign tcptrace.Endpoint) bool, error)
}

// Edge is the running agent: receivers, decode workers, the writer of
// segments (into the lake, or into the spool), and the shipper.
type Edge struct {
	cfg      Config
	uploader Uploader   // the tunnel (Ship.Tunnel), else nil
	lake     *lake.Lake // where segments are written: the lake, or the spool's
	spool    *spool     // remote mode only
	shipper  *shipper   // remote mode only
	started  time.Time
	log      *slog.Logger
	now      func() time.Time
	dec      *flow.Decoder
	enricher *flow.Enricher
	stats    Stats
	quar     *quarantine
	dhcp     *dhcpSnoop   // nil unless DHCP snooping is configured
	tcpTrace *tcpTracer   // nil unless the TCP tracer is configured
	drop     *dropWatcher // nil unless the drop folder is configured
	loss     *lossRecorder

	packets sync.Pool // *packet
	// connsMu guards conns once the edge runs: RestartReceivers replaces
	// sockets, Stop closes them (and sets stopping), Addrs reads them.
	connsMu  sync.Mutex
	conns    []*listener
	stopping bool
	// holdReads, when a test sets it before Start, holds every flow
	// socket's reader until it is closed, so datagrams queue in the
	// kernel (TestRestartReceiverReadsQueued).
	holdReads chan struct{}
	workers   []*worker
	writes    chan *flow.Batch // to the writer; never full: its capacity is the pool's
	batches   *batchPool
	staged    chan *lake.Staged // from the writer to commit
	// stageRows encodes one batch (lake.Stage into e.lake) and
	// commitStaged publishes it (Staged.Commit); tests slow them down to
	// exercise back-pressure.
	stageRows    func(ctx context.Context, rows []schema.Flow) (*lake.Staged, error)
	commitStaged func(st *lake.Staged) ([]lake.Segment, error)

	readers, working, writing, committing, background errgroup.Group
	cancel                                            context.CancelFunc
	stopOnce                                          sync.Once
	stopErr                                           error
	done                                              chan struct{}
}

// listener is one bound socket.
type listener struct {
	kind string // "netflow", "ipfix" or "sflow"
	conn *net.UDPConn
}

// New checks cfg and builds an Edge; nothing is bound until Start.
func New(cfg Config, deps Deps) (*Edge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("edge config: %w", err)
	}
	if deps.Lake == nil && !cfg.Remote() {
		return nil, errors.New("edge: no lake (embedded mode) and no ship.url (remote mode)")
	}
	if cfg.Ship.Tunnel && deps.Uploader == nil {
		return nil, errors.New("edge: ship.tunnel without an uploader (Deps.Uploader)")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	fc := cfg.Flow
	fc.Edge = cfg.ID
	dec, err := flow.New(fc)
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	enr, err := flow.NewEnricher(cfg.Enrich)
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	dec.SetEnricher(enr)
	dec.SetLogger(deps.Logger.With("component", "edge"))
	e := &Edge{
		cfg: cfg, uploader: deps.Uploader, lake: deps.Lake, log: deps.Logger.With("component", "edge"), now: deps.Now,
		dec: dec, enricher: enr,
		writes: make(chan *flow.Batch, batchPoolSize(cfg.workers())),
		staged: make(chan *lake.Staged, stagedSegments),
		done:   make(chan struct{}),
	}
	e.quar = newQuarantine(cfg.quarantineFile(), cfg.QuarantineMaxBytes, fc, &e.stats, e.log)
	e.batches = newBatchPool(batchPoolSize(cfg.workers()), cfg.BatchRows, &e.stats.BatchWaits)
	e.stageRows = func(ctx context.Context, rows []schema.Flow) (*lake.Staged, error) {
		return lake.Stage(ctx, e.lake, e.cfg.ID, rows)
	}
	e.commitStaged = (*lake.Staged).Commit
	e.packets.New = newPacket
	for range cfg.workers() {
		e.workers = append(e.workers, &worker{queue: make(chan *packet, cfg.QueueDatagrams)})
	}
	if cfg.DHCP.Enabled() {
		if e.dhcp, err = newDHCPSnoop(e); err != nil {
			return nil, err
		}
	}
	if cfg.Drop.Enabled() {
		if e.drop, err = newDropWatcher(e); err != nil {
			return nil, err
		}
	}
	if cfg.TCPTrace.Enabled() {
		if e.tcpTrace, err = newTCPTracer(e, deps.TracerFilter); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Decoder returns the flow decoder, for its counters and templates.
func (e *Edge) Decoder() *flow.Decoder { return e.dec }

// SetEnrichment replaces the enrichment configuration; it applies to
// datagrams decoded from now on.
func (e *Edge) SetEnrichment(cfg flow.EnrichConfig) error {
	enr, err := flow.NewEnricher(cfg)
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	e.dec.SetEnricher(enr)
	return nil
}

// Start restores saved templates, binds the sockets and starts the
// receivers, workers and writer. It returns once everything listens; the
// edge then runs until Stop is called or ctx is done.
func (e *Edge) Start(ctx context.Context) error {
	e.started = e.now()
	if e.cfg.Remote() {
		sp, err := openSpool(e.cfg.Spool, &e.stats, e.log)
		if err != nil {
			return err
		}
		sh, err := newShipper(e.cfg.Ship, e.uploader, sp, &e.stats, e.log)
		if err != nil {
			return errors.Join(err, sp.close())
		}
		e.spool, e.shipper, e.lake = sp, sh, sp.lake
	}
	e.restoreTemplates()
	err := e.listen(ctx)
	if err == nil && e.dhcp != nil {
		err = e.dhcp.start(ctx)
	}
	if err == nil && e.tcpTrace != nil {
		if err = e.tcpTrace.start(ctx); err != nil && e.dhcp != nil {
			err = errors.Join(err, e.dhcp.stop())
		}
	}
	if err == nil && e.drop != nil {
		if err = e.drop.start(ctx); err != nil {
			if e.dhcp != nil {
				err = errors.Join(err, e.dhcp.stop())
			}
			if e.tcpTrace != nil {
				err = errors.Join(err, e.tcpTrace.stop())
			}
		}
	}
	if err != nil {
		for _, l := range e.conns {
			_ = l.conn.Close()
		}
		if e.spool != nil {
			err = errors.Join(err, e.spool.close())
		}
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel = cancel
	if e.cfg.LossInterval > 0 {
		e.loss = newLossRecorder(e, e.started)
	}
	for _, l := range e.conns {
		e.readers.Go(func() error { e.read(l); return nil })
	}
	for _, w := range e.workers {
		e.working.Go(func() error { e.work(w); return nil })
	}
	e.writing.Go(func() error { e.write(runCtx); return nil })
	e.committing.Go(func() error { e.commit(runCtx); return nil })
	if e.cfg.TemplateFile != "" {
		e.background.Go(func() error { e.saveTemplatesEvery(runCtx); return nil })
	}
	if e.loss != nil {
		e.background.Go(func() error { e.loss.run(runCtx); return nil })
	}
	if e.shipper != nil {
		e.background.Go(func() error { e.shipper.run(runCtx); return nil })
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = e.Stop()
		case <-e.done:
		}
	}()
	mode := "embedded"
	if e.cfg.Remote() {
		mode = "remote"
	}
	e.log.Info("edge started", "id", e.cfg.ID, "mode", mode, "listeners", len(e.conns), "workers", len(e.workers))
	return nil
}

// ShipNow makes a remote edge's shipper scan its spool now, even while
// it backs off after failed uploads: for a way to the core that just came
// back (the tunnel established). It does nothing on an embedded edge.
func (e *Edge) ShipNow() {
	if e.shipper != nil {
		e.shipper.kick()
	}
}

// Addrs returns the bound local addresses per kind ("netflow", "ipfix", "sflow"),
// one per address (its SO_REUSEPORT siblings share it).
func (e *Edge) Addrs() map[string][]netip.AddrPort {
	e.connsMu.Lock()
	defer e.connsMu.Unlock()
	out := map[string][]netip.AddrPort{}
	for _, l := range e.conns {
		a := l.conn.LocalAddr().(*net.UDPAddr).AddrPort()
		if list := out[l.kind]; len(list) == 0 || list[len(list)-1] != a {
			out[l.kind] = append(list, a)
		}
	}
	return out
}

// Stop closes the sockets, lets the workers decode what is queued, writes
// the last batches (into the lake or the spool), stops the shipper (what
// it has not shipped stays in the spool for the next start), saves the
// templates and returns the errors of that shutdown. It is safe to call more than once.
func (e *Edge) Stop() error {
	e.stopOnce.Do(func() {
		defer close(e.done)
		var errs []error
		e.connsMu.Lock() // after this, RestartReceivers starts no reader
		e.stopping = true
		for _, l := range e.conns {
			if err := l.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, fmt.Errorf("close %s socket: %w", l.kind, err))
			}
		}
		e.connsMu.Unlock()
		_ = e.readers.Wait()
		for _, w := range e.workers {
			close(w.queue)
		}
		_ = e.working.Wait()
		close(e.writes)
		_ = e.writing.Wait() // closes e.staged
		_ = e.committing.Wait()
		if e.dhcp != nil {
			if err := e.dhcp.stop(); err != nil {
				errs = append(errs, fmt.Errorf("dhcp: %w", err))
			}
		}
		if e.tcpTrace != nil {
			if err := e.tcpTrace.stop(); err != nil {
				errs = append(errs, fmt.Errorf("tcptrace: %w", err))
			}
		}
		if e.drop != nil {
			e.drop.stop()
		}
		if e.cancel != nil {
			e.cancel()
		}
		_ = e.background.Wait()
		if e.loss != nil {
			// The last interval, after every writer finished (so their
			// losses are in it), into the lake or the spool.
			e.loss.flush(context.Background(), true)
		}
		if err := e.saveTemplates(); err != nil {
			errs = append(errs, err)
		}
		if err := e.quar.close(); err != nil {
			errs = append(errs, err)
		}
		if e.spool != nil {
			if err := e.spool.close(); err != nil {
				errs = append(errs, err)
			}
		}
		e.stopErr = errors.Join(errs...)
		s := e.stats.Snapshot()
		e.log.Info("edge stopped", "received", s.Received, "queue_drops", s.QueueDrops, "rows_written", s.RowsWritten, "rows_lost", s.RowsLost,
			"rows_quarantined", s.QuarantineRows, "quarantine_lost", s.QuarantineLost)
	})
	return e.stopErr
}
