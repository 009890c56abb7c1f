//go:build unix

package query

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestOutOfDescriptorsIsAnError runs a query over more files than the
// process may open: the answer is an error that says so, not an answer
// "missing" every file it could not open as if they were unreadable.
func TestOutOfDescriptorsIsAnError(t *testing.T) {
	ctx := t.Context()
	cfg := lake.DefaultConfig()
	cfg.Root = t.TempDir()
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	base := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
	const files = 60
	for i := range files {
		rows := []schema.Flow{{Time: schema.Micros(base.Add(time.Duration(i) * time.Minute)), Bytes: 1}}
		if _, err := lake.Write(ctx, l, "edge", rows); err != nil {
			t.Fatal(err)
		}
	}
	e := New(l, Config{OpenFiles: -1}, nil)
	defer e.Close()
	q := Query{Dataset: schema.Flows, From: base.Format(time.RFC3339), To: base.Add(time.Hour).Format(time.RFC3339),
		Metrics: []string{"count()"}, raw: true}
	if _, err := e.Run(ctx, q); err != nil { // the lake and catalog are warm
		t.Fatal(err)
	}

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot count open descriptors: %v", err)
		}
		t.Skipf("cannot count open descriptors: %v", err)
	}
	low := old
	low.Cur = uint64(len(entries) + files/3)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	_, err = e.Run(ctx, q)
	if rerr := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); rerr != nil {
		t.Fatal(rerr)
	}
	if !errors.Is(err, syscall.EMFILE) || !strings.Contains(err.Error(), "open-file limit") {
		t.Fatalf("query beyond the descriptor limit: err %v, want EMFILE naming the open-file limit", err)
	}
}

// TestManyFilesFewDescriptors runs a query over more files than the
// process may open: beyond parkFilesAbove files the engine gives each
// descriptor back between uses, so the answer is complete and right.
func TestManyFilesFewDescriptors(t *testing.T) {
	ctx := t.Context()
	cfg := lake.DefaultConfig()
	cfg.Root = t.TempDir()
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	base := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
	const files = parkFilesAbove + 44
	rows := make([]schema.Flow, files)
	for i := range rows {
		rows[i] = schema.Flow{Time: schema.Micros(base.Add(time.Duration(i) * time.Hour)), Bytes: uint64(i + 1)}
	}
	if _, err := lake.Write(ctx, l, "edge", rows); err != nil {
		t.Fatal(err)
	}
	e := New(l, Config{OpenFiles: -1}, nil)
	defer e.Close()
	q := Query{Dataset: schema.Flows, From: base.Format(time.RFC3339), To: base.Add(files * time.Hour).Format(time.RFC3339),
		Metrics: []string{"count()", "sum(bytes)"}, raw: true}
	if _, err := e.Run(ctx, q); err != nil { // the lake and catalog are warm
		t.Fatal(err)
	}

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot count open descriptors: %v", err)
		}
		t.Skipf("cannot count open descriptors: %v", err)
	}
	low := old
	low.Cur = uint64(len(entries) + 32)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(ctx, q)
	if rerr := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); rerr != nil {
		t.Fatal(rerr)
	}
	if err != nil {
		t.Fatalf("query over %d files with %d descriptors to spare: %v", files, 32, err)
	}
	defer res.Release()
	if len(res.Warnings) != 0 {
		t.Fatalf("warnings: %v", res.Warnings)
	}
	if got, want := csvText(res.Rows()), fmt.Sprintf("count(),sum(bytes)\n%d,%d\n", files, files*(files+1)/2); got != want {
		t.Fatalf("answer %q, want %q", got, want)
	}
}
