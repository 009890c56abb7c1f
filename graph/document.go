package graph

import (
	"context"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// documentLimit refuses documents too large, or selecting too many
// fields or aliases, before gqlgen parses and validates them: it runs
// first of the extensions (MutateOperationParameters), measures the
// text, then parses it (linear) and counts. Validation is what it
// guards: its overlapping-fields rule compares every pair of fields of a
// selection set, so 20 000 copies of one field cost minutes of CPU. A
// document that does not parse passes, for gqlgen's parser to report.
type documentLimit struct {
	maxBytes, maxFields, maxAliases int
}

var (
	_ graphql.HandlerExtension          = documentLimit{}
	_ graphql.OperationParameterMutator = documentLimit{}
)

// ExtensionName names the extension in gqlgen's list.
func (documentLimit) ExtensionName() string { return "DocumentLimit" }

// Validate accepts every schema.
func (documentLimit) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters measures the document before it is parsed.
func (d documentLimit) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if len(p.Query) > d.maxBytes {
		err := requestError(CodeRequestTooLarge, "the GraphQL document is %d bytes, more than the limit of %d", len(p.Query), d.maxBytes)
		err.Extensions["limit"] = d.maxBytes
		return err
	}
	if ctx.Err() != nil {
		return requestError(CodeCanceled, "request canceled")
	}
	doc, perr := parser.ParseQuery(&ast.Source{Input: p.Query})
	if perr != nil {
		return nil
	}
	n := documentCounts(doc)
	switch {
	case n.fields > d.maxFields:
		err := requestError(CodeFieldLimit, "the operation selects %s fields (fragments expanded), more than the limit of %d", atLeast(n.fields), d.maxFields)
		err.Extensions["limit"] = d.maxFields
		return err
	case n.aliases > d.maxAliases:
		err := requestError(CodeAliasLimit, "the operation has %s aliased fields, more than the limit of %d; send fewer per request", atLeast(n.aliases), d.maxAliases)
		err.Extensions["limit"] = d.maxAliases
		return err
	}
	return nil
}

// counts are fields and aliases of a selection.
type counts struct{ fields, aliases int }

// countCap saturates counts: fragments spread twice per level double at
// each level, so expanded counts can pass any integer.
const countCap = 1 << 40

func (c counts) add(o counts) counts {
	return counts{min(c.fields+o.fields, countCap), min(c.aliases+o.aliases, countCap)}
}

func atLeast(n int) string {
	if n >= countCap {
		return "more than a trillion"
	}
	return strconv.Itoa(n)
}

// documentCounts is the larger of the document's fields as written
// (fragment definitions included: validation visits them all) and its
// operations' fields with fragments expanded (what execution visits).
func documentCounts(doc *ast.QueryDocument) counts {
	w := &counter{frags: doc.Fragments, memo: map[string]counts{}, onPath: map[string]bool{}}
	var expanded, written counts
	for _, op := range doc.Operations {
		expanded = expanded.add(w.set(op.SelectionSet, true))
		written = written.add(w.set(op.SelectionSet, false))
	}
	for _, f := range doc.Fragments {
		written = written.add(w.set(f.SelectionSet, false))
	}
	return counts{max(expanded.fields, written.fields), max(expanded.aliases, written.aliases)}
}

// counter counts a document's fields, each fragment once (memo), a
// fragment spread inside itself as nothing (validation refuses cycles).
type counter struct {
	frags  ast.FragmentDefinitionList
	memo   map[string]counts
	onPath map[string]bool
}

func (w *counter) set(set ast.SelectionSet, expand bool) counts {
	var n counts
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n = n.add(counts{fields: 1})
			if s.Alias != "" && s.Alias != s.Name {
				n = n.add(counts{aliases: 1})
			}
			n = n.add(w.set(s.SelectionSet, expand))
		case *ast.InlineFragment:
			n = n.add(w.set(s.SelectionSet, expand))
		case *ast.FragmentSpread:
			if expand {
				n = n.add(w.fragment(s.Name))
			}
		}
	}
	return n
}

func (w *counter) fragment(name string) counts {
	if c, ok := w.memo[name]; ok {
		return c
	}
	f := w.frags.ForName(name)
	if f == nil || w.onPath[name] {
		return counts{}
	}
	w.onPath[name] = true
	c := w.set(f.SelectionSet, true)
	delete(w.onPath, name)
	w.memo[name] = c
	return c
}
