package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowlake/flowlake/api/tunnelcore"
	edgetunnel "github.com/flowlake/flowlake/edge/tunnel"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/schema"
)

// selfSigned returns a server TLS configuration for names and the pool
// that trusts it.
func selfSigned(t testing.TB, names ...string) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var dns []string
	var ips []net.IP
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, n)
		}
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "flowlake test core"},
		DNSNames: dns, IPAddresses: ips, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}, MinVersion: tls.VersionTLS12}, pool
}

// testCore is one core's tunnel end on loopback ports.
type testCore struct {
	name string
	srv  *tunnelcore.Server
	auth int // the authentication port, kept across restarts
	cfg  tunnelcore.Config
	deps tunnelcore.Deps
}

func startCore(t *testing.T, name string, deps tunnelcore.Deps, cfg tunnelcore.Config) *testCore {
	t.Helper()
	if cfg.AuthListen == "" {
		cfg = tunnelcore.DefaultConfig()
		cfg.AuthListen, cfg.ConnListen = "127.0.0.1:0", "127.0.0.1:0"
	}
	c := &testCore{name: name, cfg: cfg, deps: deps}
	c.start(t)
	c.auth = c.srv.AuthAddr().(*net.TCPAddr).Port
	c.cfg.AuthListen = c.srv.AuthAddr().String() // a restart listens where it did
	t.Cleanup(func() { c.stop(t) })
	return c
}

func (c *testCore) start(t *testing.T) {
	t.Helper()
	srv, err := tunnelcore.New(c.cfg, c.deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.srv = srv
}

func (c *testCore) stop(t *testing.T) {
	if c.srv != nil {
		if err := c.srv.Stop(); err != nil {
			t.Logf("stop %s: %v", c.name, err)
		}
		c.srv = nil
	}
}

// recorder keeps an edge's cloud_conn rows and lets a test wait for one.
type recorder struct {
	mu   sync.Mutex
	rows []schema.CloudConn
	ch   chan schema.CloudConn
}

func newRecorder() *recorder { return &recorder{ch: make(chan schema.CloudConn, 100000)} }

func (r *recorder) record(row schema.CloudConn) {
	r.mu.Lock()
	r.rows = append(r.rows, row)
	r.mu.Unlock()
	r.ch <- row
}

// waitFor reads rows until one matches, failing after 30 s (a deadline
// for a broken test, not a timing assertion).
func (r *recorder) waitFor(t *testing.T, what string, match func(schema.CloudConn) bool) schema.CloudConn {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case row := <-r.ch:
			if match(row) {
				return row
			}
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("no cloud_conn row %s; last rows: %+v", what, r.rows[max(0, len(r.rows)-5):])
		}
	}
}

func established(domain string) func(schema.CloudConn) bool {
	return func(r schema.CloudConn) bool {
		return r.ConnState == schema.CloudEstablished && r.ServerDomain == domain
	}
}

// testEdge is an edge's tunnel client run by the test.
type testEdge struct {
	client *edgetunnel.Client
	rec    *recorder
	ka     chan time.Time // the keepalive ticker, driven by the test
	acked  chan uint64    // sequence numbers of answered keepalives
	cancel context.CancelFunc
	done   chan error
}

func resolveTest(_ context.Context, host string) ([]netip.Addr, error) {
	if strings.HasSuffix(host, ".test") {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return nil, errors.New("no such host " + host)
}

func startEdge(t *testing.T, cfg edgetunnel.Config, pool *x509.CertPool) *testEdge {
	t.Helper()
	return startEdgeWith(t, cfg, pool, nil)
}

// startEdgeWith is startEdge with deps changed by with (when not nil)
// before the client is built.
func startEdgeWith(t *testing.T, cfg edgetunnel.Config, pool *x509.CertPool, with func(*edgetunnel.Deps)) *testEdge {
	t.Helper()
	e := &testEdge{rec: newRecorder(), ka: make(chan time.Time), acked: make(chan uint64, 1000), done: make(chan error, 1)}
	idle := make(chan time.Time) // pings: never ticked
	deps := edgetunnel.Deps{
		RootCAs: pool, Resolve: resolveTest, Record: e.rec.record, Answered: func(seq uint64) { e.acked <- seq },
		NewTicker: func(d time.Duration) (<-chan time.Time, func()) {
			if d == cfg.Timing.Keepalive {
				return e.ka, func() {}
			}
			return idle, func() {}
		},
		Retry: func(ctx context.Context, _ int) error {
			select { // the edge's own pause between attempts
			case <-time.After(5 * time.Millisecond):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	}
	if with != nil {
		with(&deps)
	}
	c, err := edgetunnel.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.done <- c.Run(ctx) }()
	t.Cleanup(e.stop)
	return e
}

func (e *testEdge) stop() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
}

// pausingProxy forwards TCP connections to target until paused: then the
// connections open at that moment stop forwarding (they stay open and
// silent, like a dead NAT path); new connections forward again.
type pausingProxy struct {
	ln     net.Listener
	target string
	done   chan struct{} // closed at cleanup: paused pipes end
	mu     sync.Mutex
	gates  []chan struct{}
}

func newPausingProxy(t *testing.T, target string) *pausingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pausingProxy{ln: ln, target: target, done: make(chan struct{})}
	t.Cleanup(func() { ln.Close(); close(p.done) })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			gate := make(chan struct{})
			p.mu.Lock()
			p.gates = append(p.gates, gate)
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				buf := make([]byte, 32<<10)
				for {
					n, err := src.Read(buf)
					if n > 0 {
						select {
						case <-gate: // paused: hold the bytes until the test ends
							<-p.done
							return
						default:
						}
						if _, err := dst.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						if !errors.Is(err, io.EOF) {
							_ = dst.Close()
						}
						return
					}
				}
			}
			go pipe(out, in)
			go pipe(in, out)
		}
	}()
	return p
}

func (p *pausingProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// pause stops forwarding on every connection open now.
func (p *pausingProxy) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, g := range p.gates {
		close(g)
	}
	p.gates = nil
}

// openMeta opens a metadata store in a temporary directory.
func openScratchMeta(t *testing.T) *meta.Store {
	t.Helper()
	cfg := meta.DefaultConfig()
	cfg.DSN = t.TempDir() + "/meta.db"
	st, err := meta.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
