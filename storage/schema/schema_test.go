package schema_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/parquet-go/parquet-go"

	"github.com/flowlake/flowlake/storage/schema"
)

// TestArrowSchemaMatchesParquet writes one row of every dataset with
// parquet-go and reads it back with Arrow's Parquet reader: the Arrow schema
// the reader infers must be exactly the one schema derives from the struct.
func TestArrowSchemaMatchesParquet(t *testing.T) {
	for _, d := range schema.All() {
		t.Run(d.Name, func(t *testing.T) {
			var buf bytes.Buffer
			w := parquet.NewWriter(&buf, d.Parquet)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			rdr, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			got, err := fr.Schema()
			if err != nil {
				t.Fatal(err)
			}
			if got.NumFields() != d.Arrow.NumFields() {
				t.Fatalf("parquet reader sees %d fields, schema derives %d", got.NumFields(), d.Arrow.NumFields())
			}
			for i, f := range got.Fields() {
				want := d.Arrow.Field(i)
				if f.Name != want.Name || !arrow.TypeEqual(f.Type, want.Type) || f.Nullable != want.Nullable {
					t.Errorf("field %d: parquet reader sees %s %s nullable=%v, schema derives %s %s nullable=%v",
						i, f.Name, f.Type, f.Nullable, want.Name, want.Type, want.Nullable)
				}
			}
		})
	}
}

func TestColumnsDocumented(t *testing.T) {
	for _, d := range schema.All() {
		if len(d.Columns) == 0 || d.Columns[0].Name != schema.ColTime {
			t.Errorf("%s: first column must be time", d.Name)
		}
		for _, c := range d.Columns {
			if c.Doc == "" || c.Origin == "" || c.Physical == "" {
				t.Errorf("%s.%s: missing doc, origin or physical type", d.Name, c.Name)
			}
		}
	}
}

// TestSamplingRateDocMarksUnknown keeps the schema's word on sampling_rate in
// step with ingest: 0 is the documented mark of "rate not known yet"
// (docs/ingest-flow.md), so neither the column doc nor docs/schema.md may
// call every rate below 2 "unsampled".
func TestSamplingRateDocMarksUnknown(t *testing.T) {
	d, err := schema.Lookup(schema.Flows)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := d.Column("sampling_rate")
	if !ok {
		t.Fatal("flows has no sampling_rate column")
	}
	for _, want := range []string{"1 = unsampled", "0 = rate not known yet", "as exported"} {
		if !strings.Contains(c.Doc, want) {
			t.Errorf("sampling_rate doc %q does not say %q", c.Doc, want)
		}
	}
	var row string
	for _, line := range strings.Split(schema.Markdown(), "\n") {
		if strings.HasPrefix(line, "| `sampling_rate` |") {
			row = line
		}
	}
	if !strings.Contains(row, "0 = rate not known yet") {
		t.Errorf("docs/schema.md's sampling_rate row %q does not document rate 0", row)
	}
}
