package edge

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// FuzzReadBindings: a bindings file of any content (the table and the
// lease history's open spans) is parsed or refused with an error, never a
// panic, and what parses writes back the same.
func FuzzReadBindings(f *testing.F) {
	spans, err := json.Marshal(bindingsDoc{Version: bindingsVersion, Spans: []schema.DHCPLease{{
		Time: 1, Kind: schema.LeaseKindLease, Client: "mac:02:00:00:00:00:01", Address: schema.MustParseAddr("10.0.0.5"),
		CHAddr: schema.MAC{2, 0, 0, 0, 0, 1}, LeaseTime: 3600, LastAck: 1, EndTime: 3_600_000_001, EndReason: schema.LeaseOpen}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(spans)
	f.Add([]byte(`{"version":1,"bindings":[],"spans":[{"client":"mac:x","address":[0,0,0,0,0,0,0,0,0,0,255,255,10,0,0,5],"end_reason":"RELEASE"}]}`))
	f.Add([]byte(`{"version":1,"saved_at":"2026-12-07T10:00:00Z","bindings":[{"client":"mac:02:00:00:00:00:01","ip":"10.0.0.5","server":"10.0.0.1","start":"2026-12-07T09:00:00Z","renewed":"2026-12-07T09:30:00Z","expires":"2026-12-07T10:30:00Z","lease_time":3600}]}`))
	f.Add([]byte(`{"version":2,"bindings":[]}`))
	f.Add([]byte(`{"version":1,"bindings":[{"client":"","ip":"10.0.0.5"}]}`))
	f.Add([]byte(`{"version":1,"bindings":[{"client":"id:01","ip":"fe80::1","giaddr":"not an address"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := readBindingsDoc(b)
		if err != nil {
			return
		}
		if bs, err := ReadBindings(b); err != nil || len(bs) != len(doc.Bindings) {
			t.Fatalf("ReadBindings disagrees with the document: %v", err)
		}
		out, err := json.Marshal(bindingsDoc{Version: bindingsVersion, SavedAt: time.Unix(0, 0), Bindings: doc.Bindings, Spans: doc.Spans})
		if err != nil {
			t.Fatalf("marshal parsed bindings: %v", err)
		}
		again, err := readBindingsDoc(out)
		if err != nil || len(again.Bindings) != len(doc.Bindings) || len(again.Spans) != len(doc.Spans) {
			t.Fatalf("parsed bindings do not read back: %v (%d bindings and %d spans, want %d and %d)", err,
				len(again.Bindings), len(again.Spans), len(doc.Bindings), len(doc.Spans))
		}
	})
}
