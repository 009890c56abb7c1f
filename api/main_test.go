package api

import (
	"fmt"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flowlake-api-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	queryLakeDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
