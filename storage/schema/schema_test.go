package schema_test

import (
	"bytes"
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
