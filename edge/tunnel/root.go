package tunnel

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/flowlake/flowlake/storage/schema"
	wire "github.com/flowlake/flowlake/tunnel"
)

// Deps are what the client uses; all but RootCAs have defaults.
type Deps struct {
	// RootCAs verifies the cores' certificates; nil is the system pool.
	RootCAs *x509.CertPool
	// Resolve looks a server domain up; nil is net.DefaultResolver.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// NewTicker makes the keepalive and ping tickers; nil is time.NewTicker.
	// Tests drive the tunnel's liveness with their own channels.
	NewTicker func(d time.Duration) (<-chan time.Time, func())
	// Retry waits before attempt (1, 2, …) after a failure; nil waits 1 s
	// doubling to 60 s.
	Retry func(ctx context.Context, attempt int) error
	// Now is the clock of the rows; nil is time.Now.
	Now func() time.Time
	// Record receives every state transition as a cloud_conn row.
	Record func(schema.CloudConn)
	// Credential receives the credential of the first registration, to be
	// kept for the next start (Config.Credential).
	Credential func(string)
	// Status answers the core's status pulls in place of the client's
	// own answer; nil answers a wire.StatusAnswer: the state and, when
	// EdgeStatus is set, the collector's status.
	Status func() ([]byte, error)
	// EdgeStatus reports the edge's collector (version, rates, spool,
	// drops) for the core's fleet view; nil leaves it out of the status
	// answer. The edge's process sets it: the tunnel client knows none
	// of it.
	EdgeStatus func(ctx context.Context) (*wire.EdgeStatus, error)
	// Command runs a remote command other than the client's own ("state",
	// "reconnect"); nil refuses them.
	Command func(ctx context.Context, name string, args json.RawMessage) ([]byte, error)
	// Answered, when set, learns each answered keepalive's sequence
	// number (metrics; tests wait on it).
	Answered func(seq uint64)
	// MemoryUsed reports the memory Config.MemoryThreshold is compared
	// with; nil is the Go runtime's (every class of memory the runtime
	// holds from the system, less what it released).
	MemoryUsed func() uint64
	// MemoryEvery is how often the memory is checked while a threshold is
	// set; 0 is every 5 s.
	MemoryEvery time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
}

// Client is the edge's tunnel. Create it with New and Run it.
type Client struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	reconnect chan struct{}
	// refused counts the core's requests refused beyond MaxRequests.
	refused atomic.Uint64

	mu   sync.Mutex
	row  schema.CloudConn
	cred string
	dhcp string
	// reconnectAfter says a configuration push changed the domain: the
	// reconnect is asked once its answer is written (takeReconnect).
	reconnectAfter bool
	conn           *websocket.Conn
	httpc          *http.Client
	authURL        string
	nextID         uint32
	waiting        map[uint32]*outStream
}

// outStream is a subconnection: one the edge opened, waiting for its
// answer (done), or one the core opened, its request being received.
type outStream struct {
	service string
	buf     []byte
	done    chan []byte
	// refused marks a request of the core refused at its open (MaxRequests
	// in flight): the rest of its frames are read and dropped.
	refused bool
}

