package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowlake/flowlake/storage/query"
)

// maxErrorText bounds the message of a refused body: a decoder error names
// an offset and a kind of fault, it never echoes the body.
const maxErrorText = 400

// FuzzQueryBody feeds bytes to the strict JSON decoder of request bodies,
// decoding into the query of POST /api/v1/query: it never panics; what it
// accepts is exactly one valid JSON value, and the query it yields
// survives a round trip through encoding/json; what it refuses gets a
// short message. Seeds are under testdata/fuzz/FuzzQueryBody.
func FuzzQueryBody(f *testing.F) {
	for _, s := range []string{
		`{"dataset":"flows","from":"-2h","group_by":["proto"],"metrics":["sum(bytes)"],"limit":3}`,
		`{"dataset":"flows"} }`, `{"limit":31415926535897932384626433}`, `{"filter":"` + strings.Repeat("a", 1<<16),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var q query.Query
		err := decodeStrict(bytes.NewReader(body), &q)
		if err != nil {
			if len(err.Error()) > maxErrorText {
				t.Fatalf("error of %d bytes: %.200s", len(err.Error()), err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		again, err := json.Marshal(q)
		if err != nil {
			t.Fatalf("marshal %+v: %v", q, err)
		}
		var q2 query.Query
		if err := decodeStrict(bytes.NewReader(again), &q2); err != nil {
			t.Fatalf("re-encoded query %s refused: %v", again, err)
		}
		if diff := cmp.Diff(q, q2, cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(query.Query{})); diff != "" {
			t.Fatalf("round trip changed the query (-first +second):\n%s", diff)
		}
	})
}

// FuzzQueryRequest posts bytes as the body of /api/v1/query through the
// server's handler, with a real engine over a small lake: whatever the
// body and its content type, the answer is a success or a 4xx problem,
// never a server error, and it is JSON. Seeds are under
// testdata/fuzz/FuzzQueryRequest.
func FuzzQueryRequest(f *testing.F) {
	e := queryEnv(f)
	for _, s := range []struct{ body, ct string }{
		{`{"dataset":"flows","from":"-2h","group_by":["src_addr","proto"],"metrics":["sum(bytes)","p95(bytes)","bps()"],"limit":5}`, "application/json"},
		{`{"dataset":"flows","from":"-2h","columns":["time","src_addr"],"limit":3,"cursor":"e30"}`, ""},
		{`{"dataset":"dhcp_events","from":"-2h","group_by":["time/15m","msg_type"]}`, "application/json; charset=utf-8"},
		{`{"dataset":"flows","filter":"src port >"}`, "application/json"},
		{`{"dataset":"flows"}{"dataset":"flows"}`, "application/json"},
		{`dataset=flows`, "application/x-www-form-urlencoded"},
		{`{"dataset":"flows","from":"1970-01-01","to":"2100-01-01","group_by":["time/1m"]}`, ""},
	} {
		f.Add([]byte(s.body), s.ct)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		req := httptest.NewRequest(http.MethodPost, PathQuery, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(rec, req)
		checkAnswer(t, rec)
	})
}

// FuzzFlowsCursor pages /api/v1/flows through the server's handler with
// fuzzed cursors, starting from real ones and their tampered forms: a
// cursor the engine did not hand out is a 400, never a server error.
// Seeds are under testdata/fuzz/FuzzFlowsCursor.
func FuzzFlowsCursor(f *testing.F) {
	e := queryEnv(f)
	const page = PathFlows + "?from=-2h&columns=time,src_addr,dst_port&limit=5"
	rec := e.call(f, http.MethodGet, page, nil, bearer(e.admin))
	real := rec.Header().Get(HeaderCursor)
	if rec.Code != http.StatusOK || real == "" {
		f.Fatalf("first page: %d, cursor %q", rec.Code, real)
	}
	f.Add(real)
	raw, err := base64.RawURLEncoding.DecodeString(real)
	if err != nil {
		f.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		f.Fatalf("cursor %s: %v", raw, err)
	}
	for _, tamper := range []func(map[string]any){
		func(c map[string]any) { c["p"] = -1 },
		func(c map[string]any) { c["p"] = 1e300 },
		func(c map[string]any) { c["s"] = "../../etc/passwd" },
		func(c map[string]any) { c["k"] = []any{} },
		func(c map[string]any) { c["k"] = []any{map[string]any{"b": "AAAA"}} },
		func(c map[string]any) { c["k"] = []any{map[string]any{"n": true}, map[string]any{"i": 1}} },
		func(c map[string]any) { c["k"] = "x" },
	} {
		m := map[string]any{}
		for k, v := range c {
			m[k] = v
		}
		tamper(m)
		b, _ := json.Marshal(m)
		f.Add(base64.RawURLEncoding.EncodeToString(b))
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		rec := e.call(t, http.MethodGet, page+"&cursor="+url.QueryEscape(cursor), nil, bearer(e.admin))
		checkAnswer(t, rec)
	})
}

// checkAnswer fails unless rec is a success or a 4xx, with a JSON body
// (a result or a problem) whose error detail is short.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("server error %d: %.300s", rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		var p Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code || p.Code == "" {
			t.Fatalf("%d answer is not a problem document (%v): %.300s", rec.Code, err, rec.Body)
		}
		if len(p.Detail) > maxErrorText && p.Code != CodeBadQuery {
			t.Fatalf("problem detail of %d bytes: %.200s", len(p.Detail), p.Detail)
		}
		return
	}
	if ct := rec.Header().Get("Content-Type"); strings.HasPrefix(ct, MediaJSON) && !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%d answer is not JSON: %.300s", rec.Code, rec.Body)
	}
}
