package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// testServer is `flowlake serve` running in this process on a lake.
type testServer struct {
	base   string
	token  string
	stop   func()        // stops serve and waits for it
	stderr *bytes.Buffer // serve's log; read only after stop
}

// startServe runs serve on dir with the environment env and the further
// arguments args, and returns once it listens; the test's cleanup stops it.
func startServe(t *testing.T, dir string, env []string, args ...string) *testServer {
	t.Helper()
	return startServeAs(t, dir, addUserToken(t, dir), env, args...)
}

// startServeAs is startServe with an existing API token, for a second
// serve on the same data directory.
func startServeAs(t *testing.T, dir, token string, env []string, args ...string) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- run(ctx, append([]string{"serve", "--data", dir, "--listen", "127.0.0.1:0"}, args...), &stdout, &stderr,
			hooks{environ: env, onListen: func(a net.Addr) { addrs <- a }})
	}()
	s := &testServer{token: token, stderr: &stderr}
	select {
	case a := <-addrs:
		s.base = "http://" + a.String()
	case code := <-done:
		cancel()
		t.Fatalf("serve exited %d before listening: %s", code, stderr.String())
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("serve did not listen within 20s")
	}
	stopped := false
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d: %s", code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s")
		}
	}
	t.Cleanup(s.stop)
	return s
}

// put uploads body to path and returns the status and body.
func (s *testServer) put(ctx context.Context, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/vnd.apache.parquet")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, out, err
}

// get fetches path and returns the status and body.
func (s *testServer) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, out, err
}

// metric reads one unlabelled counter or gauge from serve's /metrics.
func (s *testServer) metric(ctx context.Context, name string) (float64, error) {
	status, body, err := s.get(ctx, "/metrics")
	if err != nil || status != http.StatusOK {
		return 0, fmt.Errorf("metrics: %d %v: %s", status, err, body)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				return 0, fmt.Errorf("metric %s: %q: %w", name, v, err)
			}
			return f, nil
		}
	}
	return 0, fmt.Errorf("metric %s: not in /metrics", name)
}

// post sends body as JSON to path and returns the status, headers and body.
func (s *testServer) post(ctx context.Context, path string, body any) (int, http.Header, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, out, err
}

// graphQL sends one GraphQL query and returns the decoded response.
func (s *testServer) graphQL(ctx context.Context, q string) (map[string]any, error) {
	code, _, body, err := s.post(ctx, "/api/v1/graphql", map[string]any{"query": q})
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil || code != http.StatusOK {
		return nil, &httpError{code: code, body: strings.TrimSpace(string(body))}
	}
	return out, nil
}

type httpError struct {
	code int
	body string
}

func (e *httpError) Error() string { return "http " + http.StatusText(e.code) + ": " + e.body }

// scratchLake opens a lake in a new temporary directory, where tests write
// the segments they upload.
func scratchLake(t *testing.T) *lake.Lake {
	t.Helper()
	cfg := lake.DefaultConfig()
	cfg.Root = t.TempDir()
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// uploadable writes rows as one segment of source into the scratch lake l
// and returns the segment's id and its bytes, ready for
// PUT /api/v1/ingest/segments/{id}.
func uploadable(ctx context.Context, l *lake.Lake, source string, rows []schema.Flow) (string, []byte, error) {
	segs, err := lake.Write(ctx, l, source, rows)
	if err != nil || len(segs) != 1 {
		return "", nil, fmt.Errorf("scratch segment of %s: %v (%d segments)", source, err, len(segs))
	}
	data, err := os.ReadFile(filepath.Join(l.Config().Root, filepath.FromSlash(segs[0].Key)))
	if err != nil {
		return "", nil, err
	}
	return lake.SegmentID(segs[0]), data, nil
}
