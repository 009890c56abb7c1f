package query

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// FormatValue renders row i of arr as text: times in RFC 3339 (UTC),
// floats to ten significant digits in AppendFloat's notation (so
// 2197380078 rather than 2.197380078e+09), null as "".
func FormatValue(arr arrow.Array, i int) string {
	if arr.IsNull(i) {
		return ""
	}
	switch a := arr.(type) {
	case *array.String:
		return a.Value(i)
	case *array.Timestamp:
		return time.UnixMicro(int64(a.Value(i))).UTC().Format(time.RFC3339Nano)
	case *array.Float64:
		f := a.Value(i)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
		// Ten significant digits, then AppendFloat's plain notation.
		f, _ = strconv.ParseFloat(strconv.FormatFloat(f, 'g', 10, 64), 64)
		return string(AppendFloat(nil, f))
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Uint64:
		return strconv.FormatUint(a.Value(i), 10)
	case *array.Uint32:
		return strconv.FormatUint(uint64(a.Value(i)), 10)
	case *array.Uint16:
		return strconv.FormatUint(uint64(a.Value(i)), 10)
	case *array.Uint8:
		return strconv.FormatUint(uint64(a.Value(i)), 10)
	}
	return arr.ValueStr(i)
}

// jsonValue is row i of arr as a JSON value: numbers stay numbers.
func jsonValue(arr arrow.Array, i int) any {
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.Float64:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Int32:
		return a.Value(i)
	case *array.Uint64:
		return a.Value(i)
	case *array.Uint32:
		return a.Value(i)
	case *array.Uint16:
		return a.Value(i)
	case *array.Uint8:
		return a.Value(i)
	}
	return FormatValue(arr, i)
}

// AppendFloat appends f in plain decimal notation, as encoding/json and
// JavaScript write numbers: 2197380078 stays 2197380078 rather than
// strconv's shortest 'g' form 2.197380078e+09, which readers take for an
// estimate. Only magnitudes below 1e-6 or from 1e21 up use an exponent.
// NaN and the infinities, which JSON cannot carry, are written as null.
// Every answer (JSON, CSV, GraphQL, the CLI) formats floats here.
func AppendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(dst, f, format, -1, 64)
}

// AppendJSON appends row i of arr as a JSON value: numbers as numbers
// (floats that are not finite as null), text quoted, times in RFC 3339,
// null as null. It is the fast path of JSON answers.
func AppendJSON(dst []byte, arr arrow.Array, i int) []byte {
	if arr.IsNull(i) {
		return append(dst, "null"...)
	}
	switch a := arr.(type) {
	case *array.Float64:
		return AppendFloat(dst, a.Value(i))
	case *array.Boolean:
		return strconv.AppendBool(dst, a.Value(i))
	case *array.Int64:
		return strconv.AppendInt(dst, a.Value(i), 10)
	case *array.Int32:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Uint64:
		return strconv.AppendUint(dst, a.Value(i), 10)
	case *array.Uint32:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10)
	case *array.Uint16:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10)
	case *array.Uint8:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10)
	}
	return appendJSONString(dst, FormatValue(arr, i))
}

// appendJSONString quotes s: plain printable ASCII directly (names,
// addresses, times), anything else through encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string never fails to marshal
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// Rows returns the result as text rows, the header first.
func (r *Result) Rows() [][]string {
	var out [][]string
	var header []string
	for _, f := range r.Schema.Fields() {
		header = append(header, f.Name)
	}
	out = append(out, header)
	for _, rec := range r.Records {
		for i := range int(rec.NumRows()) {
			line := make([]string, rec.NumCols())
			for c := range line {
				line[c] = FormatValue(rec.Column(c), i)
			}
			out = append(out, line)
		}
	}
	return out
}

// WriteCSV writes the result as CSV with a header row.
func (r *Result) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	for _, line := range r.Rows() {
		if err := cw.Write(line); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	return cw.Error()
}

// EachRow calls fn with every row as a JSON-ready object: numbers as
// numbers, text as text, times in RFC 3339, null as nil. The map is reused.
func (r *Result) EachRow(fn func(map[string]any) error) error {
	fields := r.Schema.Fields()
	obj := make(map[string]any, len(fields))
	for _, rec := range r.Records {
		for i := range int(rec.NumRows()) {
			for c, f := range fields {
				obj[f.Name] = jsonValue(rec.Column(c), i)
			}
			if err := fn(obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteJSON writes the result as one JSON object per row, one per line.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	return r.EachRow(func(obj map[string]any) error {
		if err := enc.Encode(obj); err != nil {
			return fmt.Errorf("write json: %w", err)
		}
		return nil
	})
}

// WriteArrow writes the result as an Arrow IPC stream.
func (r *Result) WriteArrow(w io.Writer) error {
	iw := ipc.NewWriter(w, ipc.WithSchema(r.Schema))
	for _, rec := range r.Records {
		if err := iw.Write(rec); err != nil {
			iw.Close()
			return fmt.Errorf("write arrow stream: %w", err)
		}
	}
	return iw.Close()
}
