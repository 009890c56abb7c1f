package query

import (
	"fmt"
	"os"
	"testing"
)

// fixtureDir holds the test lake, removed when the tests end.
var fixtureDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flowlake-query-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
