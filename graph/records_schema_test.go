package graph

import (
	"flag"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite records.graphqls from storage/schema")

// TestRecordsSchema keeps records.graphqls in step with storage/schema:
// every dataset's columns are its record type's fields. After a schema
// change, run `make generate`.
func TestRecordsSchema(t *testing.T) {
	want := recordsSDL()
	if *update {
		if err := os.WriteFile("records.graphqls", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile("records.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("records.graphqls is stale; run make generate (-want +got):\n%s", diff)
	}
}
