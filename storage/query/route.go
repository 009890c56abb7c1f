package query

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// route returns c rewritten to read a rollup when the answer is provably
// the same as from raw flows (docs/query.md, "Rollups"), with a line for
// EXPLAIN; otherwise c itself and why not.
func (e *Engine) route(ctx context.Context, c *compiled) (*compiled, string, error) {
	raw := "raw segments of " + c.d.Name
	if rollups := eventRollups()[c.d.Name]; len(rollups) > 0 && !c.q.raw && !c.listing {
		return e.routeEvents(ctx, c, rollups)
	}
	if c.q.raw || c.listing || c.d.Name != schema.Flows {
		return c, raw, nil
	}
	for _, m := range c.metrics {
		switch {
		case m.fn == mCount, m.fn == mBPS, m.fn == mPPS:
		case m.fn == mSum && (c.d.Columns[m.col].Name == "bytes" || c.d.Columns[m.col].Name == "packets"):
		default:
			return c, raw + " (" + m.name + " needs raw rows)", nil
		}
	}
	hostRole := -1 // 0 src, 1 dst: the hosts rollup
	usesAddr := func(name string) bool {
		role := map[string]int{"src_addr": 0, "dst_addr": 1}[name]
		if name != "src_addr" && name != "dst_addr" {
			return true
		}
		if hostRole >= 0 && hostRole != role {
			return false
		}
		hostRole = role
		return true
	}
	for _, d := range c.dims {
		if d.kind != dimTime && !usesAddr(c.d.Columns[d.col].Name) {
			return c, raw + " (source and destination hosts together need raw rows)", nil
		}
	}
	ok := true
	walkColumns(c.filter, func(name string) { ok = ok && usesAddr(name) })
	if !ok {
		return c, raw + " (source and destination hosts together need raw rows)", nil
	}
	candidates := []string{schema.Flows1d, schema.Flows1h, schema.Flows1m}
	if hostRole >= 0 {
		candidates = []string{schema.FlowHosts1d, schema.FlowHosts1h}
	}
	why := ""
	for _, name := range candidates {
		rc, reason, err := e.tryRollup(ctx, c, name, hostRole)
		if err != nil {
			return nil, "", err
		}
		if rc != nil {
			return rc, "rollup " + name + " (" + reason + ")", nil
		}
		if why == "" {
			why = reason
		}
	}
	return c, raw + " (" + why + ")", nil
}

var granularity = map[string]time.Duration{
	schema.Flows1m: time.Minute, schema.Flows1h: time.Hour, schema.Flows1d: 24 * time.Hour, schema.FlowHosts1h: time.Hour,
	schema.FlowHosts1d: 24 * time.Hour,
}

// tryRollup rewrites c onto rollup name, or returns nil and the reason it
// cannot.
func (e *Engine) tryRollup(ctx context.Context, c *compiled, name string, hostRole int) (*compiled, string, error) {
	g := granularity[name]
	gus := g.Microseconds()
	if c.from%gus != 0 || c.to%gus != 0 {
		return nil, fmt.Sprintf("time range not aligned to %s %s", name, g), nil
	}
	if c.timeDim >= 0 {
		b := c.dims[c.timeDim].bucket
		if b.width != 0 && b.width%g != 0 {
			return nil, fmt.Sprintf("bucket %s finer than %s", b, name), nil
		}
		if b.width == 0 && g > time.Hour && c.loc != time.UTC {
			return nil, fmt.Sprintf("calendar buckets in %s need hourly rollups", c.loc), nil
		}
		if !offsetsAligned(c.loc, c.from, c.to, g) {
			return nil, fmt.Sprintf("time zone %s is not aligned to %s", c.loc, g), nil
		}
	}
	d, err := schema.Lookup(name)
	if err != nil {
		return nil, "", err
	}
	rename := map[string]string{}
	if hostRole >= 0 {
		rename[[]string{"src_addr", "dst_addr"}[hostRole]] = "addr"
	}
	var bad string
	filter := renameColumns(c.filter, rename, func(e Expr, col string) {
		if bad != "" {
			return
		}
		if _, ok := d.Column(col); !ok {
			bad = fmt.Sprintf("filter on %s", col)
		}
		if col == "dst_port" && !wellKnownOnly(e) {
			bad = "dst_port filter beyond equality with ports 1–1023"
		}
		switch col {
		case schema.ColTime, "flows", "bytes", "packets":
			bad = "filter on " + col
		}
	})
	if bad != "" {
		return nil, bad + " needs raw rows", nil
	}
	rc := *c
	rc.d = d
	rc.filter = filter
	if hostRole >= 0 {
		role := Compare{Column: "role", Op: OpEq, Value: Value{Kind: KindUint, Uint: uint64(hostRole)}}
		rc.filter = newAnd(role, filter)
	}
	rc.dims = slices.Clone(c.dims)
	for i, dim := range rc.dims {
		col := c.d.Columns[dim.col].Name
		if dim.kind == dimTime {
			continue
		}
		if r, ok := rename[col]; ok {
			col = r
		}
		if col == "dst_port" {
			return nil, "group by dst_port needs raw rows", nil
		}
		j, err := rc.column("group_by", col)
		if err != nil {
			return nil, fmt.Sprintf("group by %s needs raw rows", col), nil
		}
		rc.dims[i].col = j
	}
	rc.metrics = slices.Clone(c.metrics)
	for i, m := range rc.metrics {
		col := "flows"
		switch {
		case m.fn == mBPS || m.fn == mSum && c.d.Columns[m.col].Name == "bytes":
			col = "bytes"
		case m.fn == mPPS || m.fn == mSum:
			col = "packets"
		}
		j, err := rc.column("metrics", col)
		if err != nil {
			return nil, "", err
		}
		rc.metrics[i].col = j
		if m.fn == mCount {
			rc.metrics[i].fn, rc.metrics[i].asCount = mSum, true
		}
	}
	reason, fresh, err := e.rollupFresh(ctx, c, name, g)
	if err != nil || !fresh {
		return nil, reason, err
	}
	rc.setColumns()
	return &rc, reason, nil
}

