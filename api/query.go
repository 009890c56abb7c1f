package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// Querier answers queries. *query.Engine implements it.
type Querier interface {
	Run(ctx context.Context, q query.Query) (*query.Result, error)
}

// Query result media types.
const (
	MediaJSON  = "application/json"
	MediaCSV   = "text/csv"
	MediaArrow = "application/vnd.apache.arrow.stream"
)

// Response headers of query answers (every encoding): the cursor of a
// listing's next page, and the dataset that answered.
const (
	HeaderCursor = "Flowlake-Cursor"
	// HeaderWarnings counts the unreadable lake files an answer is
	// missing (CSV and Arrow answers carry no warnings in their body;
	// JSON answers list them under "warnings").
	HeaderWarnings = "Flowlake-Warnings"
	HeaderRoute    = "Flowlake-Route"
)

// Problem codes of queries.
const (
	CodeBadQuery      = "bad_query"
	CodeMemoryBudget  = "memory_budget"
	CodeNotAcceptable = "not_acceptable"
)

// QueryResponse is the JSON answer to a query: the columns with their
// Arrow types, one object per row, the next page's cursor, and the plan
// with what the query cost.
type QueryResponse struct {
	Columns []QueryColumn    `json:"columns"`
	Rows    []map[string]any `json:"rows"`
	Cursor  string           `json:"cursor,omitempty"`
	Plan    query.Plan       `json:"plan"`
	// Warnings name unreadable lake files whose rows the answer is
	// missing; absent when the answer is complete.
	Warnings []query.Warning `json:"warnings,omitempty"`
}

// QueryColumn names a result column and its Arrow type.
type QueryColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

var commonQueryParams = []queryParam{
	{"dataset", "dataset (default flows)", "string"},
	{"from", "start: RFC 3339, a date, or an offset such as -1h (default -24h)", "string"},
	{"to", "end, exclusive (default now)", "string"},
	{"filter", "filter expression (docs/query-language.md)", "string"},
	{"tz", "time zone of buckets and dates (IANA name; default UTC)", "string"},
	{"format", "json, csv or arrow; overrides the Accept header", "string"},
}

func queryParams(extra ...queryParam) []queryParam {
	return append(append([]queryParam(nil), commonQueryParams...), extra...)
}

// postQuery answers a query given as JSON (decodeJSON's rules: 415 for
// another media type, 413 over maxBody, 400 for trailing data).
func (s *Server) postQuery(c echo.Context) error {
	var q query.Query
	if err := decodeJSON(c, &q); err != nil {
		return err
	}
	return s.answer(c, q)
}

// getFlows lists raw records: /api/v1/flows?filter=…&columns=…&cursor=….
func (s *Server) getFlows(c echo.Context) error {
	q := s.baseQuery(c)
	q.Columns = query.SplitList(c.QueryParam("columns"))
	q.OrderBy = query.SplitList(c.QueryParam("order"))
	q.Cursor = c.QueryParam("cursor")
	var err error
	if q.Limit, err = intParam(c, "limit", 0); err != nil {
		return err
	}
	return s.answer(c, q)
}

// getTopN answers a TopN: /api/v1/topn?by=src_addr&metric=sum(bytes)&limit=10.
func (s *Server) getTopN(c echo.Context) error {
	q := s.baseQuery(c)
	q.GroupBy = query.SplitList(c.QueryParam("by"))
	if len(q.GroupBy) == 0 {
		return fmt.Errorf("%w: by: name at least one dimension (by=src_addr)", ErrInvalid)
	}
	q.Metrics = query.SplitList(c.QueryParam("metrics"))
	if len(q.Metrics) == 0 {
		q.Metrics = []string{"sum(bytes)", "count()"}
		if d, err := schema.Lookup(q.Dataset); err == nil {
			if _, ok := d.Column("bytes"); !ok {
				q.Metrics = []string{"count()"}
			}
		}
	}
	q.OrderBy = query.SplitList(c.QueryParam("order"))
	topN := 10
	if s.deps.Meta != nil {
		if st, err := s.deps.Meta.GetSettings(c.Request().Context()); err == nil && st.TopN > 0 {
			topN = st.TopN
		}
	}
	var err error
	if q.Limit, err = intParam(c, "limit", topN); err != nil {
		return err
	}
	q.Others = c.QueryParam("others") == "true"
	return s.answer(c, q)
}

// getSeries answers a time series: /api/v1/series?bucket=5m&metrics=bps().
func (s *Server) getSeries(c echo.Context) error {
	q := s.baseQuery(c)
	bucket := c.QueryParam("bucket")
	if bucket == "" {
		bucket = "5m"
	}
	q.GroupBy = append([]string{"time/" + bucket}, query.SplitList(c.QueryParam("by"))...)
	q.Metrics = query.SplitList(c.QueryParam("metrics"))
	if len(q.Metrics) == 0 {
		q.Metrics = []string{"bps()", "pps()"}
		if q.Dataset != schema.Flows {
			q.Metrics = []string{"count()"}
		}
	}
	return s.answer(c, q)
}

