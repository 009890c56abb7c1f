package graph

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/flowlake/flowlake/graph/generated"
	"github.com/flowlake/flowlake/graph/model"
)

// depthLimit refuses operations nesting selections deeper than max.
// Introspection fields (__schema, __type) are not counted: the standard
// introspection query is deep by nature and cheap.
type depthLimit struct{ max int }

var (
	_ graphql.HandlerExtension        = depthLimit{}
	_ graphql.OperationContextMutator = depthLimit{}
)

// ExtensionName names the extension in gqlgen's list.
func (depthLimit) ExtensionName() string { return "DepthLimit" }

// Validate accepts every schema.
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext measures the operation before it runs.
func (d depthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	depth := selectionDepth(oc.Operation.SelectionSet, oc.Doc.Fragments, map[string]bool{})
	if depth > d.max {
		err := gqlerror.Errorf("operation is %d levels deep, more than the limit of %d", depth, d.max)
		err.Extensions = map[string]any{"code": CodeDepthLimit, "depth": depth, "limit": d.max}
		return err
	}
	return nil
}

// selectionDepth is the deepest field nesting of set, fragments expanded
// (a fragment already on the path counts as a leaf: validation refuses
// cycles anyway).
func selectionDepth(set ast.SelectionSet, frags ast.FragmentDefinitionList, onPath map[string]bool) int {
	deepest := 0
	for _, sel := range set {
		d := 0
		switch s := sel.(type) {
		case *ast.Field:
			if strings.HasPrefix(s.Name, "__") {
				continue
			}
			d = 1 + selectionDepth(s.SelectionSet, frags, onPath)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, frags, onPath)
		case *ast.FragmentSpread:
			if onPath[s.Name] {
				continue
			}
			if f := frags.ForName(s.Name); f != nil {
				onPath[s.Name] = true
				d = selectionDepth(f.SelectionSet, frags, onPath)
				delete(onPath, s.Name)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// Complexity of lists whose length an argument decides: a connection costs
// its children times first, an aggregate its children times its limit, a
// time series its children times seriesWeight (its points are not known
// before it runs), a rate snapshot its children times limit. Every other
// field costs 1 plus its children (gqlgen's default).
const (
	seriesWeight       = 100
	defaultFirst       = 100
	defaultAggLimit    = 100
	defaultTopNLimit   = 10
	defaultRatesLimit  = 20
	unlimitedAggWeight = 1000
)

func complexity() generated.ComplexityRoot {
	var c generated.ComplexityRoot
	conn := func(child int, _, _, _, _ *string, _ []string, first *int, _ *string) int {
		return child * max(1, deref(first, defaultFirst))
	}
	c.Query.Flows = conn
	c.Query.TCPConns = conn
	c.Query.TCPPackets = conn
	c.Query.DhcpEvents = conn
	c.Query.DhcpLeases = conn
	c.Query.CloudConn = conn
	c.Query.FlowLoss = conn
	c.Query.Flows1m = conn
	c.Query.Flows1h = conn
	c.Query.Flows1d = conn
	c.Query.FlowsHosts1h = conn
	c.Query.FlowsHosts1d = conn
	c.Query.TCPConns1d = conn
	c.Query.DhcpEvents1d = conn
	c.Query.CloudConn1d = conn
	c.Query.FlowLoss1d = conn
	c.Query.Aggregate = func(child int, _ string, _, _, _, _ *string, _, _, _ []string, limit *int, _ *bool) int {
		n := deref(limit, defaultAggLimit)
		if n <= 0 {
			n = unlimitedAggWeight
		}
		return child * n
	}
	c.Query.TopN = func(child int, _ string, _, _, _, _ *string, _, _ []string, limit *int, _ *bool) int {
		return child * max(1, deref(limit, defaultTopNLimit))
	}
	c.Query.TimeSeries = func(child int, _ string, _, _, _, _ *string, _ string, _, _ []string) int {
		return child * seriesWeight
	}
	// An edge's binding table: a page of limit bindings (default 500) asked
	// over the edge's tunnel; aliases of it add up like pages of records.
	c.Query.EdgeDhcpBindings = func(child int, _ string, _, _, _ *string, limit *int) int {
		return child * max(1, deref(limit, defaultEdgeBindingsLimit))
	}
	c.Subscription.LiveRates = func(child int, _ model.RateBy, _ *string, _, _, _ *int, limit *int) int {
		return child * max(1, deref(limit, defaultRatesLimit))
	}
	return c
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
