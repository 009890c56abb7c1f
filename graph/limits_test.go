package graph

import (
	"math"
	"net/http"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/flowlake/flowlake/graph/model"
)

func TestDocumentCounts(t *testing.T) {
	for _, tc := range []struct {
		name, doc       string
		fields, aliases int
	}{
		{"plain", `{ me { user { name } } }`, 3, 0},
		{"aliases", `{ a: me { user { name } } b: me { permissions } }`, 5, 2},
		{"alias equal to its name is none", `{ me: me { permissions } }`, 2, 0},
		{"fragment spread twice", `{ me { ...U ...U } } fragment U on Me { user { name } }`, 5, 0},
		{"inline fragment", `{ me { ... on Me { permissions } } }`, 2, 0},
		{"unused fragment counts as written", `{ me { permissions } } fragment U on Me { a: user { b: name } c: permissions }`, 5, 3},
		{"fragment cycle counts once", `{ me { ...A } } fragment A on Me { permissions ...B } fragment B on Me { user { name } ...A }`, 4, 0},
		{"unknown fragment", `{ me { ...Nope } }`, 1, 0},
		{"doubling saturates", bomb(60), countCap, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := parser.ParseQuery(&ast.Source{Input: tc.doc})
			if err != nil {
				t.Fatal(err)
			}
			if got := documentCounts(doc); got.fields != tc.fields || got.aliases != tc.aliases {
				t.Errorf("counts %+v, want %d fields %d aliases", got, tc.fields, tc.aliases)
			}
		})
	}
}

// bomb is n fragments each spreading the next twice.
func bomb(n int) string {
	s := "{ me { ...F0 } }\n"
	for i := range n {
		s += "fragment F" + itoa(i) + " on Me { ...F" + itoa(i+1) + " ...F" + itoa(i+1) + " }\n"
	}
	return s + "fragment F" + itoa(n) + " on Me { permissions }\n"
}

func itoa(i int) string { return atLeast(i) }

func TestStatusOfCode(t *testing.T) {
	for code, want := range map[string]int{
		CodeBadRequest: http.StatusBadRequest, codeParseFailed: http.StatusBadRequest,
		CodeRequestTooLarge: http.StatusRequestEntityTooLarge, CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
		codeValidationFailed: http.StatusUnprocessableEntity, CodeFieldLimit: http.StatusUnprocessableEntity,
		CodeScanLimit: http.StatusUnprocessableEntity, CodeMemoryBudget: http.StatusUnprocessableEntity,
		CodeOverloaded: http.StatusTooManyRequests,
		CodeBadQuery:   0, CodeInvalid: 0, CodeForbidden: 0, CodeInternal: 0, "": 0,
	} {
		if got := statusOfCode(code); got != want {
			t.Errorf("%q: %d, want %d", code, got, want)
		}
	}
}

func TestNumbers(t *testing.T) {
	for _, tc := range []struct {
		n    model.Number
		want string
	}{
		{model.Float(2197380078), "2197380078"},
		{model.Float(2197380078.25), "2197380078.25"},
		{model.Float(0.25), "0.25"},
		{model.Float(-3.5), "-3.5"},
		{model.Float(0), "0"},
		{model.Float(1e21), "1e+21"},
		{model.Float(1e-7), "1e-07"},
		{model.Float(0.000001), "0.000001"},
		{model.Float(math.NaN()), "null"},
		{model.Float(math.Inf(1)), "null"},
		{model.Uint(math.MaxUint64), "18446744073709551615"},
		{model.Int(math.MinInt64), "-9223372036854775808"},
		{model.Int(1_000_000), "1000000"},
	} {
		if got := tc.n.String(); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.n.Float64(), got, tc.want)
		}
	}
}
