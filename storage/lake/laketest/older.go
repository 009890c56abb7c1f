// Package laketest builds lake segments for other packages' tests: files
// a lake must still read (or refuse) that its own writer no longer writes,
// such as segments written before a dataset gained optional columns.
package laketest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// Encode writes rows, a slice of any flat struct type with parquet tags,
// as a segment of dataset from source: the struct's schema with the footer
// metadata every segment carries (format version, dataset, source, time
// bounds taken from each row's first field, its time in µs).
func Encode(dataset, source string, rows any) ([]byte, error) {
	rv := reflect.ValueOf(rows)
	if rv.Kind() != reflect.Slice || rv.Type().Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("encode %s segment: rows is a %T, want a slice of structs", dataset, rows)
	}
	var minT, maxT int64
	for i := range rv.Len() {
		ts := rv.Index(i).Field(0).Int()
		if i == 0 || ts < minT {
			minT = ts
		}
		if i == 0 || ts > maxT {
			maxT = ts
		}
	}
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, parquet.SchemaOf(reflect.New(rv.Type().Elem()).Interface()),
		parquet.KeyValueMetadata(schema.MetaFormatVersion, schema.FormatVersion),
		parquet.KeyValueMetadata(schema.MetaDataset, dataset),
		parquet.KeyValueMetadata(schema.MetaSource, source),
		parquet.KeyValueMetadata(schema.MetaMinTime, strconv.FormatInt(minT, 10)),
		parquet.KeyValueMetadata(schema.MetaMaxTime, strconv.FormatInt(maxT, 10)),
	)
	for i := range rv.Len() {
		if err := w.Write(rv.Index(i).Addr().Interface()); err != nil {
			return nil, fmt.Errorf("encode %s segment: row %d: %w", dataset, i, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode %s segment: %w", dataset, err)
	}
	return buf.Bytes(), nil
}

// Reshape copies rows into a new struct type: T's fields without the
// columns named in drop, the field retype gives in place of a column's
// (its value converted: numeric types), then the extra fields (left
// zero). It returns a slice of the new type, for Encode. It fails on a
// drop or retype name that is not a column.
func Reshape[T schema.Row](rows []T, drop []string, retype map[string]reflect.StructField, extra ...reflect.StructField) (any, error) {
	t := reflect.TypeFor[T]()
	var fields []reflect.StructField
	var from []int
	seen := 0
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("parquet"), ",")
		if slices.Contains(drop, name) {
			seen++
			continue
		}
		if r, ok := retype[name]; ok {
			seen++
			f = r
		}
		fields = append(fields, f)
		from = append(from, i)
	}
	if seen != len(drop)+len(retype) {
		return nil, fmt.Errorf("reshape %s: drop %v, retype %d: not all are columns", t, drop, len(retype))
	}
	for range extra {
		from = append(from, -1)
	}
	fields = append(fields, extra...)
	nt := reflect.StructOf(fields)
	out := reflect.MakeSlice(reflect.SliceOf(nt), len(rows), len(rows))
	for i := range rows {
		src := reflect.ValueOf(&rows[i]).Elem()
		dst := out.Index(i)
		for j, k := range from {
			if k < 0 {
				continue
			}
			v := src.Field(k)
			if dst.Field(j).Type() != v.Type() {
				v = v.Convert(dst.Field(j).Type())
			}
			dst.Field(j).Set(v)
		}
	}
	return out.Interface(), nil
}

// OlderSegment encodes rows as a segment written by an older Flowlake,
// before its dataset gained the columns named in drop: the file's schema
// is the record type's without those fields, in the record's order.
func OlderSegment[T schema.Row](source string, rows []T, drop ...string) ([]byte, error) {
	old, err := Reshape(rows, drop, nil)
	if err != nil {
		return nil, err
	}
	return Encode(schema.DatasetOf[T]().Name, source, old)
}

// PublishOlder publishes an OlderSegment of rows into l through
// lake.Publish, as an upload from an edge running an older Flowlake: rows
// must lie within one hour.
func PublishOlder[T schema.Row](ctx context.Context, l *lake.Lake, source string, rows []T, drop ...string) (lake.Published, error) {
	b, err := OlderSegment(source, rows, drop...)
	if err != nil {
		return lake.Published{}, err
	}
	return l.Publish(ctx, source+"-"+ulid.Make().String(), bytes.NewReader(b), int64(len(b)))
}

// Rows returns n rows of T with a value in every column (none null), at
// distinct times within the hour from hour: dropping a column from them
// visibly changes what a reader returns.
func Rows[T schema.Row](rng *rand.Rand, n int, hour time.Time) []T {
	rows := make([]T, n)
	base := schema.Micros(hour)
	step := int64(time.Hour/time.Microsecond) / int64(n+1)
	for i := range rows {
		v := reflect.ValueOf(&rows[i]).Elem()
		for f := 1; f < v.NumField(); f++ {
			fill(rng, v.Field(f))
		}
		v.Field(0).SetInt(base + int64(i+1)*step)
	}
	return rows
}

func fill(rng *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString([]string{"a", "edge-1", "GigabitEthernet1/0/1", "финансы", "x y"}[rng.IntN(5)])
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1 + rng.Uint64N(1<<(v.Type().Bits()-1)))
	case reflect.Int32, reflect.Int64:
		v.SetInt(1 + rng.Int64N(1<<30))
	case reflect.Array:
		for i := range v.Len() {
			v.Index(i).SetUint(uint64(1 + rng.IntN(255)))
		}
		if v.Len() == 16 { // an IPv4-mapped address
			for i := range 10 {
				v.Index(i).SetUint(0)
			}
			v.Index(10).SetUint(0xff)
			v.Index(11).SetUint(0xff)
		}
	}
}

// OptionalColumns returns the names of d's optional columns: those an
// older writer's file may lack.
func OptionalColumns(d *schema.Dataset) []string {
	var out []string
	for _, c := range d.Columns {
		if c.Nullable {
			out = append(out, c.Name)
		}
	}
	return out
}
