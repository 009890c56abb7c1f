package edge

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// inNetnsThread switches the calling goroutine's OS thread into the
// network namespace at path for good: the goroutine must end without
// unlocking, so the runtime retires the thread instead of reusing it.
func inNetnsThread(path string) error {
	runtime.LockOSThread()
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
}

// TestTCPTraceLiveRate drives a veth pair as fast as this machine can for
// a while and checks that the edge's live capture keeps up: zero kernel
// drops (the AF_PACKET ring's tp_drops) and every frame the ring handed
// over traced. The generator, in a client namespace, runs 16 connections
// writing 64-byte segments with Nagle off to a server that discards them,
// plus a churn of short connections reset by the client (SO_LINGER 0, so
// the tracer writes SR rows while it traces). The tracer captures the
// client's veth with the default settings.
//
// It runs 3 s in the suite; FLOWLAKE_LIVE60=1 runs the 60 s and
// logs the rate (docs/benchmarks.md).
func TestTCPTraceLiveRate(t *testing.T) {
	if os.Geteuid() != 0 {
		mustGate(t, "network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		mustGate(t, "ip not installed (Debian package iproute2)")
	}
	dur := 3 * time.Second
	if os.Getenv("FLOWLAKE_LIVE60") == "1" {
		dur = 60 * time.Second
	}
	id := fmt.Sprintf("%04x", os.Getpid()&0xffff)
	cli, srv := "flrate-"+id+"-cli", "flrate-"+id+"-srv"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, n := range []string{cli, srv} {
		run("ip", "netns", "add", n)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n).Run() })
	}
	run("ip", "-n", cli, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", srv)
	run("ip", "-n", cli, "addr", "add", "10.79.0.1/24", "dev", "eth0")
	run("ip", "-n", srv, "addr", "add", "10.79.0.2/24", "dev", "eth0")
	run("ip", "-n", cli, "link", "set", "eth0", "up")
	run("ip", "-n", srv, "link", "set", "eth0", "up")

	cfg := DefaultConfig()
	cfg.ID = "edge-rate"
	cfg.NetFlowListen, cfg.IPFIXListen, cfg.SFlowListen = nil, nil, nil
	cfg.TCPTrace.Interfaces, cfg.TCPTrace.Netns = []string{"eth0"}, "/var/run/netns/"+cli
	cfg.TCPTrace.Local = []string{"10.79.0.1/32"}
	cfg.QuarantineFile = t.TempDir() + "/q.jsonl"
	lk := openLake(t)
	e, err := New(cfg, Deps{Lake: lk, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = e.Stop()
		}
	})

	// The generator runs in its own process (this test binary, started in
	// the client namespace), as traffic comes from other hosts: in this
	// process it would take the Go scheduler from the capture's reader.
	// It runs at the lowest CPU priority (nice 19): it still sends as fast
	// as the cores it shares with the edge allow, but it cannot starve the
	// capture of the CPU a collector would have to itself.
	gen := exec.Command("ip", "netns", "exec", cli, "nice", "-n", "19", os.Args[0], "-test.run", "^TestTCPTraceRateHelper$", "-test.v")
	gen.Env = append(os.Environ(), "FLOWLAKE_RATE_HELPER=1", "FLOWLAKE_RATE_SERVER_NS=/var/run/netns/"+srv,
		"FLOWLAKE_RATE_DURATION="+dur.String())
	start := time.Now()
	out, err := gen.CombinedOutput()
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("generator: %v\n%s", err, out)
	}
	var churned uint64
	for _, l := range strings.Split(string(out), "\n") {
		if _, err := fmt.Sscanf(strings.TrimSpace(l), "churned %d", &churned); err == nil {
			break
		}
	}
	// Let the reader drain the ring, then read the kernel's counters
	// before the socket closes.
	var last string
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, caps := e.tcpTrace.stats()
		if len(caps) != 1 {
			t.Fatalf("capture stats %+v: want one interface", caps)
		}
		decoded := st.Packets + st.Truncated + st.BadHeader + st.Fragments + st.NotTCP + st.OtherDecode
		c := caps[0]
		// tp_packets counts the frames the filter passed, dropped ones too.
		if c.KernelPackets > 0 && c.Packets+c.KernelDrops == c.KernelPackets && decoded == c.Packets {
			break
		}
		last = fmt.Sprintf("%+v, %d decoded", c, decoded)
		if time.Now().After(deadline) {
			t.Fatalf("the capture ring did not drain: %s", last)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, caps := e.tcpTrace.stats()
	stopped = true
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	st, _ := e.tcpTrace.stats() // rows written at stop included
	rate := float64(caps[0].KernelPackets) / elapsed.Seconds()
	t.Logf("%s of live capture: %d frames (%.0f frames/s), %d kernel drops, %d queue freezes; %d packets traced, %d connections churned, memory %d bytes, rows written %v",
		elapsed.Round(time.Millisecond), caps[0].KernelPackets, rate, caps[0].KernelDrops, caps[0].QueueFreezes, st.Packets, churned, st.MemoryUsed, st.Written)
	if caps[0].KernelDrops != 0 {
		t.Errorf("%d kernel drops: the capture did not keep up with %.0f frames/s", caps[0].KernelDrops, rate)
	}
	if churned == 0 || st.Written["SR"] == 0 {
		t.Errorf("%d connections churned, %d SR rows written: want the churn traced", churned, st.Written["SR"])
	}
}

