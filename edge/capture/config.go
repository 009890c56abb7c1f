package capture

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/net/bpf"
)

// Config configures a Capture. Start from DefaultConfig. Exactly one of
// Interfaces and File is set.
type Config struct {
	// Interfaces are the network interfaces read live through AF_PACKET,
	// one socket and one reader goroutine each.
	Interfaces []string `yaml:"interfaces" koanf:"interfaces"`
	// Netns is the network namespace the Interfaces are in, as a path
	// (/var/run/netns/NAME, /proc/PID/ns/net); "" (the default) is the
	// process's own. The sockets are opened in it and stay there.
	Netns string `yaml:"netns" koanf:"netns"`
	// File is a pcap or pcapng capture read once, in place of Interfaces
	// (the format is told by its magic number).
	File string `yaml:"file" koanf:"file"`
	// Filter is the classic BPF program run on every frame: by the kernel
	// for live interfaces (a frame it rejects never reaches user space),
	// by a bpf.VM for a file, so that both see the same frames. Nil
	// accepts everything. It must run in golang.org/x/net/bpf's VM
	// (no ancillary loads but the frame length).
	Filter []bpf.Instruction `yaml:"-" koanf:"-"`
	// InboundOnly drops frames the interface sends (PACKET_OUTGOING) in
	// the kernel, keeping those it receives: on the ports of a bridge or
	// switch every frame is then seen once, on the port it entered by.
	// Files have no direction; it does not apply to them.
	InboundOnly bool `yaml:"inbound_only" koanf:"inbound_only"`
	// BlockSize and NumBlocks size each interface's TPACKET_V3 ring
	// (defaults 1 MiB × 8: 8 MiB per interface). A ring absorbs bursts
	// while the reader is behind; when it is full the kernel drops frames
	// and counts them (Stats.KernelDrops). BlockSize is a multiple of the
	// page size.
	BlockSize int `yaml:"block_size" koanf:"block_size"`
	NumBlocks int `yaml:"num_blocks" koanf:"num_blocks"`
	// BlockTimeout hands a partly filled block to the reader after this
	// long (default 10ms): the most a frame waits in the ring at low rates.
	BlockTimeout time.Duration `yaml:"block_timeout" koanf:"block_timeout"`
	// PollTimeout bounds one wait for frames (default 100ms): how quickly
	// a reader notices Stop.
	PollTimeout time.Duration `yaml:"poll_timeout" koanf:"poll_timeout"`
}

// DefaultConfig returns the documented defaults, with no source.
func DefaultConfig() Config {
	return Config{BlockSize: 1 << 20, NumBlocks: 8, BlockTimeout: 10 * time.Millisecond, PollTimeout: 100 * time.Millisecond}
}

// Validate reports every invalid setting.
func (c Config) Validate() error {
	var errs []error
	switch {
	case len(c.Interfaces) == 0 && c.File == "":
		errs = append(errs, errors.New("no source: set interfaces or file"))
	case len(c.Interfaces) > 0 && c.File != "":
		errs = append(errs, errors.New("interfaces and file are both set: a capture reads one kind of source"))
	}
	seen := map[string]bool{}
	for _, i := range c.Interfaces {
		if i == "" {
			errs = append(errs, errors.New("interfaces: empty name"))
		}
		if seen[i] {
			errs = append(errs, fmt.Errorf("interfaces: %q listed twice", i))
		}
		seen[i] = true
	}
	if c.BlockSize < 4096 || c.BlockSize%4096 != 0 {
		errs = append(errs, fmt.Errorf("block_size %d: want a positive multiple of 4096", c.BlockSize))
	}
	if c.NumBlocks < 1 {
		errs = append(errs, fmt.Errorf("num_blocks %d is below 1", c.NumBlocks))
	}
	if c.BlockTimeout < time.Millisecond {
		errs = append(errs, fmt.Errorf("block_timeout %s is below 1ms", c.BlockTimeout))
	}
	if c.PollTimeout < time.Millisecond {
		errs = append(errs, fmt.Errorf("poll_timeout %s is below 1ms", c.PollTimeout))
	}
	if len(c.Filter) > 0 {
		if _, err := bpf.NewVM(c.Filter); err != nil {
			errs = append(errs, fmt.Errorf("filter: %w", err))
		}
	}
	return errors.Join(errs...)
}
