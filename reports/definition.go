package reports

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// The report types: the nine built-in types of the product brief and custom
// reports from a saved query.
const (
	TypeLink     = "link"
	TypeForecast = "forecast"
	TypeNetwork  = "network"
	TypeTopN     = "topn"
	TypeApps     = "apps"
	TypeResponse = "response"
	TypeBaseline = "baseline"
	TypeFaults   = "faults"
	TypeSummary  = "summary"
	TypeCustom   = "custom"
)

// typeInfo is what a report type is called and which sections it has, in
// reading order; a Definition's Sections picks among them.
type typeInfo struct {
	title    string
	sections []string
}

// types is the catalogue of report types.
var types = map[string]typeInfo{
	TypeLink:     {"Link analysis", []string{"summary", "trend", "detail"}},
	TypeForecast: {"Link forecast", []string{"summary", "forecast"}},
	TypeNetwork:  {"Network layer", []string{"sources", "destinations", "groups", "conversations", "protocols"}},
	TypeTopN:     {"Top N", []string{"top"}},
	TypeApps:     {"Application protocol distribution", []string{"share", "interfaces", "trend", "unknown"}},
	TypeResponse: {"Application response", []string{"servers", "setup", "reasons"}},
	TypeBaseline: {"Traffic baseline", []string{"links", "applications"}},
	TypeFaults:   {"Fault statistics", []string{"tcp", "cloud", "dhcp", "flowloss"}},
	TypeSummary:  {"Summary", []string{"headline"}},
	TypeCustom:   {"Custom report", []string{"result"}},
}

// Types lists the report types in the product brief's order, then custom.
func Types() []string {
	return []string{TypeLink, TypeForecast, TypeNetwork, TypeTopN, TypeApps, TypeResponse,
		TypeBaseline, TypeFaults, TypeSummary, TypeCustom}
}

// TypeSections lists the sections a report type can hold, in reading order;
// nil for an unknown type.
func TypeSections(typ string) []string { return slices.Clone(types[typ].sections) }

// Defaults of a Definition's optional fields.
const (
	DefaultN             = 10
	DefaultThreshold     = 0.8
	DefaultBaselineWeeks = 4
	// MaxN bounds N: a report is read by people, and what does not fit is
	// in the engine's API, not in a thousand-page PDF.
	MaxN = 1000
	// MaxBaselineWeeks bounds the baseline's history (a year).
	MaxBaselineWeeks = 52
)

// Definition says what one report shows: its type, sections, sizes and the
// configuration its numbers depend on (link capacities, thresholds). It is
// what schedules store; Build turns it and a Period into a Document.
type Definition struct {
	// Type is one of Types().
	Type string `json:"type"`
	// Title overrides the type's default heading.
	Title string `json:"title,omitempty"`
	// Sections picks and orders the type's sections (TypeSections); empty
	// means all of them.
	Sections []string `json:"sections,omitempty"`
	// N caps the rows of each ranking and the objects given a detail
	// section (default DefaultN); the summary table before them lists all.
	N int `json:"n,omitempty"`
	// Links are the interfaces and interface groups the link, forecast and
	// baseline reports cover, with their capacities. Empty: the link
	// report covers every interface seen in the period, without
	// utilisation.
	Links []Link `json:"links,omitempty"`
	// Threshold is the utilisation (0 < t ≤ 1) the forecast report predicts
	// the crossing of and link charts draw; default DefaultThreshold.
	Threshold float64 `json:"threshold,omitempty"`
	// BaselineWeeks is how many previous weeks the baseline report's
	// same-hour-of-week baseline uses; default DefaultBaselineWeeks.
	BaselineWeeks int `json:"baseline_weeks,omitempty"`
	// TopN says what the topn report ranks.
	TopN TopNSpec `json:"topn,omitempty"`
	// Query is the custom report's saved query; its From and To are
	// replaced by the period's.
	Query *CustomQuery `json:"query,omitempty"`
	// Zone is the IANA time zone periods are cut in and times printed in;
	// "" is UTC.
	Zone string `json:"zone,omitempty"`
	// BaseURL is the API or console root links in the report open, e.g.
	// "https://flowlake.example.com"; empty means no links.
	BaseURL string `json:"base_url,omitempty"`
}

// Link is one interface or a group of interfaces reported as one link.
type Link struct {
	// Name is what the report calls the link, e.g. "Internet uplink".
	Name string `json:"name"`
	// Interfaces are the link's members; their traffic is summed.
	Interfaces []Interface `json:"interfaces"`
	// CapacityBPS is the link's capacity in bit/s per direction; 0 means
	// unknown (no utilisation, no forecast crossing).
	CapacityBPS float64 `json:"capacity_bps,omitempty"`
}

// Interface names one exporter interface as flows carry it: the device and
// the interface name (in_if_name / out_if_name). An empty Device matches the
// interface name on every device.
type Interface struct {
	Device string `json:"device,omitempty"`
	Name   string `json:"name"`
}

