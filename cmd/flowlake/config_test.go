package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestConfigGolden(t *testing.T) {
	out, errOut, code := runCLI(t, nil, "config")
	if code != 0 {
		t.Fatalf("flowlake config exited %d: %s", code, errOut)
	}
	golden(t, "config.golden.yaml", out)

	// The printed configuration is a valid configuration file that changes
	// nothing.
	file := filepath.Join(t.TempDir(), "flowlake.yaml")
	if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	again, errOut, code := runCLI(t, nil, "config", "--config", file)
	if code != 0 {
		t.Fatalf("flowlake config --config exited %d: %s", code, errOut)
	}
	if diff := cmp.Diff(out, again); diff != "" {
		t.Errorf("config round trip (-first +second):\n%s", diff)
	}
}

func TestConfigJSON(t *testing.T) {
	out, errOut, code := runCLI(t, nil, "config", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "config.golden.json", out)
}

func TestConfigLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "flowlake.yaml")
	if err := os.WriteFile(file, []byte(`
serve:
  listen: 0.0.0.0:9000
  read_timeout: 2m
lake:
  root: /srv/file
jobs:
  compact_every: 30m
  retention:
    max_age:
      flows: 30d
gen:
  rate: 7.5
`), 0o644); err != nil {
		t.Fatal(err)
	}
	type view struct {
		Listen      string
		Root        string
		ReadTimeout time.Duration
		Compact     time.Duration
		FlowsAge    time.Duration
		TCPAge      time.Duration
		Rate        float64
		Level       string
	}
	f := func(name string, env []string, args []string, want view) {
		t.Run(name, func(t *testing.T) {
			a := &app{hooks: hooks{environ: env}, stdout: io.Discard, stderr: io.Discard}
			root := a.rootCommand()
			root.SetArgs(append([]string{"config"}, args...))
			root.SetOut(&strings.Builder{})
			root.SetErr(&strings.Builder{})
			if err := root.Execute(); err != nil {
				t.Fatalf("execute: %v", err)
			}
			c := a.cfg
			got := view{c.Serve.Listen, c.Lake.Root, c.Serve.ReadTimeout, c.Jobs.CompactEvery,
				c.Jobs.Retention.MaxAge["flows"], c.Jobs.Retention.MaxAge["tcp_conns"], c.Gen.Rate, c.LogLevel}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("effective configuration (-want +got):\n%s", diff)
			}
		})
	}
	day := 24 * time.Hour
	f("defaults", nil, nil,
		view{"127.0.0.1:8080", "./data", time.Minute, 15 * time.Minute, 90 * day, 180 * day, 50, "info"})
	f("file over defaults", nil, []string{"--config", file},
		view{"0.0.0.0:9000", "/srv/file", 2 * time.Minute, 30 * time.Minute, 30 * day, 180 * day, 7.5, "info"})
	f("file named by the environment", []string{"FLOWLAKE_CONFIG=" + file}, nil,
		view{"0.0.0.0:9000", "/srv/file", 2 * time.Minute, 30 * time.Minute, 30 * day, 180 * day, 7.5, "info"})
	f("environment over file", []string{
		"FLOWLAKE_SERVE_LISTEN=127.0.0.1:9100", "FLOWLAKE_DATA=/srv/env", "FLOWLAKE_JOBS_COMPACT_EVERY=1h",
		"FLOWLAKE_JOBS_RETENTION_MAX_AGE_FLOWS=7d", "FLOWLAKE_GEN_RATE=3", "FLOWLAKE_LOG_LEVEL=debug",
		"FLOWLAKE_NOT_A_SETTING=1", "OTHER_SERVE_LISTEN=ignored",
	}, []string{"--config", file},
		view{"127.0.0.1:9100", "/srv/env", 2 * time.Minute, time.Hour, 7 * day, 180 * day, 3, "debug"})
	f("long env name for the lake root", []string{"FLOWLAKE_LAKE_ROOT=/srv/long"}, nil,
		view{"127.0.0.1:8080", "/srv/long", time.Minute, 15 * time.Minute, 90 * day, 180 * day, 50, "info"})
	f("empty variables are unset", []string{"FLOWLAKE_SERVE_LISTEN="}, nil,
		view{"127.0.0.1:8080", "./data", time.Minute, 15 * time.Minute, 90 * day, 180 * day, 50, "info"})
	f("flags over environment", []string{"FLOWLAKE_DATA=/srv/env", "FLOWLAKE_LOG_LEVEL=debug"},
		[]string{"--config", file, "--data", "/srv/flag", "--log-level", "warn"},
		view{"0.0.0.0:9000", "/srv/flag", 2 * time.Minute, 30 * time.Minute, 30 * day, 180 * day, 7.5, "warn"})
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f := func(name string, env []string, args []string, want string) {
		t.Run(name, func(t *testing.T) {
			_, errOut, code := runCLI(t, env, append([]string{"config"}, args...)...)
			if code == 0 {
				t.Fatal("succeeded")
			}
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr = %q, want it to contain %q", errOut, want)
			}
		})
	}
	f("unknown key", nil, []string{"--config", write("typo.yaml", "serve:\n  lisen: x\n")}, "lisen")
	f("bad duration", nil, []string{"--config", write("dur.yaml", "jobs:\n  compact_every: often\n")}, `duration "often"`)
	f("unitless duration", []string{"FLOWLAKE_JOBS_COMPACT_AFTER=600"}, nil, "has no unit")
	f("unknown dataset", nil, []string{"--config", write("ds.yaml", "jobs:\n  retention:\n    max_age:\n      flow: 1d\n")}, `unknown dataset "flow"`)
	f("invalid listen", []string{"FLOWLAKE_SERVE_LISTEN=nonsense"}, nil, "serve: listen")
	f("missing file", nil, []string{"--config", filepath.Join(dir, "absent.yaml")}, "absent.yaml")
	f("bad level", nil, []string{"--log-level", "loud"}, `log_level "loud"`)
}

