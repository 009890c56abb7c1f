package tunnel

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDecodeStatus: the current answer, an earlier edge's bare columns,
// and what is refused.
func TestDecodeStatus(t *testing.T) {
	for _, tc := range []struct {
		name, body, state, version, err string
	}{
		{"current", `{"state":{"conn_state":"Established"},"edge":{"version":"v1.2.0","drops":{"queue":1},"drops_total":1}}`, `{"conn_state":"Established"}`, "v1.2.0", ""},
		{"no collector", `{"state":{"conn_state":"Idle"}}`, `{"conn_state":"Idle"}`, "", ""},
		{"earlier edge", `{"conn_state":"Request","device_state":"Request"}`, `{"conn_state":"Request","device_state":"Request"}`, "", ""},
		{"not an object", `[1,2]`, "", "", "not a JSON object"},
		{"not JSON", `conn_state: Established`, "", "", "not a JSON object"},
		{"state not an object", `{"state":"Established"}`, "", "", "state is not a JSON object"},
		{"state null", `{"state":null}`, "", "", "state is not a JSON object"},
		{"null", `null`, "", "", "not a JSON object"},
		{"edge of the wrong type", `{"state":{},"edge":{"version":3}}`, "", "", "status answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ans, err := DecodeStatus([]byte(tc.body))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(ans.State) != tc.state {
				t.Errorf("state %s, want %s", ans.State, tc.state)
			}
			if v := ""; ans.Edge != nil {
				v = ans.Edge.Version
				if v != tc.version {
					t.Errorf("version %q, want %q", v, tc.version)
				}
			} else if tc.version != "" {
				t.Errorf("no collector status, want version %q", tc.version)
			}
		})
	}
}

// FuzzDecodeStatus: any bytes decode or are refused with an error; a
// decoded answer's state is a JSON object.
func FuzzDecodeStatus(f *testing.F) {
	f.Add([]byte(`{"state":{"conn_state":"Established"},"edge":{"version":"dev","rates":{"rows_per_second":2.5}}}`))
	f.Add([]byte(`{"conn_state":"Idle"}`))
	f.Add([]byte(`{"state":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ans, err := DecodeStatus(body)
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(ans.State, &m); err != nil {
			t.Fatalf("decoded state %q is not an object: %v", ans.State, err)
		}
	})
}
