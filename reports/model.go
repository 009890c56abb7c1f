// Package reports turns engine answers into the reports managers read: the
// nine built-in types of the product brief plus custom reports from saved
// queries, over calendar periods in a configured time zone. A report is
// assembled once into a Document, only through storage/query, and every
// renderer (HTML, PDF, XLSX under reports/render) draws that same Document,
// so no format can print a number the others or the engine would not.
// docs/reports.md describes each type.
package reports

import "time"

// Document is one report as data: what every renderer draws. Builders fill
// it; renderers never query.
type Document struct {
	// Type is the report type's name ("link", "forecast", "network",
	// "topn", "apps", "response", "baseline", "faults", "summary",
	// "custom").
	Type string
	// Title is the report's heading, e.g. "Link analysis".
	Title string
	// Period is the range the report covers; Previous the range its
	// comparison figures come from (zero when the report has none).
	Period   Period
	Previous Period
	// Generated is when the document was assembled.
	Generated time.Time
	// Link opens the same range in the API or console; empty when the
	// report was built without a base URL.
	Link string
	// Warnings say how the answer is incomplete (unreadable files, rows
	// with an unknown sampling rate, …); renderers print them before the
	// first section.
	Warnings []string
	// Sections in reading order.
	Sections []Section
}

// Period is a half-open time range [From, To) labelled in the time zone it
// was cut in, so a "daily" report of a 23-hour DST day says so.
type Period struct {
	// Kind is daily, weekly, monthly, quarterly, yearly or custom.
	Kind string
	// Label is how people name the period, e.g. "2026-10",
	// "2026-W44", "2026-Q3", "2026-10-25".
	Label string
	// From and To bound the period; both carry Location.
	From, To time.Time
	// Zone is the IANA name the calendar boundaries were cut in.
	Zone string
}

// Section is one titled part of a report: text, headline figures, charts and
// tables, drawn in that order.
type Section struct {
	Title string
	// Text holds paragraphs, e.g. "No TCP trace data in this period."
	Text []string
	// Figures are the section's headline numbers with their previous-period
	// values.
	Figures []Figure
	Charts  []Chart
	Tables  []Table
}

// Unit says how a number is printed and what its axis is called.
type Unit string

// The units numbers in a Document carry.
const (
	UnitNone    Unit = ""
	UnitBytes   Unit = "bytes"
	UnitPackets Unit = "packets"
	UnitCount   Unit = "count"
	UnitBPS     Unit = "bit/s"
	UnitPercent Unit = "%"
	UnitSeconds Unit = "s"
)

// Figure is one headline number, e.g. total bytes, with the same number over
// the previous period when HasPrevious.
type Figure struct {
	Label       string
	Value       float64
	Unit        Unit
	HasPrevious bool
	Previous    float64
}

// ColumnKind types a table column, so XLSX cells are numbers and dates, not
// text.
type ColumnKind uint8

// The column kinds.
const (
	ColText ColumnKind = iota
	ColInt
	ColFloat
	ColTime
)

// Column is one table column.
type Column struct {
	Name string
	Kind ColumnKind
	Unit Unit
}

// Cell is one table value: Text for ColText, Num for ColInt and ColFloat,
// Time for ColTime; Null when the engine had no value.
type Cell struct {
	Text string
	Num  float64
	Time time.Time
	Null bool
}

// Table is one table with every row the report holds. Renderers with less
// room (PDF, HTML) print the first rows and say how many more the XLSX has;
// nothing is cut silently.
type Table struct {
	Title   string
	Columns []Column
	Rows    [][]Cell
	// Note is printed under the table, e.g. what an "(others)" row sums.
	Note string
	// Link opens the rows behind this table in the API or console.
	Link string
}

// ChartKind is how a chart is drawn.
type ChartKind uint8

// The chart kinds.
const (
	ChartLine ChartKind = iota
	ChartBar
	ChartStacked
	ChartPie
)

// Chart is one chart. Line and stacked charts have a time axis (Times), bar
// and pie charts categories (Categories); each series has one value per X
// point, NaN where there is none.
type Chart struct {
	Title      string
	Kind       ChartKind
	Times      []time.Time
	Categories []string
	Series     []Series
	Unit       Unit
	// Thresholds are horizontal lines, e.g. 80 % utilisation.
	Thresholds []Threshold
}

// Series is one line, bar group or slice set. Lower and Upper, when set, are
// a band around Values (a forecast's prediction interval) of the same length.
type Series struct {
	Name         string
	Values       []float64
	Lower, Upper []float64
	// Forecast marks values that are predicted, not measured, so renderers
	// draw them apart.
	Forecast bool
}

// Threshold is a horizontal reference line on a chart.
type Threshold struct {
	Label string
	Value float64
}
