package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// The GraphQL tests run gqlgen's client against the server's real handler
// (routes, authentication, the graph package) over a real lake of
// generated telemetry and a real SQLite metadata store.

var (
	graphLakeOnce sync.Once
	graphLake     *lake.Lake
	graphLakeErr  error
)

// graphStart and graphEnd bound the test lake's data; graphEnd is the
// engine's "now".
var (
	graphStart = time.Date(2026, 1, 7, 12, 0, 0, 0, time.UTC)
	graphEnd   = graphStart.Add(time.Hour)
)

func testGraphLake(t *testing.T) *lake.Lake {
	t.Helper()
	graphLakeOnce.Do(func() { graphLake, graphLakeErr = buildGraphLake() })
	if graphLakeErr != nil {
		t.Fatal(graphLakeErr)
	}
	return graphLake
}

func buildGraphLake() (*lake.Lake, error) {
	ctx := context.Background()
	cfg := gen.DefaultConfig()
	cfg.Start, cfg.End = graphStart, graphEnd
	cfg.FlowsPerSecond = 2
	cfg.Sites = 1
	c, err := gen.Collect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	lcfg := lake.DefaultConfig()
	lcfg.Root = filepath.Join(queryLakeDir, "graph") // removed by TestMain
	lcfg.RowGroupRows = 1024
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		return nil, err
	}
	if _, err := lake.Write(ctx, l, "edge-a", c.FlowRows); err != nil {
		return nil, err
	}
	if _, err := lake.Write(ctx, l, "edge-a", c.DHCPRows); err != nil {
		return nil, err
	}
	if _, err := lake.Write(ctx, l, "edge-a", c.LossRows); err != nil {
		return nil, err
	}
	return l, nil
}

// graphEnv is a server with an engine over the test lake.
type graphEnv struct {
	*env
	engine *query.Engine
}

