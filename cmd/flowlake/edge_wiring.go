package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flowlake/flowlake/edge"
	"github.com/flowlake/flowlake/storage/lake"
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
	f.StringSlice("dhcp-interfaces", nil, "interfaces whose DHCP traffic is captured (AF_PACKET) for DHCP snooping (edge.dhcp.interfaces)")
	f.String("dhcp-pcap", "", "replay this pcap or pcapng capture through DHCP snooping instead of capturing live (edge.dhcp.pcap)")
	bind(f, "dhcp-pcap", "edge.dhcp.pcap")
	f.StringSlice("tcp-interfaces", nil, "interfaces whose TCP traffic the passive tracer captures (AF_PACKET) (edge.tcptrace.interfaces)")
	f.String("tcp-pcap", "", "replay this pcap or pcapng capture through the passive TCP tracer instead of capturing live (edge.tcptrace.pcap)")
	bind(f, "tcp-pcap", "edge.tcptrace.pcap")
	f.String("drop-dir", "", "watch this folder for device displays saved as files: tcp trace and cloud-management state output (edge.drop.dir)")
	bind(f, "drop-dir", "edge.drop.dir")
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
		{"dhcp-interfaces", &a.cfg.Edge.DHCP.Interfaces},
		{"tcp-interfaces", &a.cfg.Edge.TCPTrace.Interfaces},
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
		a.logger.Info("no flow listen address, no DHCP and no TCP trace capture: serving without the embedded edge")
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
	e, err := edge.New(cfg, edge.Deps{Lake: l, Logger: a.logger, TracerFilter: compileTracerFilter})
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

// errNoCore says how to run an edge that has nowhere to ship.
var errNoCore = errors.New("edge.ship.url is not set: `flowlake edge` ships segments to a core (set edge.ship.url and edge.ship.token_file); `flowlake serve` runs the edge embedded")