// wellKnownOnly reports whether a dst_port leaf tests equality with ports
// a rollup keeps (1–1023): a rollup row's 0 then never matches, exactly
// as the raw rows it stands for would not.
func wellKnownOnly(e Expr) bool {
	in := func(v Value) bool { return v.Kind == KindUint && v.Uint >= 1 && v.Uint <= wellKnownPorts }
	switch e := e.(type) {
	case Compare:
		return e.Op == OpEq && in(e.Value)
	case InSet:
		for _, v := range e.Values {
			if !in(v) {
				return false
			}
		}
		return true
	}
	return false
}

// renameColumns copies e with columns renamed, calling check on every leaf
// with its new column.
func renameColumns(e Expr, rename map[string]string, check func(Expr, string)) Expr {
	r := func(c string) string {
		if n, ok := rename[c]; ok {
			return n
		}
		return c
	}
	switch e := e.(type) {
	case And:
		out := And{}
		for _, t := range e.Terms {
			out.Terms = append(out.Terms, renameColumns(t, rename, check))
		}
		return out
	case Or:
		out := Or{}
		for _, t := range e.Terms {
			out.Terms = append(out.Terms, renameColumns(t, rename, check))
		}
		return out
	case Not:
		return Not{Term: renameColumns(e.Term, rename, check)}
	case Compare:
		e.Column = r(e.Column)
		check(e, e.Column)
		return e
	case InSet:
		e.Column = r(e.Column)
		check(e, e.Column)
		return e
	case AddrMatch:
		e.Column = r(e.Column)
		check(e, e.Column)
		return e
	case FlagsAll:
		e.Column = r(e.Column)
		check(e, e.Column)
		return e
	}
	return e
}

// offsetsAligned reports whether loc's offset is a multiple of g all
// through [from, to), checked at every hour.
func offsetsAligned(loc *time.Location, from, to int64, g time.Duration) bool {
	if loc == time.UTC || g <= time.Minute {
		return true
	}
	step := time.Hour.Microseconds()
	for t := from; t <= to; t += step {
		_, off := time.UnixMicro(t).In(loc).Zone()
		if time.Duration(off)*time.Second%g != 0 {
			return false
		}
		if to-from > 400*24*step { // long ranges: every day is enough
			step = 24 * time.Hour.Microseconds()
		}
	}
	return true
}

// rollupFresh checks that every hour (or day) of the range with segments
// of c's dataset (flows, or an event dataset) has a rollup built from
// exactly those segments.
func (e *Engine) rollupFresh(ctx context.Context, c *compiled, name string, g time.Duration) (string, bool, error) {
	from, to := schema.FromMicros(c.from), schema.FromMicros(c.to)
	flows, err := e.segments(ctx, c.d.Name, from, to)
	if err != nil {
		return "", false, err
	}
	raw := rawKeys(flows)
	have := map[time.Time][]lake.Segment{}
	segs, err := e.segments(ctx, name, from, to)
	if err != nil {
		return "", false, err
	}
	for _, s := range segs {
		have[s.Hour] = append(have[s.Hour], s)
	}
	checked := 0
	if g == 24*time.Hour {
		for d := from; d.Before(to); d = d.Add(g) {
			keys := dayKeys(raw, d)
			if len(keys) == 0 {
				continue
			}
			if !fresh(have[d], rollupTag(keys)) {
				return fmt.Sprintf("%s of %s is missing or stale", name, d.Format(time.DateOnly)), false, nil
			}
			checked++
		}
		return fmt.Sprintf("fresh for the %d days with %s", checked, c.d.Name), true, nil
	}
	for h, keys := range raw {
		if !h.Add(time.Hour).After(from) || !h.Before(to) {
			continue // the hour does not meet the range
		}
		if !fresh(have[h], rollupTag(keys)) {
			return fmt.Sprintf("%s of %s is missing or stale", name, h.Format(time.RFC3339)), false, nil
		}
		checked++
	}
	return fmt.Sprintf("fresh for the %d hours with %s", checked, c.d.Name), true, nil
}
