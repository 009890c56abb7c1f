package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/flowlake/flowlake/reports"
	"github.com/flowlake/flowlake/reports/render"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// Reporter generates the files of a report run: the report builder
// (reports.Build) assembles the document once and the renderers draw it
// as html, pdf and xlsx; a custom report's saved query is also written
// as csv, the engine's answer as it is.
type Reporter struct {
	Engine *query.Engine
	// Render tunes the renderers (row caps, fonts, the base URL of links).
	Render render.Options
}

var _ Generator = Reporter{}

// Generate implements Generator.
func (g Reporter) Generate(ctx context.Context, def meta.ReportDefinition, p reports.Period, formats []string) (map[string][]byte, error) {
	rdef, err := Definition(def, p)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(formats))
	var doc *reports.Document
	for _, f := range formats {
		if f == "csv" {
			b, err := g.csv(ctx, rdef, p)
			if err != nil {
				return nil, fmt.Errorf("report %q: %w", def.Name, err)
			}
			out[f] = b
			continue
		}
		if !slices.Contains(render.Formats(), f) {
			return nil, fmt.Errorf("report %q: format %q: %w (known: csv, %v)", def.Name, f, render.ErrUnknownFormat, render.Formats())
		}
		if doc == nil {
			if doc, err = reports.Build(ctx, g.Engine, rdef, p); err != nil {
				return nil, fmt.Errorf("report %q: %w", def.Name, err)
			}
		}
		opts := g.Render
		if opts.BaseURL == "" {
			opts.BaseURL = rdef.BaseURL
		}
		b, err := render.Render(doc, f, opts)
		if err != nil {
			return nil, fmt.Errorf("report %q as %s: %w", def.Name, f, err)
		}
		out[f] = b
	}
	return out, nil
}

// csv writes a custom report's saved query, asked over p, as CSV.
func (g Reporter) csv(ctx context.Context, def reports.Definition, p reports.Period) ([]byte, error) {
	if def.Query == nil {
		return nil, fmt.Errorf("csv is made for custom reports (a saved query), not for %s reports", def.Type)
	}
	q := def.Query.Query
	q.From, q.To, q.TimeZone = p.From.Format(time.RFC3339Nano), p.To.Format(time.RFC3339Nano), p.Zone
	res, err := g.Engine.Run(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("saved query: %w", err)
	}
	defer res.Release()
	var b bytes.Buffer
	if err := res.WriteCSV(&b); err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	return b.Bytes(), nil
}

// Definition is the report builder's definition of a stored report
// definition: its params are the builder's settings (docs/reports.md,
// "Definitions"), its type and name the stored ones, and the period's
// zone the zone its times print in. Unknown settings are refused, so a
// misspelt one is not silently ignored.
func Definition(def meta.ReportDefinition, p reports.Period) (reports.Definition, error) {
	var rdef reports.Definition
	if len(bytes.TrimSpace(def.Params)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(def.Params))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rdef); err != nil {
			return rdef, fmt.Errorf("report definition %q: params: %w", def.Name, err)
		}
		if dec.More() {
			return rdef, fmt.Errorf("report definition %q: params: %w", def.Name, errors.New("data after the JSON object"))
		}
	}
	if rdef.Type != "" && rdef.Type != def.Type {
		return rdef, fmt.Errorf("report definition %q: params say type %q, the definition %q", def.Name, rdef.Type, def.Type)
	}
	rdef.Type = def.Type
	if rdef.Title == "" {
		rdef.Title = def.Name
	}
	if rdef.Zone == "" {
		rdef.Zone = p.Zone
	}
	if err := rdef.Validate(); err != nil {
		return rdef, fmt.Errorf("report definition %q: %w", def.Name, err)
	}
	return rdef, nil
}
