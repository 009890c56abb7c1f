package query

import (
	"bufio"
	"errors"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the current results")

// run parses src on dataset ds and returns the canonical text, or "!> " and
// the first line of the error without its "filter: " prefix.
func run(t *testing.T, ds *schema.Dataset, src string) string {
	t.Helper()
	e, err := ParseFilter(ds, src)
	if err != nil {
		var fe *FilterError
		if !errors.As(err, &fe) {
			t.Fatalf("%q: error %v is not a *FilterError", src, err)
		}
		first, _, _ := strings.Cut(err.Error(), "\n")
		return "!> " + strings.TrimPrefix(first, "filter: at ")
	}
	checkRoundTrip(t, ds, src, e)
	return "=> " + e.String()
}

// checkRoundTrip asserts that e's canonical text parses back to e.
func checkRoundTrip(t testing.TB, ds *schema.Dataset, src string, e Expr) {
	t.Helper()
	again, err := ParseFilter(ds, e.String())
	if err != nil {
		t.Fatalf("%q: canonical %q does not parse: %v", src, e.String(), err)
	}
	if !reflect.DeepEqual(e, again) {
		t.Fatalf("%q: canonical %q parses to %#v, want %#v", src, e.String(), again, e)
	}
}

// TestFilterGolden runs testdata/filters.txt: "[dataset]" lines choose the
// dataset, each input line is followed by "=> canonical text" or
// "!> pos: error message". -update rewrites the expectations.
func TestFilterGolden(t *testing.T) {
	const path = "testdata/filters.txt"
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	var out []string
	ds := schema.All()[0]
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		switch {
		case strings.HasPrefix(line, "=>"), strings.HasPrefix(line, "!>"):
			continue // an expectation without input: dropped on -update
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
			out = append(out, line)
			continue
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			if ds, err = schema.Lookup(line[1 : len(line)-1]); err != nil {
				t.Fatalf("line %d: %v", i+1, err)
			}
			out = append(out, line)
			continue
		}
		got := run(t, ds, line)
		out = append(out, line, got)
		want := ""
		if i+1 < len(lines) && (strings.HasPrefix(lines[i+1], "=>") || strings.HasPrefix(lines[i+1], "!>")) {
			want = lines[i+1]
			i++
		}
		if got != want && !*update {
			t.Errorf("%s:%d: [%s] %s\n got: %s\nwant: %s", path, i+1, ds.Name, line, got, want)
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFilterErrorCaret checks the full message: one line, the source line
// and a caret under the offending byte.
func TestFilterErrorCaret(t *testing.T) {
	flows, _ := schema.Lookup(schema.Flows)
	f := func(src, want string) {
		t.Helper()
		_, err := ParseFilter(flows, src)
		if err == nil {
			t.Fatalf("%q: no error", src)
		}
		if err.Error() != want {
			t.Errorf("%q:\n got:\n%s\nwant:\n%s", src, err, want)
		}
	}
	f("dst port foo", "filter: at 9: expected a port number, got \"foo\"\ndst port foo\n         ^")
	f("ip 10.0.0.1 and (port 80", "filter: at 24: expected \")\" to close the \"(\" at 16, got end of filter\nip 10.0.0.1 and (port 80\n                        ^")
	f("proto tcp and\n\tsorc 10.0.0.1", "filter: at 15: unknown column \"sorc\" in flows; did you mean \"src\"?\n\tsorc 10.0.0.1\n\t^")
	f("app \"https", "filter: at 4: expected a closing '\"', got end of filter\napp \"https\n    ^")
}

// TestFilterEmpty: empty and blank filters match everything.
func TestFilterEmpty(t *testing.T) {
	for _, ds := range schema.All() {
		for _, src := range []string{"", "  \t\n"} {
			e, err := ParseFilter(ds, src)
			if err != nil || e != (MatchAll{}) {
				t.Errorf("%s %q: got %v, %v; want MatchAll", ds.Name, src, e, err)
			}
		}
	}
	if _, err := ParseFilter(nil, "any"); err == nil {
		t.Error("nil dataset: no error")
	}
}

// TestFilterDepth: deep nesting is an error, not a stack overflow.
func TestFilterDepth(t *testing.T) {
	flows, _ := schema.Lookup(schema.Flows)
	for _, src := range []string{strings.Repeat("(", 100000) + "any", strings.Repeat("!", 100000) + "any"} {
		if _, err := ParseFilter(flows, src); err == nil || !strings.Contains(err.Error(), "nested more than") {
			t.Errorf("deep filter: got %v", err)
		}
	}
}
