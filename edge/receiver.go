package edge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// packet is one received datagram on its way to a worker.
type packet struct {
	buf  []byte
	from netip.AddrPort
	at   time.Time
}

// newPacket is the packet pool's constructor. A buffer is sized by the
// first datagram copied into it and grows for larger ones, so a queue of
// 1,400-byte NetFlow datagrams holds ~1.4 KiB per datagram, not a
// jumbo frame's 9 KiB.
func newPacket() any { return &packet{} }

// listen binds SocketsPerAddress SO_REUSEPORT sockets for every address.
func (e *Edge) listen(ctx context.Context) error {
	bind := func(kind, addr string) error {
		for i := range e.cfg.SocketsPerAddress {
			lc := net.ListenConfig{Control: e.socketOptions}
			pc, err := lc.ListenPacket(ctx, "udp", addr)
			if err != nil {
				return fmt.Errorf("edge: listen %s %s (socket %d): %w", kind, addr, i+1, err)
			}
			conn := pc.(*net.UDPConn)
			e.conns = append(e.conns, &listener{kind: kind, conn: conn})
			if i == 0 {
				// Siblings bind the port the first one got (matters for ":0").
				addr = conn.LocalAddr().String()
				e.logBuffer(kind, conn)
			}
		}
		return nil
	}
	for _, a := range e.cfg.NetFlowListen {
		if err := bind("netflow", a); err != nil {
			return err
		}
	}
	for _, a := range e.cfg.IPFIXListen {
		if err := bind("ipfix", a); err != nil {
			return err
		}
	}
	for _, a := range e.cfg.SFlowListen {
		if err := bind("sflow", a); err != nil {
			return err
		}
	}
	return nil
}

// socketOptions sets SO_REUSEPORT and the receive buffer before bind.
func (e *Edge) socketOptions(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			serr = fmt.Errorf("SO_REUSEPORT on %s: %w", address, err)
			return
		}
		if e.cfg.ReceiveBuffer > 0 {
			// SO_RCVBUFFORCE passes rmem_max with CAP_NET_ADMIN; without it
			// the plain option gets as much as the kernel allows.
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, e.cfg.ReceiveBuffer) != nil {
				if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, e.cfg.ReceiveBuffer); err != nil {
					serr = fmt.Errorf("SO_RCVBUF on %s: %w", address, err)
				}
			}
		}
	})
	return errors.Join(err, serr)
}

// logBuffer logs the receive buffer the kernel granted (it reports double
// the usable size).
func (e *Edge) logBuffer(kind string, conn *net.UDPConn) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return
	}
	got := 0
	_ = raw.Control(func(fd uintptr) { got, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) })
	level := e.log.Info
	if got/2 < e.cfg.ReceiveBuffer {
		level = e.log.Warn
	}
	level("listening", "kind", kind, "addr", conn.LocalAddr().String(), "sockets", e.cfg.SocketsPerAddress,
		"rcvbuf_wanted", e.cfg.ReceiveBuffer, "rcvbuf_kernel", got)
}

// read receives datagrams until the socket is closed and dispatches each
// to the worker owning its exporter.
func (e *Edge) read(l *listener) {
	if e.holdReads != nil {
		<-e.holdReads // tests: datagrams queue in the socket meanwhile
	}
	buf := make([]byte, 65536)
	for {
		n, from, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			e.stats.ReadErrors.Add(1)
			e.log.Warn("read datagram", "kind", l.kind, "err", err)
			continue
		}
		p := e.packets.Get().(*packet)
		p.buf = append(p.buf[:0], buf[:n]...)
		p.from, p.at = from, e.now()
		e.stats.Received.Add(1)
		e.dispatch(p)
	}
}

// dispatch queues p on its exporter's worker, or drops and counts it when
// that queue is full.
func (e *Edge) dispatch(p *packet) {
	a := p.from.Addr().As16()
	h := uint64(14695981039346656037)
	for _, c := range a {
		h = (h ^ uint64(c)) * 1099511628211
	}
	w := e.workers[h%uint64(len(e.workers))]
	select {
	case w.queue <- p:
	default:
		e.stats.QueueDrops.Add(1)
		e.packets.Put(p)
	}
}
