package tcptrace

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/sys/unix"
)

// The fault test's addresses: the traced client and the server, on a veth
// pair between two network namespaces.
const (
	faultClient = "10.99.0.1"
	faultServer = "10.99.0.2"
	endMarker   = "flowlake-fault-test-end"
)

// TestFaultHelperServer is not a test: TestScriptedFaults runs the test
// binary as a real server process in the server namespace with
// FLOWLAKE_FAULT_SERVER=port. It accepts one connection, never reads it,
// reports once data waits unread in its receive queue, and waits to be
// killed: the kernel then resets the connection (RR at the client).
func TestFaultHelperServer(t *testing.T) {
	port := os.Getenv("FLOWLAKE_FAULT_SERVER")
	if port == "" {
		t.Skip("helper process of TestScriptedFaults")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(faultServer, port))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("listening")
	c, err := ln.Accept()
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	raw, _ := c.(*net.TCPConn).SyscallConn()
	for {
		var n int
		_ = raw.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
		if n > 0 {
			break
		}
		runtime.Gosched()
	}
	fmt.Println("queued")
	_, _ = io.Copy(io.Discard, os.Stdin) // until killed
	os.Exit(0)
}

// netns is a named network namespace the test created.
type netns string

// run runs a command inside the namespace.
func (n netns) run(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", string(n)}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns exec %s %s: %v: %s", n, strings.Join(args, " "), err, out)
	}
}

// do runs fn on a thread switched into the namespace: sockets fn creates
// belong to it.
func (n netns) do(fn func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + string(n))
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", n, err)
	}
	ferr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		return errors.Join(ferr, fmt.Errorf("setns back: %w", err)) // the thread stays locked and dies with the goroutine
	}
	runtime.UnlockOSThread()
	return ferr
}

// faultNet sets up the two namespaces joined by a veth pair, with short
// kernel retransmission limits in the client's, and removes them at the end.
func faultNet(t *testing.T) (client, server netns) {
	t.Helper()
	if os.Geteuid() != 0 {
		mustGate(t, "network namespaces need root")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			mustGate(t, "%s not installed (Debian packages iproute2, nftables)", tool)
		}
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	client, server = netns("flc"+id), netns("fls"+id)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", string(client))
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", string(client)).Run() })
	ip("netns", "add", string(server))
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", string(server)).Run() })
	ip("link", "add", "vc"+id, "netns", string(client), "type", "veth", "peer", "name", "vs"+id, "netns", string(server))
	client.run(t, "ip", "addr", "add", faultClient+"/24", "dev", "vc"+id)
	server.run(t, "ip", "addr", "add", faultServer+"/24", "dev", "vs"+id)
	for _, n := range []netns{client, server} {
		n.run(t, "ip", "link", "set", "lo", "up")
		n.run(t, "nft", "add table inet flt; add chain inet flt in { type filter hook input priority 0; }; add chain inet flt out { type filter hook output priority 0; }")
	}
	client.run(t, "ip", "link", "set", "vc"+id, "up")
	server.run(t, "ip", "link", "set", "vs"+id, "up")
	// A few retransmissions (about 3 s) before the client gives up on
	// unacknowledged data or window probes.
	client.run(t, "sysctl", "-qw", "net.ipv4.tcp_retries2=3")
	return client, server
}

// blackhole drops in ns every packet of port's connections, in and out:
// the host vanishes for that connection (its later RSTs never leave).
func blackhole(t *testing.T, ns netns, port int) {
	ns.run(t, "nft", fmt.Sprintf("add rule inet flt in tcp dport %d drop; add rule inet flt out tcp sport %d drop", port, port))
}

// capturer reads the client's veth with AF_PACKET and feeds the tracer.
type capturer struct {
	tp    *afpacket.TPacket
	tr    *Tracer
	mu    sync.Mutex
	watch []func(*Packet) bool // removed once they return true
	done  chan struct{}
	err   error
}

