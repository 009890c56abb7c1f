package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowlake/flowlake/graph"
	"github.com/flowlake/flowlake/storage/lake"
)

// DatasetLister is what the API needs from the lake to describe its
// datasets. *lake.Lake implements it.
type DatasetLister interface {
	// Stats returns one summary per dataset.
	Stats(ctx context.Context) ([]lake.DatasetStats, error)
}

// Deps are the components the server uses; Datasets and Meta are
// required.
type Deps struct {
	// Datasets answers GET /api/v1/datasets.
	Datasets DatasetLister
	// Query answers the query endpoints; nil makes them answer 503.
	Query Querier
	// Leases answers GET /api/v1/dhcp/leases and GraphQL's leaseHistory;
	// nil makes them answer 503. *query.Engine implements it.
	Leases LeaseAsker
	// Meta holds users, roles, tokens, sessions, settings and the audit
	// log; every endpoint but the probes and login authenticates with it.
	Meta MetaStore
	// Logger receives request logs and server errors; nil discards them.
	Logger *slog.Logger
	// Ingest publishes segments uploaded by edge agents
	// (PUT /api/v1/ingest/segments/{id}); nil answers 503. *lake.Lake
	// implements it.
	Ingest SegmentPublisher
	// Archive lists and serves archived reports (GET
	// /api/v1/reports/archive); nil answers 503. *lake.Archive implements
	// it.
	Archive ReportArchive
	// CloudState writes devices' cloud-connection displays pushed by edges
	// (POST /api/v1/ingest/cloud-state); nil answers 503.
	CloudState CloudStateWriter
	// TCPTrace writes devices' `display tcp trace` output pushed by edges
	// (POST /api/v1/ingest/tcptrace); nil answers 503.
	TCPTrace TCPTraceWriter
	// Tunnel is the core's tunnel end (GET /api/v1/edges); nil lists no
	// edges.
	Tunnel Tunnel
	// Traces writes traced TCP connections as pcap files
	// (GET /api/v1/tcptrace/{trace_id}/pcap); nil answers 503.
	Traces TracePcapWriter
	// Now is the clock uploads' time window is checked against; nil is
	// time.Now.
	Now func() time.Time
	// Registry holds the server's metrics and is what GET /metrics exposes,
	// so other components register their metrics in it too. Nil gives the
	// server a registry of its own (never the process-global one).
	Registry *prometheus.Registry
}

// Server is Flowlake's HTTP server. Create it with New, then Start and Stop
// it; Handler serves requests without a listener (for tests).
type Server struct {
	cfg     Config
	deps    Deps
	logger  *slog.Logger
	echo    *echo.Echo
	metrics *metrics
	openapi []byte // the OpenAPI document, built once by New
	tokens  tokenCache
	ready   atomic.Bool
	// graph is the GraphQL handler the routes serve (its subscription
	// counts are metrics).
	graph atomic.Pointer[graph.Handler]

	mu      sync.Mutex
	http    *http.Server
	addr    net.Addr
	done    chan struct{} // closed when Serve returned
	serveEr error         // why Serve returned; read after done is closed
}

// New validates the configuration and builds a server with its routes.
// The server reports ready while the metadata store answers, since the
// caller opens the lake and the store before building the API.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("api config: %w", err)
	}
	if deps.Datasets == nil {
		return nil, errors.New("api: no dataset lister")
	}
	if deps.Meta == nil {
		return nil, errors.New("api: no metadata store")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	m, err := newMetrics(deps.Registry)
	if err != nil {
		return nil, fmt.Errorf("api metrics: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		deps:    deps,
		logger:  deps.Logger.With("component", "api"),
		metrics: m,
	}
	for _, c := range s.graphSubscriptionMetrics() {
		if err := deps.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("api metrics: %w", err)
		}
	}
	table := s.routes()
	doc, err := openAPIDocument(table)
	if err != nil {
		return nil, fmt.Errorf("api: openapi document: %w", err)
	}
	s.openapi = doc
	s.echo = s.newEcho(table)
	s.ready.Store(true)
	return s, nil
}

// Handler returns the server's HTTP handler, routes and middleware
// included.
func (s *Server) Handler() http.Handler { return s.echo }

// Start binds the configured address and serves in the background until
// Stop. Binding errors (address in use, bad host) are returned here.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http != nil {
		return errors.New("api: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("api listen %s: %w", s.cfg.Listen, err)
	}
	base := context.WithoutCancel(ctx) // Stop drains requests; the caller's cancel must not abort them
	s.http = &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	s.addr = ln.Addr()
	s.done = make(chan struct{})
	srv, done := s.http, s.done
	go func() { // owned by the Server: Stop waits for it, Wait reports how it ended
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		} else if err != nil {
			err = fmt.Errorf("api serve %s: %w", ln.Addr(), err)
		}
		s.serveEr = err
		close(done)
	}()
	s.logger.Info("listening", "addr", s.addr.String())
	return nil
}

// Addr returns the address the server is bound to, nil before Start. With
// port 0 in Config.Listen it tells which port was picked.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Wait blocks until the server stops serving and returns why: nil after
// Stop, an error if serving failed on its own.
func (s *Server) Wait() error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return errors.New("api: not started")
	}
	<-done
	return s.serveEr
}

// Stop marks the server not ready, stops accepting connections and waits
// up to Config.ShutdownTimeout for in-flight requests. It is safe to call
// more than once, and before Start.
func (s *Server) Stop() error {
	s.ready.Store(false)
	s.mu.Lock()
	srv, done := s.http, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("api shutdown: %w", err))
		errs = append(errs, srv.Close())
	}
	<-done
	errs = append(errs, s.serveEr)
	return errors.Join(errs...)
}
