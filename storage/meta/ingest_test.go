package meta

import (
	"testing"
	"time"
)

// TestClaimContent: the first id of a content owns it; a retry of that id
// is answered with itself; a release frees it for another id; claims older
// than keep are forgotten.
func TestClaimContent(t *testing.T) {
	s, clk := openTest(t)
	ctx := t.Context()
	const keep = 24 * time.Hour
	steps := []struct {
		name      string
		advance   time.Duration
		hash, id  string
		release   bool
		wantOwner string
	}{
		{name: "first", hash: "h1", id: "e-A", wantOwner: "e-A"},
		{name: "same bytes, other id", hash: "h1", id: "e-B", wantOwner: "e-A"},
		{name: "retry", hash: "h1", id: "e-A", wantOwner: "e-A"},
		{name: "other bytes", hash: "h2", id: "e-C", wantOwner: "e-C"},
		{name: "release h2", hash: "h2", id: "e-C", release: true},
		{name: "h2 under another id after the release", hash: "h2", id: "e-D", wantOwner: "e-D"},
		{name: "h1 after keep has passed", advance: keep + time.Minute, hash: "h1", id: "e-E", wantOwner: "e-E"},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		if st.release {
			if err := s.ReleaseContent(ctx, st.hash, st.id); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			continue
		}
		owner, err := s.ClaimContent(ctx, st.hash, st.id, "e", keep)
		if err != nil || owner != st.wantOwner {
			t.Errorf("%s: owner %q, %v; want %q", st.name, owner, err, st.wantOwner)
		}
	}
}

// TestTokenEdges: a token keeps its edges, sorted and without
// duplicates, and its principal carries them; bad edge names are refused.
func TestTokenEdges(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	u := mustUser(t, s, "fleet", RoleAdmin, "correct horse battery")
	tok, secret, err := s.CreateToken(ctx, NewToken{UserID: u.ID, Name: "t", Edges: []string{"b", "a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetToken(ctx, tok.ID)
	if err != nil || len(got.Edges) != 2 || got.Edges[0] != "a" || got.Edges[1] != "b" {
		t.Fatalf("stored edges %v, %v", got.Edges, err)
	}
	p, err := s.AuthenticateToken(ctx, secret)
	if err != nil || !p.MayWriteFor("a") || p.MayWriteFor("fleet") || p.MayWriteFor("c") {
		t.Errorf("principal edges %v, %v", p.Edges, err)
	}
	for _, bad := range []string{"", ".hidden", "a/b", "x y", string(make([]byte, 65))} {
		if _, _, err := s.CreateToken(ctx, NewToken{UserID: u.ID, Name: "t", Edges: []string{bad}}); !errorsIs(err, ErrInvalid) {
			t.Errorf("edge %q: %v, want ErrInvalid", bad, err)
		}
	}
	_, unbound, err := s.CreateToken(ctx, NewToken{UserID: u.ID, Name: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.AuthenticateToken(ctx, unbound); err != nil || !p.MayWriteFor("fleet") || p.MayWriteFor("a") {
		t.Errorf("unbound principal: %v %v", p.Edges, err)
	}
}
