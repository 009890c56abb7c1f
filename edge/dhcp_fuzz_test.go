package edge

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzReadBindings: a bindings file of any content is parsed or refused
// with an error, never a panic, and what parses writes back the same.
func FuzzReadBindings(f *testing.F) {
	f.Add([]byte(`{"version":1,"saved_at":"2026-12-07T10:00:00Z","bindings":[{"client":"mac:02:00:00:00:00:01","ip":"10.0.0.5","server":"10.0.0.1","start":"2026-12-07T09:00:00Z","renewed":"2026-12-07T09:30:00Z","expires":"2026-12-07T10:30:00Z","lease_time":3600}]}`))
	f.Add([]byte(`{"version":2,"bindings":[]}`))
	f.Add([]byte(`{"version":1,"bindings":[{"client":"","ip":"10.0.0.5"}]}`))
	f.Add([]byte(`{"version":1,"bindings":[{"client":"id:01","ip":"fe80::1","giaddr":"not an address"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		bs, err := ReadBindings(b)
		if err != nil {
			return
		}
		out, err := json.Marshal(bindingsDoc{Version: bindingsVersion, SavedAt: time.Unix(0, 0), Bindings: bs})
		if err != nil {
			t.Fatalf("marshal parsed bindings: %v", err)
		}
		again, err := ReadBindings(out)
		if err != nil || len(again) != len(bs) {
			t.Fatalf("parsed bindings do not read back: %v (%d, want %d)", err, len(again), len(bs))
		}
	})
}
