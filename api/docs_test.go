package api

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/meta"
)

// TestAuthDocs keeps docs/auth.md's role table and docs/api.md's endpoint
// tables equal to the code.
func TestAuthDocs(t *testing.T) {
	auth, err := os.ReadFile("../docs/auth.md")
	if err != nil {
		t.Fatal(err)
	}
	roles := meta.BuiltinRoles()
	for _, p := range meta.AllPermissions() {
		row := "| `" + string(p) + "` |"
		for _, r := range roles {
			if slices.Contains(r.Permissions, p) {
				row += " ✓ |"
			} else {
				row += " |"
			}
		}
		if !strings.Contains(string(auth), row+"\n") {
			t.Errorf("docs/auth.md lacks the role row\n%s", row)
		}
		if !strings.Contains(string(auth), "| `"+string(p)+"` | "+strings.ToLower(permissionDocs[p][:1])) {
			t.Errorf("docs/auth.md does not describe %s", p)
		}
	}
	api, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, DefaultConfig(), fakeLister{})
	for _, r := range e.srv.routes() {
		path, _ := openAPIPath(r.path)
		need := "auth"
		switch r.access {
		case public:
			need = "public"
		case permitted:
			need = "`" + string(r.perm) + "`"
		}
		row := "| " + r.method + " | `" + path + "` | " + need + " |"
		if !strings.Contains(string(api), row) {
			t.Errorf("docs/api.md lacks the endpoint row %s", row)
		}
	}
}