// TestTCPTraceRateHelper is TestTCPTraceLiveRate's generator when
// FLOWLAKE_RATE_HELPER=1 (skipped otherwise): started in the client
// namespace, it listens in the server namespace (FLOWLAKE_RATE_SERVER_NS)
// and drives 16 connections and a churn of short ones for
// FLOWLAKE_RATE_DURATION, then prints "churned N".
func TestTCPTraceRateHelper(t *testing.T) {
	if os.Getenv("FLOWLAKE_RATE_HELPER") != "1" {
		t.Skip("the generator of TestTCPTraceLiveRate")
	}
	dur, err := time.ParseDuration(os.Getenv("FLOWLAKE_RATE_DURATION"))
	if err != nil {
		t.Fatal(err)
	}
	// The server: a listener opened inside the server namespace.
	lnc := make(chan net.Listener, 1)
	errc := make(chan error, 1)
	go func() {
		if err := inNetnsThread(os.Getenv("FLOWLAKE_RATE_SERVER_NS")); err != nil {
			errc <- err
			return
		}
		ln, err := net.Listen("tcp", "10.79.0.2:7100")
		if err != nil {
			errc <- err
			return
		}
		lnc <- ln
	}()
	var ln net.Listener
	select {
	case ln = <-lnc:
	case err := <-errc:
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); _ = c.Close() }()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var wg sync.WaitGroup
	var genErr atomic.Value
	var churned atomic.Uint64
	fail := func(err error) { genErr.CompareAndSwap(nil, err) }
	for range 16 {
		wg.Go(func() {
			c, err := net.Dial("tcp", "10.79.0.2:7100")
			if err != nil {
				fail(err)
				return
			}
			defer c.Close()
			_ = c.(*net.TCPConn).SetNoDelay(true)
			msg := make([]byte, 64)
			for ctx.Err() == nil {
				if _, err := c.Write(msg); err != nil {
					fail(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		runtime.LockOSThread() // its own thread, not starved by the writers
		for ctx.Err() == nil {
			c, err := net.Dial("tcp", "10.79.0.2:7100")
			if err != nil {
				fail(err)
				return
			}
			_, _ = c.Write([]byte("hello"))
			_ = c.(*net.TCPConn).SetLinger(0)
			_ = c.Close()
			churned.Add(1)
		}
	})
	wg.Wait()
	if err, _ := genErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("churned %d\n", churned.Load())
}