func (s *Server) baseQuery(c echo.Context) query.Query {
	q := query.Query{
		Dataset:  c.QueryParam("dataset"),
		From:     c.QueryParam("from"),
		To:       c.QueryParam("to"),
		Filter:   c.QueryParam("filter"),
		TimeZone: c.QueryParam("tz"),
	}
	if q.Dataset == "" {
		q.Dataset = schema.Flows
	}
	return q
}

func intParam(c echo.Context, name string, def int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s=%q is not a non-negative integer", ErrInvalid, name, v)
	}
	return n, nil
}

// negotiate picks the answer's media type from ?format= or Accept.
func negotiate(c echo.Context) (string, error) {
	switch f := c.QueryParam("format"); f {
	case "json":
		return MediaJSON, nil
	case "csv":
		return MediaCSV, nil
	case "arrow":
		return MediaArrow, nil
	case "":
	default:
		return "", notAcceptable(fmt.Sprintf("format=%q: want json, csv or arrow", f))
	}
	accept := c.Request().Header.Get(echo.HeaderAccept)
	if accept == "" {
		return MediaJSON, nil
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case MediaJSON, "*/*", "application/*":
			return MediaJSON, nil
		case MediaCSV, "text/*":
			return MediaCSV, nil
		case MediaArrow:
			return MediaArrow, nil
		}
	}
	return "", notAcceptable(fmt.Sprintf("Accept %q: answers are %s, %s or %s", accept, MediaJSON, MediaCSV, MediaArrow))
}

func notAcceptable(msg string) error {
	return echo.NewHTTPError(http.StatusNotAcceptable, msg)
}

// answer runs q and streams the result in the negotiated encoding.
func (s *Server) answer(c echo.Context, q query.Query) error {
	media, err := negotiate(c)
	if err != nil {
		return err
	}
	if s.deps.Query == nil {
		return fmt.Errorf("%w: no query engine", ErrUnavailable)
	}
	res, err := s.deps.Query.Run(c.Request().Context(), q)
	if err != nil {
		return err
	}
	defer res.Release()
	h := c.Response().Header()
	if res.Cursor != "" {
		h.Set(HeaderCursor, res.Cursor)
	}
	h.Set(HeaderRoute, res.Plan.Route)
	if len(res.Warnings) > 0 {
		h.Set(HeaderWarnings, strconv.Itoa(len(res.Warnings)))
	}
	h.Set(echo.HeaderContentType, media)
	if media == MediaCSV {
		h.Set(echo.HeaderContentType, MediaCSV+"; charset=utf-8")
	}
	c.Response().WriteHeader(http.StatusOK)
	w := bufio.NewWriterSize(c.Response(), 64<<10)
	switch media {
	case MediaCSV:
		err = res.WriteCSV(w)
	case MediaArrow:
		err = res.WriteArrow(w)
	default:
		err = writeQueryJSON(w, res)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		// The status is sent; all that is left is to log and cut the body.
		s.logger.WarnContext(c.Request().Context(), "write query answer", "err", err)
	}
	return nil
}

// writeQueryJSON streams a QueryResponse row by row.
func writeQueryJSON(w *bufio.Writer, res *query.Result) error {
	var cols []QueryColumn
	for _, f := range res.Schema.Fields() {
		cols = append(cols, QueryColumn{Name: f.Name, Type: f.Type.String()})
	}
	head, err := json.Marshal(cols)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, `{"columns":%s,"rows":[`, head)
	names := make([][]byte, len(cols))
	for c, col := range cols {
		n, _ := json.Marshal(col.Name)
		names[c] = append(n, ':')
	}
	var buf []byte
	first := true
	for _, rec := range res.Records {
		for i := range int(rec.NumRows()) {
			buf = buf[:0]
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = append(buf, '{')
			for c := range cols {
				if c > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, names[c]...)
				buf = query.AppendJSON(buf, rec.Column(c), i)
			}
			buf = append(buf, '}')
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
	}
	w.WriteString("]")
	if res.Cursor != "" {
		fmt.Fprintf(w, `,"cursor":%q`, res.Cursor)
	}
	plan, err := json.Marshal(res.Plan)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, `,"plan":%s`, plan)
	if len(res.Warnings) > 0 {
		ws, err := json.Marshal(res.Warnings)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, `,"warnings":%s`, ws)
	}
	w.WriteString("}")
	return nil
}

// queryProblem maps the engine's errors to problem documents.
func queryProblem(err error) (Problem, bool) {
	var se *query.SpecError
	switch {
	case errors.As(err, &se):
		p := Problem{Status: http.StatusBadRequest, Code: CodeBadQuery, Detail: se.Error(), Field: se.Field}
		var fe *query.FilterError
		if errors.As(err, &fe) {
			pos := fe.Pos
			p.Position = &pos
		}
		return p, true
	case errors.Is(err, query.ErrMemoryBudget):
		return Problem{Status: http.StatusUnprocessableEntity, Code: CodeMemoryBudget, Detail: err.Error()}, true
	}
	return Problem{}, false
}
