package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"
)

// Packet is one captured frame, as a Handler sees it.
type Packet struct {
	// Data is the frame from its link-layer header on, VLAN tag included.
	// It is only valid during the Handler call: copy what you keep.
	Data []byte
	// Time is when the kernel (or the file) stamped the frame.
	Time time.Time
	// Length is the frame's length on the wire (Data may be shorter).
	Length int
	// Interface is the interface it was read from; "" for a file.
	Interface string
	// LinkType is the frame's link type: Ethernet for live interfaces,
	// the file's for a file.
	LinkType layers.LinkType
}

// Handler receives every frame the filter accepts. For live interfaces it
// is called from one goroutine per interface, concurrently; it must not
// keep p.Data after returning, and should return quickly: while it runs,
// the interface's ring fills.
type Handler func(p Packet)

// Stats counts one source's frames.
type Stats struct {
	// Interface is the interface, or the file's path.
	Interface string `json:"interface"`
	// Packets counts frames handed to the Handler.
	Packets uint64 `json:"packets"`
	// KernelPackets counts frames the kernel's filter accepted
	// (tp_packets), KernelDrops those it dropped because the ring was
	// full (tp_drops) and QueueFreezes the times the ring was full
	// (tp_freeze_q_cnt). Zero for a file.
	KernelPackets uint64 `json:"kernel_packets"`
	KernelDrops   uint64 `json:"kernel_drops"`
	QueueFreezes  uint64 `json:"queue_freezes"`
	// Err is the error that ended the source early, if any.
	Err string `json:"err,omitempty"`
}

// Capture reads frames from its sources and hands them to its Handler
// until Stop, or, for a file, until its end.
type Capture struct {
	cfg    Config
	handle Handler
	log    *slog.Logger
	srcs   []*source
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}
	once   sync.Once
	err    error
}

// source is one interface's socket, or the file.
type source struct {
	name    string
	tp      *afpacket.TPacket // live
	file    *os.File          // file
	packets atomic.Uint64

	mu                       sync.Mutex
	kPackets, kDrops, freeze uint64 // last kernel counters read
	err                      error
}

// New checks cfg and builds a Capture calling h for every frame; nothing is
// opened until Start. log may be nil.
func New(cfg Config, h Handler, log *slog.Logger) (*Capture, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("capture config: %w", err)
	}
	if h == nil {
		return nil, errors.New("capture: no handler")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Capture{cfg: cfg, handle: h, log: log, done: make(chan struct{})}, nil
}

// Start opens every source (an AF_PACKET socket with its ring and filter
// per interface, or the file) and starts reading. It fails, opening
// nothing, when any source cannot be opened. Reading stops with Stop or
// when ctx is done.
func (c *Capture) Start(ctx context.Context) error {
	if c.cfg.File != "" {
		f, err := os.Open(c.cfg.File)
		if err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		c.srcs = append(c.srcs, &source{name: c.cfg.File, file: f})
	}
	err := inNetns(c.cfg.Netns, func() error {
		for _, iface := range c.cfg.Interfaces {
			tp, err := c.openLive(iface)
			if err != nil {
				return err
			}
			c.srcs = append(c.srcs, &source{name: iface, tp: tp})
		}
		return nil
	})
	if err != nil {
		for _, s := range c.srcs {
			if s.tp != nil {
				s.tp.Close()
			}
		}
		c.srcs = nil
		return fmt.Errorf("capture: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	c.cancel = cancel
	for _, s := range c.srcs {
		c.wg.Go(func() {
			var err error
			if s.file != nil {
				err = c.readFile(runCtx, s)
			} else {
				err = c.readLive(runCtx, s)
			}
			if err != nil {
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
				c.log.Error("capture source ended", "source", s.name, "err", err)
			}
		})
	}
	go func() {
		c.wg.Wait()
		close(c.done)
	}()
	c.log.Info("capture started", "interfaces", c.cfg.Interfaces, "file", c.cfg.File, "filter_instructions", len(c.cfg.Filter))
	return nil
}

// openLive opens an AF_PACKET TPACKET_V3 socket on iface with the filter.
func (c *Capture) openLive(iface string) (*afpacket.TPacket, error) {
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(iface),
		afpacket.TPacketVersion3,
		afpacket.OptFrameSize(2048), // TPACKET_V3 packs frames of any size into a block; this only sizes tp_frame_nr
		afpacket.OptBlockSize(c.cfg.BlockSize),
		afpacket.OptNumBlocks(c.cfg.NumBlocks),
		afpacket.OptBlockTimeout(c.cfg.BlockTimeout),
		afpacket.OptPollTimeout(c.cfg.PollTimeout),
		afpacket.OptAddVLANHeader(true),
	)
	if err != nil {
		return nil, fmt.Errorf("open AF_PACKET socket on %s: %w", iface, err)
	}
	prog := c.cfg.Filter
	if c.cfg.InboundOnly {
		prog = inboundOnly(prog)
	}
	if len(prog) > 0 {
		raw, err := bpf.Assemble(prog)
		if err == nil {
			err = tp.SetBPF(raw)
		}
		if err != nil {
			tp.Close()
			return nil, fmt.Errorf("attach filter on %s: %w", iface, err)
		}
	}
	return tp, nil
}

// readLive hands frames to the handler until ctx is done. Frames that
// arrived before the filter was attached are filtered again here.
func (c *Capture) readLive(ctx context.Context, s *source) error {
	var vm *bpf.VM
	if len(c.cfg.Filter) > 0 {
		vm, _ = bpf.NewVM(c.cfg.Filter) // checked by Validate
	}
	warm := true // the first ring blocks may predate the filter
	for ctx.Err() == nil {
		data, ci, err := s.tp.ZeroCopyReadPacketData()
		switch {
		case errors.Is(err, afpacket.ErrTimeout):
			warm = false
			continue
		case err != nil:
			return fmt.Errorf("read %s: %w", s.name, err)
		}
		if warm && vm != nil {
			if n, err := vm.Run(data); err != nil || n == 0 {
				continue
			}
		}
		s.packets.Add(1)
		c.handle(Packet{Data: data, Time: ci.Timestamp, Length: ci.Length, Interface: s.name, LinkType: layers.LinkTypeEthernet})
	}
	return nil
}

// readFile hands the file's frames that pass the filter to the handler,
// until its end or ctx is done.
func (c *Capture) readFile(ctx context.Context, s *source) error {
	defer s.file.Close()
	r, err := openFile(s.file)
	if err != nil {
		return err
	}
	var vm *bpf.VM
	if len(c.cfg.Filter) > 0 {
		vm, _ = bpf.NewVM(c.cfg.Filter) // checked by Validate
	}
	for frame := 1; ctx.Err() == nil; frame++ {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s frame %d: %w", s.name, frame, err)
		}
		if vm != nil && r.LinkType() == layers.LinkTypeEthernet {
			if n, err := vm.Run(data); err != nil || n == 0 {
				continue
			}
		}
		s.packets.Add(1)
		c.handle(Packet{Data: data, Time: ci.Timestamp, Length: ci.Length, LinkType: r.LinkType()})
	}
	return nil
}

