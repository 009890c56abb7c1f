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
