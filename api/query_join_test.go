package api

import (
	"net/url"
	"strings"
	"testing"
)

// The lease join's columns reach REST through the query spec: a TopN by
// src_host answers, and its plan counts the rows no lease held (the test
// lake has flows and DHCP events but no dhcp_leases: every row).
func TestQueryLeaseJoin(t *testing.T) {
	e := queryEnv(t)
	for _, path := range []string{
		PathTopN + "?from=-2h&by=src_host&limit=3",
		PathTopN + "?from=-2h&by=src_addr&limit=3&filter=" + url.QueryEscape("not src host laptop-42"),
	} {
		rec := e.call(t, "GET", path, nil, bearer(e.admin))
		if rec.Code != 200 {
			t.Fatalf("%s: status %d: %s", path, rec.Code, rec.Body)
		}
		body := rec.Body.String()
		for _, s := range []string{`"lease_join":{"sides":["src_addr"]`, `"leases":0`, `"rows_without_src_lease":`} {
			if !strings.Contains(body, s) {
				t.Errorf("%s: body lacks %q:\n%.800s", path, s, body)
			}
		}
		if strings.Contains(body, `"rows_without_src_lease":0,`) {
			t.Errorf("%s: no row counted without a lease in a lake without leases", path)
		}
	}
}

// And GraphQL's topN and aggregate: a host name filter and src_host as a
// dimension (every row "": the test lake has no dhcp_leases).
func TestGraphQLLeaseJoin(t *testing.T) {
	e := newGraphEnv(t)
	c := e.gql(e.admin)
	var resp struct {
		TopN struct {
			Dimensions []struct{ Name string }
			Rows       []struct{ Keys []*string }
		}
	}
	c.MustPost(`{ topN(from: "-2h", by: ["src_host"], filter: "not src host laptop-42", limit: 3) { dimensions { name } rows { keys } } }`, &resp)
	if len(resp.TopN.Dimensions) != 1 || resp.TopN.Dimensions[0].Name != "src_host" || len(resp.TopN.Rows) != 1 ||
		resp.TopN.Rows[0].Keys[0] == nil || *resp.TopN.Rows[0].Keys[0] != "" {
		t.Errorf("topN by src_host: %+v, want one group \"\"", resp.TopN)
	}
}
