package tunnelcore

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
	wire "github.com/flowlake/flowlake/tunnel"
)

// Admissions is what the tunnel needs of the metadata store's edge
// allow-list. *meta.Store implements it.
type Admissions interface {
	AuthenticateEdge(ctx context.Context, serial, secret string) (bool, error)
	BindEdge(ctx context.Context, serial, enrollSecret string) (string, error)
	UnbindEdge(ctx context.Context, serial, credential, code string) error
}

var _ Admissions = (*meta.Store)(nil)

// Publisher publishes an uploaded segment idempotently by id.
// *lake.Lake implements it.
type Publisher interface {
	Publish(ctx context.Context, id string, r io.ReaderAt, size int64) (lake.Published, error)
}

var _ Publisher = (*lake.Lake)(nil)

// Deps are the components the tunnel uses.
type Deps struct {
	Admissions Admissions
	// Publisher receives segments uploaded over tunnels; nil refuses them.
	Publisher Publisher
	// Ledger is the PUT path's content-hash ledger: with it, the same
	// bytes uploaded under another id publish nothing. Nil: idempotent by
	// id only.
	Ledger Ledger
	// TLS is the server certificate configuration of both ports.
	TLS *tls.Config
	// Logger receives refusals and tunnel events; nil discards them.
	Logger *slog.Logger
	// Refused, when set, learns every refusal as it is counted ("auth",
	// "register", "tunnel", "frame"): metrics, and tests wait on it.
	Refused func(what string)
	// Now is the clock of tickets; nil is time.Now.
	Now func() time.Time
}

// Stats counts what the tunnel refused and served.
type Stats struct {
	AuthRefused     int64 `json:"auth_refused"`
	RegisterRefused int64 `json:"register_refused"`
	TunnelRefused   int64 `json:"tunnel_refused"`
	FramesRefused   int64 `json:"frames_refused"`
	Tunnels         int64 `json:"tunnels_opened"`
	Segments        int64 `json:"segments_published"`
	// EventsMissed counts tunnel events watchers lost by falling behind.
	EventsMissed int64 `json:"events_missed"`
}

// Server is the core's tunnel end: create it with New, then Start, Stop.
type Server struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	authRefused, registerRefused, tunnelRefused, framesRefused, tunnels, segments, eventsMissed atomic.Int64

	watch watchers

	mu       sync.Mutex
	tickets  map[string]ticket
	sessions map[string]*session
	servers  []*http.Server
	lns      []net.Listener
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// ticket is an authentication waiting for its registration.
type ticket struct {
	serial  string
	bound   bool
	expires time.Time
}

// New validates the configuration and builds the server.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tunnel config: %w", err)
	}
	if deps.Admissions == nil || deps.TLS == nil {
		return nil, errors.New("tunnel: admissions and TLS are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &Server{cfg: cfg, deps: deps, log: deps.Logger, tickets: map[string]ticket{}, sessions: map[string]*session{}}, nil
}

// Start listens on both ports with TLS and serves until Stop.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lns != nil {
		return errors.New("tunnel: already started")
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	authMux := http.NewServeMux()
	authMux.HandleFunc("POST "+wire.PathAuth, s.handleAuth)
	authMux.HandleFunc("POST "+wire.PathRegister, s.handleRegister)
	authMux.HandleFunc("POST "+wire.PathUnbind, s.handleUnbind)
	connMux := http.NewServeMux()
	connMux.HandleFunc("GET "+wire.PathTunnel, s.handleTunnel)
	for _, p := range []struct {
		addr string
		h    http.Handler
	}{{s.cfg.AuthListen, authMux}, {s.cfg.ConnListen, connMux}} {
		// No TCP keep-alive probes on accepted connections: a tunnel's
		// liveness is the edge's keepalives (the core drops a tunnel
		// silent for four of their intervals), and the edge's pings are
		// what keep NAT entries alive, at the interval its operator set.
		ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(ctx, "tcp", p.addr)
		if err != nil {
			for _, l := range s.lns {
				_ = l.Close()
			}
			s.lns = nil
			return fmt.Errorf("tunnel: listen %s: %w", p.addr, err)
		}
		s.lns = append(s.lns, ln)
		hs := &http.Server{Handler: p.h, TLSConfig: s.deps.TLS.Clone(), ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
		s.servers = append(s.servers, hs)
	}
	for i, hs := range s.servers {
		ln := s.lns[i]
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := hs.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("tunnel listener stopped", "addr", ln.Addr(), "err", err)
			}
		}()
	}
	return nil
}

// AuthAddr and ConnAddr are the addresses the ports listen on.
func (s *Server) AuthAddr() net.Addr { return s.lns[0].Addr() }

// ConnAddr is the address of the connection port.
func (s *Server) ConnAddr() net.Addr { return s.lns[1].Addr() }

