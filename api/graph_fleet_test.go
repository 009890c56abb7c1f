package api

import (
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// TestGraphQLFleetWithoutTunnel: a core that runs no tunnel end answers
// the fleet fields UNAVAILABLE, with the reason (the REST list answers an
// empty list: nothing holds a tunnel).
func TestGraphQLFleetWithoutTunnel(t *testing.T) {
	e := newGraphEnv(t)
	c := e.gql(e.admin)
	var resp struct{ Edges []struct{ Serial string } }
	err := c.Post(`{ edges { serial } }`, &resp)
	if ge := wantCode(t, err, "UNAVAILABLE"); !strings.Contains(ge.Message, "runs no tunnel") {
		t.Errorf("edges: %q", ge.Message)
	}
	sub := c.Websocket(`subscription { edgeStateChanged { serial } }`)
	defer sub.Close()
	var ev struct{ EdgeStateChanged struct{ Serial string } }
	if err := sub.Next(&ev); err == nil || !strings.Contains(err.Error(), "UNAVAILABLE") {
		t.Errorf("edgeStateChanged: %v", err)
	}
}

// TestGraphQLSubscriptionLimit: liveRates counts against the caller's
// subscriptions as edgeStateChanged does: with a limit of one, a second
// subscription of the same user is refused (on another WebSocket too),
// another user's is not, and the refusal is counted.
func TestGraphQLSubscriptionLimit(t *testing.T) {
	l := testGraphLake(t)
	eng := query.New(l, query.Config{Now: func() time.Time { return graphEnd }}, nil)
	st := openStore(t)
	cfg := DefaultConfig()
	cfg.GraphQL.MaxSubscriptionsPerCaller = 1
	srv, err := New(cfg, Deps{Datasets: l, Query: eng, Meta: st})
	if err != nil {
		t.Fatal(err)
	}
	e := &graphEnv{env: &env{srv: srv, store: st}, engine: eng}
	token := func(name string) string {
		u, err := st.CreateUser(t.Context(), meta.NewUser{Name: name, Role: meta.RoleAnalyst})
		if err != nil {
			t.Fatal(err)
		}
		_, secret, err := st.CreateToken(t.Context(), meta.NewToken{UserID: u.ID, Name: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	alice, bob := e.gql(token("alice")), e.gql(token("bob"))
	const q = `subscription { liveRates(intervalSeconds: 3600, windowSeconds: 590, limit: 1) { at } }`
	type snap struct{ LiveRates struct{ At string } }
	var s snap
	first := alice.Websocket(q)
	defer first.Close()
	if err := first.Next(&s); err != nil {
		t.Fatalf("first subscription: %v", err)
	}
	second := alice.Websocket(q)
	defer second.Close()
	if err := second.Next(&s); err == nil || !strings.Contains(err.Error(), "SUBSCRIPTION_LIMIT_EXCEEDED") {
		t.Errorf("alice's second subscription: %v", err)
	}
	other := bob.Websocket(q)
	defer other.Close()
	if err := other.Next(&s); err != nil {
		t.Errorf("bob's subscription: %v", err)
	}
	if st := srv.graph.Load().SubscriptionStats(); st.Refused != 1 || st.Active != 2 {
		t.Errorf("subscription stats %+v; want 1 refused, 2 active", st)
	}
}
