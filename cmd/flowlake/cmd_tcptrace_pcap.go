package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowlake/flowlake/ingest/tcptrace"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// tcptracePassiveSource names the segments the passive tracer writes.
const tcptracePassiveSource = "tcptrace"

// TCPTracePcap is what `flowlake tcptrace pcap` prints when it is done.
type TCPTracePcap struct {
	File    string `json:"file"`
	Frames  uint64 `json:"frames"`
	Packets uint64 `json:"tcp_packets_fed"`
	Conns   int64  `json:"tcp_conns"`
	Kept    int64  `json:"tcp_packets"`
	Refused int64  `json:"rows_refused"`
	// ByReason counts the connections written by reason ("" none: a
	// timeout, a half close, open at the end of the capture).
	ByReason map[string]uint64 `json:"by_reason"`
	Skipped  uint64            `json:"normal_closes_not_written"`
	// Not traced, counted: the decode errors by kind, packets of
	// connections outside the local prefixes, the filter or only-new, and
	// refused by the memory quota.
	Truncated      uint64 `json:"truncated"`
	BadHeader      uint64 `json:"bad_header"`
	Fragments      uint64 `json:"fragments"`
	NotTCP         uint64 `json:"not_tcp"`
	OtherDecode    uint64 `json:"other_decode_errors"`
	NotLocal       uint64 `json:"not_local"`
	Filtered       uint64 `json:"filtered"`
	NotNew         uint64 `json:"not_new"`
	RefusedConns   uint64 `json:"quota_refused_conns"`
	RefusedPackets uint64 `json:"quota_refused_packets"`
	Overwritten    uint64 `json:"ring_overwritten"`
}

// tracerFlags are the tracer's settings as command-line flags, shared by
// the commands that run a tracer.
type tracerFlags struct {
	local   []string
	mode    string
	max     int
	quota   int64
	onlyNew bool
	filter  string
	device  string
	probes  int
	idle    time.Duration
	stall   time.Duration
}

func (tf *tracerFlags) register(cmd *cobra.Command) {
	d := tcptrace.DefaultTracerConfig()
	f := cmd.Flags()
	f.StringSliceVar(&tf.local, "local", nil, "prefixes of the traced hosts (repeatable; default: every address, the client side of each connection)")
	f.StringVar(&tf.mode, "cache-mode", d.CacheMode, "which connections to write: abnormal-close or all")
	f.IntVar(&tf.max, "max-packets", d.MaxPackets, "last packets kept per connection (1-500)")
	f.Int64Var(&tf.quota, "memory-quota", d.MemoryQuota, "bytes the connection table may hold; new connections are refused beyond")
	f.BoolVar(&tf.onlyNew, "only-new", false, "ignore connections whose SYN was not seen")
	f.StringVar(&tf.filter, "filter", "", "trace only connections matching this filter on local_addr, foreign_addr, local_port, foreign_port (docs/query-language.md)")
	f.StringVar(&tf.device, "device", "", "device column of the rows (default: the capture file's name)")
	f.IntVar(&tf.probes, "probes", d.Probes, "unanswered retransmissions, keepalive or window probes that make RT, KT or PT")
	f.DurationVar(&tf.idle, "idle-timeout", d.IdleTimeout, "end a connection idle this long")
	f.DurationVar(&tf.stall, "stall-timeout", d.StallTimeout, "end a connection silent this long after unanswered probes or retransmissions")
}

