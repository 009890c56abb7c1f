package edge

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/bpf"

	"github.com/flowlake/flowlake/edge/capture"
	"github.com/flowlake/flowlake/ingest/tcptrace"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// TCPTraceConfig configures the passive TCP tracer (docs/tcptrace.md): off
// unless Interfaces or Pcap is set. The tracer's settings are config keys,
// so they persist across restarts with the configuration file.
type TCPTraceConfig struct {
	// Interfaces are captured live through AF_PACKET (TCP frames only, by
	// a kernel filter).
	Interfaces []string `yaml:"interfaces" koanf:"interfaces"`
	// Pcap replays a capture file instead of Interfaces.
	Pcap string `yaml:"pcap" koanf:"pcap"`
	// Netns is the network namespace of Interfaces (/var/run/netns/NAME);
	// "" is the edge's own.
	Netns string `yaml:"netns" koanf:"netns"`
	// Local lists the traced hosts' prefixes (empty: every address, the
	// client side of each connection).
	Local []string `yaml:"local" koanf:"local"`
	// CacheMode is abnormal-close (default) or all.
	CacheMode string `yaml:"cache_mode" koanf:"cache_mode"`
	// MaxPackets per connection (1-500, default 500).
	MaxPackets int `yaml:"max_packets" koanf:"max_packets"`
	// MemoryQuota in bytes (default 100 MB).
	MemoryQuota int64 `yaml:"memory_quota" koanf:"memory_quota"`
	// OnlyNew ignores connections whose SYN was not seen.
	OnlyNew bool `yaml:"only_new" koanf:"only_new"`
	// Filter traces only the connections it matches: the query filter
	// language on local_addr, foreign_addr, local_port and foreign_port
	// (what `flowlake tcptrace pcap --filter` takes); "" traces every one.
	Filter string `yaml:"filter" koanf:"filter"`
	// IdleTimeout, StallTimeout and Probes as the tracer's (docs/tcptrace.md).
	IdleTimeout  time.Duration `yaml:"idle_timeout" koanf:"idle_timeout"`
	StallTimeout time.Duration `yaml:"stall_timeout" koanf:"stall_timeout"`
	Probes       int           `yaml:"probes" koanf:"probes"`
	// FlushInterval is how often ended connections are written (default 5s).
	FlushInterval time.Duration `yaml:"flush_interval" koanf:"flush_interval"`
}

// DefaultTCPTraceConfig returns the tracer's defaults, with no source.
func DefaultTCPTraceConfig() TCPTraceConfig {
	d := tcptrace.DefaultTracerConfig()
	return TCPTraceConfig{CacheMode: d.CacheMode, MaxPackets: d.MaxPackets, MemoryQuota: d.MemoryQuota,
		IdleTimeout: d.IdleTimeout, StallTimeout: d.StallTimeout, Probes: d.Probes, FlushInterval: 5 * time.Second}
}

// Enabled reports whether the tracer has a source.
func (c TCPTraceConfig) Enabled() bool { return len(c.Interfaces) > 0 || c.Pcap != "" }

// tracer returns the ingest tracer's settings.
func (c TCPTraceConfig) tracer(id string) (tcptrace.TracerConfig, error) {
	t := tcptrace.DefaultTracerConfig()
	t.CacheMode, t.MaxPackets, t.MemoryQuota, t.OnlyNew = c.CacheMode, c.MaxPackets, c.MemoryQuota, c.OnlyNew
	t.IdleTimeout, t.StallTimeout, t.Probes = c.IdleTimeout, c.StallTimeout, c.Probes
	t.Edge, t.Device = id, id
	var errs []error
	for _, s := range c.Local {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("local %q: want a prefix such as 10.0.0.0/8", s))
			continue
		}
		t.Local = append(t.Local, p.Masked())
	}
	if c.Enabled() {
		if err := t.Validate(); err != nil {
			errs = append(errs, err)
		}
		if c.FlushInterval < time.Second {
			errs = append(errs, fmt.Errorf("flush_interval %s is below 1s", c.FlushInterval))
		}
		if len(c.Interfaces) > 0 && c.Pcap != "" {
			errs = append(errs, errors.New("interfaces and pcap are both set"))
		}
	}
	return t, errors.Join(errs...)
}