// Stop closes both ports and every tunnel, and waits for them.
func (s *Server) Stop() error {
	s.mu.Lock()
	servers := s.servers
	s.servers = nil
	for _, ss := range s.sessions {
		ss.close("core stopping")
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	var errs []error
	for _, hs := range servers {
		errs = append(errs, hs.Close())
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{AuthRefused: s.authRefused.Load(), RegisterRefused: s.registerRefused.Load(), TunnelRefused: s.tunnelRefused.Load(),
		FramesRefused: s.framesRefused.Load(), Tunnels: s.tunnels.Load(), Segments: s.segments.Load(),
		EventsMissed: s.eventsMissed.Load()}
}

// refuse counts a refusal of what.
func (s *Server) refused(what string) {
	switch what {
	case "auth":
		s.authRefused.Add(1)
	case "register":
		s.registerRefused.Add(1)
	case "tunnel":
		s.tunnelRefused.Add(1)
	case "frame":
		s.framesRefused.Add(1)
	}
	if s.deps.Refused != nil {
		s.deps.Refused(what)
	}
}

// maxAuthBody bounds the JSON bodies of the authentication port.
const maxAuthBody = 4 << 10

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAuthBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		refuse(w, http.StatusBadRequest, "body: "+err.Error())
		return false
	}
	return true
}

func refuse(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(wire.ErrorResponse{Error: msg})
}

func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// handleAuth answers POST /cloud/v1/auth: an admitted serial with its
// enrolment secret or credential gets a single-use registration ticket.
func (s *Server) handleAuth(w http.ResponseWriter, r *http.Request) {
	var req wire.AuthRequest
	if !decode(w, r, &req) {
		s.refused("auth")
		return
	}
	if err := meta.ValidEdgeName(req.Serial); err != nil {
		s.refused("auth")
		refuse(w, http.StatusBadRequest, "serial: "+err.Error())
		return
	}
	bound, err := s.deps.Admissions.AuthenticateEdge(r.Context(), req.Serial, req.Secret)
	if err != nil {
		s.refused("auth")
		s.log.Warn("tunnel authentication refused", "serial", req.Serial, "remote", r.RemoteAddr, "err", err)
		if errors.Is(err, meta.ErrUnauthenticated) {
			refuse(w, http.StatusUnauthorized, "authentication failed: serial not admitted or secret wrong")
			return
		}
		refuse(w, http.StatusServiceUnavailable, "admission store unavailable")
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tk := hex.EncodeToString(b)
	s.mu.Lock()
	now := s.deps.Now()
	for k, t := range s.tickets {
		if now.After(t.expires) {
			delete(s.tickets, k)
		}
	}
	s.tickets[tk] = ticket{serial: req.Serial, bound: bound, expires: now.Add(s.cfg.TicketTTL)}
	s.mu.Unlock()
	answer(w, wire.AuthResponse{Ticket: tk, Bound: bound})
}

// handleRegister answers POST /cloud/v1/register: a valid ticket (used
// once: a replayed registration is refused) gets the tunnel URL, and an
// unbound edge its credential.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	var req wire.RegisterRequest
	if !decode(w, r, &req) {
		s.refused("register")
		return
	}
	s.mu.Lock()
	tk, ok := s.tickets[req.Ticket]
	delete(s.tickets, req.Ticket)
	s.mu.Unlock()
	if !ok || tk.serial != req.Serial || s.deps.Now().After(tk.expires) {
		s.refused("register")
		s.log.Warn("tunnel registration refused: unknown, used or expired ticket", "serial", req.Serial, "remote", r.RemoteAddr)
		refuse(w, http.StatusUnauthorized, "registration refused: unknown, already used or expired ticket")
		return
	}
	var res wire.RegisterResponse
	if !tk.bound {
		cred, err := s.deps.Admissions.BindEdge(r.Context(), req.Serial, req.Enroll)
		if err != nil {
			s.refused("register")
			s.log.Warn("tunnel registration refused: binding failed", "serial", req.Serial, "err", err)
			refuse(w, http.StatusUnauthorized, "registration refused: enrolment secret wrong or already used")
			return
		}
		res.Credential = cred
	}
	host := s.cfg.PublicHost
	if host == "" && r.TLS != nil {
		host = r.TLS.ServerName
	}
	if host == "" {
		host, _, _ = net.SplitHostPort(r.Host)
	}
	port := strconv.Itoa(s.ConnAddr().(*net.TCPAddr).Port)
	if s.cfg.PublicPort != 0 {
		port = strconv.Itoa(s.cfg.PublicPort)
	}
	res.URL = "wss://" + net.JoinHostPort(host, port) + wire.PathTunnel
	answer(w, res)
}

// handleUnbind answers POST /cloud/v1/unbind: the edge's credential and
// the code the administrator issued remove the binding; a wrong code is
// refused and changes nothing.
func (s *Server) handleUnbind(w http.ResponseWriter, r *http.Request) {
	var req wire.UnbindRequest
	if !decode(w, r, &req) {
		return
	}
	if err := s.deps.Admissions.UnbindEdge(r.Context(), req.Serial, req.Credential, req.Code); err != nil {
		s.log.Warn("unbinding refused", "serial", req.Serial, "err", err)
		refuse(w, http.StatusForbidden, "unbinding refused: wrong or expired code")
		return
	}
	s.mu.Lock()
	if ss := s.sessions[req.Serial]; ss != nil {
		ss.close("unbound")
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
