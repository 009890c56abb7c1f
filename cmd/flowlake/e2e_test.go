package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flowlake/flowlake/api"
	"github.com/flowlake/flowlake/storage/query"
)

// envRunMain makes the test binary run flowlake's Main with its arguments
// instead of the tests: TestServeProcess starts it as a real process.
const envRunMain = "FLOWLAKE_TEST_RUN_MAIN"

func init() {
	if os.Getenv(envRunMain) == "1" {
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
}

// TestServeProcess starts `flowlake serve` as a process on a generated lake
// and asks it one query in JSON, CSV and as an Arrow stream: the three
// answers are the same rows.
func TestServeProcess(t *testing.T) {
	dir := genLake(t)
	token := addUserToken(t, dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs bytes.Buffer
	cmd := exec.Command(os.Args[0], "serve", "--data", dir, "--listen", addr, "--log-level", "warn")
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve exited: %v\n%s", err, logs.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("serve did not stop on SIGINT\n%s", logs.String())
		}
	}()
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	q := `{"dataset":"flows","from":"2026-11-03T10:00:00Z","to":"2026-11-03T12:00:00Z","filter":"proto tcp","group_by":["dst_port","app"],"metrics":["sum(bytes)","count()","avg(packets)"],"limit":15}`
	ask := func(accept string) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+api.PathQuery, strings.NewReader(q))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), accept) {
			t.Fatalf("%s: %d %s: %s", accept, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		return body
	}
	var js api.QueryResponse
	dec := json.NewDecoder(bytes.NewReader(ask(api.MediaJSON)))
	dec.UseNumber() // numbers compare as numbers, not as float64 text
	if err := dec.Decode(&js); err != nil {
		t.Fatal(err)
	}
	lines, err := csv.NewReader(bytes.NewReader(ask(api.MediaCSV))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := ipc.NewReader(bytes.NewReader(ask(api.MediaArrow)), ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var n int
	for r.Next() {
		rec := r.RecordBatch()
		for i := range int(rec.NumRows()) {
			for c, f := range rec.Schema().Fields() {
				a := query.FormatValue(rec.Column(c), i+0)
				if lines[n+1][c] != a {
					t.Fatalf("row %d %s: csv %q, arrow %q", n, f.Name, lines[n+1][c], a)
				}
				if !sameNumberOrText(js.Rows[n][f.Name], a) {
					t.Fatalf("row %d %s: json %v, arrow %q", n, f.Name, js.Rows[n][f.Name], a)
				}
			}
			n++
		}
	}
	if n != 15 || len(js.Rows) != 15 || len(lines) != 16 {
		t.Fatalf("arrow %d rows, json %d, csv %d lines", n, len(js.Rows), len(lines))
	}
}

// sameNumberOrText compares a JSON value with the text of an Arrow cell:
// text exactly, numbers to 1e-9 relative (JSON floats are shortest, text
// has ten digits).
func sameNumberOrText(v any, text string) bool {
	switch v := v.(type) {
	case string:
		return v == text
	case json.Number:
		a, err1 := v.Float64()
		b, err2 := strconv.ParseFloat(text, 64)
		return err1 == nil && err2 == nil && math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
	}
	return v == nil && text == ""
}
