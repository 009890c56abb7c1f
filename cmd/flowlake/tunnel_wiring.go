package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowlake/flowlake/api/tunnelcore"
	"github.com/flowlake/flowlake/edge"
	edgetunnel "github.com/flowlake/flowlake/edge/tunnel"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/schema"
	wire "github.com/flowlake/flowlake/tunnel"
)

// TunnelConfig configures the edge↔core management tunnel
// (docs/tunnel.md): its core end in `flowlake serve`, its edge end in
// `flowlake edge`.
type TunnelConfig struct {
	Core TunnelCoreConfig `koanf:"core" yaml:"core" json:"core"`
	Edge TunnelEdgeConfig `koanf:"edge" yaml:"edge" json:"edge"`
}

// TunnelCoreConfig is serve's tunnel end; it runs when cert_file is set.
type TunnelCoreConfig struct {
	AuthListen string `koanf:"auth_listen" yaml:"auth_listen" json:"auth_listen"`
	ConnListen string `koanf:"conn_listen" yaml:"conn_listen" json:"conn_listen"`
	PublicHost string `koanf:"public_host" yaml:"public_host" json:"public_host"`
	PublicPort int    `koanf:"public_port" yaml:"public_port" json:"public_port"`
	CertFile   string `koanf:"cert_file" yaml:"cert_file" json:"cert_file"`
	KeyFile    string `koanf:"key_file" yaml:"key_file" json:"key_file"`
	MaxEdges   int    `koanf:"max_edges" yaml:"max_edges" json:"max_edges"`
}

// TunnelEdgeConfig is `flowlake edge`'s tunnel end; it runs when serial
// is set.
type TunnelEdgeConfig struct {
	Serial         string        `koanf:"serial" yaml:"serial" json:"serial"`
	EnrollFile     string        `koanf:"enroll_file" yaml:"enroll_file" json:"enroll_file"`
	CredentialFile string        `koanf:"credential_file" yaml:"credential_file" json:"credential_file"`
	CAFile         string        `koanf:"ca_file" yaml:"ca_file" json:"ca_file"`
	Primary        string        `koanf:"primary" yaml:"primary" json:"primary"`
	Backups        []string      `koanf:"backups" yaml:"backups" json:"backups"`
	DHCPDomain     string        `koanf:"dhcp_domain" yaml:"dhcp_domain" json:"dhcp_domain"`
	Keepalive      time.Duration `koanf:"keepalive_interval" yaml:"keepalive_interval" json:"keepalive_interval"`
	KeepaliveCount int           `koanf:"keepalive_count" yaml:"keepalive_count" json:"keepalive_count"`
	Ping           time.Duration `koanf:"ping_interval" yaml:"ping_interval" json:"ping_interval"`
	// MemoryThreshold drops the tunnel while the process's memory exceeds
	// it (bytes; 0 never): the device's "Memory reached threshold".
	MemoryThreshold uint64 `koanf:"memory_threshold" yaml:"memory_threshold" json:"memory_threshold"`
}

// DefaultTunnelConfig returns the documents' ports and timing.
func DefaultTunnelConfig() TunnelConfig {
	c := tunnelcore.DefaultConfig()
	t := wire.DefaultTiming()
	return TunnelConfig{
		Core: TunnelCoreConfig{AuthListen: c.AuthListen, ConnListen: c.ConnListen, MaxEdges: c.MaxEdges},
		Edge: TunnelEdgeConfig{Keepalive: t.Keepalive, KeepaliveCount: t.KeepaliveCount, Ping: t.Ping},
	}
}

