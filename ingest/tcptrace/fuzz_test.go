package tcptrace

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text to Parse: it must return rows or a
// *ParseError naming a line of the input, never panic, and every row it
// returns must be joined (each packet's trace_id is one of the
// connections'). Seeds: the device document's samples (added here) and
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
		res, err := Parse(strings.NewReader(in), Options{File: "fuzz", Device: "d"})
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
		ids := map[uint64]bool{}
		for _, c := range res.Conns {
			ids[c.TraceID] = true
		}
		for _, p := range res.Packets {
			if !ids[p.TraceID] {
				t.Fatalf("packet %+v joins no connection", p)
			}
		}
		if len(res.Unknown) > res.Lines {
			t.Fatalf("%d unknown lines of %d", len(res.Unknown), res.Lines)
		}
	})
}