// TopNSpec is what a TopN report ranks: groups of Dimension in Dataset by
// Metric, optionally filtered.
type TopNSpec struct {
	// Dataset defaults to flows.
	Dataset string `json:"dataset,omitempty"`
	// Dimension is any engine dimension (src_addr, app, dst_net/24, …);
	// default src_addr.
	Dimension string `json:"dimension,omitempty"`
	// Metric is any engine metric; default sum(bytes) (count() on datasets
	// without bytes).
	Metric string `json:"metric,omitempty"`
	// Filter narrows the rows (filter language).
	Filter string `json:"filter,omitempty"`
}

// CustomQuery is a saved engine query and how to chart its answer.
type CustomQuery struct {
	Query query.Query `json:"query"`
	// Chart is the chart kind; a query grouped by a time bucket draws a
	// line (or stacked) chart, others bars or a pie.
	Chart ChartKind `json:"chart,omitempty"`
}

// Normalized returns def with its defaults filled in.
func (def Definition) Normalized() Definition {
	def.Type = strings.ToLower(strings.TrimSpace(def.Type))
	if def.Title == "" {
		def.Title = types[def.Type].title
	}
	if def.N == 0 {
		def.N = DefaultN
	}
	if def.Threshold == 0 {
		def.Threshold = DefaultThreshold
	}
	if def.BaselineWeeks == 0 {
		def.BaselineWeeks = DefaultBaselineWeeks
	}
	if def.TopN.Dataset == "" {
		def.TopN.Dataset = schema.Flows
	}
	if def.TopN.Dimension == "" {
		def.TopN.Dimension = "src_addr"
	}
	if def.TopN.Metric == "" {
		def.TopN.Metric = "sum(bytes)"
		if def.TopN.Dataset != schema.Flows {
			def.TopN.Metric = "count()"
		}
	}
	return def
}

// Validate reports every problem of the definition at once, each naming the
// field and what would be accepted.
func (def Definition) Validate() error {
	def = def.Normalized()
	var errs []error
	info, ok := types[def.Type]
	if !ok {
		errs = append(errs, fmt.Errorf("report type %q: unknown; known types: %s%s",
			def.Type, strings.Join(Types(), ", "), didYouMean(def.Type, Types())))
	}
	if ok {
		for _, s := range def.Sections {
			if !slices.Contains(info.sections, s) {
				errs = append(errs, fmt.Errorf("sections: %q is not a section of %s reports; known: %s%s",
					s, def.Type, strings.Join(info.sections, ", "), didYouMean(s, info.sections)))
			}
		}
	}
	if def.N < 1 || def.N > MaxN {
		errs = append(errs, fmt.Errorf("n %d: must be between 1 and %d", def.N, MaxN))
	}
	if !(def.Threshold > 0 && def.Threshold <= 1) {
		errs = append(errs, fmt.Errorf("threshold %v: must be a utilisation above 0 and at most 1 (0.8 is 80 %%)", def.Threshold))
	}
	if def.BaselineWeeks < 1 || def.BaselineWeeks > MaxBaselineWeeks {
		errs = append(errs, fmt.Errorf("baseline_weeks %d: must be between 1 and %d", def.BaselineWeeks, MaxBaselineWeeks))
	}
	if _, err := loadZone(def.Zone); err != nil {
		errs = append(errs, fmt.Errorf("zone: %w", err))
	}
	names := map[string]bool{}
	for i, l := range def.Links {
		where := fmt.Sprintf("links[%d] %q", i, l.Name)
		if strings.TrimSpace(l.Name) == "" {
			errs = append(errs, fmt.Errorf("links[%d]: a link needs a name", i))
		} else if names[l.Name] {
			errs = append(errs, fmt.Errorf("%s: the name is used twice", where))
		}
		names[l.Name] = true
		if len(l.Interfaces) == 0 {
			errs = append(errs, fmt.Errorf("%s: a link needs at least one interface", where))
		}
		for j, in := range l.Interfaces {
			if strings.TrimSpace(in.Name) == "" {
				errs = append(errs, fmt.Errorf("%s: interfaces[%d]: the interface name is empty", where, j))
			}
		}
		if l.CapacityBPS < 0 || math.IsNaN(l.CapacityBPS) || math.IsInf(l.CapacityBPS, 0) {
			errs = append(errs, fmt.Errorf("%s: capacity_bps %v: must be a positive number of bit/s (0 for unknown)", where, l.CapacityBPS))
		}
	}
	if def.Type == TypeCustom && def.Query == nil {
		errs = append(errs, errors.New("query: a custom report needs a saved query"))
	}
	if def.Query != nil && def.Query.Chart > ChartPie {
		errs = append(errs, fmt.Errorf("query.chart %d: unknown chart kind (0 line, 1 bar, 2 stacked, 3 pie)", def.Query.Chart))
	}
	if len(errs) > 0 {
		return fmt.Errorf("report definition: %w", errors.Join(errs...))
	}
	return nil
}

// didYouMean suggests the known name closest to word, as ", did you mean
// "x"?", or "" when none is close.
func didYouMean(word string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		d := editDistance(strings.ToLower(word), k)
		if strings.HasPrefix(k, strings.ToLower(word)) && word != "" {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
