package edge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// The remote commands an edge process answers over its management tunnel
// beyond dhcp-bindings (docs/tunnel.md, "Remote commands").
const (
	// CommandFlushSpool ships the spool now (FlushSpool).
	CommandFlushSpool = "flush-spool"
	// CommandRestartReceiver rebinds the flow listeners, or the named
	// ones (RestartReceivers).
	CommandRestartReceiver = "restart-receiver"
)

// ErrNoSpool is FlushSpool on an edge that writes into the lake itself
// (embedded mode): it has nothing to ship.
var ErrNoSpool = errors.New("this edge writes into the core's lake: it has no spool to flush")

// FlushAnswer is the spool when a flush was asked: what the shipper
// is now shipping.
type FlushAnswer struct {
	// Shipping is true: the shipper was woken, its back-off ended.
	Shipping bool `json:"shipping"`
	// SpoolSegments and SpoolBytes were in the spool when asked.
	SpoolSegments int   `json:"spool_segments"`
	SpoolBytes    int64 `json:"spool_bytes"`
	// SegmentsShipped and UploadFailures are the shipper's counters
	// since the edge started, to compare with a later status.
	SegmentsShipped uint64 `json:"segments_shipped"`
	UploadFailures  uint64 `json:"upload_failures"`
}

// FlushSpool makes the shipper ship every spooled segment now, even while
// it backs off after failed uploads (for an operator who fixed the way to
// the core and wants the backlog now), and answers what the spool holds.
// It does not wait for the uploads: over the tunnel they travel on the
// connection the command arrived on, whose reader is answering it. The
// spool draining shows in the edge's status (GET /api/v1/edges). Rows
// still batching reach the spool at their flush interval.
func (e *Edge) FlushSpool(ctx context.Context) (FlushAnswer, error) {
	if e.shipper == nil {
		return FlushAnswer{}, ErrNoSpool
	}
	segs, byts, err := e.spool.usage(ctx)
	if err != nil {
		return FlushAnswer{}, fmt.Errorf("flush spool: %w", err)
	}
	e.shipper.kick()
	e.log.Info("spool flush requested", "segments", segs, "bytes", byts)
	return FlushAnswer{Shipping: true, SpoolSegments: segs, SpoolBytes: byts,
		SegmentsShipped: e.stats.SegmentsShipped.Load(), UploadFailures: e.stats.UploadFailures.Load()}, nil
}

// RestartQuery names the flow listeners to restart: all of them when
// both fields are empty.
type RestartQuery struct {
	// Kind is netflow, ipfix or sflow.
	Kind string `json:"kind,omitempty"`
	// Addr is a listener's bound address (as the status lists it,
	// "127.0.0.1:2055"); with Kind empty it matches any kind.
	Addr string `json:"addr,omitempty"`
}

// RestartedReceiver is one listener address that was rebound.
type RestartedReceiver struct {
	Kind    string `json:"kind"`
	Addr    string `json:"addr"`
	Sockets int    `json:"sockets"`
	// Drained counts the datagrams still queued in the replaced sockets,
	// read before they closed (in the status's restart_drained too).
	Drained int `json:"drained"`
}

// RestartAnswer lists the listeners rebound.
type RestartAnswer struct {
	Restarted []RestartedReceiver `json:"restarted"`
}

// RestartReceivers rebinds the flow listeners q names on the address each
// is bound to now (a ":0" listener keeps its port): each socket's
// replacement is bound (SO_REUSEPORT) and its reader started before the
// old socket is closed, so the port never stops receiving; the old socket
// is then taken out of the port's group and the datagrams still queued in
// it are read and decoded (Stats.RestartDrained) before it closes, so
// none is lost with it. For a socket the kernel wedged or a receive
// buffer an operator raised (net.core.rmem_max) since the start. A query
// that matches no listener is an error; so is a stopping edge.
func (e *Edge) RestartReceivers(ctx context.Context, q RestartQuery) (RestartAnswer, error) {
	switch q.Kind {
	case "", "netflow", "ipfix", "sflow":
	default:
		return RestartAnswer{}, fmt.Errorf("restart receiver: kind %q: want netflow, ipfix or sflow", q.Kind)
	}
	var want netip.AddrPort
	if q.Addr != "" {
		a, err := netip.ParseAddrPort(q.Addr)
		if err != nil {
			return RestartAnswer{}, fmt.Errorf("restart receiver: addr %q: %w", q.Addr, err)
		}
		want = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	}
	e.connsMu.Lock()
	defer e.connsMu.Unlock()
	if e.stopping {
		return RestartAnswer{}, errors.New("restart receiver: the edge is stopping")
	}
	ans := RestartAnswer{Restarted: []RestartedReceiver{}}
	var bound []string
	for i, l := range e.conns {
		a := l.conn.LocalAddr().(*net.UDPAddr).AddrPort()
		a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
		bound = append(bound, l.kind+" "+a.String())
		if q.Kind != "" && l.kind != q.Kind || want.IsValid() && a != want {
			continue
		}
		lc := net.ListenConfig{Control: e.socketOptions}
		pc, err := lc.ListenPacket(ctx, "udp", l.conn.LocalAddr().String())
		if err != nil {
			return ans, fmt.Errorf("restart receiver: rebind %s %s: %w (the old socket still receives)", l.kind, a, err)
		}
		nl := &listener{kind: l.kind, conn: pc.(*net.UDPConn)}
		e.conns[i] = nl
		e.readers.Go(func() error { e.read(nl); return nil })
		drained, err := e.retire(l)
		if err != nil {
			e.log.Warn("restart receiver: empty the old socket", "kind", l.kind, "addr", a, "drained", drained, "err", err)
		} else if drained > 0 {
			e.log.Info("restart receiver: datagrams queued in the old socket read", "kind", l.kind, "addr", a, "drained", drained)
		}
		if err := l.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			e.log.Warn("restart receiver: close the old socket", "kind", l.kind, "addr", a, "err", err)
		}
		if n := len(ans.Restarted); n > 0 && ans.Restarted[n-1].Kind == l.kind && ans.Restarted[n-1].Addr == a.String() {
			ans.Restarted[n-1].Sockets++
			ans.Restarted[n-1].Drained += drained
		} else {
			ans.Restarted = append(ans.Restarted, RestartedReceiver{Kind: l.kind, Addr: a.String(), Sockets: 1, Drained: drained})
		}
	}
	if len(ans.Restarted) == 0 {
		if len(bound) == 0 {
			return ans, errors.New("restart receiver: this edge runs no flow listener")
		}
		return ans, fmt.Errorf("restart receiver: no listener is %s %s (bound: %s)", q.Kind, q.Addr, strings.Join(bound, ", "))
	}
	e.log.Info("receivers restarted on request", "restarted", ans.Restarted)
	return ans, nil
}
