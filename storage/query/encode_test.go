package query

import (
	"encoding/json"
	"testing"
)

// TestAppendJSONString: the fast path quotes exactly as encoding/json.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "https", "10.0.0.1", "2001:db8::1", "a\"b", `back\slash`, "tab\there", "<html>", "ünï", "\x00", "R&D"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}