func TestDurations(t *testing.T) {
	day := 24 * time.Hour
	for _, tt := range []struct {
		in   string
		d    time.Duration
		back string
	}{
		{"15m", 15 * time.Minute, "15m"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"90d", 90 * day, "90d"},
		{"1d12h", 36 * time.Hour, "1d12h"},
		{"0", 0, "0s"},
		{"10s", 10 * time.Second, "10s"},
		{"1500ms", 1500 * time.Millisecond, "1.5s"},
		{"2h", 2 * time.Hour, "2h"},
	} {
		d, err := parseDuration(tt.in)
		if err != nil || d != tt.d {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tt.in, d, err, tt.d)
		}
		if got := formatDuration(tt.d); got != tt.back {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.d, got, tt.back)
		}
	}
	for _, bad := range []string{"", "d", "xd", "1d-1h", "1w"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) succeeded", bad)
		}
	}
}

// TestEveryKeyDocumented keeps docs/configuration.md in step with Config:
// every key and its environment variable must appear there.
func TestEveryKeyDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range settingsOf(DefaultConfig()).keys("") {
		for _, want := range []string{"`" + key + "`", "`" + envName(key) + "`"} {
			if !strings.Contains(string(doc), want) {
				t.Errorf("docs/configuration.md does not mention %s", want)
			}
		}
	}
}

// TestConfigPrintsAddresses checks that `flowlake config` prints sampling
// rules' prefixes and exporters' addresses as text (not `prefix: {}`), in
// YAML and JSON, and that the printed file loads back to the same output.
func TestConfigPrintsAddresses(t *testing.T) {
	file := filepath.Join(t.TempDir(), "flowlake.yaml")
	if err := os.WriteFile(file, []byte(`
edge:
  flow:
    sampling:
      - prefix: 192.0.2.0/24
        rate: 100
      - prefix: 2001:db8::7/128
        rate: 512
        force: true
  enrich:
    exporters:
      - address: 192.0.2.10
        name: hq-sw1
        interfaces: {1: Gi1/0/1}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, nil, "config", "--config", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"- prefix: 192.0.2.0/24\n        rate: 100\n        force: false", "- prefix: 2001:db8::7/128", "- address: 192.0.2.10\n        name: hq-sw1"} {
		if !strings.Contains(out, want) {
			t.Errorf("flowlake config lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "{}") {
		t.Errorf("flowlake config prints an empty struct:\n%s", out)
	}
	again := filepath.Join(t.TempDir(), "again.yaml")
	if err := os.WriteFile(again, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	out2, errOut, code := runCLI(t, nil, "config", "--config", again)
	if code != 0 {
		t.Fatalf("the printed configuration does not load: exit %d: %s", code, errOut)
	}
	if diff := cmp.Diff(out, out2); diff != "" {
		t.Errorf("round trip (-first +second):\n%s", diff)
	}
	js, _, code := runCLI(t, nil, "config", "--json", "--config", file)
	if code != 0 || !strings.Contains(js, `"prefix": "192.0.2.0/24"`) || !strings.Contains(js, `"address": "192.0.2.10"`) {
		t.Errorf("config --json (exit %d) lacks the prefix or address:\n%s", code, js)
	}
}
