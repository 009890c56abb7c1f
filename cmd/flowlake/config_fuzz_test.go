package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// printConfig renders c as `flowlake config` does.
func printConfig(t *testing.T, c Config) string {
	t.Helper()
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(settingsOf(c)); err != nil {
		t.Fatalf("encode configuration: %v", err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// FuzzLoadConfig loads a YAML configuration file and FLOWLAKE_* variables
// (one NAME=value per line) as the binary does. Whatever the input, loading
// must not panic; when it succeeds, the configuration is valid and what
// `flowlake config` prints of it loads back to the same configuration.
// Seeds are in testdata/fuzz/FuzzLoadConfig.
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte("serve:\n  listen: 0.0.0.0:9000\n  read_timeout: 2m\njobs:\n  retention:\n    max_age:\n      flows: 30d\n"), "FLOWLAKE_GEN_RATE=3\nFLOWLAKE_LOG_LEVEL=debug")
	f.Add([]byte("edge:\n  flow:\n    sampling:\n      - prefix: 192.0.2.0/24\n        rate: 100\n        force: true\n"), "FLOWLAKE_DATA=/srv/x")
	f.Add([]byte("lake: [1, 2]\n"), "")
	f.Add([]byte(""), "FLOWLAKE_JOBS_COMPACT_EVERY=1h\nFLOWLAKE_NOT_A_SETTING=1\nFLOWLAKE_SERVE_LISTEN=")
	f.Fuzz(func(t *testing.T, file []byte, environ string) {
		path := filepath.Join(t.TempDir(), "flowlake.yaml")
		if err := os.WriteFile(path, file, 0o644); err != nil {
			t.Fatal(err)
		}
		env := strings.Split(environ, "\n")
		c, _, err := loadConfig(sources{file: path, environ: env})
		if err != nil {
			return // refused: fine, as long as it did not panic
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loadConfig accepted an invalid configuration: %v", err)
		}
		printed := printConfig(t, c)
		again := filepath.Join(t.TempDir(), "printed.yaml")
		if err := os.WriteFile(again, []byte(printed), 0o644); err != nil {
			t.Fatal(err)
		}
		c2, _, err := loadConfig(sources{file: again})
		if err != nil {
			t.Fatalf("the printed configuration does not load: %v\n%s", err, printed)
		}
		if p2 := printConfig(t, c2); p2 != printed {
			t.Fatalf("the printed configuration loads to another one:\nfirst:\n%s\nsecond:\n%s", printed, p2)
		}
	})
}
