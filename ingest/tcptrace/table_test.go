package tcptrace

import (
	"math/rand/v2"
	"testing"
)

// TestConnTableModel runs random adds, deletes and lookups on the
// connection table against a Go map, with deletes during a range as
// Advance does, and checks its counts and that it gives its memory back
// once empty.
func TestConnTableModel(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 7))
	tab := newConnTable()
	model := map[connKey]*tconn{}
	key := func() connKey {
		var k connKey
		k.a[15], k.b[15] = byte(rnd.IntN(4)), 9
		k.pa, k.pb = uint16(rnd.IntN(3000)), 80
		return k
	}
	for step := range 200_000 {
		k := key()
		switch op := rnd.IntN(10); {
		case op < 5:
			if model[k] == nil {
				c := &tconn{key: k}
				tab.put(c)
				model[k] = c
			}
		case op < 8:
			if c := model[k]; c != nil {
				tab.del(c)
				delete(model, k)
			}
		case op == 8:
			if got := tab.get(&k); got != model[k] {
				t.Fatalf("step %d: get %v = %p, want %p", step, k, got, model[k])
			}
		default: // a range that deletes every third connection
			seen, i := 0, 0
			tab.each(func(c *tconn) {
				seen++
				if i++; i%3 == 0 {
					tab.del(c)
					delete(model, c.key)
				}
			})
			if seen != len(model)+i/3 {
				t.Fatalf("step %d: range saw %d connections, the table held %d", step, seen, len(model)+i/3)
			}
		}
		if tab.n != len(model) || tab.used > 3*len(tab.slots)/4 {
			t.Fatalf("step %d: %d held, model %d; %d of %d slots used", step, tab.n, len(model), tab.used, len(tab.slots))
		}
	}
	for _, c := range model {
		tab.del(c)
	}
	if tab.n != 0 || tab.slots != nil || tab.bytes() != 0 {
		t.Errorf("empty table: %d held, %d slots", tab.n, len(tab.slots))
	}
}
