package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/flowlake/flowlake/reports"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// QueryRunner answers engine queries. *query.Engine implements it.
type QueryRunner interface {
	Run(ctx context.Context, q query.Query) (*query.Result, error)
}

// QueryCSV generates the CSV of a custom report: the saved query in the
// definition's params ({"query": {...}}, the body of POST /api/v1/query)
// asked over the report's period in its time zone. It makes only "csv";
// the report renderers make the other formats.
type QueryCSV struct {
	Engine QueryRunner
}

var _ Generator = QueryCSV{}

// Generate implements Generator.
func (g QueryCSV) Generate(ctx context.Context, def meta.ReportDefinition, p reports.Period, formats []string) (map[string][]byte, error) {
	if def.Type != "custom" {
		return nil, fmt.Errorf("report type %q: this server generates only custom (saved-query) reports as csv", def.Type)
	}
	if i := slices.IndexFunc(formats, func(f string) bool { return f != "csv" }); i >= 0 {
		return nil, fmt.Errorf("format %q: the saved-query generator makes only csv", formats[i])
	}
	var params struct {
		Query *query.Query `json:"query"`
	}
	if err := json.Unmarshal(def.Params, &params); err != nil {
		return nil, fmt.Errorf("report definition %q: params: %w", def.Name, err)
	}
	if params.Query == nil {
		return nil, fmt.Errorf("report definition %q: params: no saved query (want {\"query\": {...}})", def.Name)
	}
	q := *params.Query
	q.From, q.To, q.TimeZone = p.From.Format(time.RFC3339Nano), p.To.Format(time.RFC3339Nano), p.Zone
	res, err := g.Engine.Run(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("report %q query: %w", def.Name, err)
	}
	defer res.Release()
	var b bytes.Buffer
	if err := res.WriteCSV(&b); err != nil {
		return nil, fmt.Errorf("report %q csv: %w", def.Name, err)
	}
	return map[string][]byte{"csv": b.Bytes()}, nil
}
