package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// historyDevices returns, from a lake, the device names of the flows and
// the interface name of each device's interface indexes.
func historyDevices(t *testing.T, dir, from, to string) (map[string]bool, map[string]string) {
	t.Helper()
	out, errOut, code := runCLI(t, nil, "query", "flows", "--data", dir, "--from", from, "--to", to,
		"--by", "device,in_if,in_if_name", "--metrics", "count()", "--limit", "100000", "--format", "csv")
	if code != 0 {
		t.Fatalf("query: exit %d: %s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("query csv: %v %q", err, out)
	}
	devices, ifs := map[string]bool{}, map[string]string{}
	for _, r := range rows[1:] {
		devices[r[0]] = true
		ifs[r[0]+"|"+r[1]] = r[2]
	}
	return devices, ifs
}

// TestLiveExportersMatchHistory checks that the devices the demo exports
// live carry the names, and interface names, of the history generated
// with the same seed, each from an address of its own.
func TestLiveExportersMatchHistory(t *testing.T) {
	t.Parallel()
	devices, ifs := historyDevices(t, genLake(t), "2026-11-03T10:00:00Z", "2026-11-03T12:00:00Z") // seed 7
	xs, err := liveExporters(7)
	if err != nil {
		t.Fatal(err)
	}
	if len(xs) < 3 {
		t.Fatalf("%d live exporters, want several", len(xs))
	}
	addrs := map[string]bool{}
	kinds := map[string]bool{}
	for _, x := range xs {
		if !devices[x.name] {
			t.Errorf("live device %q is not a device of the history (%v)", x.name, devices)
		}
		if addrs[x.addr.String()] {
			t.Errorf("%s shares address %s", x.name, x.addr)
		}
		addrs[x.addr.String()], kinds[x.kind] = true, true
		if len(x.interfaces) == 0 {
			t.Errorf("%s has no interface names", x.name)
		}
		for idx, name := range x.interfaces {
			if h, ok := ifs[x.name+"|"+itoa(idx)]; ok && h != name {
				t.Errorf("%s interface %d is %q live, %q in the history", x.name, idx, name, h)
			}
		}
	}
	if len(kinds) < 2 {
		t.Errorf("live traffic uses only %v", kinds)
	}
	cfg := demoEnrichment(DefaultConfig().Edge.Enrich, xs)
	if len(cfg.Exporters) != len(xs) {
		t.Errorf("enrichment names %d exporters, want %d", len(cfg.Exporters), len(xs))
	}
}

func itoa(n uint32) string { b, _ := json.Marshal(n); return string(b) }

// TestDemoLiveTrafficNames runs the demo with live traffic and checks that
// the rows the edge writes from it name the history's devices.
func TestDemoLiveTrafficNames(t *testing.T) {
	skipShort(t, "runs the demo with live traffic for several seconds")
	if runtime.GOOS != "linux" {
		t.Skip("devices send from their own 127.0.1.x address, which only Linux routes to loopback")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addrs := make(chan net.Addr, 1)
	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	began := time.Now().UTC()
	go func() {
		done <- run(ctx, []string{"demo", "--data", dir, "--days", "1", "--rate", "0.5", "--live-rate", "200", "--json", "--log-level", "warn",
			"--listen", "127.0.0.1:0", "--netflow-listen", "127.0.0.1:0", "--ipfix-listen", "127.0.0.1:0", "--sflow-listen", "127.0.0.1:0"},
			&stdout, &stderr, hooks{environ: []string{"FLOWLAKE_EDGE_BATCH_AGE=1s"}, onListen: func(a net.Addr) { addrs <- a }})
	}()
	select {
	case <-addrs:
	case code := <-done:
		t.Fatalf("demo exited %d: %s", code, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatal("demo did not serve within 60s")
	}
	// The history ends when the demo started serving; live rows start after.
	serving := time.Now().UTC().Add(time.Second).Truncate(time.Second)
	history, _ := historyDevices(t, dir, began.Add(-25*time.Hour).Format(time.RFC3339), serving.Format(time.RFC3339))
	// Wait (a bounded number of query rounds) for live rows to land.
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var live map[string]bool
	for range 60 {
		<-tick.C
		out, _, code := runCLI(t, nil, "query", "flows", "--data", dir, "--from", serving.Format(time.RFC3339), "--to", "now",
			"--by", "device", "--metrics", "count()", "--format", "csv")
		if code == 0 && strings.Count(out, "\n") > 3 {
			rows, _ := csv.NewReader(strings.NewReader(out)).ReadAll()
			live = map[string]bool{}
			for _, r := range rows[1:] {
				live[r[0]] = true
			}
			break
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("demo exited %d: %s", code, stderr.String())
	}
	if len(live) < 3 {
		t.Fatalf("live rows from %d devices in the lake, want several:\n%s", len(live), stderr.String())
	}
	for d := range live {
		if !history[d] {
			t.Errorf("live rows name device %q, not a device of the history (%v)", d, history)
		}
	}
}
