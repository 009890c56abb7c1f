package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/schema"
)

// ingestRig is a core (lake, store, server behind a real HTTP listener)
// whose clock is fixed at now, and a spool lake to write segments in.
type ingestRig struct {
	*env
	core, spool *lake.Lake
	reg         *prometheus.Registry
	hs          *httptest.Server
	now         time.Time
	seq         uint64 // makes every segment's content different
}

func newIngestRig(t *testing.T) *ingestRig {
	t.Helper()
	open := func() *lake.Lake {
		cfg := lake.DefaultConfig()
		cfg.Root = t.TempDir()
		l, err := lake.Open(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		return l
	}
	r := &ingestRig{core: open(), spool: open(), reg: prometheus.NewRegistry(),
		now: time.Date(2026, 11, 20, 12, 30, 0, 0, time.UTC)}
	st := openStore(t)
	srv, err := New(DefaultConfig(), Deps{Datasets: r.core, Meta: st, Ingest: r.core, Registry: r.reg,
		Now: func() time.Time { return r.now }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r.env = &env{srv: srv, store: st}
	if _, err := st.CreateRole(t.Context(), meta.Role{Name: "edge", Permissions: []meta.Permission{meta.PermIngestWrite}}); err != nil {
		t.Fatal(err)
	}
	r.hs = httptest.NewServer(srv.Handler())
	t.Cleanup(r.hs.Close)
	return r
}

// segment writes rows of source starting at start into the spool and
// returns the segment's id and file; each call's rows differ.
func (r *ingestRig) segment(t *testing.T, source string, start time.Time) (string, []byte) {
	t.Helper()
	r.seq++
	rows := make([]schema.Flow, 100)
	for i := range rows {
		rows[i] = schema.Flow{Time: schema.Micros(start) + int64(i)*1000, Edge: source, Bytes: r.seq*1000 + uint64(i), SrcAddr: schema.MustParseAddr("192.0.2.1")}
	}
	segs, err := lake.Write(t.Context(), r.spool, source, rows)
	if err != nil || len(segs) != 1 {
		t.Fatalf("spool write: %v %v", segs, err)
	}
	file, err := os.ReadFile(filepath.Join(r.spool.Config().Root, filepath.FromSlash(segs[0].Key)))
	if err != nil {
		t.Fatal(err)
	}
	return lake.SegmentID(segs[0]), file
}

// put uploads body under id over HTTP and returns the status, the result
// and the raw answer.
func (r *ingestRig) put(t *testing.T, token, id string, body []byte) (int, IngestResult, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, r.hs.URL+PathIngest+"/"+id, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := r.hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var res IngestResult
	_ = json.Unmarshal(raw, &res)
	return resp.StatusCode, res, string(raw)
}

// segments counts the flows segments the core holds.
func (r *ingestRig) segments(t *testing.T) int {
	t.Helper()
	got, err := r.core.Segments(t.Context(), schema.Flows, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}

func (r *ingestRig) outcome(name string) float64 {
	return testutil.ToFloat64(r.srv.metrics.ingest.WithLabelValues(name))
}

// TestIngestEdgeBinding uploads one edge's segment with tokens bound to
// edges or not, and creates bound tokens over HTTP: a bound token writes
// for its edges only, an unbound one for the edge named like its user, and
// a bound token cannot mint a token for other edges.
func TestIngestEdgeBinding(t *testing.T) {
	r := newIngestRig(t)
	hour := r.now.Truncate(time.Hour)

	// Tokens made over the API, by an administrator.
	fleetUser, err := r.store.CreateUser(t.Context(), meta.NewUser{Name: "fleet", Role: "edge"})
	if err != nil {
		t.Fatal(err)
	}
	mint := func(by string, req AdminTokenRequest) (int, TokenCreated) {
		rec := r.call(t, http.MethodPost, PathTokens, req, bearer(by))
		if rec.Code != http.StatusCreated {
			return rec.Code, TokenCreated{}
		}
		return rec.Code, decode[TokenCreated](t, rec)
	}
	r.admin = r.userToken(t, "boss", meta.RoleAdmin)
	code, paris := mint(r.admin, AdminTokenRequest{UserID: fleetUser.ID, TokenRequest: TokenRequest{Name: "paris", Edges: []string{"edge-paris", "edge-lyon"}}})
	if code != http.StatusCreated || strings.Join(paris.Token.Edges, ",") != "edge-lyon,edge-paris" {
		t.Fatalf("bound token: %d %+v", code, paris.Token)
	}
	if code, _ := mint(r.admin, AdminTokenRequest{UserID: fleetUser.ID, TokenRequest: TokenRequest{Name: "bad", Edges: []string{"../etc"}}}); code != http.StatusBadRequest {
		t.Errorf("token bound to a bad edge name: %d, want 400", code)
	}
	// The fleet user's bound token mints for itself: narrower is fine,
	// none inherits, another edge is refused.
	mine := func(req TokenRequest) (int, TokenCreated) {
		rec := r.call(t, http.MethodPost, PathMyTokens, req, bearer(paris.Secret))
		if rec.Code != http.StatusCreated {
			return rec.Code, TokenCreated{}
		}
		return rec.Code, decode[TokenCreated](t, rec)
	}
	if code, tok := mine(TokenRequest{Name: "lyon", Edges: []string{"edge-lyon"}}); code != http.StatusCreated || strings.Join(tok.Token.Edges, ",") != "edge-lyon" {
		t.Errorf("narrower token: %d %v", code, tok.Token.Edges)
	}
	if code, tok := mine(TokenRequest{Name: "inherit"}); code != http.StatusCreated || len(tok.Token.Edges) != 2 {
		t.Errorf("token without edges from a bound token: %d %v, want the same two edges", code, tok.Token.Edges)
	}
	if code, _ := mine(TokenRequest{Name: "escape", Edges: []string{"edge-berlin"}}); code != http.StatusForbidden {
		t.Errorf("bound token minting another edge: %d, want 403", code)
	}

	unboundParis := r.userToken(t, "edge-paris", "edge") // named like its edge
	unboundOther := r.userToken(t, "edge-nice", "edge")
	for _, tc := range []struct {
		name, token string
		status      int
	}{
		{"unbound token of another edge's user", unboundOther, http.StatusForbidden},
		{"unbound admin token", r.admin, http.StatusForbidden},
		{"token bound to the edge", paris.Secret, http.StatusCreated},
		{"unbound token of the edge's user", unboundParis, http.StatusCreated},
	} {
		id, file := r.segment(t, "edge-paris", hour)
		if status, _, body := r.put(t, tc.token, id, file); status != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.name, status, tc.status, body)
		}
	}
	id, file := r.segment(t, "edge-berlin", hour)
	if status, _, body := r.put(t, paris.Secret, id, file); status != http.StatusForbidden || !strings.Contains(body, "edge-berlin") {
		t.Errorf("bound token, other edge: %d %s", status, body)
	}
	if n := r.segments(t); n != 2 {
		t.Errorf("core holds %d segments, want the 2 allowed uploads", n)
	}
	if got := r.outcome(ingestRefusedEdge); got != 3 {
		t.Errorf("refused_edge = %v, want 3", got)
	}
}

// TestIngestDuplicateContent uploads the same bytes under a second id: the
// answer is 200 naming the first id, nothing is written, and the duplicate
// is counted; a retry under the first id stays an idempotent retry.
func TestIngestDuplicateContent(t *testing.T) {
	r := newIngestRig(t)
	token := r.userToken(t, "edge-7", "edge")
	id, file := r.segment(t, "edge-7", r.now.Truncate(time.Hour))
	other := "edge-7-" + ulid.Make().String()
	for _, tc := range []struct {
		name, id    string
		status      int
		created     bool
		duplicateOf string
	}{
		{"first upload", id, http.StatusCreated, true, ""},
		{"same bytes, new id", other, http.StatusOK, false, id},
		{"retry of the first id", id, http.StatusOK, false, ""},
		{"retry of the new id", other, http.StatusOK, false, id},
	} {
		status, res, body := r.put(t, token, tc.id, file)
		if status != tc.status || res.Created != tc.created || res.DuplicateOf != tc.duplicateOf || res.Rows != 100 {
			t.Errorf("%s: %d %+v, want %d created=%v duplicate_of=%q: %s", tc.name, status, res, tc.status, tc.created, tc.duplicateOf, body)
		}
	}
	if n := r.segments(t); n != 1 {
		t.Errorf("core holds %d segments, want 1", n)
	}
	for outcome, want := range map[string]float64{ingestPublished: 1, ingestDuplicate: 2, ingestRetry: 1} {
		if got := r.outcome(outcome); got != want {
			t.Errorf("%s = %v, want %v", outcome, got, want)
		}
	}
	page, err := r.store.ListAudit(t.Context(), meta.AuditFilter{Action: "ingest.segment", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	dups := 0
	for _, a := range page.Entries {
		if a.Target == other && strings.Contains(a.Detail, "duplicate of "+id) {
			dups++
		}
	}
	if dups != 2 {
		t.Errorf("%d audited duplicates, want 2: %+v", dups, page.Entries)
	}
}

// TestIngestTimeWindow uploads segments dated 1970, 2100, just outside and
// just inside the window around the core's clock: those outside are
// refused with 422 and a message naming the window, and counted.
func TestIngestTimeWindow(t *testing.T) {
	r := newIngestRig(t)
	token := r.userToken(t, "edge-7", "edge")
	cfg := DefaultConfig()
	for _, tc := range []struct {
		name   string
		start  time.Time
		status int
		detail string
	}{
		{"1970", time.Unix(0, 0).UTC(), http.StatusUnprocessableEntity, "older than the accepted window"},
		{"2100", time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), http.StatusUnprocessableEntity, "in the future beyond the accepted window"},
		{"just too old", r.now.Add(-cfg.IngestMaxAge - time.Hour).Truncate(time.Hour), http.StatusUnprocessableEntity, "serve.ingest_max_age"},
		{"too far ahead", r.now.Add(cfg.IngestMaxFuture + time.Hour).Truncate(time.Hour), http.StatusUnprocessableEntity, "serve.ingest_max_future"},
		{"a week old", r.now.Add(-7 * 24 * time.Hour).Truncate(time.Hour), http.StatusCreated, ""},
		{"this hour", r.now.Truncate(time.Hour), http.StatusCreated, ""},
	} {
		id, file := r.segment(t, "edge-7", tc.start)
		status, _, body := r.put(t, token, id, file)
		if status != tc.status || !strings.Contains(body, tc.detail) {
			t.Errorf("%s: %d, want %d with %q: %s", tc.name, status, tc.status, tc.detail, body)
		}
	}
	if n := r.segments(t); n != 2 {
		t.Errorf("core holds %d segments, want 2", n)
	}
	if got := r.outcome(ingestRefusedTime); got != 4 {
		t.Errorf("refused_time = %v, want 4", got)
	}
}
