package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowlake/flowlake/edge"
	"github.com/flowlake/flowlake/edge/export"
	"github.com/flowlake/flowlake/ingest/flow"
	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/schema"
)

// liveExporter is one device of the generated network as the demo exports
// it live: the generator's device name and interface names, the loopback
// address its datagrams come from (the edge's device column derives from
// it: the UDP source for NetFlow and IPFIX, the agent address for sFlow),
// and the format a device of its kind exports.
type liveExporter struct {
	name       string
	addr       netip.Addr
	kind       string // the edge listener: netflow, ipfix or sflow
	format     export.Format
	interfaces map[uint32]string
}

// liveSampleSpan is how much traffic liveExporters generates to learn the
// devices and their interfaces.
const liveSampleSpan = 20 * time.Minute

// liveExporters returns the devices the live traffic of seed comes from,
// with the names the history generated with seed uses, so that live rows
// and history rows group together. Each gets its own loopback address.
func liveExporters(seed int64) ([]liveExporter, error) {
	start := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC) // a weekday noon: every device busy
	rows, err := liveRows(seed, start, start.Add(liveSampleSpan), 50)
	if err != nil {
		return nil, err
	}
	byName := map[string]*liveExporter{}
	for i := range rows {
		r := &rows[i]
		x := byName[r.Device]
		if x == nil {
			x = &liveExporter{name: r.Device, interfaces: map[uint32]string{}}
			x.kind, x.format = exporterKind(r.Device)
			byName[r.Device] = x
		}
		if r.InIfName != "" {
			x.interfaces[r.InIf] = r.InIfName
		}
		if r.OutIfName != "" {
			x.interfaces[r.OutIf] = r.OutIfName
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) > 200 {
		return nil, fmt.Errorf("demo traffic: %d devices, more than loopback addresses set aside (200)", len(names))
	}
	out := make([]liveExporter, len(names))
	for i, n := range names {
		out[i] = *byName[n]
		out[i].addr = netip.AddrFrom4([4]byte{127, 0, 1, byte(10 + i)})
	}
	return out, nil
}

// exporterKind returns the format a device of the generated network
// exports, from its name: routers (-rtr, and the NetFlow v5 routers named
// by their address) NetFlow v9, data-centre switches (-dcsw) sFlow,
// access switches and firewalls IPFIX; the generator's own choice.
func exporterKind(device string) (string, export.Format) {
	switch {
	case strings.Contains(device, "-dcsw"):
		return "sflow", export.SFlow5
	case strings.Contains(device, "-rtr"):
		return "netflow", export.NetFlow9
	}
	if _, err := netip.ParseAddr(device); err == nil {
		return "netflow", export.NetFlow9
	}
	return "ipfix", export.IPFIX
}

// demoEnrichment adds the live exporters' names to the edge's exporter
// configuration, keeping any the user configured for the same address.
func demoEnrichment(cfg flow.EnrichConfig, xs []liveExporter) flow.EnrichConfig {
	have := map[netip.Addr]bool{}
	for _, x := range cfg.Exporters {
		have[x.Address] = true
	}
	cfg.Exporters = slices.Clone(cfg.Exporters)
	for _, x := range xs {
		if !have[x.addr] {
			cfg.Exporters = append(cfg.Exporters, flow.Exporter{Address: x.addr, Name: x.name, Interfaces: x.interfaces})
		}
	}
	return cfg
}

// liveTraffic sends generated flows as real datagrams to the embedded
// edge until ctx is done, rate flows per second in all, in batches every
// second: each device's flows from its own loopback address in its own
// format (NetFlow v9, IPFIX or sFlow) to the matching listener, or the
// first listener there is.
func liveTraffic(ctx context.Context, e *edge.Edge, xs []liveExporter, rate float64, seed int64, log *slog.Logger) error {
	if rate <= 0 || len(xs) == 0 {
		return nil
	}
	addrs := e.Addrs()
	type target struct {
		x    *export.Exporter
		conn *net.UDPConn
	}
	targets := map[string]target{}
	now := time.Now()
	for i, lx := range xs {
		kind, format := lx.kind, lx.format
		if len(addrs[kind]) == 0 {
			for _, k := range []string{"ipfix", "netflow", "sflow"} {
				if len(addrs[k]) > 0 {
					kind, format = k, map[string]export.Format{"ipfix": export.IPFIX, "netflow": export.NetFlow9, "sflow": export.SFlow5}[k]
					break
				}
			}
		}
		if len(addrs[kind]) == 0 {
			return nil // no listener at all
		}
		dst := addrs[kind][0]
		if dst.Addr().IsUnspecified() { // ":2055" listens on every address, loopback included
			dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), dst.Port())
		}
		conn, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lx.addr, 0)), net.UDPAddrFromAddrPort(dst))
		if err != nil {
			// Only Linux routes all of 127/8 to loopback; elsewhere NetFlow
			// and IPFIX devices share 127.0.0.1 (sFlow still carries its
			// agent address).
			log.Warn("demo traffic: cannot send from its own loopback address; the device column shows 127.0.0.1", "device", lx.name, "addr", lx.addr, "err", err)
			if conn, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst)); err != nil {
				return fmt.Errorf("demo traffic to %s: %w", dst, err)
			}
		}
		defer conn.Close()
		targets[lx.name] = target{export.New(export.Config{Format: format, Domain: uint32(i + 1), Agent: lx.addr}, now.Add(-time.Hour)), conn}
	}
	const tick = time.Second
	t := time.NewTicker(tick)
	defer t.Stop()
	var dgs [][]byte
	parts := map[string][]schema.Flow{}
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
			clear(parts)
			for j := range rows {
				parts[rows[j].Device] = append(parts[rows[j].Device], rows[j])
			}
			for name, part := range parts {
				tg, ok := targets[name]
				if !ok {
					continue // a device the sample did not see: not exported
				}
				dgs = tg.x.Encode(dgs[:0], part, now)
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
