package edge

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// maxRestartDrain bounds the datagrams retire reads from one replaced
// socket: more than any receive buffer holds, so it ends even on a kernel
// that kept delivering to the socket.
const maxRestartDrain = 1 << 20

// retire empties a flow socket whose replacement is bound and reading, so
// that closing it loses nothing: it first takes the socket out of its
// port's SO_REUSEPORT group by connecting it to its own address (the
// kernel then gives a connected member only its peer's datagrams, and
// this peer sends none), then reads every datagram still queued in it and
// dispatches each as received (counted in Received and RestartDrained).
// It returns how many it read. The socket's own reader may take some of
// them meanwhile; the kernel gives each datagram to one read.
func (e *Edge) retire(l *listener) (int, error) {
	raw, err := l.conn.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("retire %s socket: %w", l.kind, err)
	}
	local := l.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	var cerr error
	n := 0
	err = raw.Control(func(fd uintptr) {
		cerr = unix.Connect(int(fd), selfPeer(local))
		buf := make([]byte, 65536)
		for n < maxRestartDrain {
			nr, from, err := unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil { // EAGAIN: nothing left
				return
			}
			p := e.packets.Get().(*packet)
			p.buf = append(p.buf[:0], buf[:nr]...)
			p.from, p.at = sockaddrPort(from), e.now()
			e.stats.Received.Add(1)
			e.stats.RestartDrained.Add(1)
			e.dispatch(p)
			n++
		}
	})
	if err != nil {
		return n, fmt.Errorf("retire %s socket %s: %w", l.kind, local, err)
	}
	if cerr != nil {
		// Still drained, but the socket stayed in the group until its
		// close: datagrams the kernel gave it after the drain are lost.
		return n, fmt.Errorf("retire %s socket %s: leave the port's group: %w", l.kind, local, cerr)
	}
	return n, nil
}

// selfPeer is the address a retired socket is connected to: its own, the
// loopback address of its family when it is bound to every address.
func selfPeer(local netip.AddrPort) unix.Sockaddr {
	a := local.Addr()
	if a.Is4() {
		if a.IsUnspecified() {
			a = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		return &unix.SockaddrInet4{Port: int(local.Port()), Addr: a.As4()}
	}
	if a.IsUnspecified() {
		a = netip.IPv6Loopback()
	}
	return &unix.SockaddrInet6{Port: int(local.Port()), Addr: a.As16()}
}

// sockaddrPort converts a datagram's source as ReadFromUDPAddrPort
// reports it (an IPv4 source on a dual-stack socket stays IPv4-mapped).
func sockaddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return netip.AddrPort{}
}
