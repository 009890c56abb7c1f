package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// TestUserAddEdges: `user add --token --edges` binds the printed token to
// those edges, and serve then takes that token's uploads for them only.
func TestUserAddEdges(t *testing.T) {
	dir := genLake(t)
	out, errOut, code := runCLI(t, nil, "user", "add", "--name", "pops", "--role", "admin", "--token", "--token-name", "uploads",
		"--edges", "pop-fra,pop-ams,pop-fra", "--json", "--data", dir, "--log-level", "warn")
	if code != 0 {
		t.Fatalf("user add --edges exited %d: %s", code, errOut)
	}
	var added UserAdded
	if err := json.Unmarshal([]byte(out), &added); err != nil || added.Token == nil {
		t.Fatalf("user add --json: %v: %s", err, out)
	}
	if want := []string{"pop-ams", "pop-fra"}; !slices.Equal(added.Token.Edges, want) {
		t.Errorf("token edges %q, want %q", added.Token.Edges, want)
	}

	out, errOut, code = runCLI(t, nil, "user", "add", "--name", "pop-par", "--role", "admin", "--token", "--edges", "pop-par",
		"--data", dir, "--log-level", "warn")
	if code != 0 || !strings.Contains(out, "may upload for the edges pop-par.") {
		t.Errorf("text output (exit %d) does not name the edges: %s%s", code, out, errOut)
	}

	for _, tt := range []struct {
		name string
		args []string
		err  string
	}{
		{"edges without a token", []string{"--name", "bob", "--role", "admin", "--edges", "pop-ams"}, "--edges binds a token: give --token too"},
		{"edge with a slash", []string{"--name", "bob", "--role", "admin", "--token", "--edges", "pop/ams"}, `--edges: invalid: edge "pop/ams"`},
		{"empty edge", []string{"--name", "bob", "--role", "admin", "--token", "--edges", "pop-ams,"}, `--edges: invalid: edge ""`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, nil, append([]string{"user", "add", "--data", dir}, tt.args...)...)
			if code != 2 || !strings.Contains(errOut, tt.err) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, tt.err)
			}
		})
	}
	if _, errOut, code := runCLI(t, nil, "user", "list", "--json", "--data", dir); code != 0 || strings.Contains(errOut, "bob") {
		t.Errorf("user list: exit %d %s", code, errOut)
	}
	st := openTestMeta(t, dir)
	if _, err := st.GetUserByName(t.Context(), "bob"); err == nil {
		t.Error("a refused --edges still created the user")
	}
	st.Close()

	// The bound token uploads for pop-ams, not for an edge it was not given.
	srv := startServe(t, dir, []string{"FLOWLAKE_LOG_LEVEL=warn"})
	srv.token = added.Secret
	scratch := scratchLake(t)
	for _, tt := range []struct {
		source string
		want   int
	}{
		{"pop-ams", http.StatusCreated},
		{"pop-lon", http.StatusForbidden},
	} {
		t.Run("upload as "+tt.source, func(t *testing.T) {
			id, data, err := uploadable(t.Context(), scratch, tt.source, []schema.Flow{{Time: schema.Micros(time.Now().Add(-time.Hour)),
				Device: tt.source, Bytes: 100, Packets: 1, Proto: 17}})
			if err != nil {
				t.Fatal(err)
			}
			status, body, err := srv.put(t.Context(), "/api/v1/ingest/segments/"+id, data)
			if err != nil || status != tt.want {
				t.Errorf("upload for %s: %d %v: %s; want %d", tt.source, status, err, body, tt.want)
			}
		})
	}
}
