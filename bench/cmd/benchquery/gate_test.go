package main

import (
	"os"
	"testing"
)

// onCI reports whether the tests run in CI (CI=true), where every external
// tool is installed and every test must run in full: .ci/run installs them.
func onCI() bool { return os.Getenv("CI") == "true" }

// skipShort skips a long test under -short, except in CI, which runs every
// test whatever the flags.
func skipShort(t testing.TB, why string) {
	t.Helper()
	if testing.Short() && !onCI() {
		t.Skip(why + " (skipped with -short outside CI)")
	}
}

// missing reports an external dependency the test cannot find: in CI it
// fails the test; elsewhere it logs, and the caller goes on without it.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if onCI() {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Logf(format, args...)
}
