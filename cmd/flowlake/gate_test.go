package main

import (
	"os"
	"testing"
)

// skipShort skips a long test under -short, except with CI=true: CI runs
// every test whatever the flags.
func skipShort(t testing.TB, why string) {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip(why + " (skipped with -short outside CI)")
	}
}
