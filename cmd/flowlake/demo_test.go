package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestDemoServesWithToken runs `flowlake demo` on an empty lake (one small
// day) and uses the token it prints to ask a TopN over HTTP.
func TestDemoServesWithToken(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addrs := make(chan net.Addr, 1)
	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"demo", "--data", dir, "--days", "1", "--rate", "0.5", "--live-rate", "0", "--json",
			"--listen", "127.0.0.1:0", "--netflow-listen", "127.0.0.1:0", "--ipfix-listen", "127.0.0.1:0", "--sflow-listen", "127.0.0.1:0",
			"--log-level", "warn"}, &stdout, &stderr, hooks{onListen: func(a net.Addr) { addrs <- a }})
	}()
	select {
	case <-addrs:
	case code := <-done:
		t.Fatalf("demo exited %d: %s", code, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatal("demo did not serve within 60s")
	}
	var info DemoInfo
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil || info.Token == "" {
		t.Fatalf("demo --json printed %q: %v", stdout.String(), err)
	}
	req, _ := http.NewRequest(http.MethodGet, info.URL+"/api/v1/topn?from=-24h&by=app&limit=3", nil)
	req.Header.Set("Authorization", "Bearer "+info.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 || len(body.Rows) != 3 {
		t.Fatalf("topn with the demo token: status %d, %d rows, %v", res.StatusCode, len(body.Rows), err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("demo exited %d: %s", code, stderr.String())
	}
}