func newGraphEnv(t *testing.T) *graphEnv {
	t.Helper()
	l := testGraphLake(t)
	eng := query.New(l, query.Config{Now: func() time.Time { return graphEnd }}, nil)
	st := openStore(t)
	srv, err := New(DefaultConfig(), Deps{Datasets: l, Query: eng, Meta: st})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, store: st}
	u, err := st.CreateUser(t.Context(), meta.NewUser{Name: "root", Role: meta.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, e.admin, err = st.CreateToken(t.Context(), meta.NewToken{UserID: u.ID, Name: "test"}); err != nil {
		t.Fatal(err)
	}
	return &graphEnv{env: e, engine: eng}
}

// gql is a GraphQL client of the server as the holder of token.
func (e *graphEnv) gql(token string) *client.Client {
	return client.New(e.srv.Handler(), client.Path(PathGraphQL), client.AddHeader("Authorization", "Bearer "+token))
}

// gqlError is one error of a GraphQL answer.
type gqlError struct {
	Message    string `json:"message"`
	Path       []any  `json:"path"`
	Locations  []struct{ Line, Column int }
	Extensions map[string]any `json:"extensions"`
}

// errorsOf decodes the errors of a client error (RawJsonError).
func errorsOf(t *testing.T, err error) []gqlError {
	t.Helper()
	var raw client.RawJsonError
	if errors.As(err, &raw) {
		var out []gqlError
		if err := json.Unmarshal(raw.RawMessage, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	// A refusal before execution is a 4xx; the client reports
	// "http 422: {body}".
	if err == nil || !strings.HasPrefix(err.Error(), "http 4") {
		t.Fatalf("want GraphQL errors, got %v", err)
	}
	_, body, _ := strings.Cut(err.Error(), ": ")
	var resp struct{ Errors []gqlError }
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatal(err)
	}
	return resp.Errors
}

func wantCode(t *testing.T, err error, code string) gqlError {
	t.Helper()
	errs := errorsOf(t, err)
	if len(errs) == 0 || errs[0].Extensions["code"] != code {
		t.Fatalf("want one error with code %s, got %+v", code, errs)
	}
	return errs[0]
}

type flowNode struct {
	Time    string
	SrcAddr string
	DstAddr string
	DstPort int
	Bytes   uint64
	NextHop *string
}

type flowPage struct {
	Flows struct {
		Edges []struct {
			Cursor string
			Node   flowNode
		}
		PageInfo struct {
			HasNextPage, HasPreviousPage bool
			StartCursor, EndCursor       *string
		}
		Plan struct {
			Columns []string
			Route   string
		}
	}
}

// flowsPageQuery selects through fragments with type conditions, so the
// projection must see fields under them.
const flowsPageQuery = `query($first: Int, $after: String) {
  flows(from: "-1h", filter: "proto tcp", first: $first, after: $after) {
    edges { cursor node { time ...Addrs } }
    ... on FlowConnection { pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }
    plan { columns route }
  }
}
fragment Addrs on Flow { srcAddr dstAddr ... on Flow { dstPort bytes nextHop } }`

// TestGraphQLFlowsConnection pages through flows by end cursors and by a
// cursor in the middle of a page, and checks the rows against the
// engine's own listing.
func TestGraphQLFlowsConnection(t *testing.T) {
	e := newGraphEnv(t)
	c := e.gql(e.admin)
	res, err := e.engine.Run(t.Context(), query.Query{Dataset: "flows", From: "-1h", Filter: "proto tcp", Limit: 12,
		Columns: []string{"time", "src_addr", "dst_addr", "dst_port", "bytes", "next_hop"}})
	if err != nil {
		t.Fatal(err)
	}
	var want []flowNode
	for _, row := range res.Rows()[1:] {
		var hop *string
		if row[5] != "" {
			hop = &row[5]
		}
		var port int
		var bytes uint64
		fmt.Sscan(row[3], &port)
		fmt.Sscan(row[4], &bytes)
		want = append(want, flowNode{Time: row[0], SrcAddr: row[1], DstAddr: row[2], DstPort: port, Bytes: bytes, NextHop: hop})
	}
	res.Release()
	if len(want) != 12 {
		t.Fatalf("engine listed %d rows, want 12", len(want))
	}
	page := func(first int, after *string) flowPage {
		t.Helper()
		var p flowPage
		opts := []client.Option{client.Var("first", first)}
		if after != nil {
			opts = append(opts, client.Var("after", *after))
		}
		if err := c.Post(flowsPageQuery, &p, opts...); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nodes := func(p flowPage) []flowNode {
		var out []flowNode
		for _, e := range p.Flows.Edges {
			out = append(out, e.Node)
		}
		return out
	}
	p1 := page(5, nil)
	if !p1.Flows.PageInfo.HasNextPage || p1.Flows.PageInfo.HasPreviousPage || len(p1.Flows.Edges) != 5 {
		t.Fatalf("first page: %+v", p1.Flows.PageInfo)
	}
	if *p1.Flows.PageInfo.EndCursor != p1.Flows.Edges[4].Cursor || *p1.Flows.PageInfo.StartCursor != p1.Flows.Edges[0].Cursor {
		t.Error("start/end cursors are not the first and last edges' cursors")
	}
	// The engine reads the selected columns and the filter's, no more.
	if diff := cmp.Diff([]string{"time", "src_addr", "dst_addr", "dst_port", "proto", "next_hop", "bytes"}, p1.Flows.Plan.Columns); diff != "" {
		t.Errorf("the engine read other columns than the selection and the filter (-want +got):\n%s", diff)
	}
	p2 := page(5, p1.Flows.PageInfo.EndCursor)
	if !p2.Flows.PageInfo.HasPreviousPage {
		t.Error("second page: hasPreviousPage false")
	}
	got := append(nodes(p1), nodes(p2)...)
	if diff := cmp.Diff(want[:10], got); diff != "" {
		t.Errorf("pages 1+2 differ from the engine's listing (-want +got):\n%s", diff)
	}
	// A cursor inside a page continues right after its row.
	mid := page(4, &p1.Flows.Edges[2].Cursor)
	if diff := cmp.Diff(want[3:7], nodes(mid)); diff != "" {
		t.Errorf("after the third edge (-want +got):\n%s", diff)
	}
	// ... and from the middle of that page again.
	mid2 := page(5, &mid.Flows.Edges[1].Cursor)
	if diff := cmp.Diff(want[5:10], nodes(mid2)); diff != "" {
		t.Errorf("after a cursor of a continued page (-want +got):\n%s", diff)
	}

	// The last page says so.
	var all struct {
		Flows struct {
			Nodes      []struct{ Time string }
			PageInfo   struct{ HasNextPage bool }
			TotalCount int64
		}
	}
	c.MustPost(`{ flows(from: "-1h", filter: "proto tcp and dst port 22", first: 2000) { nodes { time } pageInfo { hasNextPage } totalCount } }`, &all)
	if all.Flows.PageInfo.HasNextPage {
		t.Errorf("a page holding every row (%d) says more follow", len(all.Flows.Nodes))
	}
	if n := len(all.Flows.Nodes); n == 0 || all.Flows.TotalCount != int64(n) {
		t.Errorf("totalCount %d, %d rows listed", all.Flows.TotalCount, n)
	}
	if err := c.Post(`{ flows(after: "nonsense") { nodes { time } } }`, &all); err == nil {
		t.Error("a forged cursor was accepted")
	} else {
		wantCode(t, err, "INVALID")
	}
}

// TestGraphQLRecordTypes lists a page of every dataset with every field of
// its record type (asked through the datasets query), so each generated
// type decodes from the engine's columns.
func TestGraphQLRecordTypes(t *testing.T) {
	e := newGraphEnv(t)
	c := e.gql(e.admin)
	var ds struct {
		Datasets []struct {
			Name, RecordType, QueryField string
			Rows                         int64
			MinTime                      *string
			Columns                      []struct{ Name, Field string }
		}
	}
	c.MustPost(`{ datasets { name recordType queryField rows minTime columns { name field } } }`, &ds)
	if len(ds.Datasets) < 5 {
		t.Fatalf("%d datasets", len(ds.Datasets))
	}
	for _, d := range ds.Datasets {
		var fields []string
		for _, col := range d.Columns {
			fields = append(fields, col.Field)
		}
		q := fmt.Sprintf(`{ %s(from: "-2h", first: 3) { nodes { %s } } }`, d.QueryField, strings.Join(fields, " "))
		var resp map[string]struct{ Nodes []map[string]any }
		if err := c.Post(q, &resp); err != nil {
			t.Errorf("%s: %v", d.Name, err)
			continue
		}
		n := len(resp[d.QueryField].Nodes)
		switch {
		case d.Name == "flows" || d.Name == "dhcp_events" || d.Name == "flow_loss":
			if d.Rows == 0 || d.MinTime == nil || n != 3 {
				t.Errorf("%s: %d rows in the lake, %d listed", d.Name, d.Rows, n)
			}
		case n != 0:
			t.Errorf("%s: empty in the test lake, %d listed", d.Name, n)
		}
	}
}

// TestGraphQLAggregates checks topN and timeSeries against the engine.
func TestGraphQLAggregates(t *testing.T) {
	e := newGraphEnv(t)
	c := e.gql(e.admin)
	var top struct {
		TopN struct {
			Dimensions, Metrics []struct{ Name, Type string }
			Rows                []struct {
				Keys   []*string
				Values []*float64
				Others bool
			}
		}
	}
	c.MustPost(`{ topN(from: "-1h", by: ["app"], limit: 3, others: true) { dimensions { name type } metrics { name type } rows { keys values others } } }`, &top)
	res, err := e.engine.Run(t.Context(), query.Query{Dataset: "flows", From: "-1h", GroupBy: []string{"app"},
		Metrics: []string{"sum(bytes)", "count()"}, Limit: 3, Others: true})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	rows := res.Rows()
	if len(top.TopN.Rows) != len(rows)-1 || len(top.TopN.Rows) != 4 {
		t.Fatalf("topN rows %d, engine %d", len(top.TopN.Rows), len(rows)-1)
	}
	if got := []string{top.TopN.Dimensions[0].Name, top.TopN.Metrics[0].Name, top.TopN.Metrics[1].Name}; !slices.Equal(got, []string{"app", "sum(bytes)", "count()"}) {
		t.Errorf("columns %v", got)
	}
	for i, r := range top.TopN.Rows {
		want := rows[i+1]
		key := ""
		if r.Keys[0] != nil {
			key = *r.Keys[0]
		}
		if key != want[0] || fmt.Sprint(uint64(*r.Values[0])) != want[1] || fmt.Sprint(int64(*r.Values[1])) != want[2] || r.Others != (want[3] == "true") {
			t.Errorf("row %d: %v %v %v %v, engine %v", i, key, *r.Values[0], *r.Values[1], r.Others, want)
		}
	}
	if !top.TopN.Rows[3].Others || top.TopN.Rows[3].Keys[0] != nil {
		t.Error("the others row has a key or is not marked")
	}

	var ts struct {
		TimeSeries struct {
			Bucket  string
			Metrics []struct{ Name string }
			Series  []struct {
				Keys   []*string
				Points []struct {
					Time   string
					Values []float64
				}
			}
		}
	}
	c.MustPost(`{ timeSeries(from: "-1h", bucket: "10m", by: ["direction"]) { bucket metrics { name } series { keys points { time values } } } }`, &ts)
	if len(ts.TimeSeries.Series) == 0 || ts.TimeSeries.Metrics[0].Name != "bps()" {
		t.Fatalf("time series: %+v", ts.TimeSeries)
	}
	total := 0.0
	for _, s := range ts.TimeSeries.Series {
		if len(s.Keys) != 1 || len(s.Points) != 6 {
			t.Errorf("series %v: %d points, want 6 buckets of 10 minutes", s.Keys, len(s.Points))
		}
		for i, p := range s.Points {
			if want := graphStart.Add(time.Duration(i) * 10 * time.Minute).Format(time.RFC3339); p.Time != want {
				t.Errorf("point %d at %s, want %s", i, p.Time, want)
			}
			total += p.Values[0] * 600 / 8
		}
	}
	var sum struct {
		Aggregate struct{ Rows []struct{ Values []float64 } }
	}
	c.MustPost(`{ aggregate(from: "-1h", metrics: ["sum(bytes)"]) { rows { values } } }`, &sum)
	if got := sum.Aggregate.Rows[0].Values[0]; total < got*0.999 || total > got*1.001 {
		t.Errorf("bps × bucket seconds over every series = %.0f bytes, sum(bytes) = %.0f", total, got)
	}
}

// TestGraphQLBadFilter: a filter that does not parse is a BAD_QUERY error
// with the byte offset in the filter and the argument's location.
func TestGraphQLBadFilter(t *testing.T) {
	e := newGraphEnv(t)
	c := e.gql(e.admin)
	var resp any
	err := c.Post(`{
  flows(filter: "dst port foo") { nodes { time } }
}`, &resp)
	ge := wantCode(t, err, "BAD_QUERY")
	if ge.Extensions["field"] != "filter" || ge.Extensions["position"] != float64(9) {
		t.Errorf("extensions %v, want field filter and position 9", ge.Extensions)
	}
	// The message a user reads says "filter" once: the argument is in
	// extensions.field, the token's place in position and locations.
	if want := "filter: at 9: expected a port number, got \"foo\"\ndst port foo\n         ^"; ge.Message != want {
		t.Errorf("message\n%s\nwant\n%s", ge.Message, want)
	}
	if len(ge.Locations) != 1 || ge.Locations[0].Line != 2 || ge.Locations[0].Column != 27 {
		t.Errorf("locations %+v, want the offending token inside the filter argument at 2:27", ge.Locations)
	}
	err = c.Post(`{ topN(by: ["nosuchcolumn"]) { rows { keys } } }`, &resp)
	if ge := wantCode(t, err, "BAD_QUERY"); ge.Extensions["field"] != "group_by" {
		t.Errorf("extensions %v", ge.Extensions)
	}
}

// TestGraphQLComplexityLimit: an abusive query (every field of 5 000 rows
// of flows, twice) is refused before it runs; a reasonable one passes.
func TestGraphQLComplexityLimit(t *testing.T) {
	e := newGraphEnv(t)
	c := e.gql(e.admin)
	fields := "time durationMs edge device srcAddr dstAddr srcPort dstPort proto tcpFlags tos inIf outIf inIfName outIfName srcAs dstAs nextHop vlan srcMac dstMac direction bytes packets samplingRate app srcGroup dstGroup"
	abusive := fmt.Sprintf(`{ a: flows(first: 5000) { edges { cursor node { %[1]s } } } b: flows(first: 5000) { nodes { %[1]s } } }`, fields)
	var resp any
	err := c.Post(abusive, &resp)
	ge := wantCode(t, err, "COMPLEXITY_LIMIT_EXCEEDED")
	if !strings.Contains(ge.Message, "complexity") {
		t.Errorf("message %q", ge.Message)
	}
	if err := c.Post(fmt.Sprintf(`{ flows(first: 100) { nodes { %s } } }`, fields), &resp); err != nil {
		t.Errorf("a page of 100 full rows refused: %v", err)
	}
}

// TestGraphQLPermissions: fields need the permissions of their REST
// twins; a viewer reads objects but cannot change them, and every
// mutation, refused or not, is audited under its REST action.
func TestGraphQLPermissions(t *testing.T) {
	e := newGraphEnv(t)
	viewer := e.gql(e.userToken(t, "vic", meta.RoleViewer))
	analyst := e.gql(e.userToken(t, "ann", meta.RoleAnalyst))
	recipient := e.gql(e.userToken(t, "rob", meta.RoleReportRecipient))
	admin := e.gql(e.admin)
	var resp map[string]any

	const create = `mutation { createIPGroup(input: {name: "branch", members: ["10.1.0.0/16"]}) { id name members } }`
	err := viewer.Post(create, &resp)
	if ge := wantCode(t, err, "FORBIDDEN"); !strings.Contains(ge.Message, "objects.write") {
		t.Errorf("message %q", ge.Message)
	}
	var created struct {
		CreateIPGroup struct {
			ID, Name string
			Members  []string
		}
	}
	analyst.MustPost(create, &created)
	viewer.MustPost(`{ ipGroups { id name } }`, &resp)
	if err := viewer.Post(`{ users { name } }`, &resp); err == nil {
		t.Error("a viewer listed users")
	} else {
		wantCode(t, err, "FORBIDDEN")
	}
	if err := recipient.Post(`{ flows { nodes { time } } }`, &resp); err == nil {
		t.Error("a report recipient listed flows")
	} else {
		wantCode(t, err, "FORBIDDEN")
	}
	var me struct {
		Me struct {
			User        struct{ Name string }
			Permissions []string
		}
	}
	recipient.MustPost(`{ me { user { name } permissions } }`, &me)
	if me.Me.User.Name != "rob" || !slices.Equal(me.Me.Permissions, []string{"reports.read"}) {
		t.Errorf("me: %+v", me.Me)
	}

	// A viewer's refused mutation and the analyst's change are audited.
	page, err := e.store.ListAudit(t.Context(), meta.AuditFilter{Action: "ip_group.create", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range page.Entries {
		got = append(got, en.Actor+" "+en.Outcome)
	}
	slices.Sort(got)
	if diff := cmp.Diff([]string{"ann " + meta.OutcomeSuccess, "vic " + meta.OutcomeDenied}, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	if page.Entries[0].Target == "" {
		t.Error("audit entry without target")
	}

	// Metadata through the admin: update, read, delete, not found.
	id := created.CreateIPGroup.ID
	var upd struct{ UpdateIPGroup struct{ Members []string } }
	admin.MustPost(`mutation($id: ID!) { updateIPGroup(id: $id, input: {name: "branch", members: ["10.2.0.0/16", "10.3.0.1"]}) { members } }`, &upd, client.Var("id", id))
	if len(upd.UpdateIPGroup.Members) != 2 {
		t.Errorf("members after update: %v", upd.UpdateIPGroup.Members)
	}
	admin.MustPost(`mutation($id: ID!) { deleteIPGroup(id: $id) }`, &resp, client.Var("id", id))
	err = admin.Post(`query($id: ID!) { ipGroup(id: $id) { name } }`, &resp, client.Var("id", id))
	wantCode(t, err, "NOT_FOUND")
	err = admin.Post(`mutation { createIPGroup(input: {name: "bad", members: ["10.0.0.0/33"]}) { id } }`, &resp)
	wantCode(t, err, "INVALID")
	var u struct {
		CreateUser struct {
			ID, Role    string
			LastLoginAt *string
		}
	}
	admin.MustPost(`mutation { createUser(input: {name: "svc", role: "viewer"}) { id role lastLoginAt } }`, &u)
	if u.CreateUser.Role != "viewer" || u.CreateUser.LastLoginAt != nil {
		t.Errorf("created user %+v", u.CreateUser)
	}
	var app struct {
		CreateApplication struct {
			Protocol string
			Ports    []string
		}
	}
	admin.MustPost(`mutation { createApplication(input: {name: "erp", protocol: "tcp", addresses: ["10.9.0.10"], ports: ["443", "8443"]}) { protocol ports } }`, &app)
	if app.CreateApplication.Protocol != "tcp" || len(app.CreateApplication.Ports) != 2 {
		t.Errorf("application %+v", app.CreateApplication)
	}
}

// TestGraphQLTransport: the endpoint needs credentials like every other
// route, refuses mutations by GET, and serves the playground.
func TestGraphQLTransport(t *testing.T) {
	e := newGraphEnv(t)
	rec := e.call(t, http.MethodPost, PathGraphQL, map[string]any{"query": "{ me { user { name } } }"})
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("without credentials: %d", rec.Code)
	}
	rec = e.call(t, http.MethodGet, PathGraphQL+"?query="+strings.ReplaceAll(`mutation { deleteIPGroup(id: "x") }`, " ", "%20"), nil, bearer(e.admin))
	if rec.Code != http.StatusNotAcceptable || !strings.Contains(rec.Body.String(), "only allow query") {
		t.Errorf("a mutation by GET: %d %s", rec.Code, rec.Body)
	}
	// A query by GET answers.
	rec = e.call(t, http.MethodGet, PathGraphQL+"?query="+strings.ReplaceAll(`{ me { user { name } } }`, " ", "%20"), nil, bearer(e.admin))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"name":"root"`) {
		t.Errorf("a query by GET: %d %s", rec.Code, rec.Body)
	}
	// A WebSocket upgrade from another origin is refused (a session cookie
	// cannot be ridden from a foreign page).
	rec = e.call(t, http.MethodGet, PathGraphQL, nil, bearer(e.admin), header("Connection", "Upgrade"), header("Upgrade", "websocket"),
		header("Sec-WebSocket-Version", "13"), header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), header("Origin", "http://evil.example"))
	if rec.Code != http.StatusForbidden {
		t.Errorf("cross-origin WebSocket upgrade: %d %s", rec.Code, rec.Body)
	}
	rec = e.call(t, http.MethodGet, PathGraphQLPlayground, nil, bearer(e.admin))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), PathGraphQL) {
		t.Errorf("playground: %d", rec.Code)
	}
}