// Validate checks the sections that are in use.
func (c TunnelConfig) Validate() error {
	var errs []error
	if c.Core.CertFile != "" || c.Core.KeyFile != "" {
		if c.Core.CertFile == "" || c.Core.KeyFile == "" {
			errs = append(errs, errors.New("core: cert_file and key_file go together"))
		}
		if err := c.Core.config().Validate(); err != nil {
			errs = append(errs, fmt.Errorf("core: %w", err))
		}
	}
	if c.Edge.Serial != "" {
		if _, err := c.Edge.config("", ""); err != nil {
			errs = append(errs, fmt.Errorf("edge: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (c TunnelCoreConfig) config() tunnelcore.Config {
	cfg := tunnelcore.DefaultConfig()
	cfg.AuthListen, cfg.ConnListen, cfg.PublicHost, cfg.PublicPort, cfg.MaxEdges = c.AuthListen, c.ConnListen, c.PublicHost, c.PublicPort, c.MaxEdges
	return cfg
}

// parseServer reads "domain" or "domain:port[,port…]".
func parseServer(s string) (wire.Server, error) {
	domain, ports, found := strings.Cut(strings.TrimSpace(s), ":")
	srv := wire.Server{Domain: domain}
	if found {
		for _, p := range strings.Split(ports, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
			if err != nil || n == 0 {
				return srv, fmt.Errorf("server %q: port %q: want 1-65535", s, p)
			}
			srv.Ports = append(srv.Ports, uint16(n))
		}
	}
	return srv, nil
}

// config builds the tunnel client's configuration; enroll and credential
// are the secrets read from their files ("" in validation, where a
// placeholder stands in).
func (c TunnelEdgeConfig) config(enroll, credential string) (edgetunnel.Config, error) {
	cfg := edgetunnel.DefaultConfig()
	cfg.Serial, cfg.Enroll, cfg.Credential, cfg.DHCPDomain = c.Serial, enroll, credential, c.DHCPDomain
	if enroll == "" && credential == "" {
		cfg.Enroll = "validation-placeholder"
	}
	cfg.Timing = wire.Timing{Keepalive: c.Keepalive, KeepaliveCount: c.KeepaliveCount, Ping: c.Ping}
	cfg.MemoryThreshold = c.MemoryThreshold
	var err error
	if cfg.Primary, err = parseServer(c.Primary); err != nil {
		return cfg, fmt.Errorf("primary: %w", err)
	}
	for _, b := range c.Backups {
		s, err := parseServer(b)
		if err != nil {
			return cfg, fmt.Errorf("backups: %w", err)
		}
		cfg.Backups = append(cfg.Backups, s)
	}
	return cfg, cfg.Validate()
}

// newCoreTunnel builds serve's tunnel end when tunnel.core.cert_file is
// set (nil otherwise); serve starts it before the API and stops it after.
func (a *app) newCoreTunnel(store *meta.Store, l *lake.Lake) (*tunnelcore.Server, error) {
	c := a.cfg.Tunnel.Core
	if c.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tunnel.core: certificate: %w", err)
	}
	cfg := c.config()
	// Segments over the tunnel get the PUT path's window and content-hash
	// ledger: a retried upload never publishes twice, whichever way.
	cfg.IngestMaxAge, cfg.IngestMaxFuture = a.cfg.Serve.IngestMaxAge, a.cfg.Serve.IngestMaxFuture
	return tunnelcore.New(cfg, tunnelcore.Deps{Admissions: store, Publisher: l, Ledger: store, Logger: a.logger.With("component", "tunnel"),
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
}

// startCoreTunnel starts srv (nil: nothing to start); stop is never nil.
func (a *app) startCoreTunnel(ctx context.Context, srv *tunnelcore.Server) (stop func() error, err error) {
	if srv == nil {
		return func() error { return nil }, nil
	}
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	a.logger.Info("tunnel listening", "auth", srv.AuthAddr().String(), "conn", srv.ConnAddr().String())
	return srv.Stop, nil
}

// edgeTunnel is `flowlake edge`'s tunnel end with what it writes: the
// state file `flowlake edge state` reads, the credential file, and the
// cloud_conn rows, written into the spool (and so shipped to the core).
type edgeTunnel struct {
	client    *edgetunnel.Client
	stateFile string
	spool     *lake.Lake
	source    string
	log       *slog.Logger
	mu        sync.Mutex
	rows      []schema.CloudConn
	// established, when set, learns each establishment of the tunnel:
	// the edge's shipper ships what waited at once.
	established func()
}

// UploadSegment ships one spooled segment over the tunnel (the segments
// service): edge.Uploader of a `flowlake edge` with a tunnel.
func (et *edgeTunnel) UploadSegment(ctx context.Context, id string, r io.ReaderAt, size int64) error {
	_, err := et.client.UploadFrom(ctx, id, r, size)
	if errors.Is(err, edgetunnel.ErrInvalid) {
		return fmt.Errorf("%w: %w", edge.ErrRejected, err)
	}
	return err
}

// tunnelUploader is the Uploader of an edge shipping over its tunnel.
// The edge is built before its tunnel, so the tunnel is set once built
// (before the edge starts); until then there is no tunnel to upload over.
type tunnelUploader struct{ tun atomic.Pointer[edgeTunnel] }

// UploadSegment ships over the tunnel once it is set.
func (u *tunnelUploader) UploadSegment(ctx context.Context, id string, r io.ReaderAt, size int64) error {
	t := u.tun.Load()
	if t == nil {
		return edgetunnel.ErrNoTunnel
	}
	return t.UploadSegment(ctx, id, r, size)
}

var _ edge.Uploader = (*tunnelUploader)(nil)

// newEdgeTunnel builds the edge's tunnel when tunnel.edge.serial is set
// (nil otherwise); status is the edge's collector, reported to the
// core's fleet view (nil: the state only); command answers the core's
// remote commands beyond the tunnel's own (nil refuses them).
func (a *app) newEdgeTunnel(spoolDir string, status func(context.Context) edge.Status, command func(ctx context.Context, name string, args json.RawMessage) ([]byte, error)) (*edgeTunnel, error) {
	c := a.cfg.Tunnel.Edge
	if c.Serial == "" {
		return nil, nil
	}
	read := func(file string) (string, error) {
		if file == "" {
			return "", nil
		}
		b, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		return strings.TrimSpace(string(b)), err
	}
	credFile := c.CredentialFile
	if credFile == "" {
		credFile = filepath.Join(spoolDir, "_tunnel_credential")
	}
	enroll, err := read(c.EnrollFile)
	if err != nil {
		return nil, fmt.Errorf("tunnel.edge.enroll_file: %w", err)
	}
	cred, err := read(credFile)
	if err != nil {
		return nil, fmt.Errorf("tunnel.edge.credential_file: %w", err)
	}
	if enroll == "" && cred == "" {
		return nil, fmt.Errorf("tunnel.edge: neither an enrolment secret in %q nor a credential in %q", c.EnrollFile, credFile)
	}
	cfg, err := c.config(enroll, cred)
	if err != nil {
		return nil, fmt.Errorf("tunnel.edge: %w", err)
	}
	var pool *x509.CertPool
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tunnel.edge.ca_file: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tunnel.edge.ca_file %s: no PEM certificate", c.CAFile)
		}
	}
	lc := lake.DefaultConfig()
	lc.Root = spoolDir
	spool, err := lake.Open(lc, a.logger.With("component", "tunnel-spool"))
	if err != nil {
		return nil, fmt.Errorf("tunnel: open spool: %w", err)
	}
	et := &edgeTunnel{stateFile: filepath.Join(spoolDir, cloudStateFile), spool: spool, source: c.Serial, log: a.logger.With("component", "tunnel")}
	deps := edgetunnel.Deps{RootCAs: pool, Record: et.record, Logger: et.log, Command: command,
		Credential: func(s string) {
			if err := os.WriteFile(credFile, []byte(s+"\n"), 0o600); err != nil {
				et.log.Error("tunnel credential not kept: the next start cannot register", "file", credFile, "err", err)
			}
		}}
	if status != nil {
		deps.EdgeStatus = newFleetStatus(status, versionInfo().Version, time.Now).report
	}
	et.client, err = edgetunnel.New(cfg, deps)
	if err != nil {
		return nil, errors.Join(err, spool.Close())
	}
	return et, nil
}

// record keeps a transition: the state file at once, the row for the
// next flush.
func (et *edgeTunnel) record(row schema.CloudConn) {
	b, _ := json.Marshal(row)
	if err := writeFileAtomic(et.stateFile, b); err != nil {
		et.log.Warn("tunnel state file not written", "err", err)
	}
	et.mu.Lock()
	et.rows = append(et.rows, row)
	up := et.established
	et.mu.Unlock()
	if up != nil && row.ConnState == schema.CloudEstablished {
		up()
	}
}

// close releases what newEdgeTunnel opened, when the edge fails to start
// before run; a nil tunnel has nothing to release.
func (et *edgeTunnel) close() error {
	if et == nil {
		return nil
	}
	return et.spool.Close()
}

// onEstablished sets the function told of each establishment.
func (et *edgeTunnel) onEstablished(f func()) {
	et.mu.Lock()
	et.established = f
	et.mu.Unlock()
}

// flush writes the recorded rows into the spool as cloud_conn segments.
func (et *edgeTunnel) flush(ctx context.Context) error {
	et.mu.Lock()
	rows := et.rows
	et.rows = nil
	et.mu.Unlock()
	if len(rows) == 0 {
		return nil
	}
	if _, err := lake.Write(ctx, et.spool, et.source, rows); err != nil {
		return fmt.Errorf("tunnel: write %d cloud_conn rows into the spool: %w", len(rows), err)
	}
	return nil
}

// run runs the tunnel until ctx ends, flushing rows every minute and at
// the end.
func (et *edgeTunnel) run(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- et.client.Run(ctx) }()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			return errors.Join(err, et.flush(context.WithoutCancel(ctx)), et.spool.Close())
		case <-t.C:
			if err := et.flush(ctx); err != nil {
				et.log.Warn("cloud_conn rows not spooled", "err", err)
			}
		}
	}
}