// Validate reports every invalid setting.
func (c TCPTraceConfig) Validate() error {
	_, err := c.tracer("edge")
	return err
}

// tcpFilter is "ip proto tcp or ip6 proto tcp", VLAN-tagged frames
// included, keeping the first snap bytes of each frame.
func tcpFilter(snap uint32) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipTrue: 6},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x86dd, SkipTrue: 7},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x8100, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x88a8, SkipFalse: 12},
		bpf.LoadAbsolute{Off: 16, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipTrue: 5},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x86dd, SkipTrue: 6, SkipFalse: 9},
		bpf.LoadAbsolute{Off: 14 + 9, Size: 1}, // IPv4 protocol
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6, SkipTrue: 6, SkipFalse: 7},
		bpf.LoadAbsolute{Off: 14 + 6, Size: 1}, // IPv6 next header
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6, SkipTrue: 4, SkipFalse: 5},
		bpf.LoadAbsolute{Off: 18 + 9, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6, SkipTrue: 2, SkipFalse: 3},
		bpf.LoadAbsolute{Off: 18 + 6, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6, SkipFalse: 1},
		bpf.RetConstant{Val: snap},
		bpf.RetConstant{Val: 0},
	}
}

// tcpTracer runs the passive tracer on the edge's capture.
type tcpTracer struct {
	e      *Edge
	cfg    TCPTraceConfig
	cap    *capture.Capture
	mu     sync.Mutex // the tracer is fed by one reader per interface
	tr     *tcptrace.Tracer
	rows   atomic.Uint64
	lost   atomic.Uint64
	done   chan struct{}
	cancel context.CancelFunc
}

func newTCPTracer(e *Edge, compile func(string) (func(local, foreign tcptrace.Endpoint) bool, error)) (*tcpTracer, error) {
	tc, err := e.cfg.TCPTrace.tracer(e.cfg.ID)
	if err != nil {
		return nil, fmt.Errorf("edge: tcptrace: %w", err)
	}
	if f := e.cfg.TCPTrace.Filter; f != "" {
		if compile == nil {
			return nil, errors.New("edge: tcptrace: filter is set but nothing compiles it (Deps.TracerFilter)")
		}
		if tc.Filter, err = compile(f); err != nil {
			return nil, fmt.Errorf("edge: tcptrace: filter: %w", err)
		}
	}
	if e.cfg.TCPTrace.Pcap != "" {
		tc.Device = filepath.Base(e.cfg.TCPTrace.Pcap)
	}
	tr, err := tcptrace.NewTracer(tc)
	if err != nil {
		return nil, fmt.Errorf("edge: tcptrace: %w", err)
	}
	t := &tcpTracer{e: e, cfg: e.cfg.TCPTrace, tr: tr, done: make(chan struct{})}
	cc := capture.DefaultConfig()
	cc.Interfaces, cc.File, cc.Netns = t.cfg.Interfaces, t.cfg.Pcap, t.cfg.Netns
	// A 32 MiB ring per interface (the capture's default is 8): at the
	// ~230 bytes a 146-byte TCP frame takes in a TPACKET_V3 block it holds
	// some 145,000 frames, two seconds of what a veth carries on the
	// development VM, so a reader descheduled that long drops nothing
	// (docs/benchmarks.md, "TCP tracer").
	cc.NumBlocks = 32
	cc.Filter = tcpFilter(uint32(18 + max(tc.SnapLen, 120)))
	if t.cap, err = capture.New(cc, t.handle, e.log.With("component", "tcptrace-capture")); err != nil {
		return nil, fmt.Errorf("edge: tcptrace: %w", err)
	}
	return t, nil
}

