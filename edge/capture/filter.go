package capture

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"
)

// Ports of DHCPv4 (RFC 2131) and DHCPv6 (RFC 8415).
var DHCPPorts = []uint16{67, 68, 546, 547}

// packetOutgoing is the kernel's PACKET_OUTGOING packet type (SKF_AD_PKTTYPE).
const packetOutgoing = 4

// UDPPortsFilter returns a classic BPF program that accepts Ethernet frames
// carrying UDP from or to any of ports, over IPv4 or IPv6, untagged or under
// one 802.1Q or 802.1ad tag, and rejects every other frame. IPv4 fragments
// after the first are rejected (they hold no UDP header); IPv6 frames whose
// UDP header follows extension headers are too. Accepted frames are kept
// whole. "udp port 67 or 68 or 546 or 547" is UDPPortsFilter(DHCPPorts...).
//
// Under VLAN offload the kernel strips the tag before the filter runs, so
// tagged frames are matched by the untagged path; without offload (a veth,
// a bridge) they are matched by the tagged one.
func UDPPortsFilter(ports ...uint16) ([]bpf.Instruction, error) {
	if len(ports) == 0 {
		return nil, errors.New("udp ports filter: no port")
	}
	if len(ports) > 16 {
		return nil, fmt.Errorf("udp ports filter: %d ports, at most 16", len(ports))
	}
	var a asm
	a.op(bpf.LoadAbsolute{Off: 12, Size: 2})
	a.jeq(0x0800, "v4_0", "")
	a.jeq(0x86dd, "v6_0", "")
	a.jeq(0x8100, "vlan", "")
	a.jeq(0x88a8, "vlan", "reject")
	a.label("vlan")
	a.op(bpf.LoadAbsolute{Off: 16, Size: 2})
	a.jeq(0x0800, "v4_4", "")
	a.jeq(0x86dd, "v6_4", "reject")
	for _, b := range []uint32{0, 4} {
		l3 := 14 + b
		a.label(fmt.Sprintf("v4_%d", b))
		a.op(bpf.LoadAbsolute{Off: l3 + 9, Size: 1})
		a.jeq(17, "", "reject")
		a.op(bpf.LoadAbsolute{Off: l3 + 6, Size: 2})
		a.jset(0x1fff, "reject", "")
		a.op(bpf.LoadMemShift{Off: l3})
		a.op(bpf.LoadIndirect{Off: l3, Size: 2})
		a.ports(ports)
		a.op(bpf.LoadIndirect{Off: l3 + 2, Size: 2})
		a.ports(ports)
		a.op(bpf.Jump{}).target("reject")
		a.label(fmt.Sprintf("v6_%d", b))
		a.op(bpf.LoadAbsolute{Off: l3 + 6, Size: 1})
		a.jeq(17, "", "reject")
		a.op(bpf.LoadAbsolute{Off: l3 + 40, Size: 2})
		a.ports(ports)
		a.op(bpf.LoadAbsolute{Off: l3 + 42, Size: 2})
		a.ports(ports)
		a.op(bpf.Jump{}).target("reject")
	}
	a.label("accept")
	a.op(bpf.RetConstant{Val: 0x40000})
	a.label("reject")
	a.op(bpf.RetConstant{Val: 0})
	return a.assemble()
}

// DHCPFilter returns UDPPortsFilter(DHCPPorts...): "udp port 67 or 68 or
// 546 or 547", VLAN-tagged frames included.
func DHCPFilter() []bpf.Instruction {
	f, _ := UDPPortsFilter(DHCPPorts...) // four ports: cannot fail (TestFilter)
	return f
}

// inboundOnly prefixes f with a test of the packet type that rejects
// frames the interface sends.
func inboundOnly(f []bpf.Instruction) []bpf.Instruction {
	if len(f) == 0 {
		f = []bpf.Instruction{bpf.RetConstant{Val: 0x40000}}
	}
	return append([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: packetOutgoing, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
	}, f...)
}

// asm assembles a BPF program with named jump targets; "" as a target
// means the next instruction.
type asm struct {
	ins    []bpf.Instruction
	labels map[string]int
	fixes  []fix
}

type fix struct {
	at          int
	true, false string // for a JumpIf; true alone for a Jump
}

func (a *asm) op(i bpf.Instruction) *asm {
	a.ins = append(a.ins, i)
	return a
}

// target sets the target of the Jump just added.
func (a *asm) target(l string) {
	a.fixes = append(a.fixes, fix{at: len(a.ins) - 1, true: l})
}

func (a *asm) label(l string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[l] = len(a.ins)
}

func (a *asm) jeq(v uint32, t, f string) {
	a.ins = append(a.ins, bpf.JumpIf{Cond: bpf.JumpEqual, Val: v})
	a.fixes = append(a.fixes, fix{at: len(a.ins) - 1, true: t, false: f})
}

func (a *asm) jset(v uint32, t, f string) {
	a.ins = append(a.ins, bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: v})
	a.fixes = append(a.fixes, fix{at: len(a.ins) - 1, true: t, false: f})
}

// ports jumps to accept when A is one of ports, else falls through.
func (a *asm) ports(ports []uint16) {
	for _, p := range ports {
		a.jeq(uint32(p), "accept", "")
	}
}

// assemble resolves the jumps and checks the program.
func (a *asm) assemble() ([]bpf.Instruction, error) {
	skip := func(at int, l string) (uint32, error) {
		if l == "" {
			return 0, nil
		}
		to, ok := a.labels[l]
		if !ok {
			return 0, fmt.Errorf("bpf: unknown label %q", l)
		}
		d := to - at - 1
		if d < 0 || d > 255 {
			return 0, fmt.Errorf("bpf: jump from %d to %q (%d) out of range", at, l, to)
		}
		return uint32(d), nil
	}
	for _, f := range a.fixes {
		t, err := skip(f.at, f.true)
		if err != nil {
			return nil, err
		}
		switch j := a.ins[f.at].(type) {
		case bpf.JumpIf:
			fl, err := skip(f.at, f.false)
			if err != nil {
				return nil, err
			}
			j.SkipTrue, j.SkipFalse = uint8(t), uint8(fl)
			a.ins[f.at] = j
		case bpf.Jump:
			j.Skip = t
			a.ins[f.at] = j
		}
	}
	if _, err := bpf.Assemble(a.ins); err != nil {
		return nil, fmt.Errorf("bpf: %w", err)
	}
	return a.ins, nil
}
