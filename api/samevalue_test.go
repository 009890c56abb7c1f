package api

import (
	"encoding/json"
	"math"
	"strconv"
)

// sameValue reports whether a value decoded from a JSON answer (with
// UseNumber) is the cell text CSV and Arrow give for it: text as is,
// numbers equal to 1e-9 relative (JSON keeps floats shortest, text keeps
// ten digits), null as "".
func sameValue(v any, text string) bool {
	switch v := v.(type) {
	case nil:
		return text == ""
	case string:
		return v == text
	case bool:
		return strconv.FormatBool(v) == text
	case json.Number:
		if v.String() == text {
			return true
		}
		a, err1 := strconv.ParseFloat(v.String(), 64)
		b, err2 := strconv.ParseFloat(text, 64)
		return err1 == nil && err2 == nil && math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
	}
	return false
}
