package api

import (
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flowlake/flowlake/storage/query"
)

// appendJSONValue appends row i of arr as a JSON value. Integers (counts,
// sums of counters) are written digit for digit by query.AppendJSON;
// floating-point values (rates, averages, percentiles) are written here in
// plain decimal notation, the way encoding/json and JavaScript do, so that
// 2197380078 stays 2197380078 instead of strconv's shortest 'g' form
// 2.197380078e+09. Only magnitudes below 1e-6 or from 1e21 up use an
// exponent.
func appendJSONValue(dst []byte, arr arrow.Array, i int) []byte {
	if f, ok := arr.(*array.Float64); ok && !f.IsNull(i) {
		return appendJSONFloat(dst, f.Value(i))
	}
	return query.AppendJSON(dst, arr, i)
}

// appendJSONFloat writes f as a JSON number; NaN and infinities, which
// JSON cannot carry, as null.
func appendJSONFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(dst, f, format, -1, 64)
}
