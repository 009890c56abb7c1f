// Package render draws a reports.Document into the three formats managers
// read: one self-contained HTML file (inline SVG charts, no network fetch),
// a PDF (vector charts, tables that break across pages with repeated
// headers, page numbers, an embedded CJK font) and an XLSX workbook (typed
// cells, native Excel charts, a Summary sheet first). Renderers never query:
// they print what the Document holds, every number through one formatting
// function (FormatExact, FormatHuman), so no two formats can disagree.
// docs/reports.md ("Formats") describes the output.
package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/flowlake/flowlake/reports"
)

// The formats Render accepts.
const (
	FormatHTML = "html"
	FormatPDF  = "pdf"
	FormatXLSX = "xlsx"
)

// Formats returns every format in the order reports are usually
// delivered: pdf, html, xlsx.
func Formats() []string { return []string{FormatPDF, FormatHTML, FormatXLSX} }

// ErrUnknownFormat is returned for a format other than html, pdf or xlsx.
var ErrUnknownFormat = errors.New("unknown report format")

// DefaultMaxRows is how many rows of a table the HTML and the PDF print
// before saying how many more the XLSX holds.
const DefaultMaxRows = 50

// Options tune a rendering. The zero value is usable: DefaultOptions' caps
// and the default font search apply to zero fields.
type Options struct {
	// MaxRows caps each table in the HTML and the PDF; the XLSX always
	// holds every row. 0 means DefaultMaxRows; negative means no cap.
	MaxRows int
	// Fonts are the TrueType files the PDF embeds; empty fields are
	// searched for in the usual Debian locations (see DefaultFontSearch).
	Fonts Fonts
	// BaseURL resolves relative links of the Document (Document.Link,
	// Table.Link) into absolute ones, so a mailed report opens the same
	// range in the console, e.g. "https://flowlake.example.com".
	BaseURL string
}

// DefaultOptions returns the options Render uses for zero fields.
func DefaultOptions() Options {
	return Options{MaxRows: DefaultMaxRows}
}

// maxRows is the effective table cap; -1 means none.
func (o Options) maxRows() int {
	switch {
	case o.MaxRows == 0:
		return DefaultMaxRows
	case o.MaxRows < 0:
		return -1
	}
	return o.MaxRows
}

// link resolves a Document link against BaseURL. Only http, https and
// mailto links (or relative ones, resolved) are printed: a link with any
// other scheme (javascript:, file:, data:) or that does not parse is
// dropped, in every format.
func (o Options) link(l string) string {
	if l == "" {
		return ""
	}
	ref, err := url.Parse(l)
	if err != nil {
		return ""
	}
	if o.BaseURL != "" {
		base, err := url.Parse(o.BaseURL)
		if err != nil {
			return ""
		}
		ref = base.ResolveReference(ref)
	}
	switch strings.ToLower(ref.Scheme) {
	case "http", "https", "mailto", "":
		return ref.String()
	}
	return ""
}

// Render draws doc in format ("html", "pdf" or "xlsx") and returns the file.
// It is safe for concurrent use; the Document is only read.
func Render(doc *reports.Document, format string, opts Options) ([]byte, error) {
	var buf bytes.Buffer
	if err := Write(&buf, doc, format, opts); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write draws doc in format into w; see Render.
func Write(w io.Writer, doc *reports.Document, format string, opts Options) error {
	if doc == nil {
		return errors.New("render: nil document")
	}
	var err error
	switch strings.ToLower(format) {
	case FormatHTML:
		err = HTML(w, doc, opts)
	case FormatPDF:
		err = PDF(w, doc, opts)
	case FormatXLSX:
		err = XLSX(w, doc, opts)
	default:
		return fmt.Errorf("render: %w %q (want html, pdf or xlsx)", ErrUnknownFormat, format)
	}
	if err != nil {
		return fmt.Errorf("render %s report %q: %w", format, doc.Type, err)
	}
	return nil
}

// shown returns how many rows of t the capped formats print and how many
// they leave to the XLSX.
func shown(t reports.Table, opts Options) (n, more int) {
	n = len(t.Rows)
	if c := opts.maxRows(); c >= 0 && n > c {
		return c, n - c
	}
	return n, 0
}

// moreRows is the note under a capped table.
func moreRows(more int) string {
	if more == 1 {
		return "1 more row in the XLSX"
	}
	return fmt.Sprintf("%d more rows in the XLSX", more)
}