// config builds the tracer's settings from the flags.
func (tf *tracerFlags) config(edge, device string) (tcptrace.TracerConfig, error) {
	cfg := tcptrace.DefaultTracerConfig()
	cfg.CacheMode, cfg.MaxPackets, cfg.MemoryQuota, cfg.OnlyNew = tf.mode, tf.max, tf.quota, tf.onlyNew
	cfg.Probes, cfg.IdleTimeout, cfg.StallTimeout = tf.probes, tf.idle, tf.stall
	cfg.Edge, cfg.Device = edge, device
	if tf.device != "" {
		cfg.Device = tf.device
	}
	for _, s := range tf.local {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return cfg, usageError{fmt.Errorf("--local %q: want a prefix (10.0.0.0/8) or an address: %w", s, err)}
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		cfg.Local = append(cfg.Local, p.Masked())
	}
	if tf.filter != "" {
		pred, err := tracerFilter(tf.filter)
		if err != nil {
			return cfg, usageError{err}
		}
		cfg.Filter = pred
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

// tracerFilterColumns are the tcp_conns columns a tracer filter may use:
// a connection's endpoints are all the tracer knows when it starts one.
var tracerFilterColumns = []string{schema.TCPLocalAddr, schema.TCPForeignAddr, "local_port", "foreign_port"}

// tracerFilter parses src in the query filter language on tcp_conns and
// returns it as a predicate on a connection's endpoints.
func tracerFilter(src string) (func(local, foreign tcptrace.Endpoint) bool, error) {
	pred, err := compileTracerFilter(src)
	if err != nil {
		return nil, fmt.Errorf("--filter: %w", err)
	}
	return pred, nil
}

// compileTracerFilter is tracerFilter without the flag's name: the edge's
// tcptrace.filter key (edge.Deps.TracerFilter) uses it too.
func compileTracerFilter(src string) (func(local, foreign tcptrace.Endpoint) bool, error) {
	d, err := schema.Lookup(schema.TCPConns)
	if err != nil {
		return nil, err
	}
	e, err := query.ParseFilter(d, src)
	if err != nil {
		return nil, err
	}
	if err := checkTracerFilter(e); err != nil {
		return nil, fmt.Errorf("%q: %w", src, err)
	}
	return func(local, foreign tcptrace.Endpoint) bool { return evalTracerFilter(e, local, foreign) }, nil
}

func checkTracerFilter(e query.Expr) error {
	col := ""
	switch x := e.(type) {
	case query.MatchAll:
		return nil
	case query.And:
		return errors.Join(mapErr(x.Terms)...)
	case query.Or:
		return errors.Join(mapErr(x.Terms)...)
	case query.Not:
		return checkTracerFilter(x.Term)
	case query.Compare:
		col = x.Column
	case query.InSet:
		col = x.Column
	case query.AddrMatch:
		col = x.Column
	default:
		return fmt.Errorf("%s: the tracer's filter takes comparisons on %s only", e, strings.Join(tracerFilterColumns, ", "))
	}
	if !slices.Contains(tracerFilterColumns, col) {
		return fmt.Errorf("column %s: the tracer's filter takes %s only (a connection's endpoints are all it knows when it starts)", col, strings.Join(tracerFilterColumns, ", "))
	}
	return nil
}

func mapErr(terms []query.Expr) []error {
	var errs []error
	for _, t := range terms {
		errs = append(errs, checkTracerFilter(t))
	}
	return errs
}

// evalTracerFilter evaluates e, which checkTracerFilter accepted.
func evalTracerFilter(e query.Expr, local, foreign tcptrace.Endpoint) bool {
	port := func(col string) uint64 {
		if col == "local_port" {
			return uint64(local.Port)
		}
		return uint64(foreign.Port)
	}
	switch x := e.(type) {
	case query.And:
		for _, t := range x.Terms {
			if !evalTracerFilter(t, local, foreign) {
				return false
			}
		}
		return true
	case query.Or:
		for _, t := range x.Terms {
			if evalTracerFilter(t, local, foreign) {
				return true
			}
		}
		return false
	case query.Not:
		return !evalTracerFilter(x.Term, local, foreign)
	case query.Compare:
		v := port(x.Column)
		switch x.Op {
		case query.OpLt:
			return v < x.Value.Uint
		case query.OpLe:
			return v <= x.Value.Uint
		case query.OpGt:
			return v > x.Value.Uint
		case query.OpGe:
			return v >= x.Value.Uint
		}
		return v == x.Value.Uint
	case query.InSet:
		v := port(x.Column)
		for _, w := range x.Values {
			if w.Uint == v {
				return true
			}
		}
		return false
	case query.AddrMatch:
		a := local.Addr
		if x.Column == schema.TCPForeignAddr {
			a = foreign.Addr
		}
		for _, r := range x.Ranges {
			if a.BitLen() == r.Lo.BitLen() && a.Compare(r.Lo) >= 0 && a.Compare(r.Hi) <= 0 {
				return true
			}
		}
		return false
	}
	return true // MatchAll
}

func (a *app) tcptracePcapCommand() *cobra.Command {
	var tf tracerFlags
	cmd := &cobra.Command{
		Use:   "pcap FILE",
		Short: "Trace the TCP connections of a pcap or pcapng capture into the lake",
		Long: `Replay FILE (pcap or pcapng: Ethernet, VLAN-tagged, Linux cooked or raw
IP) through the passive tracer (docs/tcptrace.md) and write every
connection it ends into tcp_conns, with its last packets in tcp_packets,
joined by trace_id. The close reason (RR SR PN AN AA KT PT RT) is derived
from the wire; conn_state and history are Zeek's.

Connections still open at the end of the capture are written as open
(end = open). Frames that do not decode (truncated, bogus header lengths,
IP fragments, not TCP) and packets the settings leave out are counted and
printed, never fatal.`,
		Example: `  flowlake tcptrace pcap trace.pcap --local 10.0.0.0/8
  flowlake tcptrace pcap trace.pcapng --cache-mode all --filter 'foreign_port 443' --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("want one capture FILE")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := tf.config(tcptracePassiveSource, args[0])
			if err != nil {
				return err
			}
			sum, err := a.tcptracePcap(cmd.Context(), args[0], cfg)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(sum)
			}
			reasons := make([]string, 0, len(sum.ByReason))
			for _, r := range slices.Sorted(mapKeys(sum.ByReason)) {
				name := r
				if name == "" {
					name = "none"
				}
				reasons = append(reasons, fmt.Sprintf("%s %d", name, sum.ByReason[r]))
			}
			_, err = fmt.Fprintf(a.stdout, "%s: %d frames, %d TCP packets; %d tcp_conns (%s), %d tcp_packets written, %d rows refused, %d normal closes not written (cache mode %s); not traced: %d truncated, %d bad header, %d fragments, %d not TCP, %d other, %d not local, %d filtered, %d not new, %d refused by the memory quota (%d connections)\n",
				sum.File, sum.Frames, sum.Packets, sum.Conns, strings.Join(reasons, ", "), sum.Kept, sum.Refused, sum.Skipped, cfg.CacheMode,
				sum.Truncated, sum.BadHeader, sum.Fragments, sum.NotTCP, sum.OtherDecode, sum.NotLocal, sum.Filtered, sum.NotNew, sum.RefusedPackets, sum.RefusedConns)
			return err
		},
	}
	tf.register(cmd)
	return cmd
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// tcptracePcap replays file through a tracer and writes its records.
func (a *app) tcptracePcap(ctx context.Context, file string, cfg tcptrace.TracerConfig) (TCPTracePcap, error) {
	sum := TCPTracePcap{File: file}
	tr, err := tcptrace.NewTracer(cfg)
	if err != nil {
		return sum, usageError{err}
	}
	f, err := os.Open(file)
	if err != nil {
		return sum, fmt.Errorf("read capture: %w", err)
	}
	defer f.Close()
	sum.Frames, err = tcptrace.Replay(ctx, f, file, tr)
	if err != nil {
		return sum, err
	}
	tr.Flush(time.Time{}) // open connections: written as open at the capture's last time
	recs := tr.Take()
	st := tr.Stats()
	sum.Packets, sum.ByReason, sum.Skipped = st.Packets, st.Written, st.Skipped
	sum.Truncated, sum.BadHeader, sum.Fragments, sum.NotTCP, sum.OtherDecode = st.Truncated, st.BadHeader, st.Fragments, st.NotTCP, st.OtherDecode
	sum.NotLocal, sum.Filtered, sum.NotNew = st.NotLocal, st.Filtered, st.NotNew
	sum.RefusedConns, sum.RefusedPackets, sum.Overwritten = st.RefusedConns, st.RefusedPackets, st.Overwritten
	if len(recs) == 0 {
		return sum, nil
	}
	l, err := a.createLake()
	if err != nil {
		return sum, err
	}
	err = writeTraced(ctx, l, recs, &sum)
	return sum, joinClose(err, l)
}

// writeTraced stages the records' tcp_conns and tcp_packets rows before
// publishing either, as the device import does.
func writeTraced(ctx context.Context, l *lake.Lake, recs []tcptrace.Record, sum *TCPTracePcap) error {
	conns := make([]schema.TCPConn, 0, len(recs))
	var pkts []schema.TCPPacket
	for _, r := range recs {
		conns = append(conns, r.Conn)
		pkts = append(pkts, r.Packets...)
	}
	cs, err := lake.Stage(ctx, l, tcptracePassiveSource, conns)
	if err != nil {
		return fmt.Errorf("stage %d tcp_conns rows: %w", len(conns), err)
	}
	ps, err := lake.Stage(ctx, l, tcptracePassiveSource, pkts)
	if err != nil {
		cs.Abort()
		return fmt.Errorf("stage %d tcp_packets rows: %w", len(pkts), err)
	}
	sum.Refused = cs.Refused() + ps.Refused()
	if _, err := cs.Commit(); err != nil {
		ps.Abort()
		return fmt.Errorf("write tcp_conns: %w", err)
	}
	if _, err := ps.Commit(); err != nil {
		return fmt.Errorf("write tcp_packets (its tcp_conns rows are written): %w", err)
	}
	sum.Conns, sum.Kept = cs.Rows(), ps.Rows()
	return nil
}