// handle feeds one frame to the tracer.
func (t *tcpTracer) handle(p capture.Packet) {
	t.mu.Lock()
	_ = t.tr.Decode(int(p.LinkType), p.Data, p.Time) // counted by kind
	t.mu.Unlock()
}

// start starts the capture and the writer, which ends connections as time
// passes and writes them every FlushInterval.
func (t *tcpTracer) start(ctx context.Context) error {
	if err := t.cap.Start(ctx); err != nil {
		return fmt.Errorf("edge: tcptrace: %w", err)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t.cancel = cancel
	go t.run(wctx)
	return nil
}

func (t *tcpTracer) run(ctx context.Context) {
	defer close(t.done)
	tick := time.NewTicker(t.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.cap.Done():
			if t.cfg.Pcap != "" {
				// A file read to its end: its connections are written now,
				// those still open as open at the capture's last time.
				t.mu.Lock()
				t.tr.Flush(time.Time{})
				recs := t.tr.Take()
				t.mu.Unlock()
				t.write(context.WithoutCancel(ctx), recs) // stop waits for it
			}
			return
		case <-tick.C:
			t.mu.Lock()
			if t.cfg.Pcap == "" {
				t.tr.Advance(t.e.now())
			}
			recs := t.tr.Take()
			t.mu.Unlock()
			t.write(context.WithoutCancel(ctx), recs) // taken rows are written even when stop comes
		}
	}
}

// stop stops the capture and writes every connection: those ended, the
// rest as open.
func (t *tcpTracer) stop() error {
	err := t.cap.Stop()
	if t.cancel != nil {
		t.cancel()
		<-t.done
	}
	t.mu.Lock()
	now := time.Time{} // a replay ends at its last packet's time
	if t.cfg.Pcap == "" {
		now = t.e.now()
	}
	t.tr.Flush(now)
	recs := t.tr.Take()
	t.mu.Unlock()
	t.write(context.Background(), recs)
	return err
}

// write publishes the records' tcp_conns and tcp_packets rows.
func (t *tcpTracer) write(ctx context.Context, recs []tcptrace.Record) {
	if len(recs) == 0 {
		return
	}
	conns := make([]schema.TCPConn, 0, len(recs))
	var pkts []schema.TCPPacket
	for _, r := range recs {
		conns = append(conns, r.Conn)
		pkts = append(pkts, r.Packets...)
	}
	var errs []error
	for _, w := range []func() (int64, error){
		func() (int64, error) { return writeRows(ctx, t.e.lake, t.e.cfg.ID, conns) },
		func() (int64, error) { return writeRows(ctx, t.e.lake, t.e.cfg.ID, pkts) },
	} {
		n, err := w()
		t.rows.Add(uint64(n))
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		t.lost.Add(uint64(len(conns) + len(pkts)))
		t.e.log.Error("write tcp_conns/tcp_packets segments", "err", err)
	}
	if t.e.spool != nil {
		t.e.spool.enforce(ctx)
		t.e.shipper.wake()
	}
}

func writeRows[T schema.Row](ctx context.Context, l *lake.Lake, src string, rows []T) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	segs, err := lake.Write(ctx, l, src, rows)
	var n int64
	for _, s := range segs {
		n += s.Rows
	}
	return n, err
}

// tcpTraceStats is what /metrics and the status read.
func (t *tcpTracer) stats() (tcptrace.Stats, []capture.Stats) {
	t.mu.Lock()
	st := t.tr.Stats()
	t.mu.Unlock()
	return st, t.cap.Stats()
}

// TCPTraceReplayDone is closed once a tcptrace.pcap replay has read its
// file to the end (never for live capture); Stop then writes every
// connection.
func (e *Edge) TCPTraceReplayDone() <-chan struct{} {
	if e.tcpTrace == nil || e.tcpTrace.cfg.Pcap == "" {
		return nil
	}
	return e.tcpTrace.cap.Done()
}
