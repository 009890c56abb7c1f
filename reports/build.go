package reports

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowlake/flowlake/storage/query"
)

// Build assembles the report def describes over p, with p.Previous() as the
// comparison period, asking eng every question (rollups answer where they
// can: docs/query.md, "Rollups"). A period without data builds a document
// whose sections say so; only a definition that cannot be built, a query the
// engine refuses or a cancelled ctx is an error. The engine's warnings about
// unreadable files become Document.Warnings. Document.Generated is the
// wall clock; a caller with a clock of its own (a scheduler) overwrites it.
func Build(ctx context.Context, eng *query.Engine, def Definition, p Period) (*Document, error) {
	b, err := assemble(ctx, eng, def, p)
	if err != nil {
		return nil, err
	}
	return b.doc, nil
}

// assemble is Build, returning the builder so tests can see the queries
// asked and the routes that answered them.
func assemble(ctx context.Context, eng *query.Engine, def Definition, p Period) (*builder, error) {
	if eng == nil {
		return nil, fmt.Errorf("build report: no query engine")
	}
	if err := def.Validate(); err != nil {
		return nil, err
	}
	def = def.Normalized()
	if p.From.IsZero() || !p.To.After(p.From) {
		return nil, fmt.Errorf("build %s report: period %q is empty", def.Type, p.Label)
	}
	loc, err := loadZone(def.Zone)
	if err != nil {
		return nil, err
	}
	zone := def.Zone
	if zone == "" {
		zone = "UTC"
	}
	if p.Zone != "" && p.Zone != zone {
		return nil, fmt.Errorf("build %s report: period %s was cut in %s, the report is in %s", def.Type, p.Label, p.Zone, zone)
	}
	p.From, p.To, p.Zone = p.From.In(loc), p.To.In(loc), zone
	b := &builder{
		ctx: ctx, def: def, cur: p, prev: p.Previous(), loc: loc,
		r: &runner{eng: eng, zone: zone, seen: map[string]bool{}},
	}
	b.doc = &Document{
		Type: def.Type, Title: def.Title, Period: b.cur, Previous: b.prev,
		Generated: time.Now().In(loc),
		Link:      b.apiLink("/api/v1/series", url.Values{"dataset": {"flows"}}, b.cur),
	}
	var build func() error
	switch def.Type {
	case TypeLink:
		build = b.buildLink
	case TypeForecast:
		build = b.buildForecast
	case TypeNetwork:
		build = b.buildNetwork
	case TypeTopN:
		build = b.buildTopN
	case TypeApps:
		build = b.buildApps
	case TypeResponse:
		build = b.buildResponse
	case TypeBaseline:
		build = b.buildBaseline
	case TypeFaults:
		build = b.buildFaults
	case TypeSummary:
		build = b.buildSummary
	case TypeCustom:
		build = b.buildCustom
	}
	if err := build(); err != nil {
		return nil, fmt.Errorf("build %s report over %s: %w", def.Type, p.Label, err)
	}
	b.doc.Warnings = b.r.warnings
	b.doc.Sections = b.ordered()
	return b, nil
}

// builder holds one Build's state.
type builder struct {
	ctx       context.Context
	def       Definition
	cur, prev Period
	loc       *time.Location
	r         *runner
	doc       *Document
	sections  map[string][]Section
}

// wants reports whether the definition asks for section id.
func (b *builder) wants(id string) bool {
	return len(b.def.Sections) == 0 || slices.Contains(b.def.Sections, id)
}

// add keeps sections under id (when wanted) for ordered.
func (b *builder) add(id string, s ...Section) {
	if !b.wants(id) {
		return
	}
	if b.sections == nil {
		b.sections = map[string][]Section{}
	}
	b.sections[id] = append(b.sections[id], s...)
}

// ordered returns the built sections in the definition's order, or the
// type's.
func (b *builder) ordered() []Section {
	order := b.def.Sections
	if len(order) == 0 {
		order = types[b.def.Type].sections
	}
	var out []Section
	for _, id := range order {
		out = append(out, b.sections[id]...)
	}
	return out
}

// both runs q over the report's period and its previous one.
func (b *builder) both(q query.Query) (cur, prev *answer, err error) {
	if cur, err = b.r.run(b.ctx, q, b.cur); err != nil {
		return nil, nil, err
	}
	if prev, err = b.r.run(b.ctx, q, b.prev); err != nil {
		return nil, nil, err
	}
	return cur, prev, nil
}

// apiLink is a link opening p in the API at path, or "" without a base URL.
func (b *builder) apiLink(path string, v url.Values, p Period) string {
	if b.def.BaseURL == "" {
		return ""
	}
	v.Set("from", p.From.Format(time.RFC3339))
	v.Set("to", p.To.Format(time.RFC3339))
	v.Set("tz", b.r.zone)
	return strings.TrimRight(b.def.BaseURL, "/") + path + "?" + v.Encode()
}

// topnLink opens a ranking's rows in the API's TopN endpoint.
func (b *builder) topnLink(q query.Query) string {
	v := url.Values{"dataset": {q.Dataset}, "by": {strings.Join(q.GroupBy, ",")}, "metrics": {strings.Join(q.Metrics, ",")}}
	if q.Filter != "" {
		v.Set("filter", q.Filter)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return b.apiLink("/api/v1/topn", v, b.cur)
}

// figure is a headline number with its previous-period value.
func figure(label string, unit Unit, cur, prev float64) Figure {
	return Figure{Label: label, Value: cur, Unit: unit, HasPrevious: true, Previous: prev}
}

// noData is the sentence a section says when its period has no rows.
func noData(what string, p Period) string {
	return fmt.Sprintf("No data: no %s in %s (%s to %s, %s).", what, p.Label,
		p.From.Format("2006-01-02 15:04"), p.To.Format("2006-01-02 15:04"), p.Zone)
}

// bucket is the sampling interval of a period's time series and detail
// tables: 5 minutes up to two days, an hour up to a quarter, else a day.
func bucket(p Period) (string, time.Duration) {
	switch d := p.Duration(); {
	case d <= 50*time.Hour:
		return "time/5m", 5 * time.Minute
	case d <= 95*24*time.Hour:
		return "time/1h", time.Hour
	default:
		return "time/1d", 24 * time.Hour
	}
}

// axis lists the bucket starts of p: fixed steps from its start, or local
// days for daily buckets (23 or 25 hours on DST days).
func axis(p Period, step time.Duration) []time.Time {
	var ts []time.Time
	for t := p.From; t.Before(p.To); {
		ts = append(ts, t)
		if step == 24*time.Hour {
			y, m, d := t.Date()
			t = time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
		} else {
			t = t.Add(step)
		}
	}
	return ts
}

// quote writes a filter value.
func quote(s string) string { return strconv.Quote(s) }

// change is the relative change of cur against prev, NaN when prev is 0.
func change(cur, prev float64) float64 {
	if prev == 0 {
		return math.NaN()
	}
	return (cur - prev) / prev * 100
}

// numCell is a numeric cell, null for NaN.
func numCell(v float64) Cell {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Cell{Null: true}
	}
	return Cell{Num: v}
}

// stepName names a sampling interval as people do: "5-minute", "1-hour",
// "1-day".
func stepName(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d-day", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d-hour", d/time.Hour)
	default:
		return fmt.Sprintf("%d-minute", d/time.Minute)
	}
}
