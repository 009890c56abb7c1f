package lake

import (
	"fmt"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/flowlake/flowlake/storage/schema"
)

// ErrSchema marks a segment whose columns this build cannot read as its
// dataset's: a required column missing, a column of another type, or a
// column the dataset does not have (a file of a newer writer). It wraps
// ErrCorrupt, so readers skip such a file and `lake verify` reports it.
var ErrSchema = fmt.Errorf("%w: columns do not fit the dataset", ErrCorrupt)

// mapColumns matches the columns of a segment's schema got to its
// dataset's columns by name (docs/lake-format.md, "Schema evolution") and
// returns, for each column of d in d's order, the index of the file's leaf
// column that holds it, or -1 where the file predates an optional column.
// A file written before a dataset gained optional columns reads with
// those columns null; everything else that differs is refused, naming the
// column and why:
//   - a missing required column (nothing to read its values from);
//   - a column whose physical type, width or repetition differs;
//   - a column d does not have: a newer writer's file, whose values this
//     build would silently drop (and compaction would then delete).
func mapColumns(d *schema.Dataset, got *parquet.Schema) ([]int, error) {
	want := d.Parquet.Fields()
	byName := make(map[string]int, len(want))
	for i, w := range want {
		byName[w.Name()] = i
	}
	leaves := make([]int, len(want))
	seen := make([]bool, len(want))
	for i := range leaves {
		leaves[i] = -1
	}
	var errs []error
	for j, g := range got.Fields() {
		i, ok := byName[g.Name()]
		if !ok {
			errs = append(errs, fmt.Errorf("column %q is not a %s column (a file of a newer writer? this build reads only the dataset's columns)", g.Name(), d.Name))
			continue
		}
		if seen[i] {
			errs = append(errs, fmt.Errorf("column %q appears twice", g.Name()))
			continue
		}
		seen[i] = true
		w := want[i]
		if !g.Leaf() {
			errs = append(errs, fmt.Errorf("column %q is a group, want a %v value", w.Name(), w.Type()))
			continue
		}
		wt, gt := w.Type(), g.Type()
		if wt.Kind() != gt.Kind() || wt.Length() != gt.Length() || w.Optional() != g.Optional() || w.Repeated() != g.Repeated() {
			errs = append(errs, fmt.Errorf("column %q has type %s, want %s", w.Name(), describeNode(g), describeNode(w)))
			continue
		}
		leaves[i] = j
	}
	for i, w := range want {
		if !seen[i] && !w.Optional() {
			errs = append(errs, fmt.Errorf("required column %q is missing (only optional columns may be absent, in files written before they were added)", w.Name()))
		}
	}
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		// One line, every offending column: a verify report or an
		// upload's answer names them all at once.
		return nil, fmt.Errorf("%w: %s", ErrSchema, strings.Join(msgs, "; "))
	}
	return leaves, nil
}

// describeNode prints a column's type with its repetition, so that an
// optional/required mismatch reads as one.
func describeNode(n parquet.Field) string {
	rep := "required"
	switch {
	case n.Optional():
		rep = "optional"
	case n.Repeated():
		rep = "repeated"
	}
	if !n.Leaf() {
		return rep + " group"
	}
	return fmt.Sprintf("%s %v", rep, n.Type())
}
