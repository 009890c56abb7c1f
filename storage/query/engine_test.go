package query

import (
	"bufio"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// goldenCase is one query of testdata/queries.txt: the query, how many
// listing pages to fetch (following cursors), and the expected CSV.
type goldenCase struct {
	name  string
	query string
	want  string
}

const goldenFile = "testdata/queries.txt"

func readGolden(t *testing.T) []goldenCase {
	t.Helper()
	f, err := os.Open(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []goldenCase
	var cur *goldenCase
	inWant := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "=== "):
			cases = append(cases, goldenCase{name: strings.TrimPrefix(line, "=== ")})
			cur, inWant = &cases[len(cases)-1], false
		case cur == nil:
		case line == "---":
			inWant = true
		case inWant:
			cur.want += line + "\n"
		default:
			cur.query += line + "\n"
		}
	}
	return cases
}

func writeGolden(t *testing.T, header string, cases []goldenCase) {
	t.Helper()
	var b strings.Builder
	b.WriteString(header)
	for _, c := range cases {
		fmt.Fprintf(&b, "=== %s\n%s---\n%s\n\n", c.name, c.query, strings.TrimSpace(c.want))
	}
	if err := os.WriteFile(goldenFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// goldenHeader is the part of the golden file before the first case.
func goldenHeader(t *testing.T) string {
	b, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	h, _, _ := strings.Cut(string(b), "=== ")
	return h
}

// paged is a golden query: a Query plus the number of listing pages.
type paged struct {
	Query
	Pages int `json:"pages"`
}

// TestGolden runs every query of testdata/queries.txt, compares the answer
// with the file (-update rewrites it) and with the reference evaluator,
// which computes the same answer row by row from lake.Read.
func TestGolden(t *testing.T) {
	l := testLake(t)
	cases := readGolden(t)
	if len(cases) < 40 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	for i := range cases {
		gc := &cases[i]
		t.Run(gc.name, func(t *testing.T) {
			var q paged
			dec := json.NewDecoder(strings.NewReader(gc.query))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&q); err != nil {
				t.Fatalf("bad query: %v", err)
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			e := New(l, Config{Now: func() time.Time { return fixtureNow }, Allocator: mem, Workers: 2}, nil)
			got := answer(t, e, q)
			ref := refAnswer(t, l, q.Query, fixtureNow)
			if len(q.GroupBy) == 0 && len(q.Metrics) == 0 {
				pageSize := cmp.Or(q.Limit, defaultPageSize)
				ref = ref[:min(len(ref), 1+max(q.Pages, 1)*pageSize)]
			}
			compareAnswers(t, got, ref, q.Query)
			if len(got) < 2 {
				t.Errorf("the query answers no rows: pick one that does")
			}
			text := csvText(got)
			if *update {
				gc.want = text
				return
			}
			if strings.TrimSpace(text) != strings.TrimSpace(gc.want) {
				t.Errorf("answer differs from %s:\n got:\n%s\nwant:\n%s", goldenFile, text, gc.want)
			}
		})
	}
	if *update {
		writeGolden(t, goldenHeader(t), cases)
	}
}

// answer runs q, following cursors for q.Pages pages.
func answer(t *testing.T, e *Engine, q paged) [][]string {
	t.Helper()
	var out [][]string
	pages := max(q.Pages, 1)
	for p := range pages {
		res, err := e.Run(context.Background(), q.Query)
		if err != nil {
			t.Fatal(err)
		}
		rows := res.Rows()
		res.Release()
		if p == 0 {
			out = append(out, rows[0])
		}
		out = append(out, rows[1:]...)
		if res.Cursor == "" {
			break
		}
		q.Cursor = res.Cursor
	}
	return out
}

func compareAnswers(t *testing.T, got, ref [][]string, q Query) {
	t.Helper()
	if len(got) != len(ref) {
		t.Fatalf("engine answers %d rows, reference %d\nengine: %v\nreference: %v", len(got)-1, len(ref)-1, head(got), head(ref))
	}
	for i := range got {
		if len(got[i]) != len(ref[i]) {
			t.Fatalf("row %d: engine %v, reference %v", i, got[i], ref[i])
		}
		for j := range got[i] {
			g, r := got[i][j], ref[i][j]
			if g == r {
				continue
			}
			if strings.HasPrefix(got[0][j], "approx_count_distinct") && near(g, r, 0.05) {
				continue
			}
			if strings.HasPrefix(got[0][j], "avg(") && near(g, r, 1e-9) {
				continue
			}
			t.Fatalf("row %d column %s: engine %q, reference %q\nengine: %v\nreference: %v", i, got[0][j], g, r, head(got), head(ref))
		}
	}
}

func near(a, b string, rel float64) bool {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && (x-y <= rel*y+1 && y-x <= rel*y+1)
}

func head(rows [][]string) [][]string { return rows[:min(len(rows), 8)] }

func csvText(rows [][]string) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.WriteAll(slices.Clone(rows))
	return b.String()
}