// New validates cfg and builds a client.
func New(cfg Config, deps Deps) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tunnel config: %w", err)
	}
	if deps.Resolve == nil {
		deps.Resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if deps.NewTicker == nil {
		deps.NewTicker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	if deps.Retry == nil {
		deps.Retry = func(ctx context.Context, attempt int) error {
			t := time.NewTimer(min(time.Second<<min(attempt-1, 6), time.Minute))
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.MemoryUsed == nil {
		deps.MemoryUsed = runtimeMemory
	}
	if deps.MemoryEvery <= 0 {
		deps.MemoryEvery = 5 * time.Second
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, deps: deps, log: deps.Logger, reconnect: make(chan struct{}, 1), cred: cfg.Credential, dhcp: cfg.DHCPDomain}
	c.row = schema.CloudConn{Edge: cfg.Serial, Device: cfg.Serial, ConnState: schema.CloudUnconnected, DeviceState: stIdle}
	return c, nil
}

// SetDHCPDomain takes the server domain of DHCP option 253. A domain that
// differs from the one in use replaces the primary's and forces a
// reconnect (down reason "Configuration changed"); the same one keeps the
// tunnel.
func (c *Client) SetDHCPDomain(d string) error {
	changed, err := c.setDHCPDomain(d)
	if changed {
		c.askReconnect()
	}
	return err
}

// takeReconnect reports, once, whether a configuration push just served
// changed the domain in use (its reconnect waits for its answer).
func (c *Client) takeReconnect() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reconnectAfter
	c.reconnectAfter = false
	return r
}

// askReconnect makes the frame loop drop the tunnel and connect again.
func (c *Client) askReconnect() {
	select {
	case c.reconnect <- struct{}{}:
	default:
	}
}

// setDHCPDomain takes d as SetDHCPDomain does and reports whether it
// differs from the domain in use, without asking for the reconnect: a
// push over the tunnel asks once its answer is written.
func (c *Client) setDHCPDomain(d string) (bool, error) {
	if err := wire.ValidDomain(d); err != nil {
		return false, fmt.Errorf("option 253: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	probe := c.cfg
	probe.DHCPDomain = d
	if _, err := probe.endpoints(); err != nil {
		return false, fmt.Errorf("option 253: %w", err)
	}
	cur := c.dhcp
	if cur == "" {
		cur = c.cfg.Primary.Domain
	}
	changed := d != cur
	c.dhcp = d
	return changed, nil
}

// Credential returns the edge's tunnel credential ("" before binding).
func (c *Client) Credential() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cred
}

// outcome is how a session ended.
type outcome int

const (
	outFailed    outcome = iota // never established
	outDown                     // established, then lost
	outKeepalive                // keepalive expired: register again on the same server
	outConfig                   // configuration changed: start over from the primary
	outMemory                   // memory over the threshold: wait below it, then the same server
)

// Run connects and keeps the tunnel up until ctx ends: on failure it
// moves to the next server of the order and never switches back.
func (c *Client) Run(ctx context.Context) error {
	idx, attempt := 0, 0
	for {
		c.mu.Lock()
		cfg := c.cfg
		cfg.DHCPDomain = c.dhcp
		c.mu.Unlock()
		eps, err := cfg.endpoints()
		if err != nil {
			return fmt.Errorf("tunnel servers: %w", err)
		}
		idx %= len(eps)
		out := c.session(ctx, eps[idx])
		if ctx.Err() != nil {
			return nil
		}
		switch out {
		case outConfig:
			idx, attempt = 0, 0
			continue
		case outKeepalive:
			attempt = 0
		case outMemory:
			if err := c.waitMemory(ctx); err != nil {
				return nil
			}
			attempt = 0
		case outDown:
			idx, attempt = idx+1, 0
		default:
			idx, attempt = idx+1, attempt+1
		}
		if attempt > 0 {
			if err := c.deps.Retry(ctx, attempt); err != nil {
				return nil
			}
		}
	}
}

// errClass is a transport failure classified for the failure reason.
type errClass struct {
	reason string
	err    error
}

func (e *errClass) Error() string { return e.reason + ": " + e.err.Error() }
func (e *errClass) Unwrap() error { return e.err }

// reasonOf returns the failure reason of a transport error: the dialer's
// classification, else fallback.
func reasonOf(err error, fallback string) string {
	var ec *errClass
	if errors.As(err, &ec) {
		return ec.reason
	}
	return fallback
}

// client builds the HTTP client of one attempt: its dialer resolves with
// Resolve and classifies socket and TLS failures.
func (c *Client) client(addr netip.Addr, domain string) *http.Client {
	dial := func(ctx context.Context, network, hostport string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(hostport)
		if err != nil {
			return nil, err
		}
		ip := addr
		if host != domain {
			ips, err := c.deps.Resolve(ctx, host)
			if err != nil || len(ips) == 0 {
				return nil, &errClass{failDNS, fmt.Errorf("resolve %s: %w", host, errors.Join(err, errors.New("no address")))}
			}
			ip = ips[0]
		}
		// No TCP keep-alive probes: the tunnel's liveness is its own
		// keepalives and pings, at the configured intervals, and so is
		// what keeps NAT entries on the path alive (docs/decisions.md).
		raw, err := (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: -1}).DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err != nil {
			return nil, &errClass{failSocket, err}
		}
		tc := tls.Client(raw, &tls.Config{RootCAs: c.deps.RootCAs, ServerName: host, MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, &errClass{failSSL, err}
		}
		return tc, nil
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialTLSContext: dial, ForceAttemptHTTP2: false}}
}

// post sends a JSON body and decodes a 200 answer into out. A transport
// failure is sendReason (or the dialer's class), any other answer or
// body processReason.
func post(ctx context.Context, hc *http.Client, url string, in, out any, sendReason, processReason string) (string, error) {
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return sendReason, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return reasonOf(err, sendReason), err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return processReason, err
	}
	if res.StatusCode/100 != 2 {
		var e wire.ErrorResponse
		_ = json.Unmarshal(b, &e)
		return processReason, fmt.Errorf("%s: %s", res.Status, e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return processReason, fmt.Errorf("answer: %w", err)
		}
	}
	return "", nil
}

// session makes one attempt on ep and, once established, serves the
// tunnel until it goes down.
func (c *Client) session(ctx context.Context, ep wire.Endpoint) outcome {
	c.transition(attempting(ep))
	ips, err := c.deps.Resolve(ctx, ep.Domain)
	if err != nil || len(ips) == 0 {
		c.log.Warn("tunnel: DNS failed", "server", ep, "err", err)
		c.transition(failed(failDNS))
		return outFailed
	}
	c.transition(resolved(ips[0]))
	hc := c.client(ips[0], ep.Domain)
	defer hc.CloseIdleConnections()
	base := "https://" + net.JoinHostPort(ep.Domain, strconv.Itoa(int(ep.Port)))

	c.transition(step(stAuth, "Message sent"))
	secret := c.Credential()
	if secret == "" {
		secret = c.cfg.Enroll
	}
	var auth wire.AuthResponse
	if reason, err := post(ctx, hc, base+wire.PathAuth, wire.AuthRequest{Serial: c.cfg.Serial, Secret: secret}, &auth, failSendAuth, failAuthResp); err != nil {
		c.log.Warn("tunnel: authentication failed", "server", ep, "err", err)
		c.transition(failed(reason))
		return outFailed
	}
	c.transition(step(stAuthOK, "Message received"))

	c.transition(step(stRegister, "Message sent"))
	reg := wire.RegisterRequest{Serial: c.cfg.Serial, Ticket: auth.Ticket}
	if !auth.Bound {
		reg.Enroll = c.cfg.Enroll
	}
	var regAns wire.RegisterResponse
	if reason, err := post(ctx, hc, base+wire.PathRegister, reg, &regAns, failSendRegister, failRegisterResp); err != nil {
		c.log.Warn("tunnel: registration failed", "server", ep, "err", err)
		c.transition(failed(reason))
		return outFailed
	}
	if regAns.Credential != "" {
		c.mu.Lock()
		c.cred = regAns.Credential
		c.mu.Unlock()
		if c.deps.Credential != nil {
			c.deps.Credential(regAns.Credential)
		}
	}
	c.transition(step(stRegisterOK, "Message received"))

	c.transition(func(r *schema.CloudConn) {
		r.ConnState, r.DeviceState, r.ProcessState = schema.CloudRequest, stHandshake, "Message sent"
	})
	hdr := http.Header{}
	hdr.Set(wire.HeaderSerial, c.cfg.Serial)
	hdr.Set("Authorization", "Bearer "+c.Credential())
	hdr.Set(wire.HeaderKeepalive, strconv.Itoa(int(c.cfg.Timing.Keepalive/time.Second)))
	conn, res, err := websocket.Dial(ctx, regAns.URL, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: hdr})
	if err != nil {
		reason := reasonOf(err, failSendHS)
		if res != nil {
			reason = failHS
		}
		c.log.Warn("tunnel: handshake failed", "url", regAns.URL, "err", err)
		c.transition(failed(reason))
		return outFailed
	}
	conn.SetReadLimit(wire.MaxFrame)
	connPort := uint16(0)
	if _, p, err := net.SplitHostPort(res.Request.URL.Host); err == nil {
		n, _ := strconv.ParseUint(p, 10, 16)
		connPort = uint16(n)
	}
	c.mu.Lock()
	c.conn, c.httpc, c.authURL, c.nextID, c.waiting = conn, hc, base, 1, map[uint32]*outStream{}
	c.mu.Unlock()
	c.transition(func(r *schema.CloudConn) {
		r.ConnState, r.DeviceState, r.ProcessState = schema.CloudEstablished, stHandshakeOK, "Message received"
		r.ConnPort, r.FailureReason = connPort, ""
		r.ConnectedAt = schema.Micros(c.deps.Now())
	})
	c.log.Info("tunnel established", "server", ep, "url", regAns.URL)
	out, reason, detail := c.serve(ctx, conn)
	c.mu.Lock()
	c.conn = nil
	for _, w := range c.waiting {
		if w.done != nil { // the edge's own; the core's requests have none
			close(w.done)
		}
	}
	c.waiting = nil
	c.mu.Unlock()
	_ = conn.CloseNow()
	if ctx.Err() != nil {
		reason, detail = downReboot, "edge stopping"
	}
	c.log.Warn("tunnel down", "server", ep, "reason", reason, "detail", detail)
	c.transition(func(r *schema.CloudConn) {
		r.ConnState, r.DeviceState = schema.CloudUnconnected, stIdle
		r.LastDownReason, r.LastDownDetail = reason, detail
		r.LastDownAt = schema.Micros(c.deps.Now())
		r.ConnectedAt = 0
	})
	return out
}
