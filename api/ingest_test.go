package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestIngestSegment uploads segments written by lake.Write (as an edge's
// spool holds them) over a real HTTP connection: the first upload
// publishes, a retry publishes nothing, damaged or misnamed files are
// refused with 400, and only ingest.write may upload.
func TestIngestSegment(t *testing.T) {
	ctx := context.Background()
	openLake := func() *lake.Lake {
		cfg := lake.DefaultConfig()
		cfg.Root = t.TempDir()
		l, err := lake.Open(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		return l
	}
	spool, core := openLake(), openLake()
	base := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	rows := make([]schema.Flow, 500)
	for i := range rows {
		rows[i] = schema.Flow{Time: schema.Micros(base) + int64(i)*1000, Edge: "edge-7", Bytes: uint64(i), SrcAddr: schema.MustParseAddr("192.0.2.1")}
	}
	segs, err := lake.Write(ctx, spool, "edge-7", rows)
	if err != nil || len(segs) != 1 {
		t.Fatalf("spool write: %v %v", segs, err)
	}
	id := lake.SegmentID(segs[0])
	file, err := os.ReadFile(filepath.Join(spool.Config().Root, filepath.FromSlash(segs[0].Key)))
	if err != nil {
		t.Fatal(err)
	}

	st := openStore(t)
	srv, err := New(DefaultConfig(), Deps{Datasets: core, Meta: st, Ingest: core, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, store: st}
	if _, err := st.CreateRole(ctx, meta.Role{Name: "edge", Permissions: []meta.Permission{meta.PermIngestWrite}}); err != nil {
		t.Fatal(err)
	}
	edgeToken := e.userToken(t, "edge-7", "edge")
	viewer := e.userToken(t, "vic", meta.RoleViewer)
	fleetToken := e.boundToken(t, "fleet", "edge", "edge-7", "other")
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	put := func(token, id string, body []byte) (int, IngestResult, string) {
		req, err := http.NewRequest(http.MethodPut, hs.URL+PathIngest+"/"+id, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/vnd.apache.parquet")
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		var res IngestResult
		_ = json.Unmarshal(buf.Bytes(), &res)
		return resp.StatusCode, res, buf.String()
	}
	tests := []struct {
		name, token, id string
		body            []byte
		status          int
		created         bool
	}{
		{"first upload", edgeToken, id, file, http.StatusCreated, true},
		{"retry", edgeToken, id, file, http.StatusOK, false},
		{"viewer", viewer, id, file, http.StatusForbidden, false},
		{"truncated", edgeToken, id, file[:len(file)-100], http.StatusBadRequest, false},
		{"garbage", edgeToken, id, []byte("PAR1 not really PAR1"), http.StatusBadRequest, false},
		{"bad id", edgeToken, "edge-7-notaulid", file, http.StatusBadRequest, false},
		{"id of an edge the token may not write for", edgeToken, "other" + id[len("edge-7"):], file, http.StatusForbidden, false},
		{"id of another source than the file's", fleetToken, "other" + id[len("edge-7"):], file, http.StatusBadRequest, false},
	}
	for _, tc := range tests {
		status, res, body := put(tc.token, tc.id, tc.body)
		if status != tc.status || res.Created != tc.created {
			t.Errorf("%s: %d created=%v, want %d created=%v: %s", tc.name, status, res.Created, tc.status, tc.created, body)
		}
		if status < 300 && (res.Rows != 500 || res.Key != segs[0].Key || res.Dataset != schema.Flows) {
			t.Errorf("%s: result %+v", tc.name, res)
		}
	}
	got, err := core.Segments(ctx, schema.Flows, time.Time{}, time.Time{})
	if err != nil || len(got) != 1 || got[0].Rows != 500 {
		t.Fatalf("core segments %+v %v", got, err)
	}
	page, err := st.ListAudit(ctx, meta.AuditFilter{Action: "ingest.segment", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != len(tests) {
		t.Errorf("%d ingest audit entries, want %d", len(page.Entries), len(tests))
	}
}

// boundToken creates a user of a role and returns a token of theirs bound
// to the given edges.
func (e *env) boundToken(t *testing.T, name, role string, edges ...string) string {
	t.Helper()
	u, err := e.store.CreateUser(t.Context(), meta.NewUser{Name: name, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := e.store.CreateToken(t.Context(), meta.NewToken{UserID: u.ID, Name: "test", Edges: edges})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}
