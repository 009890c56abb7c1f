package cloudconn

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text to Parse: it must return rows or a
// *ParseError naming a line of the input, never panic; every row it
// returns must format and parse back to itself. Seeds: the samples and
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/samples/*.txt")
	if err != nil || len(files) == 0 {
		f.Fatalf("no samples: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, in string) {
		res, err := Parse(strings.NewReader(in), Options{File: "fuzz", Device: "d", Observed: observed})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				return // a read error, not a parse result
			}
			if pe.Line < 1 || pe.Line > strings.Count(in, "\n")+2 || pe.Col < 1 {
				t.Fatalf("error position %d:%d outside the input: %v", pe.Line, pe.Col, err)
			}
			return
		}
		if len(res.Unknown) > res.Lines {
			t.Fatalf("%d unknown lines of %d", len(res.Unknown), res.Lines)
		}
		for _, row := range res.Rows {
			var b strings.Builder
			if err := Format(&b, row, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := Parse(strings.NewReader(b.String()), Options{File: "formatted", Device: "d", Observed: observed}); err != nil {
				t.Fatalf("a formatted row does not parse back: %v\n%s", err, b.String())
			}
		}
	})
}
