package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flowlake/flowlake/edge"
	"github.com/flowlake/flowlake/edge/export"
	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// listenFlags adds --netflow-listen, --ipfix-listen and --sflow-listen.
// They are lists, which the key=value override of bind cannot carry, so
// applyListenFlags sets them on the loaded configuration (flags are the
// last layer either way).
func listenFlags(f *pflag.FlagSet) {
	d := edge.DefaultConfig()
	f.StringSlice("netflow-listen", d.NetFlowListen, "UDP addresses receiving NetFlow v5/v9 (comma-separated; empty for none)")
	f.StringSlice("ipfix-listen", d.IPFIXListen, "UDP addresses receiving IPFIX (comma-separated; empty for none)")
	f.StringSlice("sflow-listen", d.SFlowListen, "UDP addresses receiving sFlow v5 (comma-separated; empty for none)")
}

// applyListenFlags copies the listen flags the user set into a.cfg.Edge
// and validates the result.
func (a *app) applyListenFlags(cmd *cobra.Command) error {
	f := cmd.Flags()
	for _, l := range []struct {
		name string
		dst  *[]string
	}{
		{"netflow-listen", &a.cfg.Edge.NetFlowListen},
		{"ipfix-listen", &a.cfg.Edge.IPFIXListen},
		{"sflow-listen", &a.cfg.Edge.SFlowListen},
	} {
		if !f.Changed(l.name) {
			continue
		}
		v, err := f.GetStringSlice(l.name)
		if err != nil {
			return usageError{err}
		}
		*l.dst = v
		if len(v) == 1 && v[0] == "" {
			*l.dst = nil
		}
	}
	if a.cfg.edgeListens() {
		if err := a.cfg.Edge.Validate(); err != nil {
			return fmt.Errorf("invalid configuration: edge: %w", err)
		}
	}
	return nil
}

// embeddedEdge builds the edge serve and demo run inside the core: it
// writes the lake directly (no spool, no shipping) and registers its
// metrics on reg. It returns nil when no listen address is configured.
func (a *app) embeddedEdge(l *lake.Lake, reg *prometheus.Registry) (*edge.Edge, error) {
	if !a.cfg.edgeListens() {
		a.logger.Info("no flow listen address: serving without the embedded edge")
		return nil, nil
	}
	cfg := a.cfg.Edge
	if cfg.Remote() {
		a.logger.Warn("edge.ship.url is ignored by serve and demo: the embedded edge writes the lake directly")
		cfg.Ship.URL = ""
	}
	if cfg.TemplateFile == "" {
		cfg.TemplateFile = filepath.Join(a.cfg.Lake.Root, "_edge", "templates.json")
	}
	e, err := edge.New(cfg, edge.Deps{Lake: l, Logger: a.logger})
	if err != nil {
		return nil, err
	}
	for _, c := range e.Collectors() {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register edge metrics: %w", err)
		}
	}
	return e, nil
}

// liveTraffic sends generated flows as real datagrams to the embedded
// edge until ctx is done: one exporter per format (NetFlow v9 to the
// NetFlow listener, IPFIX to the IPFIX listener, sFlow to the sFlow
// listener), rate flows per second in all, in batches every second.
func liveTraffic(ctx context.Context, e *edge.Edge, rate float64, seed int64) error {
	addrs := e.Addrs()
	type target struct {
		x    *export.Exporter
		conn *net.UDPConn
	}
	var targets []target
	now := time.Now()
	for _, t := range []struct {
		kind   string
		format export.Format
	}{{"netflow", export.NetFlow9}, {"ipfix", export.IPFIX}, {"sflow", export.SFlow5}} {
		if len(addrs[t.kind]) == 0 {
			continue
		}
		dst := addrs[t.kind][0]
		if dst.Addr().IsUnspecified() { // ":2055" listens on every address, loopback included
			dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), dst.Port())
		}
		conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
		if err != nil {
			return fmt.Errorf("demo traffic to %s: %w", dst, err)
		}
		defer conn.Close()
		targets = append(targets, target{export.New(export.Config{Format: t.format, Domain: uint32(len(targets) + 1),
			Agent: netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + len(targets))})}, now.Add(-time.Hour)), conn})
	}
	if len(targets) == 0 || rate <= 0 {
		return nil
	}
	const tick = time.Second
	t := time.NewTicker(tick)
	defer t.Stop()
	rng := rand.New(rand.NewPCG(uint64(seed), 5))
	var dgs [][]byte
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			rows, err := liveRows(seed, last, now, rate)
			if err != nil {
				return err
			}
			last = now
			parts := make([][]schema.Flow, len(targets)) // spread the flows over the exporters
			for j := range rows {
				k := rng.IntN(len(targets))
				parts[k] = append(parts[k], rows[j])
			}
			for k, tg := range targets {
				dgs = tg.x.Encode(dgs[:0], parts[k], now)
				for _, d := range dgs {
					_, _ = tg.conn.Write(d) // UDP: the edge counts what it gets
				}
			}
		}
	}
}

// liveRows generates the flows of [from, to) at rate with storage/gen.
func liveRows(seed int64, from, to time.Time, rate float64) ([]schema.Flow, error) {
	cfg := gen.DefaultConfig()
	cfg.Seed, cfg.Start, cfg.End, cfg.FlowsPerSecond = seed, from, to, rate
	// A small network: the topology is built again for every batch.
	cfg.Sites, cfg.HostsPerSite, cfg.ExternalHosts, cfg.DHCPClientsPerSite, cfg.TCPClosesPerHour = 1, 300, 2000, 0, 0
	c, err := gen.Collect(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	return c.FlowRows, nil
}

// errNoCore says how to run an edge that has nowhere to ship.
var errNoCore = errors.New("edge.ship.url is not set: `flowlake edge` ships segments to a core (set edge.ship.url and edge.ship.token_file); `flowlake serve` runs the edge embedded")