func (c *capturer) run(ctx context.Context) {
	defer close(c.done)
	for ctx.Err() == nil {
		data, ci, err := c.tp.ZeroCopyReadPacketData()
		if errors.Is(err, afpacket.ErrTimeout) {
			continue
		}
		if err != nil {
			c.err = err
			return
		}
		if bytes.Contains(data, []byte(endMarker)) {
			return
		}
		var p Packet
		if err := Decode(LinkEthernet, data, ci.Timestamp, &p); err != nil {
			c.tr.countDecode(err)
			continue
		}
		c.tr.Feed(&p)
		c.mu.Lock()
		kept := c.watch[:0]
		for _, w := range c.watch {
			if !w(&p) {
				kept = append(kept, w)
			}
		}
		c.watch = kept
		c.mu.Unlock()
	}
}

// when returns a channel closed once the capture sees a packet cond holds for.
func (c *capturer) when(cond func(*Packet) bool) <-chan struct{} {
	ch := make(chan struct{})
	c.mu.Lock()
	c.watch = append(c.watch, func(p *Packet) bool {
		if cond(p) {
			close(ch)
			return true
		}
		return false
	})
	c.mu.Unlock()
	return ch
}

// TestScriptedFaults is the acceptance test of the passive tracer: real
// client and server sockets in two network namespaces, a capture on the
// client's veth, and one scripted close per reason. Each connection must
// give one record with exactly its reason.
func TestScriptedFaults(t *testing.T) {
	if os.Getenv("FLOWLAKE_FAULT_SERVER") != "" {
		t.Skip("inside the helper process")
	}
	client, server := faultNet(t)
	id := strings.TrimPrefix(string(client), "flc")

	cfg := DefaultTracerConfig()
	cfg.Local = []netip.Prefix{netip.MustParsePrefix(faultClient + "/32")}
	cfg.CacheMode, cfg.CloseWait, cfg.StallTimeout = CacheAll, time.Second, 5*time.Second
	tr, err := NewTracer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cp := &capturer{tr: tr, done: make(chan struct{})}
	if err := client.do(func() error {
		var err error
		cp.tp, err = afpacket.NewTPacket(afpacket.OptInterface("vc"+id), afpacket.OptPollTimeout(50*time.Millisecond))
		return err
	}); err != nil {
		t.Fatalf("afpacket on the client's veth: %v", err)
	}
	defer cp.tp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	go cp.run(ctx)

	dial := func(port int, ka *net.KeepAliveConfig) (*net.TCPConn, error) {
		var c net.Conn
		err := client.do(func() error {
			d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: -1}
			if ka != nil {
				d.KeepAliveConfig = *ka
			}
			var err error
			c, err = d.DialContext(ctx, "tcp", net.JoinHostPort(faultServer, strconv.Itoa(port)))
			return err
		})
		if err != nil {
			return nil, err
		}
		return c.(*net.TCPConn), nil
	}
	listen := func(port int, rcvbuf int) (net.Listener, error) {
		var ln net.Listener
		err := server.do(func() error {
			lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				if rcvbuf > 0 {
					_ = rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf) })
				}
				return serr
			}}
			var err error
			ln, err = lc.Listen(ctx, "tcp", net.JoinHostPort(faultServer, strconv.Itoa(port)))
			return err
		})
		return ln, err
	}
	fromServer := func(port int, cond func(*Packet) bool) func(*Packet) bool {
		return func(p *Packet) bool { return p.SrcPort == uint16(port) && cond(p) }
	}

	scenarios := []struct {
		port   int
		reason string
		run    func(port int) error
	}{
		{9101, "AN", func(port int) error { // the client closes first
			ln, err := listen(port, 0)
			if err != nil {
				return err
			}
			defer ln.Close()
			served := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err == nil {
					_, err = io.Copy(io.Discard, c)
					err = errors.Join(err, c.Close())
				}
				served <- err
			}()
			c, err := dial(port, nil)
			if err != nil {
				return err
			}
			if _, err := c.Write([]byte("hello")); err != nil {
				return err
			}
			if err := c.CloseWrite(); err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, c)
			return errors.Join(c.Close(), <-served)
		}},
		{9102, "PN", func(port int) error { // the server closes first
			ln, err := listen(port, 0)
			if err != nil {
				return err
			}
			defer ln.Close()
			go func() {
				if c, err := ln.Accept(); err == nil {
					_, _ = c.Write([]byte("bye"))
					_ = c.Close()
				}
			}()
			c, err := dial(port, nil)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, c)
			return c.Close()
		}},
		{9103, "SR", func(port int) error { // the client resets
			ln, err := listen(port, 0)
			if err != nil {
				return err
			}
			defer ln.Close()
			// The server reads until the reset arrives and only then
			// closes: closing earlier with "abort" unread would send its own
			// reset, racing the client's.
			served := make(chan error, 1)
			go func() {
				s, err := ln.Accept()
				if err != nil {
					served <- err
					return
				}
				_, err = io.Copy(io.Discard, s)
				_ = s.Close()
				if !errors.Is(err, syscall.ECONNRESET) {
					err = fmt.Errorf("server read: %v, want a reset", err)
				} else {
					err = nil
				}
				served <- err
			}()
			c, err := dial(port, nil)
			if err != nil {
				return err
			}
			if _, err := c.Write([]byte("abort")); err != nil {
				return err
			}
			if err := c.SetLinger(0); err != nil {
				return err
			}
			return errors.Join(c.Close(), <-served)
		}},
		{9104, "RR", func(port int) error { // the server process is killed
			cmd := exec.CommandContext(ctx, "ip", "netns", "exec", string(server), os.Args[0], "-test.run", "^TestFaultHelperServer$")
			cmd.Env = append(os.Environ(), "FLOWLAKE_FAULT_SERVER="+strconv.Itoa(port))
			stdin, err := cmd.StdinPipe()
			if err != nil {
				return err
			}
			defer stdin.Close()
			out, err := cmd.StdoutPipe()
			if err != nil {
				return err
			}
			if err := cmd.Start(); err != nil {
				return err
			}
			lines := bufio.NewScanner(out)
			next := func(want string) error {
				for lines.Scan() {
					if strings.HasPrefix(lines.Text(), want) {
						return nil
					}
				}
				return fmt.Errorf("helper server: no %q line (%v)", want, lines.Err())
			}
			if err := next("listening"); err != nil {
				return err
			}
			c, err := dial(port, nil)
			if err != nil {
				return err
			}
			defer c.Close()
			if _, err := c.Write([]byte("unread data")); err != nil {
				return err
			}
			if err := next("queued"); err != nil {
				return err
			}
			if err := cmd.Process.Kill(); err != nil {
				return err
			}
			_ = cmd.Wait()
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
				return fmt.Errorf("client read after the kill: %v, want a reset", err)
			}
			return nil
		}},
		{9105, "RT", func(port int) error { // blackholed mid-transfer
			ln, err := listen(port, 0)
			if err != nil {
				return err
			}
			defer ln.Close()
			go func() {
				if c, err := ln.Accept(); err == nil {
					_, _ = io.Copy(io.Discard, c)
				}
			}()
			c, err := dial(port, nil)
			if err != nil {
				return err
			}
			defer c.Close()
			if _, err := c.Write([]byte("first")); err != nil {
				return err
			}
			<-cp.when(fromServer(port, func(p *Packet) bool { return p.Ack > 0 && p.Flags&FlagSYN == 0 }))
			blackhole(t, server, port)
			if _, err := c.Write(bytes.Repeat([]byte("x"), 1000)); err != nil {
				return err
			}
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ETIMEDOUT) {
				return fmt.Errorf("client read: %v, want a retransmission timeout", err)
			}
			return nil
		}},
		{9106, "KT", func(port int) error { // the peer silently gone while idle
			ln, err := listen(port, 0)
			if err != nil {
				return err
			}
			defer ln.Close()
			go func() {
				if c, err := ln.Accept(); err == nil {
					_, _ = io.Copy(io.Discard, c)
				}
			}()
			c, err := dial(port, &net.KeepAliveConfig{Enable: true, Idle: time.Second, Interval: time.Second, Count: 3})
			if err != nil {
				return err
			}
			defer c.Close()
			blackhole(t, server, port)
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ETIMEDOUT) {
				return fmt.Errorf("client read: %v, want a keepalive timeout", err)
			}
			return nil
		}},
		{9107, "PT", func(port int) error { // the receiver stops reading, then vanishes
			ln, err := listen(port, 4096)
			if err != nil {
				return err
			}
			defer ln.Close()
			held := make(chan net.Conn, 1)
			go func() {
				c, _ := ln.Accept() // and never read
				held <- c
			}()
			c, err := dial(port, nil)
			if err != nil {
				return err
			}
			defer c.Close()
			if s := <-held; s != nil {
				defer s.Close()
			}
			zero := cp.when(fromServer(port, func(p *Packet) bool { return p.Window == 0 && p.Flags&FlagRST == 0 }))
			wrote := make(chan error, 1)
			go func() {
				_, err := c.Write(bytes.Repeat([]byte("y"), 4<<20))
				wrote <- err
			}()
			select {
			case <-zero:
			case err := <-wrote:
				return fmt.Errorf("the write ended before a zero window: %v", err)
			}
			blackhole(t, server, port)
			if err := <-wrote; !errors.Is(err, syscall.ETIMEDOUT) {
				return fmt.Errorf("client write: %v, want a persist timeout", err)
			}
			return nil
		}},
		{9108, "AA", func(port int) error { // the client closes with the server's data unacknowledged
			client.run(t, "nft", fmt.Sprintf("add rule inet flt in tcp sport %d ip length > 100 drop", port))
			ln, err := listen(port, 0)
			if err != nil {
				return err
			}
			defer ln.Close()
			go func() {
				if c, err := ln.Accept(); err == nil {
					_, _ = c.Write(bytes.Repeat([]byte("z"), 200))
					_, _ = io.Copy(io.Discard, c)
				}
			}()
			data := cp.when(fromServer(port, func(p *Packet) bool { return p.Payload > 0 }))
			c, err := dial(port, nil)
			if err != nil {
				return err
			}
			<-data // on the wire, dropped before the client's TCP
			return c.Close()
		}},
	}

	errs := make(chan error, len(scenarios))
	for _, sc := range scenarios {
		go func() {
			if err := sc.run(sc.port); err != nil {
				errs <- fmt.Errorf("%s (port %d): %w", sc.reason, sc.port, err)
				return
			}
			errs <- nil
		}()
	}
	for range scenarios {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	// The end marker: once the capture reads it, every earlier frame is in.
	if err := client.do(func() error {
		u, err := net.Dial("udp", net.JoinHostPort(faultServer, "9"))
		if err != nil {
			return err
		}
		defer u.Close()
		_, err = u.Write([]byte(endMarker))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	<-cp.done
	if cp.err != nil {
		t.Fatalf("capture: %v", cp.err)
	}
	if _, st, err := cp.tp.SocketStats(); err == nil && st.Drops() > 0 {
		t.Errorf("the capture ring dropped %d frames: the records below may miss packets", st.Drops())
	}
	// Silence since the last packet: stalled connections end, closed ones
	// pass their close wait; what is left is written as open.
	tr.Advance(time.Now().Add(cfg.StallTimeout + cfg.CloseWait))
	tr.Flush(time.Now().Add(cfg.StallTimeout + cfg.CloseWait))
	got := map[int][]string{}
	for _, r := range tr.Take() {
		got[int(r.Conn.ForeignPort)] = append(got[int(r.Conn.ForeignPort)], r.Conn.Reason+" "+r.Conn.ConnState+" "+r.Conn.History+" "+r.Conn.End)
	}
	for _, sc := range scenarios {
		recs := got[sc.port]
		if len(recs) != 1 || !strings.HasPrefix(recs[0], sc.reason+" ") {
			t.Errorf("port %d: records %q, want one with reason %s", sc.port, recs, sc.reason)
		} else {
			t.Logf("port %d: %s", sc.port, recs[0])
		}
		delete(got, sc.port)
	}
	if len(got) > 0 {
		t.Errorf("other records: %v", got)
	}
}