// fileReader is what pcapgo's pcap and pcapng readers share.
type fileReader interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// openFile opens f as pcapng (by its section header magic) or pcap.
func openFile(f *os.File) (fileReader, error) {
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return nil, fmt.Errorf("read %s: not a pcap or pcapng capture: %w", f.Name(), err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	if bytes.Equal(magic[:], []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, fmt.Errorf("open pcapng capture %s: %w", f.Name(), err)
		}
		return r, nil
	}
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("open pcap capture %s: %w", f.Name(), err)
	}
	return r, nil
}

// Done is closed once every source has ended: a file read to its end, or
// every source after Stop (or a read error).
func (c *Capture) Done() <-chan struct{} { return c.done }

// Stats returns each source's counters, reading the kernel's for live
// interfaces.
func (c *Capture) Stats() []Stats {
	out := make([]Stats, 0, len(c.srcs))
	for _, s := range c.srcs {
		out = append(out, s.stats())
	}
	return out
}

// Drops returns the frames the kernel dropped on every interface.
func (c *Capture) Drops() uint64 {
	var n uint64
	for _, s := range c.Stats() {
		n += s.KernelDrops
	}
	return n
}

func (s *source) stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tp != nil {
		if _, v3, err := s.tp.SocketStats(); err == nil {
			s.kPackets, s.kDrops, s.freeze = uint64(v3.Packets()), uint64(v3.Drops()), uint64(v3.QueueFreezes())
		}
	}
	st := Stats{Interface: s.name, Packets: s.packets.Load(), KernelPackets: s.kPackets, KernelDrops: s.kDrops, QueueFreezes: s.freeze}
	if s.err != nil {
		st.Err = s.err.Error()
	}
	return st
}

// Stop stops reading, waits for the readers and closes the sockets (their
// last kernel counters stay readable through Stats). It returns the first
// error that ended a source. It is safe to call more than once.
func (c *Capture) Stop() error {
	c.once.Do(func() {
		if c.cancel == nil {
			return // never started
		}
		c.cancel()
		c.wg.Wait()
		var errs []error
		for _, s := range c.srcs {
			if s.tp != nil {
				s.stats() // keep the last counters
				s.mu.Lock()
				s.tp.Close()
				s.tp = nil
				s.mu.Unlock()
			}
			s.mu.Lock()
			if s.err != nil {
				errs = append(errs, s.err)
			}
			s.mu.Unlock()
		}
		c.err = errors.Join(errs...)
	})
	return c.err
}
