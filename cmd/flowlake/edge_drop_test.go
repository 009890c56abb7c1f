package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestEdgeDropDir runs `flowlake edge --drop-dir` (its core down): the
// device document's trace sample dropped there becomes tcp_conns and
// tcp_packets segments in the spool, a malformed one goes to failed/, and
// `flowlake edge status` reports both.
func TestEdgeDropDir(t *testing.T) {
	dir := t.TempDir()
	spool, drop := filepath.Join(dir, "spool"), filepath.Join(dir, "drop")
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("fl_test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(drop, 0o755); err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile(filepath.Join(tcptraceSamples, "cache-packet-ip.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(drop, "trace.txt"), sample, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(drop, "bad.txt"), []byte("<sw1> display tcp trace cache-connection ip\n 1.1.1.x:23  1.1.1.2:23  N/A  RT  20:29:08\n July 1 2019\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	status := "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))
	core := "http://127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	exited := make(chan int, 1)
	stopped := make(chan struct{})
	t.Cleanup(func() { cancel(); <-stopped })
	go func() {
		defer close(stopped)
		exited <- run(ctx, []string{"edge", "--core", core, "--token-file", tokenFile, "--spool", spool, "--status-listen", status,
			"--netflow-listen", "", "--ipfix-listen", "", "--sflow-listen", "", "--drop-dir", drop}, &stdout, &stderr, hooks{})
	}()
	url := "http://" + status
	var out string
	deadline := time.Now().Add(20 * time.Second)
	for {
		var code int
		out, _, code = runCLI(t, nil, "edge", "status", "--url", url)
		if code == 0 && strings.Contains(out, "1 done, 1 failed") {
			break
		}
		select {
		case c := <-exited:
			t.Fatalf("flowlake edge exited %d: %s", c, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dropped files were not taken: %q", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"drop folder", "failed parse", "rows tcp_conns", `bad.txt:2:2: local address: "1.1.1.x" is not an IP address`} {
		if !strings.Contains(out, want) {
			t.Errorf("edge status lacks %q:\n%s", want, out)
		}
	}
	cancel()
	if c := <-exited; c != 0 {
		t.Fatalf("flowlake edge exited %d: %s", c, stderr.String())
	}
	if b, err := os.ReadFile(filepath.Join(drop, "failed", "bad.txt.error")); err != nil || !strings.Contains(string(b), "bad.txt:2:2:") {
		t.Errorf("failed/bad.txt.error: %q %v", b, err)
	}
	lc := lake.DefaultConfig()
	lc.Root = spool
	l, err := lake.Open(lc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	count := func(ds string) (n int64) {
		segs, err := l.Segments(context.Background(), ds, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range segs {
			n += s.Rows
		}
		return n
	}
	if c, p := count(schema.TCPConns), count(schema.TCPPackets); c != 1 || p != 3 {
		t.Errorf("spool holds %d tcp_conns and %d tcp_packets rows, want 1 and 3", c, p)
	}
}
