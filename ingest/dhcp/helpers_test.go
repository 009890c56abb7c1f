package dhcp

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// mustGate skips a test whose external dependency is missing, unless CI=true
// in which case the missing dependency fails it.
func mustGate(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf(format, args...)
}

// realData returns the directory of the shared DHCP captures
// (FLOWLAKE_REALDATA/dhcp, default ../shared/data next to the repository).
func realData(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("FLOWLAKE_REALDATA")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, "dhcp")); err != nil {
		mustGate(t, "no real captures at %s (set FLOWLAKE_REALDATA): %v", dir, err)
	}
	return dir
}

// needTool returns the path of an external tool, skipping (failing under
// CI=true) when it is missing.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		mustGate(t, "%s not installed: %v", name, err)
	}
	return p
}
