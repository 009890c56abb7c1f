package model

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/flowlake/flowlake/storage/query"
)

// FormatFloat prints f as a JSON number the way JavaScript's
// Number.prototype.toString does: plain digits from 1e-6 up to 1e21
// (2197380078, 0.25), exponent notation only outside that range. Go's
// %g, gqlgen's default for Float, switches to exponents from 1e6 on
// (2.197380078e+09), which readers take for an estimate. NaN and the
// infinities, which JSON cannot hold, print as null.
func FormatFloat(f float64) string { return string(query.AppendFloat(nil, f)) }

// MarshalFloat64 writes a GraphQL Float with FormatFloat; gqlgen.yml binds
// Float to it (and to Number).
func MarshalFloat64(f float64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) { _, _ = io.WriteString(w, FormatFloat(f)) })
}

// UnmarshalFloat64 reads a GraphQL Float input, as gqlgen's own does.
func UnmarshalFloat64(v any) (float64, error) { return graphql.UnmarshalFloat(v) }

// Number is a metric value of an aggregate in a GraphQL Float: an exact
// integer for integer metrics (count(), sums of bytes and packets, which
// pass 2^53 where a float64 would round them) and a float for the others
// (averages, rates, quantiles). It prints as a plain JSON number, an
// integer as its digits.
type Number struct {
	kind numberKind
	i    int64
	u    uint64
	f    float64
}

type numberKind uint8

const (
	kindFloat numberKind = iota
	kindInt
	kindUint
)

// Int is the Number of a signed integer.
func Int(v int64) Number { return Number{kind: kindInt, i: v} }

// Uint is the Number of an unsigned integer.
func Uint(v uint64) Number { return Number{kind: kindUint, u: v} }

// Float is the Number of a float.
func Float(v float64) Number { return Number{kind: kindFloat, f: v} }

// Float64 is the value as a float (integers above 2^53 rounded).
func (n Number) Float64() float64 {
	switch n.kind {
	case kindInt:
		return float64(n.i)
	case kindUint:
		return float64(n.u)
	}
	return n.f
}

// String prints the value as MarshalGQL writes it.
func (n Number) String() string {
	switch n.kind {
	case kindInt:
		return strconv.FormatInt(n.i, 10)
	case kindUint:
		return strconv.FormatUint(n.u, 10)
	}
	return FormatFloat(n.f)
}

// MarshalGQL writes the number.
func (n Number) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, n.String()) }

// UnmarshalGQL reads a number (Number is output only in the schema; this
// completes gqlgen's scalar contract).
func (n *Number) UnmarshalGQL(v any) error {
	switch v := v.(type) {
	case int:
		*n = Int(int64(v))
	case int64:
		*n = Int(v)
	case json.Number:
		if i, err := v.Int64(); err == nil {
			*n = Int(i)
		} else if u, err := strconv.ParseUint(string(v), 10, 64); err == nil {
			*n = Uint(u)
		} else if f, err := v.Float64(); err == nil {
			*n = Float(f)
		} else {
			return fmt.Errorf("%q is not a number", v)
		}
	default:
		f, err := graphql.UnmarshalFloat(v)
		if err != nil {
			return err
		}
		*n = Float(f)
	}
	return nil
}

// AggregateRow is one group of an aggregate (schema type AggregateRow).
type AggregateRow struct {
	// Dimension values as text, in the order of dimensions; null for a
	// null value and in the others row. Times are RFC 3339.
	Keys []*string `json:"keys"`
	// Metric values in the order of metrics; null where a metric has no
	// value (min of no rows).
	Values []*Number `json:"values"`
	// Whether this is the row aggregating every group beyond the limit.
	Others bool `json:"others"`
}

// SeriesPoint is one value of a time series (schema type SeriesPoint).
type SeriesPoint struct {
	// Start of the bucket.
	Time time.Time `json:"time"`
	// Metric values in the order of metrics.
	Values []*Number `json:"values"`
}
